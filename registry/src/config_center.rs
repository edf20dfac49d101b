//! [`ConfigCenter`]: rule nodes whose *data* is the rule (Dubbo 2.7+'s dynamic configuration:
//! `/dubbo/config/dubbo/<key>`), read, followed and written with compare-and-set; and the
//! other nodes Dubbo 3 keeps beside the registry the same way (service-name mapping, metadata
//! reports, application instances and their lists).

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::RegistryError;

/// What a followed node holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NodeState {
    /// Not read yet (no session so far, or the first read is under way).
    #[default]
    Unknown,
    /// The node does not exist.
    Absent,
    /// The node's data (decoded as UTF-8, as Java's Curator client does) and its data version.
    Present {
        /// The text.
        text: Arc<str>,
        /// The node's data version (`Stat.version`), for compare-and-set writes.
        version: i32,
    },
}

/// The children of a followed node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChildrenState {
    /// Not read yet.
    #[default]
    Unknown,
    /// The node does not exist.
    Absent,
    /// The names of its children, sorted.
    Present(Arc<[String]>),
}

/// A followed children list, as [`NodeWatch`] follows data.
pub type ChildrenWatch = watch::Receiver<ChildrenState>;

/// A followed node: [`watch::Receiver::changed`] wakes on every new state; states that
/// follow each other faster than they are read are coalesced (only the latest is seen).
/// Dropping the receiver stops following.
pub type NodeWatch = watch::Receiver<NodeState>;

/// Rule nodes of a config center (for ZooKeeper: the registry itself, as Dubbo uses it when
/// no other config center is configured).
#[async_trait]
pub trait ConfigCenter: Send + Sync {
    /// The root of the config center's groups (`/dubbo/config`, or the registry URL's
    /// `dubbo.config-center.root-path`).
    fn config_root(&self) -> &str;

    /// Follow the node at `path`: its current state first, then every change (created,
    /// changed, deleted), also across reconnections and new sessions. Needs a Tokio runtime.
    fn watch_node(&self, path: &str) -> NodeWatch;

    /// Read the node at `path` once: its text and data version, `None` when absent.
    async fn read_node(&self, path: &str) -> Result<Option<(String, i32)>, RegistryError>;

    /// Write `text` at `path` if the node is still at data version `expected` (`None`: create
    /// it, with its parents; fails if it exists). Returns the new data version. A lost race
    /// is an error for which [`RegistryError::is_conflict`] holds.
    async fn write_node(&self, path: &str, text: &str, expected: Option<i32>) -> Result<i32, RegistryError>;

    /// Delete the node at `path` if it is still at data version `expected` (`None`: any).
    async fn delete_node(&self, path: &str, expected: Option<i32>) -> Result<(), RegistryError>;

    /// Follow the children of `path` (application instances under `/services/<app>`), as
    /// [`ConfigCenter::watch_node`] follows data.
    fn watch_children(&self, path: &str) -> ChildrenWatch;

    /// Keep a node of this process at `path` holding `data` (an application instance node):
    /// ephemeral where the store has sessions, re-created when lost, removed at shutdown.
    /// Calling it again replaces the data.
    async fn keep_node(&self, path: &str, data: &[u8]) -> Result<(), RegistryError>;

    /// Stop keeping the node of [`ConfigCenter::keep_node`] and delete it.
    async fn remove_kept_node(&self, path: &str) -> Result<(), RegistryError>;
}
