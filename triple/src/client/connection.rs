//! One provider connection: its lazily opened channel, its health and the probe that
//! brings an unavailable provider back.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tonic::transport::{Channel, Endpoint};
use zkdubbo_common::RpcError;
use zkdubbo_common::sync::lock;

use super::*;

/// The shared state of one provider connection.
pub(crate) struct Connection {
    pub(crate) identity: String,
    pub(crate) address: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) config: TripleConfig,
    pub(crate) channel: Mutex<ChannelState>,
    pub(crate) health: Mutex<Health>,
}

pub(crate) enum ChannelState {
    /// Not used yet: the channel is created (lazily connected) by the first call, which runs
    /// inside the tokio runtime the channel's worker needs.
    Idle,
    /// The channel, counted in the connections metric while it is open.
    Open {
        channel: Channel,
        _counted: zkdubbo_common::metrics::OpenConnection,
    },
    Closed,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Health {
    pub(crate) available: bool,
    pub(crate) probing: bool,
}

impl Connection {
    pub(crate) fn new(identity: String, host: &str, port: u16, config: TripleConfig) -> Result<Self, RpcError> {
        let address = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| {
                RpcError::transport(
                    format!("invalid provider address {address}: {e}"),
                    format!("provider {identity}"),
                )
            })?
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true);
        let endpoint = match config.keepalive_interval {
            Some(interval) => endpoint
                .http2_keep_alive_interval(interval)
                .keep_alive_timeout(config.keepalive_timeout)
                .keep_alive_while_idle(true),
            None => endpoint,
        };
        Ok(Connection {
            identity,
            address,
            endpoint,
            config,
            channel: Mutex::new(ChannelState::Idle),
            health: Mutex::new(Health {
                available: true,
                probing: false,
            }),
        })
    }

    pub(crate) fn channel(&self) -> Option<Channel> {
        let mut state = lock(&self.channel);
        match &*state {
            ChannelState::Open { channel, .. } => Some(channel.clone()),
            ChannelState::Closed => None,
            ChannelState::Idle => {
                let channel = self.endpoint.connect_lazy();
                *state = ChannelState::Open {
                    channel: channel.clone(),
                    _counted: zkdubbo_common::metrics::OpenConnection::new(crate::PROTOCOL),
                };
                Some(channel)
            }
        }
    }

    pub(crate) fn close(&self) {
        // Dropping the last `Channel` clone ends its worker and the HTTP/2 connection; calls in
        // flight hold their own clone and finish first.
        *lock(&self.channel) = ChannelState::Closed;
    }

    pub(crate) fn health(&self) -> MutexGuard<'_, Health> {
        lock(&self.health)
    }

    pub(crate) fn is_available(&self) -> bool {
        self.health().available
    }

    pub(crate) fn mark_available(&self) {
        let mut health = self.health();
        if !health.available {
            tracing::info!(provider = %self.identity, "triple provider reachable again");
            health.available = true;
        }
    }

    pub(crate) fn mark_unavailable(self: &Arc<Self>) {
        let mut health = self.health();
        if health.available {
            tracing::warn!(provider = %self.identity, "triple provider marked unavailable");
            health.available = false;
        }
        if health.probing {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            health.probing = true;
            runtime.spawn(probe(Arc::downgrade(self)));
        }
    }
}

/// Try a TCP connect to an unavailable provider with growing delays until it answers (then
/// mark it available) or its connection is released.
pub(crate) async fn probe(connection: Weak<Connection>) {
    let Some((mut delay, max_delay)) = connection
        .upgrade()
        .map(|c| (c.config.probe_interval, c.config.max_probe_interval))
    else {
        return;
    };
    loop {
        tokio::time::sleep(delay).await;
        let Some(connection) = connection.upgrade() else {
            return;
        };
        if matches!(*lock(&connection.channel), ChannelState::Closed) {
            return;
        }
        {
            let mut health = connection.health();
            if health.available {
                health.probing = false;
                return;
            }
        }
        let connect = tokio::net::TcpStream::connect(connection.address.as_str());
        match tokio::time::timeout(connection.config.connect_timeout, connect).await {
            Ok(Ok(_)) => {
                let mut health = connection.health();
                health.probing = false;
                if !health.available {
                    tracing::info!(provider = %connection.identity, "triple provider accepts connections again");
                    health.available = true;
                }
                return;
            }
            Ok(Err(e)) => tracing::debug!(provider = %connection.identity, error = %e, "probe failed"),
            Err(_) => tracing::debug!(provider = %connection.identity, "probe timed out"),
        }
        delay = (delay * 2).min(max_delay);
    }
}
