//! The cluster strategies by name, as the `cluster` parameter names them.

use std::sync::Arc;

use zkdubbo_common::{Url, keys};

use crate::join::Cluster;
use crate::strategy::{
    AvailableCluster, BroadcastCluster, FailbackCluster, FailfastCluster, FailoverCluster, FailsafeCluster,
    ForkingCluster, MergeableCluster, ZoneAwareCluster,
};

/// The names [`by_name`] knows.
pub const NAMES: [&str; 9] = [
    "failover",
    "failfast",
    "failsafe",
    "failback",
    "forking",
    "broadcast",
    "available",
    "mergeable",
    "zone-aware",
];

/// A `cluster` name that is not one of [`NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown cluster {name:?} (known: failover, failfast, failsafe, failback, forking, broadcast, available, mergeable, zone-aware)"
)]
pub struct UnknownCluster {
    /// The name asked for.
    pub name: String,
}

/// The strategy called `name` (ASCII case-insensitive; empty means `failover`; `zoneaware`
/// and `zone-aware` are the same).
///
/// # Errors
/// [`UnknownCluster`] for a name not in [`NAMES`].
pub fn by_name(name: &str) -> Result<Arc<dyn Cluster>, UnknownCluster> {
    let trimmed = name.trim();
    let lower = trimmed.to_ascii_lowercase();
    let cluster: Arc<dyn Cluster> = match lower.as_str() {
        "" | "failover" => Arc::new(FailoverCluster),
        "failfast" => Arc::new(FailfastCluster),
        "failsafe" => Arc::new(FailsafeCluster),
        "failback" => Arc::new(FailbackCluster::default()),
        "forking" => Arc::new(ForkingCluster),
        "broadcast" => Arc::new(BroadcastCluster),
        "available" => Arc::new(AvailableCluster),
        "mergeable" => Arc::new(MergeableCluster::default()),
        "zone-aware" | "zoneaware" => Arc::new(ZoneAwareCluster),
        _ => {
            return Err(UnknownCluster {
                name: trimmed.to_owned(),
            });
        }
    };
    Ok(cluster)
}

/// The strategy `url` configures (`cluster`, default `failover`). Dubbo reads `cluster` per
/// reference, not per method.
///
/// # Errors
/// [`UnknownCluster`] for a name not in [`NAMES`].
pub fn for_url(url: &Url) -> Result<Arc<dyn Cluster>, UnknownCluster> {
    by_name(url.param_or(keys::CLUSTER, keys::DEFAULT_CLUSTER))
}
