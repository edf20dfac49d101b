//! Dubbo-compatible service registration and discovery.
//!
//! The [`Registry`] trait is the capability; [`ZookeeperRegistry`] implements it on ZooKeeper
//! in Apache Dubbo's layout, and [`MemoryRegistry`] in memory for tests of the layers above.
//! Subscriptions deliver full, versioned, coalesced lists per category ([`Notification`]).

#![forbid(unsafe_code)]

pub mod cache;
mod config_center;
mod error;
mod memory;
pub mod metrics;
mod notification;
mod registration;
mod zookeeper;

pub use config_center::{ChildrenState, ChildrenWatch, ConfigCenter, NodeState, NodeWatch};
pub use error::RegistryError;
pub use memory::MemoryRegistry;
pub use notification::{
    Category, ListVersion, Notification, SinkOptions, Source, Subscription, SubscriptionSink, empty_url, matching_list,
    subscription_channel, subscription_channel_with,
};
pub use registration::Registration;
pub use zookeeper::{
    CONFIG_BASE_PATH_KEY, CONFIG_ROOT_PATH_KEY, DEFAULT_CHECK_PERIOD_MS, DEFAULT_GROUP, DEFAULT_PORT,
    DEFAULT_RETRY_PERIOD_MS, DEFAULT_SESSION_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, DUBBO_EMPTY_PROTECTION_KEY,
    EMPTY_PROTECTION_KEY, Layout, NodePath, PendingOperation, TlsFiles, WATCH_ENV, WATCH_KEY, WatchMode,
    ZOOKEEPER_PROTOCOL, ZookeeperConfig, ZookeeperRegistry, redact_address, registry_address,
};

use async_trait::async_trait;
use zkdubbo_common::Url;

/// A place where services register and are discovered (ZooKeeper, or memory in tests).
///
/// URLs are filed by interface and category (their `category` param, default `providers`).
/// A subscription delivers the full list of each subscribed category whenever it changes
/// (ARCHITECTURE: Notifications); see [`Subscription`].
///
/// ```
/// # async fn demo() -> Result<(), zkdubbo_registry::RegistryError> {
/// use zkdubbo_registry::{MemoryRegistry, Registry};
/// let registry = MemoryRegistry::new();
/// let provider = "dubbo://10.0.0.5:20880/com.foo.Bar?side=provider".parse()?;
/// registry.register(&provider).await?;
/// let mut sub = registry.subscribe(&"consumer://10.0.0.1/com.foo.Bar?category=providers".parse()?).await?;
/// let n = sub.next().await.unwrap();
/// assert_eq!(n.urls[0], provider);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[async_trait]
pub trait Registry: Send + Sync + 'static {
    /// The registry's own URL (`zookeeper://...`), for messages.
    fn url(&self) -> &Url;

    /// Register `url` (a provider, a consumer's own `consumer://` URL, or a rule with
    /// `dynamic=false`). Registering the same URL twice is not an error.
    async fn register(&self, url: &Url) -> Result<(), RegistryError>;

    /// Remove a registration made with the identical URL. Removing an absent one is not an
    /// error.
    async fn unregister(&self, url: &Url) -> Result<(), RegistryError>;

    /// Subscribe `consumer` (interface or `*`, group, version, and optionally a `category`
    /// list; default providers, configurators and routers). The first list of each category
    /// follows as soon as it is read. Dropping the returned handle unsubscribes.
    async fn subscribe(&self, consumer: &Url) -> Result<Subscription, RegistryError>;

    /// Read once what `consumer` would be notified of now (without `empty://` markers).
    async fn lookup(&self, consumer: &Url) -> Result<Vec<Url>, RegistryError>;

    /// Whether the registry is usable right now (for ZooKeeper: a live session).
    fn is_available(&self) -> bool;

    /// The registry's rule nodes, when it also serves as Dubbo's config center (ZooKeeper
    /// does, under `/dubbo/config`).
    fn config_center(&self) -> Option<&dyn ConfigCenter> {
        None
    }

    /// Remove this process's registrations, end every subscription and release the
    /// connection. Further calls fail with [`RegistryError::Shutdown`].
    async fn shutdown(&self);
}
