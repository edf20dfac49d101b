//! Dubbo-compatible service registration, discovery and invocation on ZooKeeper.
//!
//! zkdubbo registers and finds services in the same ZooKeeper as Java, Go and Python Dubbo
//! applications, node for node, and calls them through Dubbo's directory, routers,
//! configurators, cluster strategies and load balancers. This crate is the one to depend on:
//!
//! - [`Reference`] — a consumer's handle to a remote service (builder, Dubbo-style URL or
//!   serde config via [`ReferenceConfig`]);
//! - [`ServiceBuilder`] — registers a provider and serves it;
//! - [`Url`], [`Invocation`], [`Response`], [`RpcError`] — what a call is made of;
//! - the layers below, for those who extend them: [`registry`], [`directory`], [`cluster`],
//!   [`loadbalance`], and the transports ([`triple`], feature `triple`, on by default).
//!
//! How the parts fit is described in `docs/ARCHITECTURE.md` of the repository.
//!
//! # Messages
//!
//! Triple calls carry protobuf messages. Declare them with the re-exported [`prost`]; the
//! `prost_path` attribute lets the derive find it without a `prost` dependency of your own:
//!
//! ```
//! #[derive(Clone, PartialEq, zkdubbo::prost::Message)]
//! #[prost(prost_path = "zkdubbo::prost")]
//! pub struct AddRequest {
//!     #[prost(int32, tag = "1")]
//!     pub a: i32,
//!     #[prost(int32, tag = "2")]
//!     pub b: i32,
//! }
//! ```
//!
//! # A provider and a consumer
//!
//! ```no_run
//! # #[derive(Clone, PartialEq, zkdubbo::prost::Message)]
//! # #[prost(prost_path = "zkdubbo::prost")]
//! # pub struct AddRequest { #[prost(int32, tag = "1")] pub a: i32, #[prost(int32, tag = "2")] pub b: i32 }
//! # #[derive(Clone, PartialEq, zkdubbo::prost::Message)]
//! # #[prost(prost_path = "zkdubbo::prost")]
//! # pub struct AddReply { #[prost(int32, tag = "1")] pub sum: i32 }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use zkdubbo::triple::Methods;
//! use zkdubbo::{Reference, ServiceBuilder};
//!
//! // provider: serve over Triple, register tri://<ip>:<port>/com.example.Calculator?...
//! let methods = Methods::new().unary("add", |req: AddRequest, _metadata| async move {
//!     Ok(AddReply { sum: req.a + req.b })
//! });
//! let service = ServiceBuilder::new("com.example.Calculator")
//!     .registry("127.0.0.1:2181")
//!     .method("add")
//!     .serve_triple(methods, "0.0.0.0:50051".parse()?)
//!     .await?;
//!
//! // consumer: failover and weighted random unless configured otherwise
//! let calculator = Reference::builder()
//!     .interface("com.example.Calculator")
//!     .registry("zookeeper://127.0.0.1:2181")
//!     .build()
//!     .await?;
//! let reply: AddReply = calculator.call("add", &AddRequest { a: 2, b: 3 }).await?;
//! assert_eq!(reply.sum, 5);
//!
//! calculator.shutdown().await;
//! service.shutdown(Duration::from_millis(500)).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

#[cfg(feature = "triple")]
mod channel;
mod config;
mod discovery;
mod metadata_service;
pub mod metrics;
#[cfg(feature = "opentelemetry")]
pub mod otel;
mod provider;
mod reference;
mod registries;
mod signal;
mod stamp;
mod transport;

#[cfg(feature = "triple")]
pub use channel::{GrpcChannel, HashKey};
pub use config::{ConfigError, ReferenceConfig};
#[cfg(feature = "triple")]
pub use provider::TripleService;
pub use provider::{DEFAULT_UNHEALTHY_AFTER, Exported, ProviderError, ServiceBuilder};
#[cfg(feature = "dubbo")]
pub use provider::{DubboPort, DubboService};
pub use reference::{DEFAULT_READY_TIMEOUT, Reference, ReferenceBuilder, ReferenceError};
pub use signal::shutdown_signal;
pub use stamp::RELEASE;
pub use zkdubbo_cluster::SERVED_BY;
pub use zkdubbo_common::{Invocation, Invoker, InvokerFactory, Response, RpcError, RpcErrorKind, Url, UrlError, keys};

/// Registries: the [`Registry`](registry::Registry) capability, ZooKeeper's, an in-memory
/// one for tests, and what subscriptions deliver.
pub mod registry {
    pub use zkdubbo_registry::{
        Category, ListVersion, MemoryRegistry, Notification, Registration, Registry, RegistryError, Source,
        Subscription, ZookeeperRegistry, registry_address,
    };
}

/// Dubbo 3 application-level discovery: register modes, migration steps, instances and
/// their metadata.
pub mod app_discovery {
    pub use crate::discovery::consumer_view;
    pub use zkdubbo_discovery::migration;
    pub use zkdubbo_discovery::{
        AppInstances, InstancePublisher, LEVEL_KEY, Level, MetadataInfo, Migration, MigrationRule, MigrationState,
        MigrationStep, PROVIDED_BY_KEY, Paths, REGISTER_MODE_KEY, RegisterMode, ServiceDiscoveryRegistry, ServiceInfo,
        ServiceInstance, StorageType,
    };
}

/// The consumer's view of a service: providers after configurators and routers, as
/// immutable snapshots.
pub mod directory {
    pub use zkdubbo_directory::{
        Description, Directory, Listed, Member, NoProviderError, NoProviderReason, RegistryDirectory, Snapshot,
        StaticDirectory,
    };
}

/// Cluster strategies: how one call uses the providers of a directory (failover, failfast...).
pub mod cluster {
    pub use zkdubbo_cluster::{
        Cluster, Merger, Mergers, NAMES, PayloadMerger, SERVED_BY, SERVED_BY_REGISTRY, UnknownCluster, by_name,
    };
}

/// Load balancing: how a provider is picked among the usable ones.
pub mod loadbalance {
    pub use zkdubbo_loadbalance::{LoadBalance, NAMES, PreparedSet, Provider, SetView, UnknownLoadBalance, by_name};
}

/// The Triple (gRPC over HTTP/2) transport: its invoker factory, server and handlers.
#[cfg(feature = "triple")]
pub mod triple {
    pub use zkdubbo_triple::*;
}

/// The dubbo:// transport: its invoker factory, server, typed and generic calls.
#[cfg(feature = "dubbo")]
pub mod dubbo {
    pub use zkdubbo_dubbo::*;
}

/// The Hessian2 codec of dubbo:// ([`Value`](hessian::Value), serde, Java types).
#[cfg(feature = "dubbo")]
pub use zkdubbo_hessian as hessian;

/// The protobuf runtime Triple messages are built with; see the crate docs for the derive.
#[cfg(feature = "triple")]
pub use prost;
