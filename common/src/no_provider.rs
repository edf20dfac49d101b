//! Why no provider could be chosen for a call: the directory's and the cluster's reasons,
//! carried by [`RpcError::NoProvider`](crate::RpcError::NoProvider).

use std::fmt;

/// Why a directory has no provider for a call.
#[non_exhaustive]
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
        /// How many are not callable (no host, or `empty://` among other URLs).
        no_address: usize,
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
    /// The reference was shut down.
    ShutDown,
    /// Providers were listed, but the cluster could select none of them (all already tried,
    /// or unavailable).
    NoneSelectable {
        /// How many were listed.
        listed: usize,
    },
    /// Providers were listed, but none is available (connected) now.
    NoneAvailable {
        /// The listed providers' addresses.
        listed: Vec<String>,
    },
    /// `registry_zone_force=true` and no registry of the zone has an available provider.
    NoneInZone {
        /// The zone asked for.
        zone: String,
        /// The registries, with their zone and availability.
        registries: Vec<String>,
    },
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
                no_address,
            } => write!(
                f,
                "{registered} registered but none usable ({disabled} disabled, {filtered_by_protocol} filtered by \
                 protocol, {invoker_failed} could not be connected, {no_address} with no address)"
            ),
            NoProviderReason::RoutedAway { available, rule } => {
                write!(f, "{available} available but routed away by rule {rule}")
            }
            NoProviderReason::NoMember => f.write_str("the directory has no member"),
            NoProviderReason::Destroyed => f.write_str("the directory has been destroyed"),
            NoProviderReason::ShutDown => f.write_str("the reference has been shut down"),
            NoProviderReason::NoneSelectable { listed } => {
                write!(f, "no provider could be selected among the {listed} listed")
            }
            NoProviderReason::NoneAvailable { listed } => {
                write!(
                    f,
                    "none of the {} listed provider(s) is available: {listed:?}",
                    listed.len()
                )
            }
            NoProviderReason::NoneInZone { zone, registries } => write!(
                f,
                "no registry in zone {zone} has an available provider (registry_zone_force=true); registries: \
                 {registries:?}"
            ),
        }
    }
}
