//! Dubbo's cluster strategies over a [`Directory`](zkdubbo_directory::Directory): how one call
//! uses the providers a directory lists (docs/ARCHITECTURE.md, "Cluster").
//!
//! - [`Cluster`]: wraps a directory into one [`Invoker`](zkdubbo_common::Invoker); choose by
//!   name with [`cluster_by_name`]: `failover` (default), `failfast`, `failsafe`, `failback`,
//!   `forking`, `broadcast`, `available`, `mergeable`, `zone-aware`.
//! - [`join_registries`]: one invoker over the clusters of several registries (zone-aware).
//! - [`GroupsDirectory`]: the groups of a multi-group reference, each as one invoker, for
//!   `mergeable`.
//!
//! Every call made by a cluster is recorded in the call statistics
//! ([`CallStats::global`](zkdubbo_common::CallStats::global)) that `leastactive`,
//! `shortestresponse` and `p2c` read. The cluster knows no transport: invokers come from the
//! directory's [`InvokerFactory`](zkdubbo_common::InvokerFactory).

#![forbid(unsafe_code)]

pub mod cluster;
pub mod merger;
pub mod multi;
pub mod strategy;
pub mod support;

pub use cluster::{CLUSTER_NAMES, Cluster, UnknownCluster, cluster_by_name, cluster_for};
pub use merger::{Merger, Mergers, PayloadMerger};
pub use multi::{GroupsDirectory, join_registries};
pub use strategy::MergeableCluster;
pub use strategy::zoneaware::{RegistryInvoker, SERVED_BY_REGISTRY};
pub use support::{ClusterBase, SERVED_BY};
