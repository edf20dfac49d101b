//! The registry as config center: rule nodes whose data is the rule, followed by one task
//! each (a one-shot data watch re-armed on every event, or an `exists` watch while the node
//! is missing), re-read after every reconnection and new session, and written with
//! compare-and-set.

use std::sync::Arc;

use tokio::sync::watch;
use zookeeper_client::{CreateMode, EventType};

use super::retry::Backoff;
use super::state::{Inner, lock, timed};
use super::watcher::wait_conn;
use crate::config_center::NodeState;
use crate::error::RegistryError;

/// A receiver of `path`'s state: from its follower if the node is followed already (every
/// directory of a consumer application follows that application's rule nodes: a thousand
/// directories share one follower, one watch and one read per change), else from a new one.
pub(super) fn watch_node(inner: &Arc<Inner>, path: &str) -> watch::Receiver<NodeState> {
    let mut nodes = lock(&inner.rule_nodes);
    if let Some(tx) = nodes.get(path) {
        return tx.subscribe();
    }
    let (tx, rx) = watch::channel(NodeState::Unknown);
    if !inner.is_shut_down() {
        nodes.insert(path.to_owned(), tx.clone());
        inner.spawn(follow_shared(inner.clone(), path.to_owned(), tx));
    }
    rx
}

/// [`follow`], then forget the follower (unless another has taken the path meanwhile).
async fn follow_shared(inner: Arc<Inner>, path: String, tx: watch::Sender<NodeState>) {
    follow(&inner, &path, &tx).await;
    let mut nodes = lock(&inner.rule_nodes);
    if nodes.get(&path).is_some_and(|t| t.same_channel(&tx)) {
        nodes.remove(&path);
    }
}

/// Resolves once nobody holds a receiver of `tx`, decided under the followers' lock so that
/// a receiver handed out meanwhile by [`watch_node`] keeps the follower going.
async fn abandoned(inner: &Inner, path: &str, tx: &watch::Sender<NodeState>) {
    loop {
        tx.closed().await;
        let mut nodes = lock(&inner.rule_nodes);
        if tx.is_closed() {
            if nodes.get(path).is_some_and(|t| t.same_channel(tx)) {
                nodes.remove(path);
            }
            return;
        }
    }
}

/// Follow `path` into `tx` until every receiver is gone or the registry shuts down.
async fn follow(inner: &Arc<Inner>, path: &str, tx: &watch::Sender<NodeState>) {
    let path = path.to_owned();
    let t = inner.config.timeout;
    let mut live = inner.live.subscribe();
    let mut shutdown = inner.shutdown.subscribe();
    let mut backoff = Backoff::for_retries(inner.config.retry_period);
    let publish = |state: NodeState| {
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
            _ = abandoned(inner, &path, tx) => return,
            _ = stopped(&mut shutdown) => return,
        };
        let read = timed("get", &path, t, conn.client.get_and_watch_data(&path)).await;
        let watcher = match read {
            Ok((data, stat, watcher)) => {
                publish(NodeState::Present {
                    text: Arc::from(String::from_utf8_lossy(&data)),
                    version: stat.version,
                });
                Ok(watcher)
            }
            Err(e) if e.is_no_node() => {
                match timed("exists", &path, t, conn.client.check_and_watch_stat(&path)).await {
                    // Created between the two reads: read it.
                    Ok((Some(_), _)) => continue,
                    Ok((None, watcher)) => {
                        publish(NodeState::Absent);
                        Ok(watcher)
                    }
                    Err(e) => Err(e),
                }
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
                    _ = abandoned(inner, &path, tx) => return,
                    _ = stopped(&mut shutdown) => return,
                }
            }
            Err(error) => {
                let wait = backoff.next_delay();
                tracing::warn!(%path, %error, retry_in_ms = wait.as_millis() as u64, "cannot read a rule node; retrying");
                drop(conn);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    changed = live.changed() => if changed.is_err() { return },
                    _ = abandoned(inner, &path, tx) => return,
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
