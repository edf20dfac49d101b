//! [`GrpcChannel`]: a tonic channel whose provider is picked per call by zkdubbo, so that a
//! plain tonic-generated client (`GreeterClient::new(channel)`) uses Dubbo discovery, routers,
//! configurators and load balancing.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::channel::oneshot;
use futures::{FutureExt, StreamExt};
use http_body_util::BodyExt;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use zkdubbo_cluster::ClusterBase;
use zkdubbo_common::sync::lock;
use zkdubbo_common::trace::{self, TRACEPARENT};
use zkdubbo_common::{Invocation, Url, keys};
use zkdubbo_directory::{Directory, Member};

/// The protocol of providers that speak gRPC.
const TRI: &str = "tri";

/// The largest request body kept to send again to another provider.
const REPLAY_LIMIT: usize = 64 * 1024;
/// How long connecting to one provider may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What `loadbalance=consistenthash` hashes for a call through a [`GrpcChannel`]: put it in
/// the request's extensions (`request.extensions_mut().insert(HashKey("user-42".into()))`);
/// calls with equal keys go to the same provider while it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashKey(pub String);

/// A [`tower_service::Service`] for tonic clients, backed by a [`Reference`](crate::Reference):
/// each call is routed as a Dubbo call of the method its path names (routers, configurators,
/// the load balancer, sticky, outlier ejection), sent to the chosen Triple provider over a
/// channel kept per provider, with the reference's group and version as Triple headers.
///
/// Failover respects gRPC: a call is sent again to another provider (up to the reference's
/// `retries`) only when the provider could not be reached, or answered `UNAVAILABLE` before
/// any response message, and only when the whole request was read before sending (a unary
/// or finished client-streaming request of at most 64 KiB). A business status is never
/// retried, nor a call whose request is still streaming. No provider at all is
/// `UNAVAILABLE` with the directory's reason. Unless the client set a deadline, the
/// reference's `timeout` (or `<method>.timeout`) is sent as `grpc-timeout`, which bounds the
/// call (`DEADLINE_EXCEEDED`, not retried).
///
/// ```no_run
/// # async fn run(reference: zkdubbo::Reference) -> Result<(), Box<dyn std::error::Error>> {
/// let channel = reference.grpc_channel();
/// // let mut greeter = GreeterClient::new(channel);   // any tonic-generated client
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GrpcChannel {
    inner: Arc<Inner>,
}

struct Inner {
    bases: Vec<ClusterBase>,
    consumer: Url,
    retries: u32,
    /// `tri-service-group` and `tri-service-version`, as the reference sets them.
    service_headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The reference's `timeout` in ms (0: none), and whether some method has its own
    /// (`<method>.timeout`): read once, not per call.
    timeout_ms: u64,
    method_timeouts: bool,
    channels: Mutex<HashMap<Arc<str>, Channel, rustc_hash::FxBuildHasher>>,
}

impl std::fmt::Debug for GrpcChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcChannel")
            .field("consumer", &self.inner.consumer.service_key())
            .finish_non_exhaustive()
    }
}

impl GrpcChannel {
    /// A channel over `directories` (tried in order: the first registry that lists a
    /// provider serves the call) for `consumer`.
    pub(crate) fn new(consumer: Url, directories: Vec<Arc<dyn Directory>>) -> GrpcChannel {
        let retries = consumer.param_as(keys::RETRIES, 2u32);
        let service_headers = [
            ("tri-service-group", consumer.group()),
            ("tri-service-version", consumer.version()),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            Some((
                http::HeaderName::from_static(name),
                http::HeaderValue::from_str(value?).ok()?,
            ))
        })
        .collect();
        let timeout_ms = consumer.param_as(keys::TIMEOUT, 0u64);
        let method_timeouts = consumer
            .params()
            .iter()
            .any(|(k, _)| k.strip_suffix(keys::TIMEOUT).is_some_and(|m| m.ends_with('.')));
        GrpcChannel {
            inner: Arc::new(Inner {
                bases: directories
                    .into_iter()
                    .map(|d| ClusterBase::new("grpc-channel", d))
                    .collect(),
                consumer,
                retries,
                service_headers,
                timeout_ms,
                method_timeouts,
                channels: Mutex::new(HashMap::default()),
            }),
        }
    }
}

