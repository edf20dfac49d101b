//! The consumer side: [`TripleInvokerFactory`] turns `tri://host:port/<interface>` provider URLs
//! into [`TripleInvoker`]s that make unary gRPC calls over HTTP/2 cleartext.
//!
//! * A call of `method` is `POST /<interface>/<method>` (interface = [`Url::interface`](zkdubbo_common::Url::interface)), its
//!   body the invocation's payload (already-encoded protobuf bytes), its attachments sent as
//!   metadata headers. [`invoke_message`] and [`TripleInvoker::call`] do the prost encoding.
//! * Responses must carry content type `application/grpc` or `application/grpc+<suffix>`
//!   (Dubbo 3 answers `application/grpc+proto`); anything else is a transport error.
//! * gRPC status → [`RpcError`](zkdubbo_common::RpcError): `UNAVAILABLE` and connection failures → `Transport`,
//!   `DEADLINE_EXCEEDED` → `Timeout`, everything else the provider answers → `Business`.
//! * The `timeout` URL parameter (method-level first, default 1000 ms) bounds each call and
//!   is sent as `grpc-timeout`.
//! * One HTTP/2 connection per provider identity (`tri://host:port/path`), opened on first
//!   use and shared by every invoker the factory created for that identity, so invokers
//!   re-created after a directory snapshot change reuse it; it is closed when the last of
//!   them is destroyed or dropped.
//!
//! ```no_run
//! # async fn run() -> Result<(), zkdubbo_common::RpcError> {
//! use zkdubbo_common::{InvokerFactory, Url};
//! use zkdubbo_triple::TripleInvokerFactory;
//! use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
//!
//! let factory = TripleInvokerFactory::new();
//! let url: Url = "tri://127.0.0.1:50051/org.apache.dubbo.samples.Greeter?timeout=3000"
//!     .parse()
//!     .expect("a valid URL");
//! let invoker = factory.create_triple(&url)?;
//! let reply: GreeterReply = invoker.call("sayHello", &GreeterRequest { name: "world".into() }).await?;
//! assert_eq!(reply.message, "Hello, world!");
//! # Ok(()) }
//! ```

mod config;
mod connection;
mod content_type;
mod factory;
mod invoker;
mod message;
mod pool;
mod prepared;
mod status;

use std::error::Error as StdError;

pub use config::TripleConfig;
pub use factory::TripleInvokerFactory;
pub use invoker::TripleInvoker;
pub use message::{decode_reply, invoke_message, message_invocation};
pub use status::code_name;

pub(crate) use connection::Connection;
pub(crate) use content_type::{CheckContentType, UnexpectedContentType};
pub(crate) use pool::{Pool, PoolEntry};
pub(crate) use prepared::{MethodCall, Prepared};
pub(crate) use status::map_status;

/// The URL protocol of Dubbo's Triple transport.
pub const PROTOCOL: &str = "tri";

/// The call timeout when the URL has no `timeout` parameter, in milliseconds (Dubbo's default).
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;

type BoxError = Box<dyn StdError + Send + Sync>;
