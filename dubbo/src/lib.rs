//! The dubbo:// protocol: Dubbo 2.x's exchange layer with Hessian2, the protocol most Dubbo
//! providers in ZooKeeper speak.
//!
//! - Consumer: [`DubboInvokerFactory`] turns `dubbo://` provider URLs into invokers (one
//!   multiplexed connection per address, opened lazily, re-opened with backoff, heartbeats),
//!   so zkdubbo's directory, routers, cluster and load balancers call Dubbo providers
//!   unchanged. Build calls with [`invocation`] (serde arguments) or [`generic_invocation`]
//!   (`$invoke` with [`Value`](zkdubbo_hessian::Value)s), read answers with [`reply`].
//! - Provider: [`DubboServer`] exports [`Service`]s such as [`DubboMethods`] (typed handlers
//!   keyed by method and Java parameter types), answers generic calls, heartbeats, and shuts
//!   down gracefully with Dubbo's read-only event.
//!
//! Bad input on the wire — garbage, oversized or truncated frames, undecodable bodies — closes
//! that connection with a warning naming the peer (or answers `BAD_REQUEST`), fails the calls
//! waiting on it with a typed error, and never affects other connections.

#![forbid(unsafe_code)]

mod body;
mod call;
mod client;
#[cfg(feature = "samples")]
pub mod demo;
mod descriptor;
pub mod frame;
mod generic;
mod io;
mod server;
pub mod status;

pub use body::{DUBBO_VERSION, Outcome, Request, decode_request, decode_response};
pub use call::{invocation, reply, reply_value, value_invocation};
pub use client::{DubboConfig, DubboInvoker, DubboInvokerFactory};
pub use descriptor::{descriptor, parse_descriptor};
pub use generic::{GENERIC_METHOD, GENERIC_TYPES, generalize, generic_invocation};
pub use server::{
    Call, DubboMethods, DubboServer, DubboServerBuilder, DubboServerHandle, ServerConfig, Service, ServiceFuture,
    exception,
};
/// The Hessian2 codec the protocol uses.
pub use zkdubbo_hessian as hessian;

/// The protocol name in URLs.
pub const PROTOCOL: &str = "dubbo";
