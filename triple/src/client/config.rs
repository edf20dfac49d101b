//! Connection settings of the Triple client.

use std::time::Duration;

/// Connection settings of a [`TripleInvokerFactory`](crate::TripleInvokerFactory).
///
/// ```
/// use std::time::Duration;
/// use zkdubbo_triple::{TripleConfig, TripleInvokerFactory};
/// let factory = TripleInvokerFactory::with_config(TripleConfig {
///     connect_timeout: Duration::from_millis(500),
///     ..TripleConfig::default()
/// });
/// # drop(factory);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripleConfig {
    /// Longest wait for a TCP connection to a provider (default 3 s). A call is also bounded
    /// by its own `timeout`.
    pub connect_timeout: Duration,
    /// First delay before probing an unavailable provider with a TCP connect (default
    /// 500 ms); doubles up to [`Self::max_probe_interval`]. A successful probe makes the
    /// invokers of that provider available again.
    pub probe_interval: Duration,
    /// Longest delay between two probes (default 5 s).
    pub max_probe_interval: Duration,
    /// Largest response message accepted (default 4 MiB).
    pub max_message_size: usize,
    /// HTTP/2 keepalive: a PING on a provider connection after this much silence, also while
    /// calls are waiting (default 30 s; `None` turns it off). A provider that does not answer
    /// within [`Self::keepalive_timeout`] is frozen or gone: its connection is closed and the
    /// calls waiting on it fail at once as transport errors, which failover retries, instead
    /// of each waiting for its timeout.
    pub keepalive_interval: Option<Duration>,
    /// How long a PING's answer may take (default 10 s).
    pub keepalive_timeout: Duration,
}

impl Default for TripleConfig {
    fn default() -> Self {
        TripleConfig {
            connect_timeout: Duration::from_secs(3),
            probe_interval: Duration::from_millis(500),
            max_probe_interval: Duration::from_secs(5),
            max_message_size: 4 * 1024 * 1024,
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}
