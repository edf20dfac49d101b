//! Serving one call. gRPC itself — message framing, compression, message size limits,
//! trailers — is tonic's (`tonic::server::Grpc` over a pass-through codec), the same code that
//! serves the tonic services mounted beside the handlers. What is Dubbo's or this server's is
//! here: routing by interface, the content types Dubbo clients send and expect, metadata,
//! deadlines, the in-flight budget and panics.

use std::collections::HashMap;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use zkdubbo_common::trace::{self, TRACEPARENT, TraceContext};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body::{Body as HttpBody, Frame};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};
use tonic::body::Body;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::server::{ClientStreamingService, Grpc, ServerStreamingService, StreamingService, UnaryService};
use tonic::{Code, Status};

use crate::codec::BytesCodec;
use crate::handler::{BidiFn, ClientStreamFn, Handler, MessageStream, ServerStreamFn, StreamKind, StreamingMethod};
use crate::routes::TonicRoute;
use crate::timeout::parse_grpc_timeout;

/// What the server advertises in `grpc-accept-encoding`: every encoding it reads.
pub(crate) const ACCEPT_ENCODING: &str = "gzip,zstd,identity";

/// Request headers that describe the transport, not the call: not passed to handlers.
const TRANSPORT_HEADERS: &[&str] = &[
    "te",
    "content-type",
    "content-length",
    "connection",
    "grpc-encoding",
    "grpc-accept-encoding",
];

/// What every call of a server shares.
pub(crate) struct Shared {
    pub(crate) services: HashMap<String, Arc<dyn Handler>>,
    /// Services tonic generated, by their `NamedService::NAME`.
    pub(crate) tonic: HashMap<String, TonicRoute>,
    pub(crate) content_type: HeaderValue,
    pub(crate) max_message_size: usize,
    pub(crate) send_compressed: Option<CompressionEncoding>,
    pub(crate) accepted: AtomicU64,
    pub(crate) body_timeout: Duration,
    pub(crate) max_in_flight_bytes: usize,
    pub(crate) in_flight_bytes: AtomicUsize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// Whether `value` is `application/grpc`, `application/grpc+<suffix>` or either with
/// `;parameters` (case-insensitive), as the gRPC spec allows.
pub(crate) fn is_grpc_content_type(value: &[u8]) -> bool {
    const PREFIX: &[u8] = b"application/grpc";
    let essence = value.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    if essence.len() < PREFIX.len() || !essence[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return false;
    }
    match &essence[PREFIX.len()..] {
        [] => true,
        [b'+', suffix @ ..] => !suffix.is_empty() && suffix.iter().all(|b| b.is_ascii_graphic()),
        _ => false,
    }
}

/// The hyper service of one connection.
#[derive(Clone)]
pub(crate) struct TripleService {
    pub(crate) shared: Arc<Shared>,
}

impl hyper::service::Service<Request<Incoming>> for TripleService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        // The caller's trace continues in the handler (and in the calls it makes); a call
        // without a valid `traceparent` begins one when its span is recorded.
        let caller = request
            .headers()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(TraceContext::parse);
        let span = tracing::info_span!(
            "zkdubbo.serve",
            path = request.uri().path(),
            trace_id = tracing::field::Empty,
        );
        let trace = trace::for_serve(&span, caller);
        Box::pin(trace::in_trace(
            trace,
            span,
            async move { Ok(shared.serve(request).await) },
        ))
    }
}

