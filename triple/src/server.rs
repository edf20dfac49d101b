//! The provider side: a Triple (gRPC over HTTP/2 cleartext) server.
//!
//! Calls arrive as `POST /<interface>/<method>`; the interface selects a [`Handler`]
//! registered with [`TripleServerBuilder::service`], which gets the method name, the
//! request message bytes and the request metadata, and answers with the reply message bytes
//! or a [`Status`]. [`Methods`] builds such a handler from one closure per method, on raw
//! bytes or on prost messages, unary or streaming. Services tonic generated are served beside
//! them ([`TripleServerBuilder::tonic_service`]).
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
//! gRPC itself (framing, compression, message size limits, statuses) is tonic's: the server
//! is the accept loop, the connection limits and graceful shutdown around hyper's HTTP/2, as
//! tonic's own server is. It is deliberately tolerant of what Dubbo clients send: any
//! `application/grpc` or `application/grpc+<suffix>` request content type, and a trailing empty
//! DATA frame or zero-length gRPC message after a unary request (dubbo-python does this).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use http::HeaderValue;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tonic::codec::CompressionEncoding;

use crate::call::{Shared, TripleService, is_grpc_content_type};
use crate::handler::Handler;
use crate::routes::{TonicRoute, TonicService};

#[cfg(doc)]
use crate::{Methods, Status};

/// The content type the server answers with unless told otherwise (what Dubbo 3 sends).
pub const DEFAULT_CONTENT_TYPE: &str = "application/grpc+proto";

/// Default largest request message accepted: 4 MiB, as gRPC. A larger one is answered
/// `OUT_OF_RANGE` (tonic's answer; one that only grows past it when decompressed,
/// `RESOURCE_EXHAUSTED`).
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
    send_compressed: Option<CompressionEncoding>,
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
            send_compressed: None,
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

    /// The largest request message accepted, [`DEFAULT_MAX_MESSAGE_SIZE`] by default (before
    /// and after decompression); larger ones are refused as [`DEFAULT_MAX_MESSAGE_SIZE`] says.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Compress replies with `encoding` (`Gzip` or `Zstd`) for clients that accept it. Gzip
    /// and zstd requests are read always, and a reply is compressed as its request was when
    /// the client accepts that; this makes replies to plain requests compressed too.
    pub fn send_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.send_compressed = Some(encoding);
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

    /// How long the request of a call with one request message (unary, server-streaming) has
    /// to arrive once its headers have, [`DEFAULT_BODY_TIMEOUT`] by default (a call's own
    /// `grpc-timeout` applies when shorter; streaming requests last as long as the client
    /// streams).
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
                send_compressed: self.send_compressed,
                accepted: AtomicU64::new(0),
                body_timeout: self.body_timeout,
                max_in_flight_bytes: self.max_in_flight_bytes,
                in_flight_bytes: AtomicUsize::new(0),
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

#[cfg(test)]
mod tests {
    use super::*;

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
