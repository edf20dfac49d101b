//! One module per cluster strategy (ARCHITECTURE: Cluster). Each is a [`Strategy`] over
//! [`ClusterBase`](crate::ClusterBase); failback keeps per-invoker state ([`Failback`]).
//!
//! [`Strategy`]: crate::Strategy

mod available;
mod broadcast;
mod failback;
mod failfast;
mod failover;
mod failsafe;
mod forking;
mod mergeable;
mod zoneaware;

pub use available::AvailableCluster;
pub use broadcast::{BroadcastCluster, FAIL_PERCENT_KEY};
pub use failback::{
    DEFAULT_FAILBACK_PERIOD, DEFAULT_FAILBACK_TASKS, DEFAULT_FAILBACK_TIMES, FAILBACK_TASKS_KEY, Failback,
    FailbackCluster,
};
pub use failfast::FailfastCluster;
pub use failover::FailoverCluster;
pub use failsafe::FailsafeCluster;
pub use forking::{DEFAULT_FORKS, FORKS_KEY, ForkingCluster};
pub use mergeable::{MERGER_KEY, MergeableCluster};
pub use zoneaware::{
    MEMBER_PREFERRED_KEY, MEMBER_REGISTRY_KEY, MEMBER_ZONE_KEY, PREFERRED_KEY, REGISTRY_ZONE, REGISTRY_ZONE_FORCE,
    RegistryInvoker, SERVED_BY_REGISTRY, ZONE_KEY, ZoneAwareCluster,
};
