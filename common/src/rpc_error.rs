//! Why a call failed: [`RpcError`], one variant per thing a caller does differently, each
//! with typed payloads (the provider's status code, the no-provider reason, the transport's
//! cause) and a context naming the service, method and provider.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::no_provider::NoProviderReason;

/// The status a provider answered a failed call with, in its protocol's terms.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteStatus {
    /// A gRPC status code (Triple): its number, as `tonic::Code::from(i32)` reads it
    /// (`zkdubbo::triple::Code`).
    Grpc(i32),
    /// A dubbo:// response status byte.
    Dubbo(u8),
    /// The protocol gave no status (or the error was made by the consumer on the provider's
    /// behalf, e.g. a merger that cannot merge the answers).
    Unknown,
}

impl fmt::Display for RemoteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteStatus::Grpc(code) => write!(f, "gRPC status {code}"),
            RemoteStatus::Dubbo(status) => write!(f, "dubbo status {status}"),
            RemoteStatus::Unknown => f.write_str("no status"),
        }
    }
}

/// Why a call failed.
///
/// `Display` says what happened and where (`<kind>: <what> (<service, method, provider...>)`);
/// the variants carry what a caller branches on:
///
/// ```
/// use zkdubbo_common::{RemoteStatus, RpcError};
/// fn retry_later(e: &RpcError) -> bool {
///     match e {
///         RpcError::Business { status: RemoteStatus::Grpc(14), .. } => true, // UNAVAILABLE
///         RpcError::Timeout { .. } | RpcError::Transport { .. } => true,
///         _ => false,
///     }
/// }
/// let e = RpcError::remote(RemoteStatus::Grpc(5), "NOT_FOUND: no such user", "service com.foo.Users");
/// assert!(!retry_later(&e));
/// assert_eq!(e.to_string(), "business error: NOT_FOUND: no such user (service com.foo.Users)");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// The provider ran the call and answered with an error: never retried.
    #[error("business error: {message} ({context})")]
    Business {
        /// The status the provider answered with.
        status: RemoteStatus,
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
        /// The underlying error, when there is one.
        #[source]
        source: Option<Arc<dyn StdError + Send + Sync>>,
    },
    /// No answer in time.
    #[error("timeout: {message} ({context})")]
    Timeout {
        /// What timed out, and after how long.
        message: String,
        /// Where (service, method, provider).
        context: String,
    },
    /// No provider could be chosen.
    #[error("no provider: {reason} ({context})")]
    NoProvider {
        /// Why: the directory's or the cluster's reason.
        reason: NoProviderReason,
        /// Which service, group, version, registry and method.
        context: String,
    },
    /// A request or reply could not be encoded or decoded. The provider may have run the
    /// call, so it is not retried.
    #[error("codec error: {message} ({context})")]
    Codec {
        /// What could not be encoded or decoded.
        message: String,
        /// Where (service, method, provider).
        context: String,
    },
}

/// The kind of an [`RpcError`], without its payload: what a caller branches on.
#[non_exhaustive]
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
    /// A request or reply could not be encoded or decoded.
    Codec,
}

impl fmt::Display for RpcErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RpcErrorKind::Business => "business",
            RpcErrorKind::Transport => "transport",
            RpcErrorKind::Timeout => "timeout",
            RpcErrorKind::NoProvider => "no-provider",
            RpcErrorKind::Codec => "codec",
        })
    }
}

impl RpcError {
    /// A [`RpcError::Business`] error with the provider's `status`.
    pub fn remote(status: RemoteStatus, message: impl Into<String>, context: impl Into<String>) -> Self {
        RpcError::Business {
            status,
            message: message.into(),
            context: context.into(),
        }
    }

    /// A [`RpcError::Business`] error without a protocol status.
    pub fn business(message: impl Into<String>, context: impl Into<String>) -> Self {
        Self::remote(RemoteStatus::Unknown, message, context)
    }

    /// A [`RpcError::Transport`] error.
    pub fn transport(message: impl Into<String>, context: impl Into<String>) -> Self {
        RpcError::Transport {
            message: message.into(),
            context: context.into(),
            source: None,
        }
    }

