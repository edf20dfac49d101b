//! A TCP proxy that can cut or silence the connections going through it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

use super::error::{HarnessError, Result};

/// What a partitioned [`TcpProxy`] does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartitionMode {
    /// Close every current connection; accept new ones and close them at once. The client
    /// notices immediately and its reconnect attempts fail fast.
    Refuse,
    /// Close every current connection; accept new ones and hold them open without forwarding
    /// anything (like a network that drops packets). On heal, held connections are connected
    /// to the target and start forwarding.
    Blackhole,
    /// Keep every connection open but stop forwarding in both directions; new ones are held
    /// as in `Blackhole`. Nobody sees a close: the client must notice the silence through its
    /// own timeouts. On heal, forwarding resumes (with whatever was sent meanwhile).
    Freeze,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Forward,
    Partitioned(PartitionMode),
}

#[derive(Debug)]
struct Shared {
    target: String,
    state: watch::Sender<State>,
    conns: Mutex<Vec<AbortHandle>>,
    accepted: AtomicUsize,
    active: AtomicUsize,
    /// Bytes forwarded from the target to clients.
    to_clients: AtomicU64,
}

impl Shared {
    fn abort_all(&self) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        for conn in conns.drain(..) {
            conn.abort();
        }
    }
}

/// A TCP forwarder on `127.0.0.1:<random port>` to a target address, to cut one client's
/// connection to ZooKeeper while the server keeps running: point the client at
/// [`addr`](Self::addr), then [`partition`](Self::partition) and [`heal`](Self::heal).
///
/// Needs a tokio runtime. Dropping the proxy closes the listener and every connection.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on `127.0.0.1:0` and forwards every accepted connection to `target`
    /// (`host:port`; connected anew for each connection).
    pub async fn start(target: impl Into<String>) -> Result<TcpProxy> {
        let target = target.into();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| HarnessError::io("binding the proxy on 127.0.0.1:0", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading the proxy's address", e))?;
        let (state, _) = watch::channel(State::Forward);
        let shared = Arc::new(Shared {
            target,
            state,
            conns: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            to_clients: AtomicU64::new(0),
        });
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        tracing::debug!(%addr, target = %shared.target, "proxy started");
        Ok(TcpProxy {
            addr,
            shared,
            accept_task,
        })
    }

    /// The address clients connect to, `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The address connections are forwarded to.
    pub fn target(&self) -> &str {
        &self.shared.target
    }

    /// Partitions with [`PartitionMode::Refuse`]: closes every current connection and closes
    /// new ones as soon as they are accepted.
    pub fn partition(&self) {
        self.partition_with(PartitionMode::Refuse);
    }

    /// Partitions with the given mode (see [`PartitionMode`]). Partitioning again switches
    /// modes; `Refuse` and `Blackhole` also close the connections held so far.
    pub fn partition_with(&self, mode: PartitionMode) {
        tracing::debug!(addr = %self.addr, ?mode, "proxy partitioned");
        // Set the state first: a connection accepted after the abort below sees it.
        self.shared.state.send_replace(State::Partitioned(mode));
        if mode != PartitionMode::Freeze {
            self.shared.abort_all();
        }
    }

    /// Ends the partition: new connections are forwarded again, held ones start forwarding
    /// and frozen ones resume.
    pub fn heal(&self) {
        tracing::debug!(addr = %self.addr, "proxy healed");
        self.shared.state.send_replace(State::Forward);
    }

    /// True while partitioned (in any mode).
    pub fn is_partitioned(&self) -> bool {
        *self.shared.state.borrow() != State::Forward
    }

    /// How many connections the proxy has accepted so far (a reconnecting client adds one).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// How many accepted connections are currently open (forwarding, held or frozen).
    pub fn active(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Bytes forwarded so far from the target to clients (what ZooKeeper sent them).
    pub fn bytes_to_clients(&self) -> u64 {
        self.shared.to_clients.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.shared.abort_all();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "proxy accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        tracing::trace!(%peer, "proxy accepted a connection");
        // Spawn and register under the lock, so `partition` either aborts this connection or
        // the connection sees the partitioned state.
        let mut conns = shared.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.retain(|c| !c.is_finished());
        let task = tokio::spawn(handle_connection(client, Arc::clone(&shared)));
        conns.push(task.abort_handle());
    }
}

/// Counts an open connection for as long as it lives (also when its task is aborted).
struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.active.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(Arc::clone(shared))
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle_connection(client: TcpStream, shared: Arc<Shared>) {
    let _active = ActiveGuard::new(&shared);
    let mut state = shared.state.subscribe();
    // Hold the connection while partitioned; drop it at once in `Refuse` mode.
    loop {
        let current = *state.borrow_and_update();
        match current {
            State::Forward => break,
            State::Partitioned(PartitionMode::Refuse) => return,
            State::Partitioned(_) => {
                if state.changed().await.is_err() {
                    return;
                }
            }
        }
    }
    let server = match TcpStream::connect(&shared.target).await {
        Ok(server) => server,
        Err(e) => {
            tracing::debug!(target = %shared.target, error = %e, "proxy could not connect to its target");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, shared.state.subscribe(), None),
        pump(
            server_read,
            client_write,
            shared.state.subscribe(),
            Some(&shared.to_clients)
        ),
    );
}

/// Waits while the proxy is frozen; false if the proxy is gone.
async fn wait_unfrozen(state: &mut watch::Receiver<State>) -> bool {
    loop {
        let frozen = *state.borrow_and_update() == State::Partitioned(PartitionMode::Freeze);
        if !frozen {
            return true;
        }
        if state.changed().await.is_err() {
            return false;
        }
    }
}

/// Copies `from` to `to` until EOF or an error (then half-closes `to`), pausing while frozen,
/// adding the bytes copied to `count`.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<State>,
    count: Option<&AtomicU64>,
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if !wait_unfrozen(&mut state).await {
            return;
        }
        tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown().await;
                    return;
                }
                Ok(n) => {
                    if let Some(count) = count {
                        count.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    // Frozen while reading: keep the bytes until healed.
                    if !wait_unfrozen(&mut state).await || to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
