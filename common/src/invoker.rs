//! The transport seam: an [`Invoker`] sends one [`Invocation`] to one provider, an
//! [`InvokerFactory`] turns a provider URL into an invoker (ARCHITECTURE: Transports).
//!
//! This is deliberately small: the directory only needs to create, share and destroy
//! invokers; the cluster layer calls [`Invoker::invoke`] and adds its context to the
//! [`RpcError`].
//!
//! ```
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::sync::Arc;
//! use zkdubbo_common::{Invocation, Url};
//! use zkdubbo_common::{Invoker, InvokerFactory, Response, RpcError};
//!
//! struct Echo(Url);
//! impl Invoker for Echo {
//!     fn url(&self) -> &Url { &self.0 }
//!     fn invoke<'a>(&'a self, inv: &'a Invocation)
//!         -> Pin<Box<dyn Future<Output = Result<Response, RpcError>> + Send + 'a>> {
//!         Box::pin(async move { Ok(Response::new(inv.payload().clone())) })
//!     }
//! }
//! struct EchoFactory;
//! impl InvokerFactory for EchoFactory {
//!     fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
//!         Ok(Arc::new(Echo(url.clone())))
//!     }
//! }
//! let invoker = EchoFactory.create(&"tri://10.0.0.7:50051/com.foo.Bar".parse().unwrap()).unwrap();
//! assert!(invoker.is_available());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::invocation::Invocation;
use crate::rpc_error::RpcError;
use crate::url::Url;

/// The future an [`Invoker`] returns.
pub type InvokeFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, RpcError>> + Send + 'a>>;

/// One provider endpoint that can be called.
///
/// Invokers are shared (`Arc<dyn Invoker>`) between directory snapshots: a parameter change of
/// the provider keeps the same invoker (ARCHITECTURE: Invokers by identity), so [`Invoker::url`] is the URL it was
/// created with, not necessarily the latest merged one (the directory keeps that).
pub trait Invoker: Send + Sync {
    /// The URL this invoker was created for.
    fn url(&self) -> &Url;

    /// Whether the endpoint can take calls right now (e.g. connected). Default: always.
    fn is_available(&self) -> bool {
        true
    }

    /// Release the endpoint (close connections). Called once when its provider leaves the
    /// directory; calls already in flight hold their own reference and may finish.
    fn destroy(&self) {}

    /// Send `inv` and wait for the answer.
    fn invoke<'a>(&'a self, inv: &'a Invocation) -> InvokeFuture<'a>;
}

impl fmt::Debug for dyn Invoker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invoker").field("url", &self.url().to_string()).finish()
    }
}

/// Turns a provider URL into an [`Invoker`] (a transport client for that endpoint).
pub trait InvokerFactory: Send + Sync {
    /// Create the invoker for `url` (the provider URL merged with the consumer's parameters).
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError>;
}

/// A successful answer: the encoded result and the attachments sent back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The encoded result body.
    pub payload: Bytes,
    /// Attachments returned by the provider.
    pub attachments: BTreeMap<String, String>,
    /// The protocol that answered (`tri`, `dubbo`), when the transport says: how the payload
    /// is encoded.
    pub protocol: Option<&'static str>,
}

impl Response {
    /// A response with `payload` and no attachments.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Response {
            payload: payload.into(),
            attachments: BTreeMap::new(),
            protocol: None,
        }
    }

    /// Mark the protocol that answered.
    pub fn with_protocol(mut self, protocol: &'static str) -> Self {
        self.protocol = Some(protocol);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Url);
    impl Invoker for Fixed {
        fn url(&self) -> &Url {
            &self.0
        }
        fn invoke<'a>(&'a self, _inv: &'a Invocation) -> InvokeFuture<'a> {
            Box::pin(async { Err(RpcError::timeout("after 1000 ms", "x")) })
        }
    }

    #[test]
    fn defaults() {
        let inv: Arc<dyn Invoker> = Arc::new(Fixed("tri://h:1/s".parse().unwrap()));
        assert!(inv.is_available());
        inv.destroy();
        assert!(format!("{inv:?}").contains("tri://h:1/s"));
    }
}
