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

/// The context of a call whose span is `span`, if it has one: the tracer's for it, else a
/// child of the context running now, else — when a subscriber records `span` — a new trace.
///
/// A call made outside any trace, with no tracer and no subscriber interested in its span,
/// has none and sends no `traceparent`: as with Dubbo's and OpenTelemetry's propagation, a
/// context nobody records is not made up (it costs a tenth of a small gRPC call's CPU:
/// formatting, HPACK, parsing at the provider — BENCHMARKS: A tonic client over zkdubbo).
pub fn for_call(span: &tracing::Span) -> Option<TraceContext> {
    if let Some(own) = TRACER.get().and_then(|t| t.context_of(span)) {
        return Some(own);
    }
    match TraceContext::current() {
        Some(current) => Some(current.child()),
        None => (!span.is_disabled()).then(TraceContext::root),
    }
}

/// The context a provider serves a call in, whose span is `span`, called from `caller` (a
/// `traceparent` read from the call, if valid): the tracer's, with `span` adopted into the
/// caller's trace; else a child of the caller's; else — when a subscriber records `span` — a
/// new trace; else none (see [`for_call`]).
pub fn for_serve(span: &tracing::Span, caller: Option<TraceContext>) -> Option<TraceContext> {
    if let Some(tracer) = TRACER.get() {
        if let Some(caller) = caller {
            tracer.adopt(span, caller);
        }
        if let Some(own) = tracer.context_of(span) {
            return Some(own);
        }
    }
    match caller {
        Some(caller) => Some(caller.child()),
        None => (!span.is_disabled()).then(TraceContext::root),
    }
}

/// `future` instrumented with `span`, run in `trace` if there is one (whose trace id is then
/// recorded on `span`'s field `trace_id`, declared empty). A plain function, not an `async`
/// one: the future is built in place, never moved into a wrapper's state (futures of calls are
/// large; each move is a copy).
pub fn in_trace<F: Future>(
    trace: Option<TraceContext>,
    span: tracing::Span,
    future: F,
) -> futures::future::Either<
    tokio::task::futures::TaskLocalFuture<TraceContext, tracing::instrument::Instrumented<F>>,
    tracing::instrument::Instrumented<F>,
> {
    use futures::future::Either;
    use tracing::Instrument;
    match trace {
        Some(trace) => {
            span.record("trace_id", tracing::field::display(trace.trace_id()));
            Either::Left(trace.scope(future.instrument(span)))
        }
        None => Either::Right(future.instrument(span)),
    }
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
        // Only hex digits and dashes: always UTF-8.
        f.write_str(std::str::from_utf8(&self.to_bytes()).map_err(|_| fmt::Error)?)
    }
}

/// The length of a version-00 `traceparent`.
const TRACEPARENT_LEN: usize = 55;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `value`'s lowest `out.len()` hex digits into `out`, lowercase.
fn put_hex(out: &mut [u8], value: u128) {
    let n = out.len();
    for (i, b) in out.iter_mut().enumerate() {
        *b = HEX[((value >> (4 * (n - 1 - i))) & 0xf) as usize];
    }
}

/// The number lowercase hex digits `text` spell; `None` for anything else (uppercase too, as
/// W3C asks).
fn hex_value(text: &[u8]) -> Option<u128> {
    text.iter().try_fold(0u128, |acc, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some((acc << 4) | u128::from(digit))
    })
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
        let value = value.trim().as_bytes();
        // version "-" trace id "-" span id "-" flags, then more only after version 00.
        if value.len() < TRACEPARENT_LEN
            || value[2] != b'-'
            || value[35] != b'-'
            || value[52] != b'-'
            || (value.len() > TRACEPARENT_LEN && value[TRACEPARENT_LEN] != b'-')
        {
            return None;
        }
        let version = hex_value(&value[..2])?;
        if version == 0xff || (version == 0 && value.len() != TRACEPARENT_LEN) {
            return None;
        }
        let trace_id = hex_value(&value[3..35])?;
        let span_id = u64::try_from(hex_value(&value[36..52])?).ok()?;
        let flags = hex_value(&value[53..55])?;
        (trace_id != 0 && span_id != 0).then_some(TraceContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The `traceparent` value, as bytes.
    pub fn to_bytes(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        out[..2].copy_from_slice(b"00");
        put_hex(&mut out[3..35], self.trace_id);
        put_hex(&mut out[36..52], u128::from(self.span_id));
        put_hex(&mut out[53..55], u128::from(self.sampled));
        out
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

    /// `future`, run in this context.
    pub fn scope<F: Future>(self, future: F) -> tokio::task::futures::TaskLocalFuture<TraceContext, F> {
        CURRENT.scope(self, future)
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
    async fn a_call_has_a_context_only_in_a_trace_or_when_recorded() {
        let span = tracing::info_span!("zkdubbo.call");
        assert!(span.is_disabled(), "no subscriber in this test");
        assert_eq!(for_call(&span), None, "nobody records it: no context made up");
        assert_eq!(for_serve(&span, None), None);
        let root = TraceContext::root();
        let inside = root
            .scope(async { for_call(&tracing::info_span!("zkdubbo.call")) })
            .await;
        assert_eq!(inside.map(|c| c.trace_id()), Some(root.trace_id()));
        assert_eq!(
            for_serve(&span, Some(root)).map(|c| c.trace_id()),
            Some(root.trace_id())
        );
        let span =
            tracing::subscriber::with_default(tracing_subscriber::registry(), || tracing::info_span!("zkdubbo.call"));
        assert!(for_call(&span).is_some(), "a recorded span begins a trace");
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
