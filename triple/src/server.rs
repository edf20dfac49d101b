//! The provider side: a Triple (gRPC over HTTP/2 cleartext) server for unary calls.
//!
//! Calls arrive as `POST /<interface>/<method>`; the interface selects a [`Handler`]
//! registered with [`TripleServerBuilder::service`], which gets the method name, the
//! request message bytes and the request metadata, and answers with the reply message bytes
//! or a [`Status`]. [`Methods`] builds such a handler from one closure per method, either on
//! raw bytes or on prost messages.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use bytes::Bytes;
//! use zkdubbo_triple::{Methods, Status, TripleServer, greeter};
//!
//! let server = TripleServer::builder()
//!     // typed: prost messages in and out
//!     .service(greeter::INTERFACE, greeter::service())
//!     // raw: any closure of (method, request bytes, metadata)
//!     .service("com.example.Echo", |method: String, request: Bytes, _metadata| async move {
//!         match method.as_str() {
//!             "echo" => Ok(request),
//!             other => Err(Status::unimplemented(format!("no method {other}"))),
//!         }
//!     })
//!     .bind("127.0.0.1:0")
//!     .await?;
//! println!("listening on {}", server.local_addr());
//! server.serve_with_shutdown(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! The server is deliberately tolerant of what Dubbo clients send: any `application/grpc` or
//! `application/grpc+<suffix>` request content type, and a trailing empty DATA frame or
//! zero-length gRPC message after the request message (dubbo-python does this).

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prost::Message;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::codec::{ACCEPT_ENCODING, Encoding, FRAME_HEADER_LEN, decode_unary_request_with, encode_frame_with};
use crate::routes::{ServerBody, TonicRoute, TonicService};
use crate::timeout::parse_grpc_timeout;

/// The content type the server answers with unless told otherwise (what Dubbo 3 sends).
pub const DEFAULT_CONTENT_TYPE: &str = "application/grpc+proto";

/// Default largest request message accepted: 4 MiB, as gRPC.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Default most connections served at once; at the limit the server stops accepting until
/// one closes (new clients wait in the listen backlog) instead of degrading every connection.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Default time a new connection has to send its first bytes (the HTTP/2 preface) before it
/// is closed: a client that connects and says nothing holds a file descriptor for nothing.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default most calls in flight on one connection (HTTP/2 `MAX_CONCURRENT_STREAMS`).
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// Default time a request body has to arrive once its headers have: a client that trickles a
/// body holds a stream and its buffers for nothing.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Default most request bytes held by the calls being served, all connections together;
/// beyond it a call is answered `RESOURCE_EXHAUSTED`.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 256 * 1024 * 1024;

/// Default interval of the HTTP/2 PINGs sent on a silent connection: a peer that does not
/// answer one within [`DEFAULT_KEEPALIVE_TIMEOUT`] is closed. Idle connections whose peer
/// answers are kept, as gRPC servers do by default.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);

/// Default time a PING's answer may take before the connection counts as dead.
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Default time given to in-flight calls on graceful shutdown before connections are dropped.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The future a [`Handler`] returns: the encoded reply message, or the status to answer with.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Bytes, Status>> + Send + 'static>>;

/// Serves the methods of one service interface.
///
/// Implemented by [`Methods`] and by every closure
/// `Fn(String /* method */, Bytes /* request message */, MetadataMap) -> impl Future<Output = Result<Bytes, Status>>`.
/// A handler should answer `UNIMPLEMENTED` for a method it does not know.
pub trait Handler: Send + Sync + 'static {
    /// Serve one call of `method` with the request message bytes and the request metadata.
    fn call(&self, method: &str, request: Bytes, metadata: MetadataMap) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(String, Bytes, MetadataMap) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Bytes, Status>> + Send + 'static,
{
    fn call(&self, method: &str, request: Bytes, metadata: MetadataMap) -> HandlerFuture {
        Box::pin(self(method.to_owned(), request, metadata))
    }
}

type MethodFn = Arc<dyn Fn(Bytes, MetadataMap) -> HandlerFuture + Send + Sync>;

