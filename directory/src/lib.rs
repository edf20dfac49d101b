//! The consumer's view of a service (ARCHITECTURE: Directory, Configurators, Routers, Snapshots, Invokers by identity): registry notifications turned
//! into immutable, atomically swapped snapshots of routed providers.
//!
//! - [`RegistryDirectory`] subscribes through any [`Registry`](zkdubbo_registry::Registry),
//!   keeps the latest list per category and rebuilds off the call path: configurators →
//!   merge → filter → invokers (shared by provider identity) → routers → [`Snapshot`].
//! - [`Directory::list`] reads the snapshot without locking or allocating.
//! - [`StaticDirectory`] is a fixed list of members, for multi-registry and multi-group
//!   composition.
//!
//! ```
//! use std::sync::Arc;
//! use zkdubbo_common::{Invocation, Url};
//! use zkdubbo_common::{Invoker, InvokerFactory, InvokeFuture, RpcError};
//! use zkdubbo_directory::{Directory, RegistryDirectory};
//! use zkdubbo_registry::{Category, ListVersion, Notification, Source};
//!
//! struct Inert(Url);
//! impl Invoker for Inert {
//!     fn url(&self) -> &Url { &self.0 }
//!     fn invoke<'a>(&'a self, _: &'a Invocation) -> InvokeFuture<'a> {
//!         Box::pin(async { Err(RpcError::transport("inert", "")) })
//!     }
//! }
//! struct Factory;
//! impl InvokerFactory for Factory {
//!     fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> { Ok(Arc::new(Inert(url.clone()))) }
//! }
//!
//! let consumer: Url = "consumer://10.0.0.1/com.foo.Bar?application=shop".parse().unwrap();
//! let dir = RegistryDirectory::builder(consumer, Arc::new(Factory)).build().unwrap();
//! dir.notify(&Notification {
//!     interface: "com.foo.Bar".into(),
//!     category: Category::Providers,
//!     urls: vec!["dubbo://10.0.0.5:20880/com.foo.Bar?methods=get".parse().unwrap()].into(),
//!     version: Some(ListVersion { czxid: 1, cversion: 1 }),
//!     source: Source::Live,
//! });
//! let providers = dir.list(&Invocation::new("get")).unwrap();
//! assert_eq!(providers[0].url().address(), "10.0.0.5:20880");
//! ```

#![forbid(unsafe_code)]

mod config_rules;
mod configurator;
mod describe;
mod error;
mod follow;
mod group_view;
#[cfg(feature = "inert")]
mod inert;
mod member;
mod merge;
pub mod metrics;
mod refresh;
mod registry_directory;
mod route;
pub mod router;
mod snapshot;
mod static_dir;
mod url_cache;

pub use config_rules::{
    APP_ROUTER_PRIORITY, ConfigRules, PROVIDER_APP_ROUTER_PRIORITY, SERVICE_ROUTER_PRIORITY, check_config_rules,
};
pub use configurator::{Configurator, Configurators};
pub use describe::Description;
pub use error::{DirectoryError, NoProviderError, NoProviderReason, RuleError, ServiceInfo};
pub use group_view::GroupView;
#[cfg(feature = "inert")]
pub use inert::{InertInvoker, InertInvokerFactory};
pub use member::Member;
pub use merge::merge_url;
pub use registry_directory::{DELAY_NOTIFICATION_KEY, DirectoryBuilder, RegistryDirectory, subscription_url};
pub use route::{Listed, Members, MethodRoute, Route};
pub use router::{ConditionParseError, ConditionRouter, ConditionSyntax, RouterChain};
pub use snapshot::{Counts, Exclusion, Snapshot};
pub use static_dir::StaticDirectory;

use zkdubbo_common::{Invocation, Url};

/// Where a consumer's calls find their providers.
pub trait Directory: Send + Sync {
    /// The routed providers for `inv` (never empty on success).
    ///
    /// # Errors
    /// [`NoProviderError`] naming the service, group, version, registry and the reason.
    fn list(&self, inv: &Invocation) -> Result<Listed, NoProviderError>;

    /// Whether some provider can take calls.
    fn is_available(&self) -> bool;

    /// The consumer URL this directory serves.
    fn consumer_url(&self) -> &Url;

    /// Stop following changes and release every invoker.
    fn destroy(&self);
}
