//! The transport seam: an [`Invoker`] sends one [`Invocation`] to one provider, an
//! [`InvokerFactory`] turns a provider URL into an invoker (ARCHITECTURE: Transports).
//!
//! This is deliberately small: the directory only needs to create, share and destroy
//! invokers; the cluster layer calls [`Invoker::invoke`] and will enrich [`RpcError`].
//!
//! ```
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::sync::Arc;
//! use zkdubbo_common::{Invocation, Url};
//! use zkdubbo_common::invoker::{Invoker, InvokerFactory, Response, RpcError};
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
}

impl Response {
    /// A response with `payload` and no attachments.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Response {
            payload: payload.into(),
            attachments: BTreeMap::new(),
        }
    }
}

/// Why a call failed. Each variant carries a human message and the context (service,
/// method, provider...) as text; the cluster layer will enrich this type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The provider answered with an application error: never retried.
    #[error("business error: {message} ({context})")]
    Business {
        /// What the provider said.
        message: String,
        /// Where (service, method, provider).
        context: String,
    },
    /// The call could not be delivered or the connection failed.
    #[error("transport error: {message} ({context})")]
    Transport {
        /// What went wrong.
        message: String,
        /// Where (service, method, provider).
        context: String,
    },
    /// No answer in time.
    #[error("timeout: {message} ({context})")]
    Timeout {
        /// What timed out, and after how long.
        message: String,
        /// Where (service, method, provider).
        context: String,
    },
    /// No provider could be chosen (the directory's or load balancer's explanation).
    #[error("no provider: {message} ({context})")]
    NoProvider {
        /// Why there is no provider.
        message: String,
        /// Which service, group, version and registry.
        context: String,
    },
}

/// The kind of an [`RpcError`], without its text: what a caller branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpcErrorKind {
    /// The provider ran the call and answered with an error.
    Business,
    /// The call could not be delivered or the connection failed.
    Transport,
    /// No answer in time.
    Timeout,
    /// No provider could be chosen.
    NoProvider,
}

impl fmt::Display for RpcErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RpcErrorKind::Business => "business",
            RpcErrorKind::Transport => "transport",
            RpcErrorKind::Timeout => "timeout",
            RpcErrorKind::NoProvider => "no-provider",
        })
    }
}

impl RpcError {
    /// Whether this is a [`RpcError::Business`] error (which failover never retries).
    pub fn is_business(&self) -> bool {
        matches!(self, RpcError::Business { .. })
    }

    /// A [`RpcError::Business`] error.
    pub fn business(message: impl Into<String>, context: impl Into<String>) -> Self {
        RpcError::Business {
            message: message.into(),
            context: context.into(),
        }
    }

    /// A [`RpcError::Transport`] error.
    pub fn transport(message: impl Into<String>, context: impl Into<String>) -> Self {
        RpcError::Transport {
            message: message.into(),
            context: context.into(),
        }
    }

    /// A [`RpcError::Timeout`] error.
    pub fn timeout(message: impl Into<String>, context: impl Into<String>) -> Self {
        RpcError::Timeout {
            message: message.into(),
            context: context.into(),
        }
    }

    /// A [`RpcError::NoProvider`] error.
    pub fn no_provider(message: impl Into<String>, context: impl Into<String>) -> Self {
        RpcError::NoProvider {
            message: message.into(),
            context: context.into(),
        }
    }

    /// A new error of `kind`.
    pub fn of_kind(kind: RpcErrorKind, message: impl Into<String>, context: impl Into<String>) -> Self {
        match kind {
            RpcErrorKind::Business => RpcError::business(message, context),
            RpcErrorKind::Transport => RpcError::transport(message, context),
            RpcErrorKind::Timeout => RpcError::timeout(message, context),
            RpcErrorKind::NoProvider => RpcError::no_provider(message, context),
        }
    }

    /// The kind of error.
    ///
    /// ```
    /// use zkdubbo_common::invoker::{RpcError, RpcErrorKind};
    /// assert_eq!(RpcError::timeout("after 1000 ms", "com.foo.Bar").kind(), RpcErrorKind::Timeout);
    /// ```
    pub fn kind(&self) -> RpcErrorKind {
        match self {
            RpcError::Business { .. } => RpcErrorKind::Business,
            RpcError::Transport { .. } => RpcErrorKind::Transport,
            RpcError::Timeout { .. } => RpcErrorKind::Timeout,
            RpcError::NoProvider { .. } => RpcErrorKind::NoProvider,
        }
    }

    /// What went wrong (without the context).
    pub fn message(&self) -> &str {
        match self {
            RpcError::Business { message, .. }
            | RpcError::Transport { message, .. }
            | RpcError::Timeout { message, .. }
            | RpcError::NoProvider { message, .. } => message,
        }
    }

    /// Where it went wrong (service, method, provider, registry...).
    pub fn context(&self) -> &str {
        match self {
            RpcError::Business { context, .. }
            | RpcError::Transport { context, .. }
            | RpcError::Timeout { context, .. }
            | RpcError::NoProvider { context, .. } => context,
        }
    }

    /// Whether retrying on another provider may help: transport errors and timeouts. Business
    /// errors (the provider ran the call) and no-provider errors are not retryable.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RpcError::Transport { .. } | RpcError::Timeout { .. })
    }

    /// The same error with `extra` added to its context (`context; extra`), e.g. the cluster
    /// strategy and the providers tried.
    ///
    /// ```
    /// use zkdubbo_common::RpcError;
    /// let e = RpcError::transport("connection refused", "provider 10.0.0.5:50051").with_context("cluster failfast");
    /// assert_eq!(e.context(), "provider 10.0.0.5:50051; cluster failfast");
    /// ```
    pub fn with_context(self, extra: impl fmt::Display) -> Self {
        let kind = self.kind();
        let (message, context) = match self {
            RpcError::Business { message, context }
            | RpcError::Transport { message, context }
            | RpcError::Timeout { message, context }
            | RpcError::NoProvider { message, context } => (message, context),
        };
        let context = if context.is_empty() {
            extra.to_string()
        } else {
            format!("{context}; {extra}")
        };
        RpcError::of_kind(kind, message, context)
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
            Box::pin(async {
                Err(RpcError::Timeout {
                    message: "after 1000 ms".into(),
                    context: "x".into(),
                })
            })
        }
    }

    #[test]
    fn defaults_and_messages() {
        let inv: Arc<dyn Invoker> = Arc::new(Fixed("tri://h:1/s".parse().unwrap()));
        assert!(inv.is_available());
        inv.destroy();
        assert!(format!("{inv:?}").contains("tri://h:1/s"));
        let e = RpcError::NoProvider {
            message: "none registered".into(),
            context: "com.foo.Bar".into(),
        };
        assert_eq!(e.to_string(), "no provider: none registered (com.foo.Bar)");
        assert!(!e.is_business());
        assert!(
            RpcError::Business {
                message: "m".into(),
                context: "c".into()
            }
            .is_business()
        );
    }
}