/// The request body read before sending: all of it (replayable), or its first frames.
struct Prefix {
    /// The first frame (all of a unary request: kept without a `Vec`), then the others.
    first: Option<Bytes>,
    more: Vec<Bytes>,
    complete: bool,
}

impl Prefix {
    /// Read what `body` has ready now, up to [`REPLAY_LIMIT`]: a unary request is there in
    /// full; a stream stops at its first frame not yet written.
    fn read(body: &mut Body) -> Result<Prefix, tonic::Status> {
        let mut prefix = Prefix {
            first: None,
            more: Vec::new(),
            complete: false,
        };
        let mut size = 0;
        while size <= REPLAY_LIMIT {
            match body.frame().now_or_never() {
                None => break,
                Some(None) => {
                    prefix.complete = true;
                    break;
                }
                Some(Some(Err(status))) => return Err(status),
                Some(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        size += data.len();
                        match prefix.first {
                            None => prefix.first = Some(data),
                            Some(_) => prefix.more.push(data),
                        }
                    }
                }
            }
        }
        Ok(prefix)
    }

    /// The whole request again (a unary request is one frame: shared, not copied).
    fn replay(&self) -> Body {
        let all = match (&self.first, self.more.as_slice()) {
            (None, _) => Bytes::new(),
            (Some(one), []) => one.clone(),
            (Some(first), more) => {
                let mut all = BytesMut::with_capacity(first.len() + more.iter().map(Bytes::len).sum::<usize>());
                for f in std::iter::once(first).chain(more) {
                    all.extend_from_slice(f);
                }
                all.freeze()
            }
        };
        Body::new(Replay(Some(all)))
    }

    /// The frames read, then the rest of `body`, failing with `CANCELLED` once `answer`
    /// drops: a client that drops a streaming call's answer while its requests could still
    /// come cancels the call, at the provider too (HTTP/2 keeps a stream open while either
    /// side is; the failing request resets it).
    fn then(self, body: Body, answer: oneshot::Receiver<()>) -> Body {
        let prefix = futures::stream::iter(
            self.first
                .into_iter()
                .chain(self.more)
                .map(|b| Ok::<_, tonic::Status>(http_body::Frame::data(b))),
        );
        let rest = http_body_util::BodyStream::new(body);
        let frames = http_body_util::StreamBody::new(prefix.chain(rest));
        Body::new(Cancellable {
            frames: Body::new(frames),
            answer: Some(answer),
        })
    }
}

/// A request's whole body, sent again: one frame, of no announced size — as tonic's own
/// request bodies (a body of known size would make hyper add a `content-length` header
/// that gRPC does not use, and the provider parse it, on every call).
struct Replay(Option<Bytes>);

