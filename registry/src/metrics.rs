//! What the registry reports through the [`metrics`] facade: nothing is recorded until the
//! application installs a recorder (zkdubbo's Prometheus exporter, or any other). The
//! `registry` label is the registry's server list (`url.address()`), bounded by the registries
//! a process opens; categories are Dubbo's four.

use metrics::{counter, gauge};

/// 1 while the registry's ZooKeeper session is connected, else 0.
pub const CONNECTED: &str = "zkdubbo_registry_connected";
/// ZooKeeper sessions established (the first one and every one after an expiry).
pub const SESSIONS: &str = "zkdubbo_registry_sessions_total";
/// Connections lost within a session (it may still be recovered).
pub const DISCONNECTS: &str = "zkdubbo_registry_disconnects_total";
/// Sessions ended, by `reason`: `expired`, `auth_failed`, `closed`, `refused`.
pub const SESSIONS_ENDED: &str = "zkdubbo_registry_sessions_ended_total";
/// Lists delivered to subscribers, by `category`.
pub const NOTIFICATIONS: &str = "zkdubbo_registry_notifications_total";
/// Own registrations and unregistrations waiting to be written again.
pub const PENDING: &str = "zkdubbo_registry_pending_operations";
/// When the registry last delivered a list, in seconds since the epoch (the age of what
/// consumers know is `time() - this` in PromQL).
pub const LAST_NOTIFICATION: &str = "zkdubbo_registry_last_notification_timestamp_seconds";
/// 1 for the way the registry follows lists, by `mode`: `persistent` (recursive watches) or
/// `children` (one-shot child watches); 0 for the other.
pub const WATCH_MODE: &str = "zkdubbo_registry_watch_mode";
/// Cache file writes, by `outcome`: `ok` or `error`.
pub const CACHE_WRITES: &str = "zkdubbo_registry_cache_writes_total";

pub(crate) fn session_established(registry: &str, persistent_watches: bool) {
    counter!(SESSIONS, "registry" => registry.to_owned()).increment(1);
    gauge!(CONNECTED, "registry" => registry.to_owned()).set(1.0);
    for (mode, on) in [("persistent", persistent_watches), ("children", !persistent_watches)] {
        gauge!(WATCH_MODE, "registry" => registry.to_owned(), "mode" => mode).set(if on { 1.0 } else { 0.0 });
    }
}

pub(crate) fn connected(registry: &str, connected: bool) {
    if !connected {
        counter!(DISCONNECTS, "registry" => registry.to_owned()).increment(1);
    }
    gauge!(CONNECTED, "registry" => registry.to_owned()).set(if connected { 1.0 } else { 0.0 });
}

pub(crate) fn session_ended(registry: &str, reason: &'static str) {
    counter!(SESSIONS_ENDED, "registry" => registry.to_owned(), "reason" => reason).increment(1);
    gauge!(CONNECTED, "registry" => registry.to_owned()).set(0.0);
}

pub(crate) fn notified(registry: &str, category: &'static str) {
    counter!(NOTIFICATIONS, "registry" => registry.to_owned(), "category" => category).increment(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    gauge!(LAST_NOTIFICATION, "registry" => registry.to_owned()).set(now);
}

pub(crate) fn pending(registry: &str, operations: usize) {
    gauge!(PENDING, "registry" => registry.to_owned()).set(operations as f64);
}

pub(crate) fn cache_written(ok: bool) {
    counter!(CACHE_WRITES, "outcome" => if ok { "ok" } else { "error" }).increment(1);
}
