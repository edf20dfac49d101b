//! OpenTelemetry (feature `opentelemetry`): zkdubbo's spans are `tracing` spans, so a
//! `tracing-opentelemetry` layer exports them; [`install`] makes the `traceparent` zkdubbo sends
//! and reads be those spans' OpenTelemetry contexts, so that a zkdubbo call is one span of the
//! application's trace and a provider's serve span the child of the caller's — in Jaeger,
//! Tempo or any OTLP backend, across Java and Go services too.
//!
//! ```no_run
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tracing_subscriber::layer::SubscriberExt;
//! # let tracer = opentelemetry::trace::noop::NoopTracer::new();
//! // `tracer`: from the application's OpenTelemetry SDK (an OTLP exporter, say).
//! let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
//! tracing::subscriber::set_global_default(subscriber)?;
//! zkdubbo::otel::install();
//! # Ok(()) }
//! ```

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use zkdubbo_common::trace::{TraceContext, Tracer, set_tracer};

/// Take trace contexts from the OpenTelemetry context of zkdubbo's spans (those a
/// `tracing-opentelemetry` layer records). Once per process; later calls change nothing.
pub fn install() {
    if set_tracer(Box::new(OpenTelemetry)).is_err() {
        tracing::debug!("a tracer is installed already; keeping it");
    }
}

struct OpenTelemetry;

impl Tracer for OpenTelemetry {
    fn context_of(&self, span: &tracing::Span) -> Option<TraceContext> {
        let context = span.context();
        let span_context = context.span().span_context().clone();
        span_context.is_valid().then(|| {
            TraceContext::from_ids(
                u128::from_be_bytes(span_context.trace_id().to_bytes()),
                u64::from_be_bytes(span_context.span_id().to_bytes()),
                span_context.is_sampled(),
            )
        })
    }

    fn adopt(&self, span: &tracing::Span, parent: TraceContext) {
        let flags = if parent.sampled() {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let remote = SpanContext::new(
            TraceId::from_bytes(parent.trace_id_u128().to_be_bytes()),
            SpanId::from_bytes(parent.span_id().to_be_bytes()),
            flags,
            true,
            TraceState::default(),
        );
        let context = opentelemetry::Context::new().with_remote_span_context(remote);
        if let Err(e) = span.set_parent(context) {
            tracing::debug!(error = %e, "cannot continue the caller's trace");
        }
    }
}
