//! The registry as config center: rule nodes whose data is the rule (and, the same way, the
//! children of a node: application instances), followed by one task each (a one-shot watch
//! re-armed on every event, or an `exists` watch while the node is missing), re-read after
//! every reconnection and new session, and written with compare-and-set.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;
use zookeeper_client::{CreateMode, EventType, OneshotWatcher};

use super::retry::Backoff;
use super::state::{Conn, Inner, lock, timed};
use super::watcher::wait_conn;
use crate::config_center::{ChildrenState, NodeState};
use crate::error::RegistryError;

/// Followers of one kind of node state, by path.
pub(crate) type Followers<S> = std::sync::Mutex<HashMap<String, watch::Sender<S>>>;

/// A receiver of `path`'s state: from its follower if the node is followed already (every
/// directory of a consumer application follows that application's rule nodes: a thousand
/// directories share one follower, one watch and one read per change), else from a new one.
pub(super) fn watch_node(inner: &Arc<Inner>, path: &str) -> watch::Receiver<NodeState> {
    shared(inner, path, |i| &i.rule_nodes, Data)
}

/// A receiver of the children of `path`, from the one follower of that path.
pub(super) fn watch_children(inner: &Arc<Inner>, path: &str) -> watch::Receiver<ChildrenState> {
    shared(inner, path, |i| &i.child_lists, Children)
}

fn shared<S: Clone + PartialEq + Default + Send + Sync + 'static, R: Read<S>>(
    inner: &Arc<Inner>,
    path: &str,
    of: fn(&Inner) -> &Followers<S>,
    read: R,
) -> watch::Receiver<S> {
    let mut nodes = lock(of(inner));
    if let Some(tx) = nodes.get(path) {
        return tx.subscribe();
    }
    let (tx, rx) = watch::channel(S::default());
    if !inner.is_shut_down() {
        nodes.insert(path.to_owned(), tx.clone());
        let inner = inner.clone();
        let path = path.to_owned();
        inner.clone().spawn(async move {
            follow(&inner, &path, &tx, of, read).await;
            let mut nodes = lock(of(&inner));
            if nodes.get(&path).is_some_and(|t| t.same_channel(&tx)) {
                nodes.remove(&path);
            }
        });
    }
    rx
}

/// Resolves once nobody holds a receiver of `tx`, decided under the followers' lock so that
/// a receiver handed out meanwhile by [`watch_node`] keeps the follower going.
async fn abandoned<S>(followers: &Followers<S>, path: &str, tx: &watch::Sender<S>) {
    loop {
        tx.closed().await;
        let mut nodes = lock(followers);
        if tx.is_closed() {
            if nodes.get(path).is_some_and(|t| t.same_channel(tx)) {
                nodes.remove(path);
            }
            return;
        }
    }
}

/// How a follower reads its node: one read that also sets a one-shot watch.
trait Read<S>: Copy + Send + Sync + 'static {
    /// The node's state and the watch that fires on its next change; `None` when it was
    /// created between a read that found it missing and the `exists` watch (read again).
    fn read<'a>(
        self,
        conn: &'a Conn,
        path: &'a str,
        t: std::time::Duration,
    ) -> BoxFuture<'a, Result<Option<(S, OneshotWatcher)>, RegistryError>>;
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A node's data.
#[derive(Clone, Copy)]
struct Data;

/// A node's children.
#[derive(Clone, Copy)]
struct Children;

impl Read<NodeState> for Data {
    fn read<'a>(
        self,
        conn: &'a Conn,
        path: &'a str,
        t: std::time::Duration,
    ) -> BoxFuture<'a, Result<Option<(NodeState, OneshotWatcher)>, RegistryError>> {
        Box::pin(async move {
            match timed("get", path, t, conn.client.get_and_watch_data(path)).await {
                Ok((data, stat, watcher)) => Ok(Some((
                    NodeState::Present {
                        text: Arc::from(String::from_utf8_lossy(&data)),
                        version: stat.version,
                    },
                    watcher,
                ))),
                Err(e) if e.is_no_node() => absent(conn, path, t, NodeState::Absent).await,
                Err(e) => Err(e),
            }
        })
    }
}

impl Read<ChildrenState> for Children {
    fn read<'a>(
        self,
        conn: &'a Conn,
        path: &'a str,
        t: std::time::Duration,
    ) -> BoxFuture<'a, Result<Option<(ChildrenState, OneshotWatcher)>, RegistryError>> {
        Box::pin(async move {
            match timed("list", path, t, conn.client.get_and_watch_children(path)).await {
                Ok((mut children, _, watcher)) => {
                    children.sort();
                    Ok(Some((ChildrenState::Present(children.into()), watcher)))
                }
                Err(e) if e.is_no_node() => absent(conn, path, t, ChildrenState::Absent).await,
                Err(e) => Err(e),
            }
        })
    }
}

