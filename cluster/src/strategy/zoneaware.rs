//! `zone-aware`: choose a registry, then let that registry's cluster choose the provider.
//!
//! Members are the per-registry cluster invokers of a multi-registry reference
//! ([`RegistryInvoker`]). Order of choice, as in Dubbo: the available registry marked
//! `preferred=true`; then the available registry whose `zone` equals the call's zone
//! (attachment `registry_zone`, else the consumer's `registry_zone` param), and if there is
//! none and `registry_zone_force=true`, an error; then load balancing by registry `weight`
//! (default 100) if the pick is available; then the first available registry; then the first.

use std::sync::Arc;

use zkdubbo_common::InvokeFuture;
use zkdubbo_common::{Invocation, Invoker, NoProviderReason, RpcError, Url, keys};

use crate::invoker::Strategy;
use crate::support::ClusterBase;

/// Registry URL param: this registry is preferred.
pub const PREFERRED_KEY: &str = "preferred";
/// Registry URL param: the registry's zone.
pub const ZONE_KEY: &str = "zone";
/// Attachment (or consumer param): the zone a call wants.
pub const REGISTRY_ZONE: &str = "registry_zone";
/// Attachment (or consumer param): fail when no registry of the wanted zone is available.
pub const REGISTRY_ZONE_FORCE: &str = "registry_zone_force";
/// Member URL param holding the registry's `preferred` flag.
pub const MEMBER_PREFERRED_KEY: &str = "registry.preferred";
/// Member URL param holding the registry's zone.
pub const MEMBER_ZONE_KEY: &str = "registry.zone";
/// Member URL param holding the registry's URL.
pub const MEMBER_REGISTRY_KEY: &str = "registry.address";
/// Response attachment set by a [`RegistryInvoker`]: the registry the provider was found in.
pub const SERVED_BY_REGISTRY: &str = "zkdubbo.served-by-registry";

/// The cluster invoker of one registry, presented as a member of a multi-registry
/// reference: its URL is the consumer URL plus the registry's `preferred`, `zone`, `weight`
/// and address (as `registry.preferred`, `registry.zone`, `weight`, `registry.address`).
pub struct RegistryInvoker {
    url: Url,
    registry: Url,
    inner: Arc<dyn Invoker>,
}

impl std::fmt::Debug for RegistryInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryInvoker")
            .field("registry", &self.registry.to_string())
            .finish_non_exhaustive()
    }
}

impl RegistryInvoker {
    /// Wrap `inner` (a cluster invoker over the directory of `registry`).
    pub fn new(registry: &Url, inner: Arc<dyn Invoker>) -> Self {
        // `registry://<registry address>/<interface>?<consumer params>`: the member's identity
        // (what call statistics are keyed by) differs per registry.
        let consumer = inner.url();
        let mut url = Url::new("registry", registry.host(), registry.port(), consumer.path())
            .with_param_map(consumer.params().clone())
            .with_param(MEMBER_REGISTRY_KEY, registry.to_string())
            .with_param(keys::WEIGHT, registry.param_or(keys::WEIGHT, "100"));
        if registry.param_bool(PREFERRED_KEY, false) {
            url.set_param(MEMBER_PREFERRED_KEY, "true");
        }
        if let Some(zone) = registry.param(ZONE_KEY).filter(|z| !z.is_empty()) {
            url.set_param(MEMBER_ZONE_KEY, zone);
        }
        RegistryInvoker {
            url,
            registry: registry.clone(),
            inner,
        }
    }

    /// The registry's URL.
    pub fn registry(&self) -> &Url {
        &self.registry
    }

    /// Whether the registry is marked `preferred=true`.
    pub fn is_preferred(&self) -> bool {
        self.url.param_bool(MEMBER_PREFERRED_KEY, false)
    }

    /// The registry's zone.
    pub fn zone(&self) -> Option<&str> {
        self.url.param(MEMBER_ZONE_KEY)
    }
}

impl Invoker for RegistryInvoker {
    fn url(&self) -> &Url {
        &self.url
    }

    fn is_available(&self) -> bool {
        self.inner.is_available()
    }

    fn destroy(&self) {
        self.inner.destroy();
    }

    fn invoke<'a>(&'a self, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let mut r = self.inner.invoke(inv).await?;
            r.attachments
                .entry(SERVED_BY_REGISTRY.to_owned())
                .or_insert_with(|| self.registry.address());
            Ok(r)
        })
    }
}

/// The `zone-aware` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZoneAwareCluster;

impl Strategy for ZoneAwareCluster {
    const NAME: &'static str = "zone-aware";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let listed = base.list(inv)?;
            let members = listed.providers();
            let available = |i: usize| members[i].invoker().is_available();
            if let Some(i) =
                (0..members.len()).find(|&i| available(i) && members[i].url().param_bool(MEMBER_PREFERRED_KEY, false))
            {
                return base.call(&listed, i, inv).await;
            }
            let zone = inv
                .attachment(REGISTRY_ZONE)
                .or_else(|| base.url().param(REGISTRY_ZONE))
                .filter(|z| !z.is_empty());
            if let Some(zone) = zone {
                if let Some(i) =
                    (0..members.len()).find(|&i| available(i) && members[i].url().param(MEMBER_ZONE_KEY) == Some(zone))
                {
                    return base.call(&listed, i, inv).await;
                }
                let force = inv
                    .attachment(REGISTRY_ZONE_FORCE)
                    .or_else(|| base.url().param(REGISTRY_ZONE_FORCE))
                    .is_some_and(|f| f.eq_ignore_ascii_case("true"));
                if force {
                    return Err(RpcError::no_provider(
                        NoProviderReason::NoneInZone {
                            zone: zone.to_owned(),
                            registries: members
                                .iter()
                                .map(|m| {
                                    format!(
                                        "{} (zone {})",
                                        m.url().param_or(MEMBER_REGISTRY_KEY, "?"),
                                        m.url().param_or(MEMBER_ZONE_KEY, "-")
                                    )
                                })
                                .collect(),
                        },
                        base.context(inv),
                    ));
                }
            }
            if let Some(i) = listed
                .prepared()
                .pick(inv)
                .filter(|&i| i < members.len() && available(i))
            {
                return base.call(&listed, i, inv).await;
            }
            let i = (0..members.len()).find(|&i| available(i)).unwrap_or(0);
            base.call(&listed, i, inv).await
        })
    }
}
