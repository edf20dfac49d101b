//! One trace across services found through a real ZooKeeper: a consumer's call (Triple) to
//! provider A, whose handler calls provider B (dubbo://), carries the consumer's trace id
//! all the way as W3C `traceparent` — a Triple header, then a dubbo:// attachment — and each
//! hop is a new span of that trace. Outside any trace, a call begins one only when its span is
//! recorded.

mod support;

use std::time::Duration;

use support::*;
use zkdubbo::dubbo::DubboMethods;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::{Methods, Status};
use zkdubbo::{Reference, ServiceBuilder};
use zkdubbo_common::trace::{TRACEPARENT, TraceContext};

const B: &str = "org.zkdubbo.tests.TraceB";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_crosses_a_triple_and_a_dubbo_hop_with_one_trace_id() {
    let env = env("trace");
    let registry = env.registry_url(&env.addr, "");
    // B (dubbo://): answers the traceparent it was called with and the trace it runs in.
    let b = ServiceBuilder::new(B)
        .registry(&registry)
        .host("127.0.0.1")
        .param("warmup", "0")
        .serve_dubbo(
            DubboMethods::new().raw("whereAmI", &["java.lang.String"], |call| async move {
                let received = call.attachments.get(TRACEPARENT).cloned().unwrap_or_default();
                let running = TraceContext::current().map(|t| t.to_string()).unwrap_or_default();
                Ok(zkdubbo::hessian::encode(&zkdubbo::hessian::Value::String(format!("{received} {running}"))).ok())
            }),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
    let b_ref = Reference::builder()
        .interface(B)
        .registry(&registry)
        .build()
        .await
        .unwrap();
    providers_listed(&b_ref, 1).await;
    // A (Triple): answers the traceparent it was called with, the trace it runs in, and what
    // B answered when A called it.
    let a_methods = Methods::new().unary(greeter::SAY_HELLO, move |_req: GreeterRequest, metadata| {
        let b_ref = b_ref.clone();
        async move {
            let received = metadata
                .get(TRACEPARENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let running = TraceContext::current().map(|t| t.to_string()).unwrap_or_default();
            let from_b: String = b_ref
                .call_dubbo("whereAmI", &["java.lang.String"], &("hi",))
                .await
                .map_err(|e| Status::internal(e.to_string()))?;
            Ok(GreeterReply {
                message: format!("{received} {running} {from_b}"),
            })
        }
    });
    let a = ServiceBuilder::new(greeter::INTERFACE)
        .registry(&registry)
        .host("127.0.0.1")
        .param("warmup", "0")
        .method(greeter::SAY_HELLO)
        .serve_triple(a_methods, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let a_ref = greeter_reference(&registry, 1).await;

    // The consumer runs in a trace of its own (as it would inside a request it serves).
    let root = TraceContext::root();
    let reply: GreeterReply = root
        .scope(a_ref.call(greeter::SAY_HELLO, &GreeterRequest::default()))
        .await
        .unwrap();
    let hops: Vec<TraceContext> = reply
        .message
        .split(' ')
        .map(|h| TraceContext::parse(h).unwrap_or_else(|| panic!("not a traceparent: {h:?} in {}", reply.message)))
        .collect();
    // A received, A ran in, B received, B ran in.
    assert_eq!(hops.len(), 4, "{}", reply.message);
    for hop in &hops {
        assert_eq!(hop.trace_id(), root.trace_id(), "{}", reply.message);
    }
    // Every hop is a span of its own.
    let mut spans: Vec<String> = hops.iter().map(ToString::to_string).collect();
    spans.push(root.to_string());
    spans.sort();
    spans.dedup();
    assert_eq!(spans.len(), 5, "{}", reply.message);

    // Outside any trace and with nothing recording spans, a call has no context: it sends no
    // traceparent, and A serves it in none.
    let untraced: GreeterReply = a_ref
        .call(greeter::SAY_HELLO, &GreeterRequest::default())
        .await
        .unwrap();
    // Neither hop received or ran in a context (each field of the answer is empty).
    assert!(
        untraced.message.trim().is_empty(),
        "no trace context expected: {:?}",
        untraced.message
    );

    // Outside any trace, with a subscriber recording the call's span, each call begins one.
    let first: GreeterReply;
    let second: GreeterReply;
    {
        let _recording = tracing::subscriber::set_default(tracing_subscriber::registry());
        first = a_ref
            .call(greeter::SAY_HELLO, &GreeterRequest::default())
            .await
            .unwrap();
        second = a_ref
            .call(greeter::SAY_HELLO, &GreeterRequest::default())
            .await
            .unwrap();
    }
    let trace_of = |m: &str| TraceContext::parse(m.split(' ').next().unwrap()).unwrap().trace_id();
    assert_ne!(trace_of(&first.message), trace_of(&second.message));
    assert_ne!(trace_of(&first.message), root.trace_id());

    a_ref.shutdown().await;
    a.shutdown(Duration::ZERO).await.unwrap();
    b.shutdown(Duration::ZERO).await.unwrap();
}
