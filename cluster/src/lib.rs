//! Dubbo's cluster strategies over a [`Directory`], multiple registries, and the consumer and
//! provider API of zkdubbo (DESIGN A8, B8, B9).
//!
//! One dependency is enough for a user: this crate re-exports the URL and invocation types,
//! the registries and the Triple (gRPC) transport, which is the default invoker factory.
//!
//! - [`Cluster`]: wraps a directory into one [`Invoker`]; choose by name with
//!   [`cluster_by_name`]: `failover` (default), `failfast`, `failsafe`, `failback`, `forking`,
//!   `broadcast`, `available`, `mergeable`, `zone-aware`.
//! - [`Reference`]: a consumer handle built from settings (builder, Dubbo-style URL, or serde
//!   config), one cluster per registry joined by `zone-aware`.
//! - [`ServiceBuilder`]: register a provider on one or more registries, optionally serving it
//!   over Triple.
//!
//! Every call made by a cluster is recorded in the call statistics
//! ([`CallStats::global`](zkdubbo_common::CallStats::global)) that `leastactive`,
//! `shortestresponse` and `p2c` read.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use zkdubbo_cluster::Reference;
//! use zkdubbo_cluster::triple::greeter::{GreeterReply, GreeterRequest};
//!
//! let greeter = Reference::builder()
//!     .interface("org.apache.dubbo.samples.Greeter")
//!     .registry("zookeeper://127.0.0.1:2181")
//!     .loadbalance("roundrobin")
//!     .build()
//!     .await?;
//! let reply: GreeterReply = greeter.call("sayHello", &GreeterRequest { name: "world".into() }).await?;
//! println!("{}", reply.message);
//! greeter.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod cluster;
pub mod config;
pub mod merger;
pub mod multi;
pub mod net;
pub mod provider;
pub mod reference;
pub mod strategy;
pub mod support;

pub use cluster::{CLUSTER_NAMES, Cluster, UnknownCluster, cluster_by_name, cluster_for};
pub use config::{ConfigError, ReferenceConfig};
pub use merger::{Merger, Mergers, PayloadMerger};
pub use multi::{GroupsDirectory, join_registries};
pub use provider::{Exported, ProviderError, ServiceBuilder, TripleService};
pub use reference::{Reference, ReferenceBuilder, ReferenceError};
pub use strategy::zoneaware::{RegistryInvoker, SERVED_BY_REGISTRY};
pub use support::{ClusterBase, SERVED_BY};

pub use zkdubbo_common::{CallStats, Invocation, Invoker, InvokerFactory, Response, RpcError, RpcErrorKind, Url, keys};
pub use zkdubbo_directory::{Directory, RegistryDirectory, StaticDirectory};
pub use zkdubbo_loadbalance::{LoadBalance, by_name as loadbalance_by_name};
pub use zkdubbo_registry::{MemoryRegistry, Registration, Registry, RegistryError, ZookeeperRegistry};
/// The Triple (gRPC over HTTP/2) transport: invoker factory, server, the Greeter sample.
pub use zkdubbo_triple as triple;
pub use zkdubbo_triple::{Handler, Methods, TripleInvokerFactory, TripleServer};
