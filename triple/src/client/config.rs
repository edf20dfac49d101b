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
}

impl Default for TripleConfig {
    fn default() -> Self {
        TripleConfig {
            connect_timeout: Duration::from_secs(3),
            probe_interval: Duration::from_millis(500),
            max_probe_interval: Duration::from_secs(5),
            max_message_size: 4 * 1024 * 1024,
        }
    }
}
