//! Dubbo's Triple transport (gRPC over HTTP/2 cleartext) for zkdubbo.
//!
//! * Consumer side: [`TripleInvokerFactory`] is the [`InvokerFactory`] for `tri://` provider
//!   URLs found in ZooKeeper; its [`TripleInvoker`]s make unary calls to
//!   `/<interface>/<method>` with already-encoded protobuf payloads, or with prost messages
//!   through [`invoke_message`] / [`TripleInvoker::call`]. They talk to Dubbo 3 (Java, Go) and
//!   dubbo-python Triple providers as well as to [`TripleServer`].
//! * Provider side: [`TripleServer`] serves [`Handler`]s (closures, or [`Methods`] with one
//!   typed closure per method, unary or streaming) per interface, and services tonic
//!   generated, on tonic's gRPC machinery.
//! * `greeter` (feature `samples`): the standard Dubbo sample service,
//!   `org.apache.dubbo.samples.Greeter`.
//!
//! No `protoc` is needed: messages are `#[derive(prost::Message)]` structs and the gRPC
//! plumbing is generic.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use zkdubbo_common::Url;
//! use zkdubbo_triple::greeter::{self, GreeterReply, GreeterRequest};
//! use zkdubbo_triple::{TripleInvokerFactory, TripleServer};
//!
//! // provider
//! let server = TripleServer::builder()
//!     .service(greeter::INTERFACE, greeter::service())
//!     .bind("127.0.0.1:0")
//!     .await?
//!     .spawn();
//!
//! // consumer
//! let url: Url = format!("tri://{}/{}", server.local_addr(), greeter::INTERFACE).parse()?;
//! let invoker = TripleInvokerFactory::new().create_triple(&url)?;
//! let reply: GreeterReply = invoker.call(greeter::SAY_HELLO, &GreeterRequest { name: "world".into() }).await?;
//! assert_eq!(reply.message, "Hello, world!");
//!
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! [`InvokerFactory`]: zkdubbo_common::InvokerFactory

#![forbid(unsafe_code)]

mod call;
mod client;
pub mod codec;
#[cfg(feature = "samples")]
pub mod greeter;
mod handler;
mod routes;
mod server;
mod timeout;

pub use client::{
    DEFAULT_TIMEOUT_MS, PROTOCOL, TripleConfig, TripleInvoker, TripleInvokerFactory, code_name, decode_reply,
    invoke_message, message_invocation,
};
/// The consumer parameter that makes requests compressed (Dubbo's `dubbo.rpc.tri.compressor`;
/// `gzip`, `zstd`, or `identity`, the default). Replies are accepted gzip- or
/// zstd-compressed always.
pub const COMPRESSOR_KEY: &str = "dubbo.rpc.tri.compressor";
pub use handler::{Handler, HandlerFuture, MessageStream, Methods, StreamingMethod};
/// The protobuf runtime the messages are built with (re-exported for [`prost::Message`]).
pub use prost;
pub use routes::TonicService;
pub use server::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_CONTENT_TYPE, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT_BYTES, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_MAX_STREAMS_PER_CONNECTION, DEFAULT_SHUTDOWN_GRACE, ServerHandle, TripleServer, TripleServerBuilder,
};
/// gRPC status codes, metadata and compression encodings as tonic defines them.
pub use tonic::{Code, Status, codec::CompressionEncoding, metadata::MetadataMap};