    /// A [`RpcError::Transport`] error caused by `source` (kept for [`StdError::source`]).
    pub fn transport_caused_by(
        message: impl Into<String>,
        context: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        RpcError::Transport {
            message: message.into(),
            context: context.into(),
            source: Some(Arc::new(source)),
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
    pub fn no_provider(reason: NoProviderReason, context: impl Into<String>) -> Self {
        RpcError::NoProvider {
            reason,
            context: context.into(),
        }
    }

    /// A [`RpcError::Codec`] error.
    pub fn codec(message: impl Into<String>, context: impl Into<String>) -> Self {
        RpcError::Codec {
            message: message.into(),
            context: context.into(),
        }
    }

    /// The kind of error.
    ///
    /// ```
    /// use zkdubbo_common::{RpcError, RpcErrorKind};
    /// assert_eq!(RpcError::timeout("after 1000 ms", "com.foo.Bar").kind(), RpcErrorKind::Timeout);
    /// ```
    pub fn kind(&self) -> RpcErrorKind {
        match self {
            RpcError::Business { .. } => RpcErrorKind::Business,
            RpcError::Transport { .. } => RpcErrorKind::Transport,
            RpcError::Timeout { .. } => RpcErrorKind::Timeout,
            RpcError::NoProvider { .. } => RpcErrorKind::NoProvider,
            RpcError::Codec { .. } => RpcErrorKind::Codec,
        }
    }

    /// Whether this is a [`RpcError::Business`] error (which failover never retries).
    pub fn is_business(&self) -> bool {
        matches!(self, RpcError::Business { .. })
    }

    /// The provider's status, for a [`RpcError::Business`] error.
    pub fn remote_status(&self) -> Option<RemoteStatus> {
        match self {
            RpcError::Business { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The no-provider reason, for a [`RpcError::NoProvider`] error.
    pub fn no_provider_reason(&self) -> Option<&NoProviderReason> {
        match self {
            RpcError::NoProvider { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// What went wrong, without the context.
    pub fn message(&self) -> String {
        match self {
            RpcError::Business { message, .. }
            | RpcError::Transport { message, .. }
            | RpcError::Timeout { message, .. }
            | RpcError::Codec { message, .. } => message.clone(),
            RpcError::NoProvider { reason, .. } => reason.to_string(),
        }
    }

    /// Where it went wrong (service, method, provider, registry...).
    pub fn context(&self) -> &str {
        match self {
            RpcError::Business { context, .. }
            | RpcError::Transport { context, .. }
            | RpcError::Timeout { context, .. }
            | RpcError::NoProvider { context, .. }
            | RpcError::Codec { context, .. } => context,
        }
    }

    /// Whether retrying on another provider may help: transport errors and timeouts. Business
    /// and codec errors (the provider may have run the call) and no-provider errors are not
    /// retryable.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RpcError::Transport { .. } | RpcError::Timeout { .. })
    }

    /// The same kind of error, with its payload (status, reason, cause), restated with a new
    /// message and context: what a cluster strategy reports after several attempts. A
    /// no-provider error keeps its reason and takes the message into its context.
    ///
    /// ```
    /// use zkdubbo_common::{RemoteStatus, RpcError};
    /// let last = RpcError::remote(RemoteStatus::Grpc(13), "INTERNAL: boom", "provider 10.0.0.5:50051");
    /// let e = last.restated("failed after 3 attempts; last error: INTERNAL: boom", "service com.foo.Bar");
    /// assert_eq!(e.remote_status(), Some(RemoteStatus::Grpc(13)));
    /// assert_eq!(e.context(), "service com.foo.Bar");
    /// ```
    pub fn restated(self, message: impl Into<String>, context: impl Into<String>) -> Self {
        let (message, context) = (message.into(), context.into());
        match self {
            RpcError::Business { status, .. } => RpcError::Business {
                status,
                message,
                context,
            },
            RpcError::Transport { source, .. } => RpcError::Transport {
                message,
                context,
                source,
            },
            RpcError::Timeout { .. } => RpcError::Timeout { message, context },
            RpcError::Codec { .. } => RpcError::Codec { message, context },
            RpcError::NoProvider { reason, .. } => RpcError::NoProvider {
                reason,
                context: if context.is_empty() {
                    message
                } else {
                    format!("{context}; {message}")
                },
            },
        }
    }

    /// The same error with `extra` added to its context (`context; extra`), e.g. the cluster
    /// strategy and the providers tried.
    ///
    /// ```
    /// use zkdubbo_common::RpcError;
    /// let e = RpcError::transport("connection refused", "provider 10.0.0.5:50051").with_context("cluster failfast");
    /// assert_eq!(e.context(), "provider 10.0.0.5:50051; cluster failfast");
    /// ```
    pub fn with_context(mut self, extra: impl fmt::Display) -> Self {
        let context = match &mut self {
            RpcError::Business { context, .. }
            | RpcError::Transport { context, .. }
            | RpcError::Timeout { context, .. }
            | RpcError::NoProvider { context, .. }
            | RpcError::Codec { context, .. } => context,
        };
        if context.is_empty() {
            *context = extra.to_string();
        } else {
            *context = format!("{context}; {extra}");
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_kind_the_reason_and_the_context() {
        let e = RpcError::no_provider(NoProviderReason::NoneRegistered, "com.foo.Bar");
        assert_eq!(e.to_string(), "no provider: no provider is registered (com.foo.Bar)");
        assert!(!e.is_business());
        assert_eq!(e.no_provider_reason(), Some(&NoProviderReason::NoneRegistered));
        assert!(RpcError::business("m", "c").is_business());
        assert_eq!(
            RpcError::business("m", "c").remote_status(),
            Some(RemoteStatus::Unknown)
        );
        assert_eq!(RpcError::codec("bad reply", "c").kind(), RpcErrorKind::Codec);
        assert!(!RpcError::codec("bad reply", "c").is_retryable());
    }

    #[test]
    fn a_transport_error_keeps_its_cause() {
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = RpcError::transport_caused_by("cannot connect", "provider 10.0.0.5:50051", cause);
        let source = StdError::source(&e).expect("the cause is the source");
        assert_eq!(source.to_string(), "refused");
        assert!(e.is_retryable());
        let e = e.with_context("cluster failover");
        assert!(StdError::source(&e).is_some(), "adding context keeps the cause");
    }
}
