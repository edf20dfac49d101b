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

pub mod configurator;
pub mod describe;
pub mod directory;
pub mod error;
pub mod inert;
pub mod merge;
pub mod router;
pub mod snapshot;
pub mod static_dir;

pub use configurator::{Configurator, Configurators};
pub use describe::Description;
pub use directory::{Directory, DirectoryBuilder, GroupDirectory, RegistryDirectory};
pub use error::{DirectoryError, NoProviderError, NoProviderReason, RuleError, ServiceInfo};
pub use inert::{InertInvoker, InertInvokerFactory};
pub use router::{ConditionParseError, ConditionRouter, ConditionSyntax, RouterChain};
pub use snapshot::{Listed, Member, Snapshot};
pub use static_dir::StaticDirectory;