/// A [`Handler`] made of one closure per method; unknown methods get `UNIMPLEMENTED`.
///
/// ```
/// use zkdubbo_triple::{Methods, Status};
/// use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
///
/// let methods = Methods::new()
///     .unary("sayHello", |req: GreeterRequest, _metadata| async move {
///         if req.name.is_empty() {
///             return Err(Status::invalid_argument("name is required"));
///         }
///         Ok(GreeterReply { message: format!("Hello, {}!", req.name) })
///     })
///     .raw("ping", |request, _metadata| async move { Ok(request) });
/// assert_eq!(methods.method_names(), vec!["ping", "sayHello"]);
/// ```
#[derive(Clone, Default)]
pub struct Methods {
    methods: HashMap<String, MethodFn>,
}

impl Methods {
    /// No methods yet.
    pub fn new() -> Self {
        Methods::default()
    }

    /// Serve `method` with a closure on the raw request message bytes.
    pub fn raw<F, Fut>(mut self, method: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Bytes, MetadataMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Bytes, Status>> + Send + 'static,
    {
        let f: MethodFn = Arc::new(move |request, metadata| Box::pin(handler(request, metadata)));
        self.methods.insert(method.into(), f);
        self
    }

    /// Serve `method` with a closure on prost messages: the request is decoded as `Req`
    /// (`INVALID_ARGUMENT` if it cannot be) and the reply encoded from `Resp`.
    pub fn unary<Req, Resp, F, Fut>(mut self, method: impl Into<String>, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(Req, MetadataMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let f: MethodFn = Arc::new(move |request: Bytes, metadata| {
            let decoded = Req::decode(request).map_err(|e| {
                Status::invalid_argument(format!(
                    "cannot decode the request as {}: {e}",
                    std::any::type_name::<Req>()
                ))
            });
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let reply = handler(decoded?, metadata).await?;
                Ok(Bytes::from(reply.encode_to_vec()))
            })
        });
        self.methods.insert(method.into(), f);
        self
    }

    /// The names of the methods served, sorted (what a provider registers as `methods`).
    pub fn method_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.methods.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Methods")
            .field("methods", &self.method_names())
            .finish()
    }
}

impl Handler for Methods {
    fn call(&self, method: &str, request: Bytes, metadata: MetadataMap) -> HandlerFuture {
        match self.methods.get(method) {
            Some(f) => f(request, metadata),
            None => {
                let status = Status::unimplemented(format!("method {method} not found"));
                Box::pin(async move { Err(status) })
            }
        }
    }
}

/// Configures and binds a [`TripleServer`]; see the [crate docs](crate).
pub struct TripleServerBuilder {
    services: HashMap<String, Arc<dyn Handler>>,
    tonic: HashMap<String, TonicRoute>,
    content_type: String,
    max_message_size: usize,
    shutdown_grace: Duration,
    limits: ConnectionLimits,
    body_timeout: Duration,
    max_in_flight_bytes: usize,
}

/// The bounds of a server's connections.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    max_connections: usize,
    handshake_timeout: Duration,
    /// PING interval and answer timeout.
    keepalive: (Duration, Duration),
    max_streams: u32,
}

