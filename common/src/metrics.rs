//! Metrics every transport reports the same way, through the [`metrics`] facade (a no-op until
//! the application installs a recorder).

/// Connections open to providers, by `protocol` (`tri`: a provider's HTTP/2 channel; `dubbo`:
/// a TCP connection).
pub const CONNECTIONS: &str = "zkdubbo_connections";

/// Counts one connection of `protocol` in [`CONNECTIONS`] while it lives.
#[derive(Debug)]
pub struct OpenConnection(&'static str);

impl OpenConnection {
    /// One more open connection of `protocol`.
    pub fn new(protocol: &'static str) -> OpenConnection {
        metrics::gauge!(CONNECTIONS, "protocol" => protocol).increment(1.0);
        OpenConnection(protocol)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!(CONNECTIONS, "protocol" => self.0).decrement(1.0);
    }
}
