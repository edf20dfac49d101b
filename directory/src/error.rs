//! Errors of the directory: bad rules (reported and skipped) and "no provider".

use std::fmt;
use std::sync::Arc;

use thiserror::Error;
pub use zkdubbo_common::NoProviderReason;
use zkdubbo_common::RpcError;

use crate::router::ConditionParseError;

/// A configurator or router rule that cannot be used. The rule is skipped with a warning;
/// the other rules and the last good state are kept.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    /// A rule URL with a protocol this category does not know.
    #[error("ignoring rule {rule}: unknown protocol {protocol:?}")]
    UnknownProtocol {
        /// The rule URL.
        rule: String,
        /// Its protocol.
        protocol: String,
    },
    /// An override/absent rule with no parameter to apply.
    #[error("ignoring rule {rule}: it has no parameter to apply")]
    NoParams {
        /// The rule URL.
        rule: String,
    },
    /// A condition rule that does not parse.
    #[error("ignoring rule {rule}: {} at byte {} of {expression:?}", error.syntax, error.position)]
    BadCondition {
        /// The rule URL.
        rule: String,
        /// The decoded condition expression.
        expression: String,
        /// Where and why it does not parse.
        error: ConditionParseError,
    },
    /// A condition router without a `rule` parameter, or one that does not decode.
    #[error("ignoring rule {rule}: {message}")]
    BadRuleParam {
        /// The rule URL.
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// A config-center rule node that cannot be used: its previous rules stay in force.
    #[error("ignoring the rule at {node} (the previous rules stay in force): {message}")]
    ConfigNode {
        /// The node's path.
        node: String,
        /// What is wrong.
        message: String,
    },
}

/// Who a directory serves, for error messages and descriptions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceInfo {
    /// The interface.
    pub service: String,
    /// The consumer's group.
    pub group: Option<String>,
    /// The consumer's version.
    pub version: Option<String>,
    /// The registry URL (or `static`).
    pub registry: String,
}

impl ServiceInfo {
    /// From the consumer URL and the registry's name.
    pub fn new(consumer: &zkdubbo_common::Url, registry: &str) -> Self {
        ServiceInfo {
            service: consumer.interface().to_owned(),
            group: consumer.group().map(str::to_owned),
            version: consumer.version().map(str::to_owned),
            registry: registry.to_owned(),
        }
    }
}

impl fmt::Display for ServiceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (group {}, version {}) from registry {}",
            self.service,
            self.group.as_deref().unwrap_or("-"),
            self.version.as_deref().unwrap_or("-"),
            self.registry
        )
    }
}

/// No provider for a call: names the service, group, version, registry, method and reason.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize)]
#[error("no provider for {service}, method {method}: {reason}")]
pub struct NoProviderError {
    /// Service, group, version and registry.
    pub service: Arc<ServiceInfo>,
    /// The method called.
    pub method: String,
    /// Why.
    pub reason: NoProviderReason,
}

impl From<NoProviderError> for RpcError {
    fn from(e: NoProviderError) -> Self {
        RpcError::no_provider(e.reason, format!("{}, method {}", e.service, e.method))
    }
}

/// Why a directory could not be created.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// Subscribing to the registry failed.
    #[error("cannot subscribe {consumer} on {registry}: {source}")]
    Subscribe {
        /// The consumer URL.
        consumer: String,
        /// The registry URL.
        registry: String,
        /// The registry's error.
        #[source]
        source: zkdubbo_registry::RegistryError,
    },
    /// The consumer URL names no interface.
    #[error("consumer URL {consumer} names no interface")]
    NoInterface {
        /// The consumer URL.
        consumer: String,
    },
}