impl fmt::Debug for TripleServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut services: Vec<&String> = self.services.keys().collect();
        services.sort_unstable();
        f.debug_struct("TripleServerBuilder")
            .field("services", &services)
            .field("content_type", &self.content_type)
            .field("max_message_size", &self.max_message_size)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Default for TripleServerBuilder {
    fn default() -> Self {
        TripleServerBuilder {
            services: HashMap::new(),
            tonic: HashMap::new(),
            content_type: DEFAULT_CONTENT_TYPE.to_owned(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            limits: ConnectionLimits {
                max_connections: DEFAULT_MAX_CONNECTIONS,
                handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
                keepalive: (DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT),
                max_streams: DEFAULT_MAX_STREAMS_PER_CONNECTION,
            },
        }
    }
}

impl TripleServerBuilder {
    /// Serve `interface` (paths `/<interface>/<method>`) with `handler`. Registering the same
    /// interface again replaces the handler.
    pub fn service(mut self, interface: impl Into<String>, handler: impl Handler) -> Self {
        self.services.insert(interface.into(), Arc::new(handler));
        self
    }

    /// Serve a service tonic generated (`GreeterServer::new(my_greeter)`) under its
    /// `NamedService::NAME` (`/<NAME>/<method>`), beside the zkdubbo handlers on the same port.
    /// Its calls are handed to it as they come — streaming, compression and all — so tonic's
    /// behaviour, not this server's, applies to them.
    pub fn tonic_service<S: TonicService>(mut self, service: S) -> Self {
        self.tonic.insert(S::NAME.to_owned(), crate::routes::route(service));
        self
    }

    /// The response content type, [`DEFAULT_CONTENT_TYPE`] by default. Must be
    /// `application/grpc` or `application/grpc+<suffix>`; checked by [`Self::bind`].
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The largest request message accepted, [`DEFAULT_MAX_MESSAGE_SIZE`] by default; larger
    /// requests are answered `RESOURCE_EXHAUSTED`.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How long a graceful shutdown waits for in-flight calls before dropping the
    /// connections, [`DEFAULT_SHUTDOWN_GRACE`] by default.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// The most connections served at once, [`DEFAULT_MAX_CONNECTIONS`] by default (at least
    /// 1). At the limit the server stops accepting until one closes, with a warning.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max.max(1);
        self
    }

    /// How long a new connection has to send its first bytes before it is closed,
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`] by default.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.limits.handshake_timeout = timeout;
        self
    }

    /// HTTP/2 keepalive: a PING after `interval` of silence; a peer that does not answer
    /// within `timeout` is closed ([`DEFAULT_KEEPALIVE_INTERVAL`], [`DEFAULT_KEEPALIVE_TIMEOUT`]).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.limits.keepalive = (interval, timeout);
        self
    }

    /// How long a request body has to arrive once its headers have, [`DEFAULT_BODY_TIMEOUT`]
    /// by default (a call's own `grpc-timeout` applies when shorter).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The most request bytes held by the calls being served, all connections together,
    /// [`DEFAULT_MAX_IN_FLIGHT_BYTES`] by default; a call beyond it is answered
    /// `RESOURCE_EXHAUSTED` at once.
    pub fn max_in_flight_bytes(mut self, bytes: usize) -> Self {
        self.max_in_flight_bytes = bytes.max(1);
        self
    }

    /// The most calls in flight on one connection, [`DEFAULT_MAX_STREAMS_PER_CONNECTION`] by
    /// default; a client opening more is refused the extra streams by HTTP/2 itself.
    pub fn max_streams_per_connection(mut self, max: u32) -> Self {
        self.limits.max_streams = max.max(1);
        self
    }

    /// Bind a TCP listener on `addr` (`127.0.0.1:0` picks a free port: see
    /// [`TripleServer::local_addr`]).
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<TripleServer> {
        let listener = TcpListener::bind(addr).await?;
        self.with_listener(listener)
    }

    /// Serve on an already bound listener.
    pub fn with_listener(self, listener: TcpListener) -> io::Result<TripleServer> {
        if !is_grpc_content_type(self.content_type.as_bytes()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "response content type {:?} is not application/grpc[+suffix]",
                    self.content_type
                ),
            ));
        }
        let content_type = HeaderValue::from_str(&self.content_type)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("content type: {e}")))?;
        let local_addr = listener.local_addr()?;
        Ok(TripleServer {
            listener,
            local_addr,
            shutdown_grace: self.shutdown_grace,
            limits: self.limits,
            shared: Arc::new(Shared {
                services: self.services,
                tonic: self.tonic,
                content_type,
                max_message_size: self.max_message_size,
                accepted: AtomicU64::new(0),
                body_timeout: self.body_timeout,
                max_in_flight_bytes: self.max_in_flight_bytes,
                in_flight_bytes: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }
}

/// A bound Triple server; run it with [`serve`](Self::serve),
/// [`serve_with_shutdown`](Self::serve_with_shutdown) or [`spawn`](Self::spawn).
pub struct TripleServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    shutdown_grace: Duration,
    limits: ConnectionLimits,
    shared: Arc<Shared>,
}

impl fmt::Debug for TripleServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TripleServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl TripleServer {
    /// A builder with no services and the defaults.
    pub fn builder() -> TripleServerBuilder {
        TripleServerBuilder::default()
    }

    /// The address actually bound (with the port chosen when binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How many TCP connections the server has accepted so far.
    pub fn accepted_connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Serve until the task is dropped.
    pub async fn serve(self) -> io::Result<()> {
        self.serve_with_shutdown(futures::future::pending()).await
    }

    /// Serve until `signal` completes, then shut down gracefully: stop accepting, tell every
    /// connection to finish (HTTP/2 GOAWAY), wait for in-flight calls up to the
    /// [shutdown grace](TripleServerBuilder::shutdown_grace), then drop what is left.
    pub async fn serve_with_shutdown<F>(self, signal: F) -> io::Result<()>
    where
        F: Future<Output = ()>,
    {
        let TripleServer {
            listener,
            local_addr,
            shutdown_grace,
            limits,
            shared,
        } = self;
        tracing::info!(%local_addr, "triple server listening");
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        let mut signal = pin!(signal);
        let mut at_limit = false;
        loop {
            let full = connections.len() >= limits.max_connections;
            if full != at_limit {
                at_limit = full;
                if full {
                    tracing::warn!(
                        %local_addr,
                        max = limits.max_connections,
                        "triple server at its connection limit: not accepting until one closes"
                    );
                } else {
                    tracing::info!(%local_addr, "triple server below its connection limit: accepting again");
                }
            }
            tokio::select! {
                () = &mut signal => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept(), if !full => match accepted {
                    Ok((stream, peer)) => {
                        shared.accepted.fetch_add(1, Ordering::Relaxed);
                        if let Err(e) = stream.set_nodelay(true) {
                            tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
                        }
                        tracing::debug!(%peer, "triple connection accepted");
                        let svc = TripleService { shared: Arc::clone(&shared) };
                        let watcher = graceful.watcher();
                        connections.spawn(async move {
                            // A connection that sends nothing holds a descriptor for nothing.
                            let mut first = [0u8; 1];
                            match tokio::time::timeout(limits.handshake_timeout, stream.peek(&mut first)).await {
                                Ok(Ok(n)) if n > 0 => {}
                                Ok(_) => return,
                                Err(_) => {
                                    tracing::debug!(%peer, "triple connection sent nothing in time; closing it");
                                    return;
                                }
                            }
                            // A peer that stops answering HTTP/2 PINGs (gone without a FIN, or
                            // frozen) is closed instead of holding its slot until the OS notices.
                            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                .timer(TokioTimer::new())
                                .keep_alive_interval(Some(limits.keepalive.0))
                                .keep_alive_timeout(limits.keepalive.1)
                                .max_concurrent_streams(limits.max_streams)
                                .serve_connection(TokioIo::new(stream), svc);
                            if let Err(e) = watcher.watch(conn).await {
                                tracing::debug!(%peer, error = %e, "triple connection ended with an error");
                            }
                        });
                    }
                    Err(e) => {
                        // Typically EMFILE: back off instead of spinning.
                        tracing::warn!(%local_addr, error = %e, "triple server cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(listener);
        tracing::info!(%local_addr, open = connections.len(), "triple server shutting down");
        if tokio::time::timeout(shutdown_grace, graceful.shutdown()).await.is_err() {
            tracing::warn!(
                %local_addr,
                grace = ?shutdown_grace,
                "calls still in flight after the shutdown grace; dropping their connections"
            );
        }
        connections.shutdown().await;
        tracing::info!(%local_addr, "triple server stopped");
        Ok(())
    }

    /// Run the server on a background task; the returned handle shuts it down.
    pub fn spawn(self) -> ServerHandle {
        let (tx, rx) = oneshot::channel::<()>();
        let local_addr = self.local_addr;
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(self.serve_with_shutdown(async move {
            // A dropped handle also stops the server.
            let _ = rx.await;
        }));
        ServerHandle {
            local_addr,
            shared,
            shutdown: Some(tx),
            task,
        }
    }
}

/// A server running in the background (from [`TripleServer::spawn`]). Dropping the handle
/// shuts the server down gracefully in the background.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How many TCP connections the server has accepted so far.
    pub fn accepted_connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Shut down gracefully and wait until the server has stopped.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(format!("triple server task failed: {e}"))),
        }
    }
}

struct Shared {
    services: HashMap<String, Arc<dyn Handler>>,
    /// Services tonic generated, by their `NamedService::NAME`.
    tonic: HashMap<String, TonicRoute>,
    content_type: HeaderValue,
    max_message_size: usize,
    accepted: AtomicU64,
    body_timeout: Duration,
    max_in_flight_bytes: usize,
    in_flight_bytes: std::sync::atomic::AtomicUsize,
}

/// Bytes counted in flight until dropped.
struct HeldBytes<'a>(&'a std::sync::atomic::AtomicUsize, usize);

impl Drop for HeldBytes<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::AcqRel);
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// Request headers that describe the transport, not the call: not passed to handlers.
const TRANSPORT_HEADERS: &[&str] = &[
    "te",
    "content-type",
    "content-length",
    "connection",
    "grpc-encoding",
    "grpc-accept-encoding",
];

#[derive(Clone)]
struct TripleService {
    shared: Arc<Shared>,
}

impl hyper::service::Service<Request<Incoming>> for TripleService {
    type Response = http::Response<ServerBody<GrpcBody>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let tonic = request
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .and_then(|(service, _)| shared.tonic.get(service))
            .cloned();
        Box::pin(async move {
            Ok(match tonic {
                Some(route) => route(request.map(tonic::body::Body::new)).await.map(ServerBody::Tonic),
                None => shared.handle(request).await.map(ServerBody::Grpc),
            })
        })
    }
}

impl Shared {
    async fn handle(&self, request: Request<Incoming>) -> http::Response<GrpcBody> {
        let (parts, body) = request.into_parts();
        if parts.method != Method::POST {
            return plain_response(StatusCode::METHOD_NOT_ALLOWED, "gRPC calls must use POST");
        }
        let request_ct = parts.headers.get(header::CONTENT_TYPE);
        if !request_ct.is_some_and(|ct| is_grpc_content_type(ct.as_bytes())) {
            return plain_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type must be application/grpc or application/grpc+<suffix>",
            );
        }
        let path = parts.uri.path();
        let Some((interface, method)) = path.strip_prefix('/').and_then(|p| p.rsplit_once('/')) else {
            return self.status_response(Status::unimplemented(format!("malformed gRPC path {path}")));
        };
        let Some(handler) = self.services.get(interface) else {
            tracing::debug!(interface, method, "call for an unknown service");
            return self.status_response(Status::unimplemented(format!("service {interface} not found")));
        };
        let encoding = match parts.headers.get("grpc-encoding") {
            None => Encoding::Identity,
            Some(value) => match Encoding::from_header(value.as_bytes()) {
                Some(e) => e,
                None => {
                    return self.status_response(Status::unimplemented(format!(
                        "grpc-encoding {} is not supported (gzip and identity are)",
                        String::from_utf8_lossy(value.as_bytes())
                    )));
                }
            },
        };
        // The reply is compressed as the request was, when the client accepts it.
        let reply_encoding = match parts.headers.get("grpc-accept-encoding") {
            Some(accepted) if encoding.accepted_by(accepted.as_bytes()) => encoding,
            _ => Encoding::Identity,
        };
        let deadline = parts
            .headers
            .get("grpc-timeout")
            .and_then(|v| parse_grpc_timeout(v.as_bytes()));

        let limit = self.max_message_size.saturating_add(2 * FRAME_HEADER_LEN);
        let body_deadline = deadline.map_or(self.body_timeout, |d| d.min(self.body_timeout));
        let collected = match tokio::time::timeout(body_deadline, Limited::new(body, limit).collect()).await {
            Ok(c) => c,
            Err(_) => {
                tracing::debug!(interface, method, ?body_deadline, "request body not received in time");
                return self.status_response(Status::deadline_exceeded(format!(
                    "the request body did not arrive within {body_deadline:?}"
                )));
            }
        };
        let body = match collected {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return self.status_response(Status::resource_exhausted(format!(
                    "request larger than the {} bytes allowed",
                    self.max_message_size
                )));
            }
            Err(e) => {
                tracing::debug!(interface, method, error = %e, "cannot read the request body");
                return self.status_response(Status::cancelled(format!("cannot read the request body: {e}")));
            }
        };
        let message = match decode_unary_request_with(body, encoding, self.max_message_size) {
            Ok(message) if message.len() <= self.max_message_size => message,
            Ok(message) => {
                return self.status_response(Status::resource_exhausted(format!(
                    "request message of {} bytes, at most {} allowed",
                    message.len(),
                    self.max_message_size
                )));
            }
            Err(status) => return self.status_response(status),
        };

        // Requests held by calls being served are bounded, all connections together.
        let held = self.in_flight_bytes.fetch_add(message.len(), Ordering::AcqRel) + message.len();
        let _held = HeldBytes(&self.in_flight_bytes, message.len());
        if held > self.max_in_flight_bytes {
            tracing::warn!(
                interface,
                method,
                held,
                limit = self.max_in_flight_bytes,
                "triple server at its in-flight memory budget; answering RESOURCE_EXHAUSTED"
            );
            return self.status_response(Status::resource_exhausted(format!(
                "the provider holds {held} request bytes in flight, over its budget of {}",
                self.max_in_flight_bytes
            )));
        }

        let mut headers = parts.headers;
        for name in TRANSPORT_HEADERS {
            headers.remove(*name);
        }
        let metadata = MetadataMap::from_headers(headers);
        let call = AssertUnwindSafe(handler.call(method, message, metadata)).catch_unwind();
        let outcome = match deadline {
            Some(deadline) => match tokio::time::timeout(deadline, call).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::debug!(interface, method, ?deadline, "call exceeded its grpc-timeout");
                    return self.status_response(Status::deadline_exceeded(format!(
                        "{interface}/{method} did not finish within {deadline:?}"
                    )));
                }
            },
            None => call.await,
        };
        match outcome {
            Ok(Ok(reply)) => match encode_frame_with(&reply, reply_encoding) {
                Ok(frame) => {
                    let mut response = self.ok_response(frame);
                    if reply_encoding != Encoding::Identity {
                        response
                            .headers_mut()
                            .insert("grpc-encoding", HeaderValue::from_static(reply_encoding.as_str()));
                    }
                    response
                }
                Err(status) => self.status_response(status),
            },
            Ok(Err(status)) => {
                tracing::debug!(interface, method, code = ?status.code(), message = status.message(), "call failed");
                self.status_response(status)
            }
            Err(_) => {
                tracing::error!(interface, method, "triple handler panicked");
                self.status_response(Status::internal(format!("{interface}/{method} panicked")))
            }
        }
    }

    fn ok_response(&self, frame: Bytes) -> http::Response<GrpcBody> {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let mut response = http::Response::new(GrpcBody {
            data: Some(frame),
            trailers: Some(trailers),
        });
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        headers.insert("grpc-accept-encoding", HeaderValue::from_static(ACCEPT_ENCODING));
        response
    }

    /// A "trailers-only" response: the status travels in the HEADERS frame that ends the stream.
    fn status_response(&self, status: Status) -> http::Response<GrpcBody> {
        let mut response = http::Response::new(GrpcBody::empty());
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        headers.insert("grpc-accept-encoding", HeaderValue::from_static(ACCEPT_ENCODING));
        if let Err(e) = status.add_header(headers) {
            tracing::warn!(error = %e, "cannot encode a gRPC status; answering INTERNAL");
            headers.insert("grpc-status", HeaderValue::from_static("13"));
        }
        response
    }
}

fn plain_response(code: StatusCode, text: &'static str) -> http::Response<GrpcBody> {
    let mut response = http::Response::new(GrpcBody {
        data: Some(Bytes::from_static(text.as_bytes())),
        trailers: None,
    });
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// A response body of at most one DATA frame followed by optional trailers.
struct GrpcBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl GrpcBody {
    fn empty() -> Self {
        GrpcBody {
            data: None,
            trailers: None,
        }
    }
}

impl Body for GrpcBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
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

    #[tokio::test]
    async fn methods_dispatch_and_unknown_method() {
        let methods = Methods::new().raw("echo", |req, _| async move { Ok(req) });
        let out = methods
            .call("echo", Bytes::from_static(b"x"), MetadataMap::new())
            .await
            .unwrap();
        assert_eq!(&out[..], b"x");
        let err = methods
            .call("nope", Bytes::new(), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);
    }

    #[tokio::test]
    async fn typed_method_rejects_undecodable_requests() {
        let methods = crate::greeter::service();
        let err = methods
            .call("sayHello", Bytes::from_static(b"\xff\xff"), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }

    #[tokio::test]
    async fn bind_rejects_a_non_grpc_content_type() {
        let err = TripleServer::builder()
            .content_type("text/html")
            .bind("127.0.0.1:0")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
