//! The [`Cluster`] capability and the strategies by name.

use std::fmt;
use std::sync::Arc;

use zkdubbo_common::{Invoker, Url, keys};
use zkdubbo_directory::Directory;

use crate::strategy::{
    AvailableCluster, BroadcastCluster, FailbackCluster, FailfastCluster, FailoverCluster, FailsafeCluster,
    ForkingCluster, MergeableCluster, ZoneAwareCluster,
};

/// A cluster strategy: wraps a [`Directory`] into one [`Invoker`] that lists providers,
/// balances, and handles failures its way (ARCHITECTURE: Cluster).
///
/// ```
/// let failover = zkdubbo_cluster::cluster_by_name("failover").unwrap();
/// assert_eq!(failover.name(), "failover");
/// assert!(zkdubbo_cluster::cluster_by_name("nope").is_err());
/// ```
pub trait Cluster: Send + Sync + fmt::Debug {
    /// The strategy's name (`failover`, `failfast`, ...).
    fn name(&self) -> &'static str;

    /// The cluster invoker over `directory`. Destroying it destroys the directory.
    fn join(&self, directory: Arc<dyn Directory>) -> Arc<dyn Invoker>;
}

/// The names [`cluster_by_name`] knows.
pub const CLUSTER_NAMES: [&str; 9] = [
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

/// A `cluster` name that is not one of [`CLUSTER_NAMES`].
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
/// [`UnknownCluster`] for a name not in [`CLUSTER_NAMES`].
pub fn cluster_by_name(name: &str) -> Result<Arc<dyn Cluster>, UnknownCluster> {
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
/// [`UnknownCluster`] for a name not in [`CLUSTER_NAMES`].
pub fn cluster_for(url: &Url) -> Result<Arc<dyn Cluster>, UnknownCluster> {
    cluster_by_name(url.param_or(keys::CLUSTER, keys::DEFAULT_CLUSTER))
}
