//! W3C Trace Context carried through calls, so that a trace crosses zkdubbo, Java and Go
//! services: every outgoing call sends a `traceparent` (a Triple header, a dubbo://
//! attachment) naming its trace and its own span; a provider reads it and runs the handler in
//! that trace, so the calls the handler makes continue it.
//!
//! The context of the code running now is task-local: [`TraceContext::current`]. A call made
//! outside any is the root of a new trace.

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;

/// The header (Triple) and attachment (dubbo://) that carries the context.
pub const TRACEPARENT: &str = "traceparent";

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// A tracer that owns the contexts of spans — OpenTelemetry through `tracing-opentelemetry`
/// (zkdubbo's feature `opentelemetry` installs one): zkdubbo then takes each call's and
/// serve's context from the tracer's span, and hands the caller's context to the provider's.
pub trait Tracer: Send + Sync + 'static {
    /// The context of `span` as the tracer knows it; `None` when it does not follow the span
    /// (not recorded, say): zkdubbo's own context is used then.
    fn context_of(&self, span: &tracing::Span) -> Option<TraceContext>;
    /// Make `span` continue `parent`, a caller's context (before it is entered).
    fn adopt(&self, span: &tracing::Span, parent: TraceContext);
}

static TRACER: OnceLock<Box<dyn Tracer>> = OnceLock::new();

/// Install the process's [`Tracer`]; the first one stays (the one offered is returned).
///
/// # Errors
/// The tracer offered, when one is installed already.
pub fn set_tracer(tracer: Box<dyn Tracer>) -> Result<(), Box<dyn Tracer>> {
    TRACER.set(tracer)
}

/// The context of a call whose span is `span`: the tracer's for it, else a child of the
/// context running now, else a new trace.
pub fn for_call(span: &tracing::Span) -> TraceContext {
    TRACER
        .get()
        .and_then(|t| t.context_of(span))
        .unwrap_or_else(TraceContext::for_call)
}

/// The context a provider serves a call in, whose span is `span`, called from `caller` (a
/// `traceparent` read from the call, if valid): the tracer's, with `span` adopted into the
/// caller's trace; else a child of the caller's; else a new trace.
pub fn for_serve(span: &tracing::Span, caller: Option<TraceContext>) -> TraceContext {
    if let Some(tracer) = TRACER.get() {
        if let Some(caller) = caller {
            tracer.adopt(span, caller);
        }
        if let Some(own) = tracer.context_of(span) {
            return own;
        }
    }
    caller.map_or_else(TraceContext::root, |c| c.child())
}

/// A position in a trace: the trace, and the span that is the parent of what comes next.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceContext({self})")
    }
}

/// The `traceparent` value: `00-<trace id>-<span id>-<flags>`.
impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }
}

/// A trace id as 32 lowercase hex digits (what a span records and a tracing UI searches).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceId(u128);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn nonzero_u64() -> u64 {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return id;
        }
    }
}

impl TraceContext {
    /// The context of a trace and span given by their ids (as a tracer reports them).
    pub fn from_ids(trace_id: u128, span_id: u64, sampled: bool) -> TraceContext {
        TraceContext {
            trace_id,
            span_id,
            sampled,
        }
    }

    /// The trace id, as a number.
    pub fn trace_id_u128(&self) -> u128 {
        self.trace_id
    }

    /// The span id, as a number.
    pub fn span_id(&self) -> u64 {
        self.span_id
    }

    /// Whether the trace is sampled (flag `01`).
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// The first span of a new trace (sampled).
    pub fn root() -> TraceContext {
        TraceContext {
            trace_id: (u128::from(nonzero_u64()) << 64) | u128::from(fastrand::u64(..)),
            span_id: nonzero_u64(),
            sampled: true,
        }
    }

    /// A new span of the same trace, whose parent is this one.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: nonzero_u64(),
            ..*self
        }
    }

    /// The context of a `traceparent` value; `None` when it is not one (W3C: a malformed or
    /// all-zero one is ignored and a new trace begins). Versions after `00` are read by their
    /// first four fields, as the specification asks.
    pub fn parse(value: &str) -> Option<TraceContext> {
        let value = value.trim();
        let mut parts = value.split('-');
        let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex =
            |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
            return None;
        }
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok()?;
        let span_id = u64::from_str_radix(span, 16).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        (trace_id != 0 && span_id != 0).then_some(TraceContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The trace this context belongs to.
    pub fn trace_id(&self) -> TraceId {
        TraceId(self.trace_id)
    }

    /// The context of the code running now, if it runs in one.
    pub fn current() -> Option<TraceContext> {
        CURRENT.try_with(|c| *c).ok()
    }

    /// The context of a call made now: a child of the current one, or a new trace.
    pub fn for_call() -> TraceContext {
        TraceContext::current().map_or_else(TraceContext::root, |c| c.child())
    }

    /// Run `future` in this context.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn traceparent_round_trips(trace_id in 1u128.., span_id in 1u64.., sampled: bool) {
            let ctx = TraceContext { trace_id, span_id, sampled };
            prop_assert_eq!(TraceContext::parse(&ctx.to_string()), Some(ctx));
        }

        #[test]
        fn any_text_parses_or_is_refused(text in ".{0,80}") {
            if let Some(ctx) = TraceContext::parse(&text) {
                prop_assert_ne!(ctx.trace_id, 0);
                prop_assert_ne!(ctx.span_id, 0);
            }
        }
    }

    #[test]
    fn reads_and_writes_w3c_traceparent() {
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::parse(value).unwrap();
        assert_eq!(ctx.to_string(), value);
        assert_eq!(ctx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = ctx.child();
        assert_eq!(child.trace_id(), ctx.trace_id());
        assert_ne!(child.to_string(), value);
        // A later version is read by its first four fields.
        assert_eq!(
            TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra")
                .unwrap()
                .trace_id(),
            ctx.trace_id()
        );
    }

    #[test]
    fn malformed_values_begin_a_new_trace() {
        for bad in [
            "",
            "00",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn calls_inside_a_context_continue_its_trace() {
        assert!(TraceContext::current().is_none());
        let root = TraceContext::for_call();
        let inner = root.scope(async { TraceContext::for_call() }).await;
        assert_eq!(inner.trace_id(), root.trace_id());
        assert_ne!(inner, root);
        assert_ne!(
            TraceContext::for_call().trace_id(),
            root.trace_id(),
            "outside: a new trace"
        );
    }
}
