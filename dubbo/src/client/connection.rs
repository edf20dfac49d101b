//! One TCP connection to a provider, multiplexing calls by request id: a writer task batches
//! frames, a reader task hands each response to its waiting call, and a heartbeat task keeps
//! an idle connection alive and closes a dead one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use zkdubbo_common::monotonic_ms;
use zkdubbo_common::sync::lock;

use crate::frame::{Frame, HESSIAN2, Kind, read_frame};

/// What a waiting call receives: the response frame, or why the connection failed.
type Reply = Result<Frame, String>;

/// A connection's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) payload: usize,
}

#[derive(Debug)]
pub(crate) struct Connection {
    peer: String,
    tx: mpsc::Sender<Bytes>,
    pending: Mutex<HashMap<i64, oneshot::Sender<Reply>>>,
    closed: AtomicBool,
    read_only: AtomicBool,
    last_read: AtomicU64,
    tasks: Mutex<Vec<AbortHandle>>,
    /// The endpoint's read-only flag: set while this connection's provider says it is shutting
    /// down, so the load balancer stops picking it at once; cleared when the connection closes
    /// (the endpoint then reconnects on demand).
    endpoint_read_only: Arc<AtomicBool>,
    _open: zkdubbo_common::metrics::OpenConnection,
}

impl Connection {
    pub(crate) async fn connect(
        peer: &str,
        config: ConnConfig,
        endpoint_read_only: Arc<AtomicBool>,
    ) -> Result<Arc<Connection>, String> {
        let stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(peer))
            .await
            .map_err(|_| format!("connecting to {peer} timed out after {:?}", config.connect_timeout))?
            .map_err(|e| format!("cannot connect to {peer}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel::<Bytes>(4096);
        let conn = Arc::new(Connection {
            peer: peer.to_owned(),
            tx,
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            read_only: AtomicBool::new(false),
            last_read: AtomicU64::new(monotonic_ms()),
            tasks: Mutex::new(Vec::new()),
            endpoint_read_only,
            _open: zkdubbo_common::metrics::OpenConnection::new("dubbo"),
        });
        let writer = tokio::spawn(write_loop(wr, rx, Arc::downgrade(&conn)));
        let reader = tokio::spawn(read_loop(
            BufReader::with_capacity(64 * 1024, rd),
            conn.clone(),
            config.payload,
        ));
        let heart = tokio::spawn(heartbeat_loop(Arc::downgrade(&conn), config.heartbeat));
        lock(&conn.tasks).extend([writer.abort_handle(), reader.abort_handle(), heart.abort_handle()]);
        tracing::debug!(peer, "dubbo connection open");
        Ok(conn)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The provider said it is shutting down: send it nothing new.
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    /// Send a request frame (`bytes`, with id `id`) and wait for its response.
    pub(crate) async fn request(&self, id: i64, bytes: Bytes, timeout: Duration) -> Result<Reply, ()> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        if self.is_closed() || self.tx.send(bytes).await.is_err() {
            lock(&self.pending).remove(&id);
            return Ok(Err(format!("connection to {} is closed", self.peer)));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Ok(Err(format!("connection to {} closed", self.peer))),
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(())
            }
        }
    }

    /// Send a frame that expects no answer.
    pub(crate) fn send(&self, bytes: Bytes) {
        let _ = self.tx.try_send(bytes);
    }

    /// Close: fail every waiting call with `reason` and stop the tasks.
    pub(crate) fn close(&self, reason: &str) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.endpoint_read_only.store(false, Ordering::Release);
        tracing::warn!(peer = %self.peer, reason, "dubbo connection closed");
        let pending: Vec<_> = lock(&self.pending).drain().map(|(_, tx)| tx).collect();
        for tx in pending {
            let _ = tx.send(Err(format!("connection to {} closed: {reason}", self.peer)));
        }
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

async fn write_loop(w: tokio::net::tcp::OwnedWriteHalf, rx: mpsc::Receiver<Bytes>, conn: std::sync::Weak<Connection>) {
    if let (Err(e), Some(c)) = (crate::io::write_batched(w, rx).await, conn.upgrade()) {
        c.close(&format!("write failed: {e}"));
    }
}

async fn read_loop(mut r: BufReader<tokio::net::tcp::OwnedReadHalf>, conn: Arc<Connection>, payload: usize) {
    let reason = loop {
        let frame = match read_frame(&mut r, payload).await {
            Ok(Some(f)) => f,
            Ok(None) => break "the provider closed it".to_owned(),
            Err(e) => break format!("bad frame from the provider: {e}"),
        };
        conn.last_read.store(monotonic_ms(), Ordering::Relaxed);
        match frame.kind {
            Kind::Response { event: true, .. } => {} // a heartbeat answer
            Kind::Response { .. } => {
                if let Some(tx) = lock(&conn.pending).remove(&frame.id) {
                    let _ = tx.send(Ok(frame));
                }
            }
            Kind::Request { event: true, two_way } => {
                match &frame.body[..] {
                    // The Hessian string "R": the provider is shutting down gracefully.
                    b"\x01R" => {
                        conn.read_only.store(true, Ordering::Release);
                        conn.endpoint_read_only.store(true, Ordering::Release);
                        tracing::info!(peer = %conn.peer, "dubbo provider is shutting down (read-only)");
                    }
                    b"\x01W" => {
                        conn.read_only.store(false, Ordering::Release);
                        conn.endpoint_read_only.store(false, Ordering::Release);
                    }
                    _ => {}
                }
                if two_way {
                    conn.send(heartbeat_reply(frame.id));
                }
            }
            Kind::Request { .. } => {} // providers do not call consumers
        }
    };
    conn.close(&reason);
}

async fn heartbeat_loop(conn: std::sync::Weak<Connection>, heartbeat: Duration) {
    let every = heartbeat.max(Duration::from_millis(10));
    let hb_ms = every.as_millis() as u64;
    let mut tick = tokio::time::interval(every / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(c) = conn.upgrade() else { return };
        let idle = monotonic_ms().saturating_sub(c.last_read.load(Ordering::Relaxed));
        if idle >= 3 * hb_ms {
            c.close(&format!("no data for {idle} ms (3 × heartbeat {hb_ms} ms)"));
            return;
        }
        if idle >= hb_ms {
            c.send(heartbeat_request(crate::client::next_id()));
        }
    }
}

fn heartbeat_request(id: i64) -> Bytes {
    Frame {
        id,
        kind: Kind::Request {
            two_way: true,
            event: true,
        },
        serialization: HESSIAN2,
        body: Bytes::from_static(b"N"),
    }
    .encode()
}

pub(crate) fn heartbeat_reply(id: i64) -> Bytes {
    Frame {
        id,
        kind: Kind::Response {
            status: crate::status::OK,
            event: true,
        },
        serialization: HESSIAN2,
        body: Bytes::from_static(b"N"),
    }
    .encode()
}
