//! The shared vocabulary of zkdubbo: the Dubbo [`Url`] and its ZooKeeper node-name encoding,
//! consumer/provider [matching](is_match), and the [`Invocation`] a call carries.
//!
//! ```
//! use zkdubbo_common::{Url, is_match};
//! let provider = Url::from_node_name(
//!     "dubbo%3A%2F%2F10.0.0.5%3A20880%2Fcom.foo.Bar%3Fside%3Dprovider%26version%3D1.0",
//! ).unwrap();
//! let consumer: Url = "consumer://10.0.0.1/com.foo.Bar?version=1.0".parse().unwrap();
//! assert!(is_match(&consumer, &provider));
//! ```

#![forbid(unsafe_code)]

pub mod clock;
pub mod encoding;
pub mod error;
pub mod host;
pub mod invocation;
pub mod invoker;
pub mod keys;
pub mod matching;
pub mod no_provider;
pub mod params;
pub mod rpc_error;
pub mod stats;
pub mod sync;
pub mod url;

pub use clock::wall_clock_ms;
pub use error::UrlError;
pub use invocation::Invocation;
pub use invoker::{InvokeFuture, Invoker, InvokerFactory, Response};
pub use matching::{is_match, is_match_category, is_match_glob, is_match_glob_with, list_contains};
pub use no_provider::NoProviderReason;
pub use params::Params;
pub use rpc_error::{RemoteStatus, RpcError, RpcErrorKind};
pub use stats::{CallGuard, CallStats, MethodStats};
pub use url::{Url, service_key};