/// Watch a node found missing for its creation; `None` if it exists by now.
async fn absent<S>(
    conn: &Conn,
    path: &str,
    t: std::time::Duration,
    state: S,
) -> Result<Option<(S, OneshotWatcher)>, RegistryError> {
    match timed("exists", path, t, conn.client.check_and_watch_stat(path)).await? {
        (Some(_), _) => Ok(None),
        (None, watcher) => Ok(Some((state, watcher))),
    }
}

/// Follow `path` into `tx` until every receiver is gone or the registry shuts down.
async fn follow<S: PartialEq, R: Read<S>>(
    inner: &Arc<Inner>,
    path: &str,
    tx: &watch::Sender<S>,
    of: fn(&Inner) -> &Followers<S>,
    read: R,
) {
    let followers = of(inner);
    let t = inner.config.timeout;
    let mut live = inner.live.subscribe();
    let mut shutdown = inner.shutdown.subscribe();
    let mut backoff = Backoff::for_retries(inner.config.retry_period);
    let publish = |state: S| {
        tx.send_if_modified(|current| {
            if *current == state {
                return false;
            }
            *current = state;
            true
        });
    };
    loop {
        let conn = tokio::select! {
            conn = wait_conn(&mut live) => match conn { Some(c) => c, None => return },
            _ = abandoned(followers, path, tx) => return,
            _ = stopped(&mut shutdown) => return,
        };
        let watcher = match read.read(&conn, path, t).await {
            // Created between the two reads: read it.
            Ok(None) => continue,
            Ok(Some((state, watcher))) => {
                publish(state);
                Ok(watcher)
            }
            Err(e) => Err(e),
        };
        match watcher {
            Ok(watcher) => {
                backoff.reset();
                tokio::select! {
                    event = watcher.changed() => {
                        if event.event_type == EventType::Session
                            && event.session_state.is_terminated()
                            && live.changed().await.is_err()
                        {
                            return;
                        }
                    }
                    changed = live.changed() => if changed.is_err() { return },
                    _ = abandoned(followers, path, tx) => return,
                    _ = stopped(&mut shutdown) => return,
                }
            }
            Err(error) => {
                let wait = backoff.next_delay();
                tracing::warn!(%path, %error, retry_in_ms = wait.as_millis() as u64, "cannot read a followed node; retrying");
                drop(conn);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    changed = live.changed() => if changed.is_err() { return },
                    _ = abandoned(followers, path, tx) => return,
                    _ = stopped(&mut shutdown) => return,
                }
            }
        }
    }
}

/// Wait until the registry shuts down (the guard `wait_for` returns must not live across the
/// caller's awaits: it is not `Send`).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

impl Inner {
    pub(super) async fn read_rule_node(&self, path: &str) -> Result<Option<(String, i32)>, RegistryError> {
        self.check_open()?;
        let conn = self.connected()?;
        match timed("get", path, self.config.timeout, conn.client.get_data(path)).await {
            Ok((data, stat)) => Ok(Some((String::from_utf8_lossy(&data).into_owned(), stat.version))),
            Err(e) if e.is_no_node() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn write_rule_node(
        &self,
        path: &str,
        text: &str,
        expected: Option<i32>,
    ) -> Result<i32, RegistryError> {
        self.check_open()?;
        let conn = self.connected()?;
        let t = self.config.timeout;
        match expected {
            Some(version) => {
                let stat = timed(
                    "set",
                    path,
                    t,
                    conn.client.set_data(path, text.as_bytes(), Some(version)),
                )
                .await?;
                Ok(stat.version)
            }
            None => {
                if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
                    self.ensure_path(&conn, parent).await?;
                }
                let options = CreateMode::Persistent.with_acls(self.acls());
                timed("create", path, t, conn.client.create(path, text.as_bytes(), &options)).await?;
                Ok(0)
            }
        }
    }

    pub(super) async fn delete_rule_node(&self, path: &str, expected: Option<i32>) -> Result<(), RegistryError> {
        self.check_open()?;
        let conn = self.connected()?;
        match timed("delete", path, self.config.timeout, conn.client.delete(path, expected)).await {
            Err(e) if e.is_no_node() && expected.is_none() => Ok(()),
            other => other,
        }
    }
}
