//! OpenTelemetry through `tracing-opentelemetry`: with `zkdubbo::otel::install`, a call made
//! inside an application's span and served by a zkdubbo provider found through a real
//! ZooKeeper is one OpenTelemetry trace — the call span a child of the application's, the
//! serve span a child of the call's (through the `traceparent` the call carried).

mod support;

use std::time::Duration;

use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::*;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use zkdubbo::ServiceBuilder;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::{Methods, Status};
use zkdubbo_common::trace::TRACEPARENT;

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name} among {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

// One thread: the subscriber set below sees every task of the test.
#[tokio::test]
async fn a_call_and_its_serve_are_one_opentelemetry_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _subscriber = tracing::subscriber::set_default(subscriber);
    zkdubbo::otel::install();

    let env = env("otel");
    let registry = env.registry_url(&env.addr, "");
    let methods = Methods::new().unary(greeter::SAY_HELLO, |_req: GreeterRequest, metadata| async move {
        let received = metadata
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Ok::<_, Status>(GreeterReply {
            message: received.to_owned(),
        })
    });
    let service = ServiceBuilder::new(greeter::INTERFACE)
        .registry(&registry)
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .serve_triple(methods, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reference = greeter_reference(&registry, 1).await;

    let request = tracing::info_span!("app.request");
    let reply: GreeterReply = reference
        .call(greeter::SAY_HELLO, &GreeterRequest::default())
        .instrument(request)
        .await
        .unwrap();
    reference.shutdown().await;
    service.shutdown(Duration::ZERO).await.unwrap();
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let app = named(&spans, "app.request");
    let call = named(&spans, "zkdubbo.call");
    let serve = named(&spans, "zkdubbo.serve");
    let trace_id = app.span_context.trace_id();
    assert_eq!(call.span_context.trace_id(), trace_id);
    assert_eq!(serve.span_context.trace_id(), trace_id);
    assert_eq!(call.parent_span_id, app.span_context.span_id());
    assert_eq!(serve.parent_span_id, call.span_context.span_id());
    assert_ne!(serve.parent_span_id, SpanId::INVALID);
    // What crossed the wire is the call span's context, in W3C form.
    assert_eq!(
        reply.message,
        format!("00-{}-{}-01", trace_id, call.span_context.span_id())
    );
}
