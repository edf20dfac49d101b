//! `ZK_ADDR` and the process-wide shared server.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{HarnessError, Result};
use super::process::blocking;
use super::server::ZkServer;

/// `tickTime` of the shared server.
const SHARED_TICK_MS: u32 = 200;

static SHARED: OnceLock<std::result::Result<ZkServer, String>> = OnceLock::new();

/// The address in the `ZK_ADDR` environment variable (e.g. `127.0.0.1:2181` for the
/// docker-compose server), if it is set and not blank.
pub fn zk_addr_from_env() -> Option<String> {
    std::env::var("ZK_ADDR")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The address of a ZooKeeper for ordinary tests: `ZK_ADDR` when set, otherwise a standalone
/// server (tickTime 200 ms) started on first use and shared by the whole process.
///
/// Tests sharing it must use their own paths (see [`unique_path`]) and must not pause, kill
/// or restart it: use a [`ZkServer`] of their own for that. The shared server is killed and
/// its directory removed when the process exits (and by its watchdog if the process dies).
pub fn shared_server() -> Result<String> {
    if let Some(addr) = zk_addr_from_env() {
        return Ok(addr);
    }
    let server = SHARED.get_or_init(|| {
        let started = blocking(|| ZkServer::start(SHARED_TICK_MS));
        if started.is_ok() {
            // SAFETY: registering a plain `extern "C" fn` with atexit(3).
            if unsafe { libc::atexit(cleanup_shared) } != 0 {
                tracing::warn!("atexit failed: the shared ZooKeeper relies on its watchdog");
            }
        }
        started.map_err(|e| e.to_string())
    });
    match server {
        Ok(server) => Ok(server.addr()),
        Err(msg) => Err(HarnessError::Shared(msg.clone())),
    }
}

/// Kills the shared server at process exit (statics are never dropped).
extern "C" fn cleanup_shared() {
    if let Some(Ok(server)) = SHARED.get() {
        server.cleanup_at_exit();
    }
}

/// A fresh absolute ZooKeeper path `/<prefix>-<pid>-<n>-<nanos>` unique to this call, to keep
/// tests that share a server (or a `ZK_ADDR` shared by several processes) apart.
pub fn unique_path(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let prefix = prefix.trim_matches('/');
    format!("/{prefix}-{}-{n}-{nanos:08x}", std::process::id())
}
