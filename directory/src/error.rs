//! Errors of the directory: bad rules (reported and skipped) and "no provider".

use std::fmt;
use std::sync::Arc;

use thiserror::Error;
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
}

/// Why a directory has no provider for a call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoProviderReason {
    /// The registry has not delivered the provider list yet.
    NotNotified,
    /// The registry says there is no provider (`empty://` or an empty read).
    NoneRegistered,
    /// Providers are registered but every one is disabled (`disabled=true` / `enabled=false`).
    AllDisabled {
        /// How many are registered.
        registered: usize,
    },
    /// Providers are registered but none speaks a protocol the consumer accepts.
    FilteredByProtocol {
        /// How many are registered.
        registered: usize,
        /// The consumer's `protocol` list.
        accepted: String,
    },
    /// Providers were excluded for several reasons.
    AllExcluded {
        /// How many are registered.
        registered: usize,
        /// How many are disabled.
        disabled: usize,
        /// How many speak another protocol.
        filtered_by_protocol: usize,
        /// How many could not get an invoker.
        invoker_failed: usize,
    },
    /// Routers removed every provider; names the rule that emptied the list.
    RoutedAway {
        /// How many providers there were before routing.
        available: usize,
        /// The rule (router URL or `tag router`) whose result was empty.
        rule: String,
    },
    /// The method is not served by any provider after routing.
    NoMember,
    /// The directory was destroyed.
    Destroyed,
}

impl fmt::Display for NoProviderReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoProviderReason::NotNotified => f.write_str("the registry has not delivered the provider list yet"),
            NoProviderReason::NoneRegistered => f.write_str("no provider is registered"),
            NoProviderReason::AllDisabled { registered } => {
                write!(f, "{registered} registered but all disabled")
            }
            NoProviderReason::FilteredByProtocol { registered, accepted } => {
                write!(
                    f,
                    "{registered} registered but all filtered by protocol (consumer accepts {accepted})"
                )
            }
            NoProviderReason::AllExcluded {
                registered,
                disabled,
                filtered_by_protocol,
                invoker_failed,
            } => write!(
                f,
                "{registered} registered but none usable ({disabled} disabled, {filtered_by_protocol} filtered by \
                 protocol, {invoker_failed} could not be connected)"
            ),
            NoProviderReason::RoutedAway { available, rule } => {
                write!(f, "{available} available but routed away by rule {rule}")
            }
            NoProviderReason::NoMember => f.write_str("the directory has no member"),
            NoProviderReason::Destroyed => f.write_str("the directory has been destroyed"),
        }
    }
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
        RpcError::NoProvider {
            message: e.reason.to_string(),
            context: format!("{}, method {}", e.service, e.method),
        }
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
