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

mod clock;
pub mod encoding;
mod error;
pub mod host;
mod invocation;
mod invoker;
pub mod keys;
pub mod limits;
mod matching;
pub mod metrics;
mod no_provider;
mod params;
mod rpc_error;
mod stats;
pub mod sync;
pub mod text;
pub mod trace;
mod url;

pub use clock::{monotonic_ms, wall_clock_ms};
pub use error::UrlError;
pub use invocation::Invocation;
pub use invoker::{InvokeFuture, Invoker, InvokerFactory, Response};
pub use matching::{is_match, is_match_category, is_match_glob, is_match_glob_with, list_contains};
pub use no_provider::NoProviderReason;
pub use params::{Params, java_cmp};
pub use rpc_error::{RemoteStatus, RpcError, RpcErrorKind};
pub use stats::{CallGuard, CallStats, DEFAULT_WINDOW, HotStats, MethodStats, WINDOW_BUCKETS};
pub use url::{Url, service_key};
