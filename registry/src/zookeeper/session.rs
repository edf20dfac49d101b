//! Sessions: connecting, and the supervisor that follows the session state.
//!
//! The supervisor is the only task that creates clients. It publishes the current session
//! through a `watch` channel ([`Live`]); every watcher re-reads its category when the
//! published epoch changes (a reconnection within the session, or a new session), and the
//! retry task re-creates own ephemeral nodes after a new session.

use std::sync::Arc;
use std::time::Duration;

use zookeeper_client::{Client, SessionState};

use super::config::ZookeeperConfig;
use super::retry::Backoff;
use super::state::{Conn, Inner, Live};
use crate::error::RegistryError;

/// Shortest wait between two attempts to establish a session.
const RECONNECT_INITIAL: Duration = Duration::from_millis(100);
/// How often a disconnected session checks whether the server serves new sessions while
/// refusing this one (see [`probe_refused`]).
const REFUSAL_PROBE: Duration = Duration::from_millis(500);
/// How long the old session may take to get back in once a new one could be established,
/// before it counts as refused.
const REFUSAL_GRACE: Duration = Duration::from_millis(300);

/// Longest wait between two attempts to establish a session (further capped by
/// `retry.period`), so that a session is back, and own nodes re-created, well within a second
/// of ZooKeeper being reachable again. An attempt costs one TCP connection.
const RECONNECT_CAP: Duration = Duration::from_millis(500);

/// Establish a new session with every server of `config`, bounded by `config.timeout`.
pub(crate) async fn connect_client(config: &ZookeeperConfig) -> Result<Client, RegistryError> {
    let servers = config.connect_string();
    // The connection timeout makes a silent server count as lost after `timeout` (as Curator's
    // connection timeout does for Java Dubbo) rather than after 2/5 of the session timeout;
    // the client ignores it when it exceeds 3/5 of the negotiated session timeout.
    let mut connector = Client::connector()
        .with_session_timeout(config.session_timeout)
        .with_connection_timeout(config.timeout)
        .with_fail_eagerly();
    if let Some(digest) = config.digest() {
        connector = connector.with_auth("digest", digest.as_bytes());
    }
    match tokio::time::timeout(config.timeout, connector.connect(&servers)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => Err(RegistryError::Connect { servers, source }),
        Err(_) => Err(RegistryError::Connect {
            servers,
            source: zookeeper_client::Error::Timeout,
        }),
    }
}

impl Inner {
    /// Make `client` the current session: publish it and have every own ephemeral node
    /// re-created in it.
    pub(crate) fn install(&self, client: Client) -> Arc<Conn> {
        let number = self.sessions.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let conn = Arc::new(Conn { client });
        tracing::info!(
            registry = %self.registry_name(),
            session = format_args!("{:#x}", conn.session_id()),
            timeout_ms = conn.client.session_timeout().as_millis() as u64,
            number,
            "ZooKeeper session established"
        );
        // Own ephemeral nodes count as written only in the session they were written in:
        // the retry task (woken below) re-creates them in this one.
        self.live.send_modify(|live| {
            live.conn = Some(conn.clone());
            live.epoch += 1;
        });
        self.wake_retry.notify_one();
        conn
    }

    fn drop_session(&self) {
        self.live.send_modify(|live: &mut Live| {
            live.conn = None;
            live.epoch += 1;
        });
    }
}

/// Follow the session state until shutdown: re-read after reconnections, replace the client
/// after expiry (or auth failure, or close), with capped exponential backoff.
pub(crate) async fn supervise(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    let cap = RECONNECT_CAP.min(inner.config.retry_period);
    let mut backoff = Backoff::new(RECONNECT_INITIAL.min(cap), cap);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let conn = match inner.conn() {
            Some(conn) => conn,
            None => {
                let attempt = tokio::select! {
                    r = connect_client(&inner.config) => r,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                match attempt {
                    Ok(client) => {
                        backoff.reset();
                        inner.install(client)
                    }
                    Err(e) => {
                        let wait = backoff.next_delay();
                        tracing::warn!(
                            registry = %inner.registry_name(),
                            error = %e,
                            retry_in_ms = wait.as_millis() as u64,
                            "cannot establish a ZooKeeper session"
                        );
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = shutdown.wait_for(|s| *s) => return,
                        }
                        continue;
                    }
                }
            }
        };

        let mut states = conn.client.state_watcher();
        let mut state = states.state();
        let mut disconnected = false;
        loop {
            match state {
                SessionState::SyncConnected | SessionState::ConnectedReadOnly => {
                    if disconnected {
                        disconnected = false;
                        tracing::info!(
                            session = format_args!("{:#x}", conn.session_id()),
                            "reconnected within the ZooKeeper session; re-reading every category"
                        );
                        inner.live.send_modify(|live| live.epoch += 1);
                        inner.wake_retry.notify_one();
                    }
                }
                SessionState::Disconnected => {
                    if !disconnected {
                        disconnected = true;
                        tracing::warn!(
                            session = format_args!("{:#x}", conn.session_id()),
                            "disconnected from ZooKeeper; the session may still be recovered"
                        );
                    }
                }
                SessionState::AuthFailed | SessionState::Expired | SessionState::Closed => {
                    tracing::warn!(
                        session = format_args!("{:#x}", conn.session_id()),
                        ?state,
                        "ZooKeeper session ended; establishing a new one"
                    );
                    inner.drop_session();
                    break;
                }
            }
            let changed = tokio::select! {
                s = states.changed() => Some(s),
                _ = tokio::time::sleep(REFUSAL_PROBE), if disconnected => None,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            state = match changed {
                Some(s) => s,
                None => match probe_refused(&inner, &mut states).await {
                    Some(fresh) => {
                        tracing::warn!(
                            old_session = format_args!("{:#x}", conn.session_id()),
                            "ZooKeeper serves new sessions but refuses this one (it lost its data, e.g. \
                             \"client has seen zxid ..., our last zxid is ...\"): starting a new session \
                             now instead of waiting for the old one to expire"
                        );
                        inner.start_recovery();
                        inner.install(fresh);
                        break;
                    }
                    None => states.state(),
                },
            };
        }
    }
}

/// While our session is disconnected: if a brand-new session can be established and ours
/// still cannot get back in shortly after, the server refuses ours — typically because it
/// restarted without its data and our session has seen a newer zxid than it has, which it
/// refuses until the session expires (ZooKeeper logs "client has seen zxid 0x… our last zxid
/// is 0x…"). The new session, or `None` when ours is fine or nothing answers.
async fn probe_refused(inner: &Inner, states: &mut zookeeper_client::StateWatcher) -> Option<Client> {
    let fresh = connect_client(&inner.config).await.ok()?;
    tokio::time::sleep(REFUSAL_GRACE).await;
    if states.state() == SessionState::Disconnected {
        Some(fresh)
    } else {
        // Ours got back in: the probe session is not needed.
        drop(fresh);
        None
    }
}