impl Shared {
    async fn serve(self: Arc<Self>, request: Request<Incoming>) -> http::Response<Body> {
        let path = request.uri().path();
        let Some((interface, method)) = path.strip_prefix('/').and_then(|p| p.rsplit_once('/')) else {
            let status = Status::unimplemented(format!("malformed gRPC path {path}"));
            return self.answer(status_response(status));
        };
        if let Some(route) = self.tonic.get(interface) {
            // tonic's services answer as tonic does, content type included.
            return route(request.map(Body::new)).await;
        }
        if request.method() != Method::POST {
            return plain_response(StatusCode::METHOD_NOT_ALLOWED, "gRPC calls must use POST");
        }
        if !request
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|ct| is_grpc_content_type(ct.as_bytes()))
        {
            return plain_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type must be application/grpc or application/grpc+<suffix>",
            );
        }
        let Some(handler) = self.services.get(interface) else {
            tracing::debug!(interface, method, "call for an unknown service");
            let status = Status::unimplemented(format!("service {interface} not found"));
            return self.answer(status_response(status));
        };
        let call = CallInfo {
            handler: Arc::clone(handler),
            // A clone of the request's own bytes: nothing allocated per call.
            path: request
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
            shared: Arc::clone(&self),
            deadline: request
                .headers()
                .get("grpc-timeout")
                .and_then(|v| parse_grpc_timeout(v.as_bytes()))
                .map(|d| Instant::now() + d),
        };
        let response = call.serve(request).await;
        self.answer(response)
    }

    /// The Dubbo specifics of every handler's answer: the configured content type, and the
    /// encodings read advertised.
    fn answer(&self, mut response: http::Response<Body>) -> http::Response<Body> {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        headers.insert("grpc-accept-encoding", HeaderValue::from_static(ACCEPT_ENCODING));
        response
    }

    /// tonic's gRPC machinery configured for one call with `headers`.
    fn grpc(&self, headers: &HeaderMap) -> Grpc<BytesCodec> {
        let mut grpc = Grpc::new(BytesCodec)
            .max_decoding_message_size(self.max_message_size)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
        // A reply is compressed as its request was when the client accepts that (what Dubbo's
        // Triple clients expect), else as configured.
        let request_encoding = headers
            .get("grpc-encoding")
            .and_then(|v| match v.as_bytes().trim_ascii() {
                b"gzip" => Some(CompressionEncoding::Gzip),
                b"zstd" => Some(CompressionEncoding::Zstd),
                _ => None,
            });
        for encoding in [request_encoding, self.send_compressed].into_iter().flatten() {
            grpc = grpc.send_compressed(encoding);
        }
        grpc
    }

    /// Count `len` request bytes in flight until the returned guard drops, or refuse them.
    fn hold(self: &Arc<Self>, len: usize) -> Result<HeldBytes, Status> {
        let held = self.in_flight_bytes.fetch_add(len, Ordering::AcqRel) + len;
        let guard = HeldBytes(Arc::clone(self), len);
        if held > self.max_in_flight_bytes {
            tracing::warn!(
                held,
                limit = self.max_in_flight_bytes,
                "triple server at its in-flight memory budget; answering RESOURCE_EXHAUSTED"
            );
            return Err(Status::resource_exhausted(format!(
                "the provider holds {held} request bytes in flight, over its budget of {}",
                self.max_in_flight_bytes
            )));
        }
        Ok(guard)
    }
}

/// Request bytes counted in flight until dropped.
struct HeldBytes(Arc<Shared>, usize);

impl Drop for HeldBytes {
    fn drop(&mut self) {
        self.0.in_flight_bytes.fetch_sub(self.1, Ordering::AcqRel);
    }
}

/// One call to a handler, as the tonic service of its kind.
#[derive(Clone)]
struct CallInfo {
    handler: Arc<dyn Handler>,
    /// `/interface/method`.
    path: PathAndQuery,
    shared: Arc<Shared>,
    /// When the client's `grpc-timeout` runs out.
    deadline: Option<Instant>,
}

impl CallInfo {
    /// `interface/method`, for logs and statuses.
    fn name(&self) -> &str {
        self.path.path().trim_start_matches('/')
    }

    fn method(&self) -> &str {
        self.name().rsplit('/').next().unwrap_or_default()
    }

