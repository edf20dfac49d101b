//! The provider side: a dubbo:// server exporting [`Service`]s.

mod connection;
mod service;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use zkdubbo_common::sync::lock;

pub use service::{Call, DubboMethods, Service, ServiceFuture, exception};

use crate::frame::{DEFAULT_PAYLOAD, Frame, HESSIAN2, Kind};

/// Server settings.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// A connection that sends nothing for 3 × this is closed (consumers send heartbeats).
    pub heartbeat: Duration,
    /// Largest request body accepted.
    pub payload: usize,
    /// Connections beyond this are refused.
    pub max_connections: usize,
    /// Calls served at once on one connection; more are answered
    /// `SERVER_THREADPOOL_EXHAUSTED_ERROR` (Dubbo's answer when its pool is full), which
    /// consumers retry elsewhere.
    pub max_calls_per_connection: usize,
    /// Request bytes held by calls being served, all connections together; a call that would
    /// exceed it is answered `SERVER_THREADPOOL_EXHAUSTED_ERROR`.
    pub max_in_flight_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            heartbeat: Duration::from_secs(60),
            payload: DEFAULT_PAYLOAD,
            max_connections: 4096,
            max_calls_per_connection: 256,
            max_in_flight_bytes: 256 * 1024 * 1024,
        }
    }
}

/// What every connection of a server shares.
struct Shared {
    /// Exported services by path; services join and leave a running server (several
    /// services share a port, as in Java Dubbo).
    services: std::sync::RwLock<HashMap<String, Arc<dyn Service>>>,
    config: ServerConfig,
    conns: Mutex<HashMap<u64, mpsc::Sender<Bytes>>>,
    next_conn: AtomicU64,
    in_flight: AtomicUsize,
    in_flight_bytes: AtomicUsize,
    drained: Notify,
    read_only: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field(
                "services",
                &self
                    .services
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .keys()
                    .collect::<Vec<_>>(),
            )
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .finish()
    }
}

/// Builds a [`DubboServer`].
#[derive(Default)]
pub struct DubboServerBuilder {
    services: HashMap<String, Arc<dyn Service>>,
    config: ServerConfig,
}

impl std::fmt::Debug for DubboServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DubboServerBuilder")
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish()
    }
}

impl DubboServerBuilder {
    /// Export `service` under `key`: its interface name, or Dubbo's service key
    /// `group/interface:version` (see [`service_key`](zkdubbo_common::service_key)) to serve
    /// several groups or versions of one interface.
    pub fn service(mut self, path: impl Into<String>, service: impl Service) -> Self {
        self.services.insert(path.into(), Arc::new(service));
        self
    }

    /// Settings.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Bind the listening socket.
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub async fn bind(self, addr: SocketAddr) -> std::io::Result<DubboServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(DubboServer {
            listener,
            shared: Arc::new(Shared {
                services: std::sync::RwLock::new(self.services),
                config: self.config,
                conns: Mutex::default(),
                next_conn: AtomicU64::new(0),
                in_flight: AtomicUsize::new(0),
                in_flight_bytes: AtomicUsize::new(0),
                drained: Notify::new(),
                read_only: AtomicBool::new(false),
            }),
        })
    }
}

/// A bound dubbo:// server; [`DubboServer::spawn`] runs it.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use zkdubbo_dubbo::{DubboMethods, DubboServer};
/// let methods = DubboMethods::new().method("add", &["int", "int"], |(a, b): (i32, i32)| async move { Ok(a + b) });
/// let server = DubboServer::builder().service("com.example.Calculator", methods).bind("0.0.0.0:20880".parse().unwrap()).await?;
/// let handle = server.spawn();
/// handle.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DubboServer {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl DubboServer {
    /// A builder.
    pub fn builder() -> DubboServerBuilder {
        DubboServerBuilder::default()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Accept and serve connections in the background.
    pub fn spawn(self) -> DubboServerHandle {
        let local_addr = self.local_addr();
        let shared = self.shared.clone();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let conn_tasks = tasks.clone();
        let accept = tokio::spawn(async move {
            loop {
                let (stream, peer) = match self.listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "dubbo server: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if lock(&self.shared.conns).len() >= self.shared.config.max_connections {
                    tracing::warn!(%peer, limit = self.shared.config.max_connections, "dubbo server: connection refused, at the limit");
                    continue;
                }
                let task = tokio::spawn(connection::serve(stream, peer, self.shared.clone()));
                let mut t = lock(&conn_tasks);
                t.retain(|h: &tokio::task::AbortHandle| !h.is_finished());
                t.push(task.abort_handle());
            }
        });
        DubboServerHandle {
            local_addr,
            shared,
            accept: accept.abort_handle(),
            tasks,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct DubboServerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::AbortHandle,
    tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl DubboServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Export `service` at `path` on this running server too (replacing one at that path).
    pub fn add_service(&self, path: impl Into<String>, service: impl Service) {
        self.shared
            .services
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.into(), Arc::new(service));
    }

    /// Stop exporting the service at `path` (calls in flight finish); whether it was there.
    /// Calls for it are then answered `SERVICE_NOT_FOUND`.
    pub fn remove_service(&self, path: &str) -> bool {
        self.shared
            .services
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(path)
            .is_some()
    }

    /// The paths of the services exported, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .shared
            .services
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Calls being served right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// Stop at once, as a crashed process would: no read-only event, calls in flight get no
    /// answer, connections are cut.
    pub fn abort(self) {
        self.accept.abort();
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        lock(&self.shared.conns).clear();
    }

    /// Stop gracefully: stop accepting, tell every consumer this provider is read-only (Dubbo's
    /// `R` event: they send nothing new), let the calls in flight finish for at most `drain`,
    /// then close every connection.
    pub async fn shutdown(self, drain: Duration) {
        self.accept.abort();
        self.shared.read_only.store(true, Ordering::Release);
        let event = Frame {
            id: crate::client::next_id(),
            kind: Kind::Request {
                two_way: false,
                event: true,
            },
            serialization: HESSIAN2,
            body: Bytes::from_static(b"\x01R"),
        }
        .encode();
        let conns: Vec<_> = lock(&self.shared.conns).values().cloned().collect();
        for tx in conns {
            let _ = tx.try_send(event.clone());
        }
        let wait = async {
            loop {
                let notified = self.shared.drained.notified();
                if self.shared.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(drain, wait).await.is_err() {
            tracing::warn!(
                in_flight = self.in_flight(),
                "dubbo server: calls still running after the drain time"
            );
        }
        // Let the last responses reach the socket before the connections go.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
        lock(&self.shared.conns).clear();
    }
}
