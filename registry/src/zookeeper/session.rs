//! Sessions: connecting, and the supervisor that follows the session state.
//!
//! The supervisor is the only task that creates clients. It publishes the current session
//! through a `watch` channel ([`Live`]); every watcher re-reads its category when the
//! published epoch changes (a reconnection within the session, or a new session), and the
//! retry task re-creates own ephemeral nodes after a new session.

use std::sync::Arc;
use std::time::Duration;

use zookeeper_client::{Client, SaslOptions, SessionState, TlsOptions};

use super::config::{TlsFiles, ZookeeperConfig};
use super::retry::Backoff;
use super::state::{Conn, Inner, Live};
use crate::error::RegistryError;

/// Shortest wait between two attempts to establish a session.
const RECONNECT_INITIAL: Duration = Duration::from_millis(100);
/// How often a disconnected session checks whether the server serves new sessions while
/// refusing this one (see [`probe_refused`]).
const REFUSAL_PROBE: Duration = Duration::from_millis(500);
/// How long the old session may take to get back in once a new one could be established,
/// before it counts as refused: longer than the client waits between two attempts (at most
/// 1.1 s, vendor/zookeeper-client), so a session still recoverable is never given up.
const REFUSAL_GRACE: Duration = Duration::from_millis(1_500);

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
    match (&config.username, &config.password) {
        (Some(user), Some(pw)) if config.sasl_digest => {
            connector = connector.with_sasl(SaslOptions::digest_md5(user.clone(), pw.clone()));
        }
        _ => {
            if let Some(digest) = config.digest() {
                connector = connector.with_auth("digest", digest.as_bytes());
            }
        }
    }
    if let Some(files) = &config.tls {
        connector = connector.with_tls(tls_options(files).map_err(|reason| RegistryError::Tls {
            servers: servers.clone(),
            reason,
        })?);
    }
    let attempt = async {
        if config.tls.is_some() {
            connector.secure_connect(&servers).await
        } else {
            connector.connect(&servers).await
        }
    };
    let source = match tokio::time::timeout(config.timeout, attempt).await {
        Ok(Ok(client)) => return Ok(client),
        Ok(Err(source)) => source,
        Err(_) => zookeeper_client::Error::Timeout,
    };
    if config.tls.is_some() {
        return Err(RegistryError::Tls {
            reason: format!(
                "TLS handshake failed or no session: {source} (is this ZooKeeper's secureClientPort, \
                 and does its certificate chain to tls.ca-file?)"
            ),
            servers,
        });
    }
    Err(RegistryError::Connect { servers, source })
}

/// A failed connection explained: when the server speaks TLS and this registry does not,
/// say so (one probe connection; used for the first failure of a streak, not on every retry).
pub(crate) async fn explain(config: &ZookeeperConfig, error: RegistryError) -> RegistryError {
    match error {
        RegistryError::Connect { servers, .. }
            if config.tls.is_none() && speaks_tls(&config.servers, config.timeout).await =>
        {
            RegistryError::Tls {
                reason: "TLS handshake failed: the server speaks TLS on this port and this registry does not; \
                         add tls=true (and tls.ca-file) to the registry URL"
                    .to_owned(),
                servers,
            }
        }
        other => other,
    }
}

/// TLS settings from the PEM files.
fn tls_options(files: &TlsFiles) -> Result<TlsOptions, String> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
    };
    let mut options = TlsOptions::default();
    if let Some(ca) = &files.ca_file {
        options = options
            .with_pem_ca(&read(ca, "tls.ca-file")?)
            .map_err(|e| format!("tls.ca-file {}: {e}", ca.display()))?;
    }
    if let (Some(cert), Some(key)) = (&files.cert_file, &files.key_file) {
        options = options
            .with_pem_identity(&read(cert, "tls.cert-file")?, &read(key, "tls.key-file")?)
            .map_err(|e| format!("tls.cert-file/tls.key-file: {e}"))?;
    }
    Ok(options)
}

/// Whether the first reachable server answers a TLS ClientHello with a TLS record (a
/// handshake or an alert): a TLS port. A plain ZooKeeper port takes the bytes for a request of
/// absurd length and closes the connection.
async fn speaks_tls(servers: &[String], timeout: Duration) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(first) = servers.first() else { return false };
    // A minimal TLS 1.2 ClientHello: one cipher suite, no extensions. A TLS server answers
    // with its ServerHello or an alert; either starts with a record type of 0x16 or 0x15.
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x03];
    hello.extend_from_slice(&[0x5a; 32]);
    hello.extend_from_slice(&[0x00, 0x00, 0x02, 0xc0, 0x2f, 0x01, 0x00]);
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(first).await.ok()?;
        s.write_all(&hello).await.ok()?;
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.ok()?;
        Some(b[0] == 0x15 || b[0] == 0x16)
    };
    tokio::time::timeout(timeout, probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

impl Inner {
    /// Make `client` the current session: publish it and have every own ephemeral node
    /// re-created in it.
    pub(crate) fn install(&self, client: Client) -> Arc<Conn> {
        let number = self.sessions.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let conn = Arc::new(Conn { client });
        crate::metrics::session_established(
            &self.metrics_label(),
            self.effective_watch() == crate::WatchMode::Persistent,
        );
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
                        let first = backoff.is_fresh();
                        let e = if first { explain(&inner.config, e).await } else { e };
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
                        crate::metrics::connected(&inner.metrics_label(), true);
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
                        crate::metrics::connected(&inner.metrics_label(), false);
                        tracing::warn!(
                            session = format_args!("{:#x}", conn.session_id()),
                            "disconnected from ZooKeeper; the session may still be recovered"
                        );
                    }
                }
                SessionState::AuthFailed | SessionState::Expired | SessionState::Closed => {
                    let reason = match state {
                        SessionState::AuthFailed => "auth_failed",
                        SessionState::Expired => "expired",
                        _ => "closed",
                    };
                    crate::metrics::session_ended(&inner.metrics_label(), reason);
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
                        crate::metrics::session_ended(&inner.metrics_label(), "refused");
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