    async fn serve(self, request: Request<Incoming>) -> http::Response<Body> {
        let mut grpc = self.shared.grpc(request.headers());
        let deadline = self.deadline;
        // A call with one request message has it whole within the body timeout; a streaming
        // request lasts as long as the client streams.
        let single = |request: Request<Incoming>| {
            let timeout = self.shared.body_timeout;
            request.map(|body| DeadlineBody::new(body, timeout))
        };
        let served = async {
            match self.handler.streaming(self.method()) {
                None => grpc.unary(self.clone(), single(request)).await,
                Some(StreamingMethod(StreamKind::Server(f))) => {
                    grpc.server_streaming(ServerStreaming(self.clone(), f), single(request))
                        .await
                }
                Some(StreamingMethod(StreamKind::Client(f))) => {
                    grpc.client_streaming(ClientStreaming(self.clone(), f), request).await
                }
                Some(StreamingMethod(StreamKind::Bidi(f))) => grpc.streaming(Bidi(self.clone(), f), request).await,
            }
        };
        match deadline {
            None => served.await,
            Some(at) => match tokio::time::timeout_at(at, served).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::debug!(call = self.name(), "call exceeded its grpc-timeout");
                    status_response(Status::deadline_exceeded(format!(
                        "{} did not answer within the call's grpc-timeout",
                        self.name()
                    )))
                }
            },
        }
    }

    /// The handler's future, with a panic answered `INTERNAL`.
    async fn guarded<T>(&self, future: BoxFuture<'static, Result<T, Status>>) -> Result<T, Status> {
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(status)) => {
                tracing::debug!(call = self.name(), code = ?status.code(), message = status.message(), "call failed");
                Err(status)
            }
            Err(_) => {
                tracing::error!(call = self.name(), "triple handler panicked");
                Err(Status::internal(format!("{} panicked", self.name())))
            }
        }
    }

    /// Replies as the handler streams them, ended by a panic (`INTERNAL`) or the deadline
    /// (`DEADLINE_EXCEEDED`).
    fn replies(&self, replies: MessageStream<Bytes>) -> MessageStream<Bytes> {
        let name: Arc<str> = Arc::from(self.name());
        let panicked = Arc::clone(&name);
        let replies = AssertUnwindSafe(replies).catch_unwind().map(move |item| match item {
            Ok(item) => item,
            Err(_) => {
                tracing::error!(call = %panicked, "triple stream panicked");
                Err(Status::internal(format!("{panicked} panicked while streaming")))
            }
        });
        match self.deadline {
            None => Box::pin(replies),
            Some(at) => Box::pin(DeadlineStream {
                inner: Box::pin(replies),
                sleep: Some(Box::pin(tokio::time::sleep_until(at))),
                name,
            }),
        }
    }
}

/// Metadata as handlers see it: the call's headers without the transport's.
fn call_metadata(mut metadata: MetadataMap) -> MetadataMap {
    for name in TRANSPORT_HEADERS {
        metadata.remove(*name);
    }
    metadata
}

type UnaryReply = BoxFuture<'static, Result<tonic::Response<Bytes>, Status>>;
type StreamReply = BoxFuture<'static, Result<tonic::Response<MessageStream<Bytes>>, Status>>;

impl UnaryService<Bytes> for CallInfo {
    type Response = Bytes;
    type Future = UnaryReply;

    fn call(&mut self, request: tonic::Request<Bytes>) -> UnaryReply {
        let this = self.clone();
        Box::pin(async move {
            let (metadata, _, message) = request.into_parts();
            let _held = this.shared.hold(message.len())?;
            let future = this.handler.call(this.method(), message, call_metadata(metadata));
            this.guarded(future).await.map(tonic::Response::new)
        })
    }
}

struct ServerStreaming(CallInfo, ServerStreamFn);

impl ServerStreamingService<Bytes> for ServerStreaming {
    type Response = Bytes;
    type ResponseStream = MessageStream<Bytes>;
    type Future = StreamReply;