impl http_body::Body for Replay {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        Poll::Ready(self.0.take().map(|data| Ok(http_body::Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

/// A streaming request's body, cancelled when its answer is dropped ([`Prefix::then`]).
struct Cancellable {
    frames: Body,
    /// Resolves when the answer's body drops; `None` once it has.
    answer: Option<oneshot::Receiver<()>>,
}

impl http_body::Body for Cancellable {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.frames).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.answer.as_mut().map(|answer| Pin::new(answer).poll(cx)) {
            Some(Poll::Ready(_)) => {
                self.answer = None;
                Poll::Ready(Some(Err(tonic::Status::cancelled(
                    "the client dropped the call's answer",
                ))))
            }
            _ => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_end_stream()
    }
}

/// An answer's body that failed: a handler's status travels in trailers, so a failing body is
/// the transport's failure. tonic reports a connection lost mid-answer as `UNKNOWN`; it is
/// `UNAVAILABLE` (gRPC's code for it), naming the provider. A stream partly delivered is not
/// sent again.
fn broken_off(status: tonic::Status, address: &str) -> tonic::Status {
    if status.code() != tonic::Code::Unknown {
        return status;
    }
    tracing::debug!(%address, error = %status.message(), "an answer broke off");
    tonic::Status::unavailable(format!("the answer from {address} broke off: {}", status.message()))
}

/// A trailers-only gRPC answer with `code` and `message`.
fn status_response(code: tonic::Code, message: &str) -> http::Response<Body> {
    tonic::Status::new(code, message.to_owned()).into_http()
}

/// The `grpc-status` of a trailers-only answer (headers that end the stream), if any.
fn trailers_only_status(response: &http::Response<Body>) -> Option<tonic::Code> {
    let code = response
        .headers()
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(tonic::Code::from_i32(code))
}

impl Inner {
    /// The channel of `member`, connected now (a provider that cannot be reached is found
    /// before the request is sent).
    async fn channel(&self, member: &Member) -> Result<Channel, BoxError> {
        if let Some(c) = lock(&self.channels).get(member.identity()) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{}", member.url().address()))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        let channel = endpoint.connect().await?;
        lock(&self.channels).insert(Arc::from(member.identity()), channel.clone());
        Ok(channel)
    }

    fn forget(&self, member: &Member) {
        lock(&self.channels).remove(member.identity());
    }

    async fn call(self: Arc<Self>, request: http::Request<Body>) -> Result<http::Response<Body>, BoxError> {
        let mut inv = Invocation::new(request.uri().path().rsplit('/').next().unwrap_or_default());
        if let Some(HashKey(key)) = request.extensions().get::<HashKey>() {
            inv = inv.with_argument(key.as_str());
        }
        let (mut parts, mut body) = request.into_parts();
        // The reference's timeout (`timeout`, `<method>.timeout`), unless the client set one, as
        // grpc-timeout: the provider gives up then, and tonic's channel bounds the call by it.
        let timeout = match parts.headers.get("grpc-timeout") {
            Some(_) => None,
            None => {
                let ms = if self.method_timeouts {
                    self.consumer.method_param_as(inv.method(), keys::TIMEOUT, 0u64)
                } else {
                    self.timeout_ms
                };
                (ms > 0 && ms < 100_000_000).then(|| {
                    if let Ok(v) = http::HeaderValue::from_str(&format!("{ms}m")) {
                        parts.headers.insert("grpc-timeout", v);
                    }
                    Duration::from_millis(ms)
                })
            }
        };
        for (name, value) in &self.service_headers {
            parts.headers.insert(name.clone(), value.clone());
        }
        let prefix = match Prefix::read(&mut body) {
            Ok(p) => p,
            Err(status) => return Ok(status.into_http()),
        };
        let mut body = Some(body);
        let mut prefix = Some(prefix);
        let mut tried: Vec<Arc<str>> = Vec::new();
        let mut last_error = String::new();
        for attempt in 0..=self.retries {
            let Some(member) = self.pick(&inv, &tried) else {
                let reason = if last_error.is_empty() {
                    self.no_provider(&inv)
                } else {
                    format!("{} (last: {last_error})", self.no_provider(&inv))
                };
                return Ok(status_response(tonic::Code::Unavailable, &reason));
            };
            let channel = match self.channel(&member).await {
                Ok(c) => c,
                Err(e) => {
                    let address = member.url().address();
                    last_error = format!("{address}: {e}");
                    tracing::debug!(%address, error = %e, attempt, "provider unreachable; trying another");
                    tried.push(Arc::from(member.identity()));
                    continue;
                }
            };
            let replayable = prefix.as_ref().is_some_and(|p| p.complete);
            let mut answer_guard: Option<oneshot::Sender<()>> = None;
            let this_body = match (&prefix, replayable) {
                (Some(p), true) => p.replay(),
                _ => match (prefix.take(), body.take()) {
                    (Some(p), Some(b)) => {
                        let (dropped, answer) = oneshot::channel();
                        answer_guard = Some(dropped);
                        p.then(b, answer)
                    }
                    // A streaming request already went to a provider: it cannot be sent again.
                    _ => return Ok(status_response(tonic::Code::Unavailable, &last_error)),
                },
            };
            // The head is copied only when another attempt could follow; else it goes as it is.
            let head = if replayable && attempt < self.retries {
                clone_parts(&parts)
            } else {
                std::mem::replace(&mut parts, empty_parts())
            };
            let request = http::Request::from_parts(head, this_body);
            let mut channel = channel;
            let sent = async {
                futures::future::poll_fn(|cx| tower_service::Service::poll_ready(&mut channel, cx)).await?;
                tower_service::Service::call(&mut channel, request).await
            };
            match sent.await {
                Ok(response) => {
                    let unavailable = trailers_only_status(&response) == Some(tonic::Code::Unavailable);
                    if unavailable && replayable && attempt < self.retries {
                        last_error = format!("{} answered UNAVAILABLE", member.url().address());
                        tried.push(Arc::from(member.identity()));
                        continue;
                    }
                    return Ok(response.map(|body| {
                        Body::new(body.map_err(move |e| {
                            // Dropped with the answer: a streaming request then fails.
                            let _answer = &answer_guard;
                            broken_off(e, &member.url().address())
                        }))
                    }));
                }
                // The deadline (tonic's channel enforces grpc-timeout): the call was sent, so
                // it is not sent again.
                Err(e) if is_timeout(&e) => {
                    let after = timeout.map_or_else(|| "its deadline".to_owned(), |t| format!("{} ms", t.as_millis()));
                    return Ok(status_response(
                        tonic::Code::DeadlineExceeded,
                        &format!("no answer from {} within {after}", member.url().address()),
                    ));
                }
                Err(e) => {
                    self.forget(&member);
                    let address = member.url().address();
                    last_error = format!("{address}: {e}");
                    tried.push(Arc::from(member.identity()));
                    if !replayable {
                        return Ok(status_response(tonic::Code::Unavailable, &last_error));
                    }
                    tracing::debug!(%address, error = %e, attempt, "call failed before an answer; trying another provider");
                }
            }
        }
        Ok(status_response(tonic::Code::Unavailable, &last_error))
    }

    /// The provider for `inv`, not among `tried`: from the first directory that lists a
    /// Triple provider for it.
    fn pick(&self, inv: &Invocation, tried: &[Arc<str>]) -> Option<Arc<Member>> {
        for base in &self.bases {
            let Ok(listed) = base.list(inv) else { continue };
            let providers = listed.providers();
            let is_tri = |m: &Member| m.url().protocol() == TRI;
            // Only Triple providers speak gRPC: others count as tried.
            let skip: std::borrow::Cow<'_, [Arc<str>]> = if providers.iter().all(|m| is_tri(m)) {
                std::borrow::Cow::Borrowed(tried)
            } else {
                let mut skip = tried.to_vec();
                skip.extend(providers.iter().filter(|m| !is_tri(m)).map(|m| Arc::from(m.identity())));
                std::borrow::Cow::Owned(skip)
            };
            let usable = |m: &Member| !skip.iter().any(|s| **s == *m.identity());
            if !providers.iter().any(|m| usable(m)) {
                continue;
            }
            let i = base.select(inv, &listed, &skip)?;
            let member = &providers[i];
            if usable(member) {
                return Some(Arc::clone(member));
            }
        }
        None
    }

    fn no_provider(&self, inv: &Invocation) -> String {
        let reasons: Vec<String> = self
            .bases
            .iter()
            .map(|b| match b.list(inv) {
                Ok(_) => format!("{}: no Triple provider left to try", b.url()),
                Err(e) => e.to_string(),
            })
            .collect();
        reasons.join("; ")
    }
}

/// Whether `e` (or what caused it) is tonic's expired deadline.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<tonic::TimeoutExpired>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// An empty request head, left behind when the real one is sent for the last time.
fn empty_parts() -> http::request::Parts {
    http::Request::new(()).into_parts().0
}

/// A copy of a request head (its extensions are not carried over).
fn clone_parts(parts: &http::request::Parts) -> http::request::Parts {
    let mut builder = http::Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone())
        .version(parts.version);
    if let Some(headers) = builder.headers_mut() {
        *headers = parts.headers.clone();
    }
    let (parts, ()) = builder.body(()).unwrap_or_default().into_parts();
    parts
}

impl tower_service::Service<http::Request<Body>> for GrpcChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The call's place in its trace, if it has one (trace::for_call), sent as `traceparent`
        // unless the client set one (an OpenTelemetry interceptor, say).
        let span = tracing::info_span!(
            "zkdubbo.call",
            path = request.uri().path(),
            trace_id = tracing::field::Empty,
        );
        let trace = trace::for_call(&span);
        if let Some(trace) = trace
            && !request.headers().contains_key(TRACEPARENT)
            && let Ok(mut value) = http::HeaderValue::from_bytes(&trace.to_bytes())
        {
            // Unique to this call: indexed by HPACK, it would only evict what every call repeats.
            value.set_sensitive(true);
            request.headers_mut().insert(TRACEPARENT, value);
        }
        Box::pin(trace::in_trace(trace, span, self.inner.clone().call(request)))
    }
}
