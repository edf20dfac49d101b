//! The [`Cluster`] capability: a strategy joins a directory into one invoker.

use std::fmt;
use std::sync::Arc;

use zkdubbo_common::Invoker;
use zkdubbo_directory::Directory;

/// A cluster strategy: wraps a [`Directory`] into one [`Invoker`] that lists providers,
/// balances, and handles failures its way (ARCHITECTURE: Cluster).
///
/// ```
/// let failover = zkdubbo_cluster::by_name("failover").unwrap();
/// assert_eq!(failover.name(), "failover");
/// assert!(zkdubbo_cluster::by_name("nope").is_err());
/// ```
pub trait Cluster: Send + Sync + fmt::Debug {
    /// The strategy's name (`failover`, `failfast`, ...).
    fn name(&self) -> &'static str;

    /// The cluster invoker over `directory`. Destroying it destroys the directory.
    fn join(&self, directory: Arc<dyn Directory>) -> Arc<dyn Invoker>;
}