    fn call(&mut self, request: tonic::Request<Bytes>) -> StreamReply {
        let (call, f) = (self.0.clone(), Arc::clone(&self.1));
        Box::pin(async move {
            let (metadata, _, message) = request.into_parts();
            let held = call.shared.hold(message.len())?;
            let replies = call.guarded(f(message, call_metadata(metadata))).await;
            drop(held);
            Ok(tonic::Response::new(call.replies(replies?)))
        })
    }
}

struct ClientStreaming(CallInfo, ClientStreamFn);

impl ClientStreamingService<Bytes> for ClientStreaming {
    type Response = Bytes;
    type Future = UnaryReply;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> UnaryReply {
        let (call, f) = (self.0.clone(), Arc::clone(&self.1));
        Box::pin(async move {
            let (metadata, _, requests) = request.into_parts();
            let reply = call.guarded(f(Box::pin(requests), call_metadata(metadata))).await?;
            Ok(tonic::Response::new(reply))
        })
    }
}

struct Bidi(CallInfo, BidiFn);

impl StreamingService<Bytes> for Bidi {
    type Response = Bytes;
    type ResponseStream = MessageStream<Bytes>;
    type Future = StreamReply;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> StreamReply {
        let (call, f) = (self.0.clone(), Arc::clone(&self.1));
        Box::pin(async move {
            let (metadata, _, requests) = request.into_parts();
            let replies = call.guarded(f(Box::pin(requests), call_metadata(metadata))).await?;
            Ok(tonic::Response::new(call.replies(replies)))
        })
    }
}

/// A request body that must end within a time: past it, the body fails with
/// `DEADLINE_EXCEEDED` (a client that trickles a body holds a stream and its buffers).
struct DeadlineBody {
    inner: Incoming,
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        DeadlineBody {
            inner,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(|e| Status::from_error(Box::new(e))))),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    tracing::debug!(timeout = ?this.timeout, "request body not received in time");
                    Poll::Ready(Some(Err(Status::deadline_exceeded(format!(
                        "the request body did not arrive within {:?}",
                        this.timeout
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A reply stream cut at the call's deadline with `DEADLINE_EXCEEDED`.
struct DeadlineStream {
    inner: MessageStream<Bytes>,
    /// `None` once the deadline has been reported.
    sleep: Option<Pin<Box<Sleep>>>,
    name: Arc<str>,
}

impl Stream for DeadlineStream {
    type Item = Result<Bytes, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(sleep) = this.sleep.as_mut() else {
            return Poll::Ready(None);
        };
        if sleep.as_mut().poll(cx).is_ready() {
            this.sleep = None;
            tracing::debug!(call = %this.name, "stream exceeded its grpc-timeout");
            return Poll::Ready(Some(Err(Status::deadline_exceeded(format!(
                "{} did not finish streaming within the call's grpc-timeout",
                this.name
            )))));
        }
        this.inner.poll_next_unpin(cx)
    }
}

/// A "trailers-only" response: the status travels in the HEADERS frame that ends the stream.
pub(crate) fn status_response(status: Status) -> http::Response<Body> {
    let mut response = http::Response::new(Body::default());
    if let Err(e) = status.add_header(response.headers_mut()) {
        tracing::warn!(error = %e, "cannot encode a gRPC status; answering INTERNAL");
        response
            .headers_mut()
            .insert("grpc-status", HeaderValue::from(Code::Internal as i32));
    }
    response
}

fn plain_response(code: StatusCode, text: &'static str) -> http::Response<Body> {
    let mut response = http::Response::new(Body::new(http_body_util::Full::new(Bytes::from_static(
        text.as_bytes(),
    ))));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        for ok in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc+json",
            "Application/GRPC+proto; charset=utf-8",
            "application/grpc;foo=bar",
        ] {
            assert!(is_grpc_content_type(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "text/html",
            "application/grpc+",
            "application/grpcweb",
            "application/grpc-web",
            "application/json",
        ] {
            assert!(!is_grpc_content_type(bad.as_bytes()), "{bad}");
        }
    }
}
