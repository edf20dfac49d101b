//! What directories report through the [`metrics`] facade at each refresh (a no-op until the
//! application installs a recorder). Label `service`: the consumer's service key.

use std::time::Duration;

use metrics::{gauge, histogram};

use crate::snapshot::Snapshot;

/// Providers of a service, by `state`: `registered` (listed in the registry), `usable` (left
/// after overrides, protocol and address checks), `disabled` (by an override).
pub const PROVIDERS: &str = "zkdubbo_directory_providers";
/// The version of the service's current snapshot (one per refresh).
pub const SNAPSHOT_VERSION: &str = "zkdubbo_directory_snapshot_version";
/// Time to rebuild a snapshot after a change.
pub const REFRESH_SECONDS: &str = "zkdubbo_directory_refresh_seconds";
/// Rules in force, by `kind`: `router` or `configurator`.
pub const RULES: &str = "zkdubbo_directory_rules";

pub(crate) fn refreshed(service: &str, snapshot: &Snapshot, took: Duration, routers: usize, configurators: usize) {
    let counts = snapshot.counts();
    for (state, n) in [
        ("registered", counts.registered),
        ("usable", snapshot.providers().len()),
        ("disabled", counts.disabled),
    ] {
        gauge!(PROVIDERS, "service" => service.to_owned(), "state" => state).set(n as f64);
    }
    gauge!(SNAPSHOT_VERSION, "service" => service.to_owned()).set(snapshot.version() as f64);
    histogram!(REFRESH_SECONDS, "service" => service.to_owned()).record(took.as_secs_f64());
    for (kind, n) in [("router", routers), ("configurator", configurators)] {
        gauge!(RULES, "service" => service.to_owned(), "kind" => kind).set(n as f64);
    }
}
