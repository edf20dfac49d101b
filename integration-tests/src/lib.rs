//! Tests and benchmarks of zkdubbo against a real ZooKeeper: the [`harness`] that runs
//! servers, and the [`scale`] benchmark (`scale-bench`).

pub mod harness;
pub mod log_capture;
pub mod scale;
pub mod soak;
pub mod wait;

/// A registry address (`host:port,host:port` or a registry URL) as a URL.
pub(crate) fn harness_registry_address(connect: &str) -> anyhow::Result<zkdubbo_common::Url> {
    zkdubbo_registry::registry_address(connect).map_err(|e| anyhow::anyhow!("{connect}: {e}"))
}
