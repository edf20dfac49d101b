//! Dubbo's cluster strategies over a [`Directory`](zkdubbo_directory::Directory): how one call
//! uses the providers a directory lists (docs/ARCHITECTURE.md, "Cluster").
//!
//! - [`Cluster`]: wraps a directory into one [`Invoker`](zkdubbo_common::Invoker); choose by
//!   name with [`by_name`]: `failover` (default), `failfast`, `failsafe`, `failback`,
//!   `forking`, `broadcast`, `available`, `mergeable`, `zone-aware`.
//! - [`Strategy`]: how one call uses the providers; [`ClusterInvoker`] runs any strategy over
//!   the state they all share ([`ClusterBase`]: listing, sticky, re-selection, statistics).
//! - [`join_registries`]: one invoker over the clusters of several registries (zone-aware).
//! - [`GroupsDirectory`]: the groups of a multi-group reference, each as one invoker, for
//!   `mergeable`.
//!
//! Every call made by a cluster is recorded in the call statistics
//! ([`CallStats::global`](zkdubbo_common::CallStats::global)) that `leastactive`,
//! `shortestresponse` and `p2c` read. The cluster knows no transport: invokers come from the
//! directory's [`InvokerFactory`](zkdubbo_common::InvokerFactory).

#![forbid(unsafe_code)]

mod invoker;
mod join;
pub mod merger;
pub mod metrics;
mod multi;
mod names;
mod outlier;
pub mod strategy;
mod support;

pub use invoker::{ClusterInvoker, Strategy};
pub use join::Cluster;
pub use merger::{Merger, Mergers, PayloadMerger};
pub use multi::{GroupsDirectory, join_registries};
pub use names::{NAMES, UnknownCluster, by_name, for_url};
pub use outlier::{OUTLIER_EJECTION_KEY, OUTLIER_FAILURES_KEY, OUTLIER_MAX_EJECTION_KEY};
pub use strategy::{MergeableCluster, RegistryInvoker, SERVED_BY_REGISTRY};
pub use support::{AVAILABLE_CHECK_KEY, ClusterBase, SERVED_BY, STICKY_KEY};
