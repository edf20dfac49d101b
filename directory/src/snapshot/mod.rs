//! The immutable snapshot a directory publishes: providers, the method → routed providers
//! map, and what is needed to explain an empty result (ARCHITECTURE: Snapshots). This file
//! holds the snapshot and its read path; `build.rs` how one is built.

mod build;

use std::sync::Arc;
use std::time::SystemTime;

use zkdubbo_common::{Invocation, Url, keys};

use crate::configurator::Configurators;
use crate::error::{NoProviderError, NoProviderReason, ServiceInfo};
use crate::member::Member;
use crate::route::{Found, Listed, MethodRoute, MethodTable, Route};
use crate::router::RouterChain;
use crate::router::tag;

pub(crate) use build::SnapshotParts;

/// Why registered providers are not in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exclusion {
    /// `disabled=true` or `enabled=false` (possibly set by a configurator).
    Disabled,
    /// Its protocol is not in the consumer's `protocol` list.
    Protocol,
    /// The invoker factory failed for it.
    InvokerFailed,
    /// Another registered URL has the same identity.
    DuplicateIdentity,
    /// Not a provider that can be called: no host, or an `empty://` URL in a list of others.
    NoAddress,
}

/// What was registered and what was excluded.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    /// Provider URLs in the latest notification.
    pub registered: usize,
    /// Excluded as disabled.
    pub disabled: usize,
    /// Excluded by the protocol filter.
    pub filtered_by_protocol: usize,
    /// Excluded because no invoker could be created.
    pub invoker_failed: usize,
    /// Excluded as duplicates of another URL with the same identity.
    pub duplicates: usize,
    /// Excluded as not callable: no host, or `empty://` among other URLs.
    pub no_address: usize,
}

/// One published state of a directory. Immutable; readers never lock.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) version: u64,
    pub(crate) changed_at: SystemTime,
    pub(crate) consumer: Url,
    pub(crate) info: Arc<ServiceInfo>,
    pub(crate) notified: bool,
    pub(crate) complete: bool,
    pub(crate) destroyed: bool,
    pub(crate) providers: Arc<[Arc<Member>]>,
    pub(crate) methods: MethodTable,
    pub(crate) any: Arc<MethodRoute>,
    pub(crate) chain: Arc<RouterChain>,
    pub(crate) configurators: Arc<Configurators>,
    pub(crate) counts: Counts,
    pub(crate) excluded: Arc<[(Url, Exclusion)]>,
    pub(crate) warnings: Arc<[String]>,
    pub(crate) groups: Vec<(Arc<str>, Arc<Snapshot>)>,
    /// The consumer's own `dubbo.tag` and `dubbo.force.tag`, looked up once.
    consumer_tag: Option<Box<str>>,
    consumer_force_tag: bool,
}

impl Snapshot {
    /// The final snapshot of a destroyed directory: no provider, every call answered with
    /// [`NoProviderReason::Destroyed`].
    pub(crate) fn destroyed(consumer: Url, info: Arc<ServiceInfo>, version: u64) -> Self {
        Snapshot {
            version,
            destroyed: true,
            notified: true,
            complete: true,
            ..Snapshot::empty(consumer, info)
        }
    }

    /// A snapshot with nothing in it yet.
    pub fn empty(consumer: Url, info: Arc<ServiceInfo>) -> Self {
        let any = Arc::new(MethodRoute::Fixed(Arc::new(Route::new(
            Arc::from(Vec::new()),
            keys::ANY_VALUE,
            None,
        ))));
        Snapshot {
            version: 0,
            changed_at: SystemTime::now(),
            consumer_tag: tag::request_tag(&consumer, None).map(Into::into),
            consumer_force_tag: tag::force_tag(&consumer, None),
            consumer,
            info,
            notified: false,
            complete: false,
            destroyed: false,
            providers: Arc::from(Vec::new()),
            methods: MethodTable::default(),
            any,
            chain: Arc::new(RouterChain::default()),
            configurators: Arc::new(Configurators::new()),
            counts: Counts::default(),
            excluded: Arc::from(Vec::new()),
            warnings: Arc::from(Vec::new()),
            groups: Vec::new(),
        }
    }

    /// The version: increases by one on every published change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When this snapshot was built.
    pub fn changed_at(&self) -> SystemTime {
        self.changed_at
    }

    /// The consumer URL.
    pub fn consumer(&self) -> &Url {
        &self.consumer
    }

    /// Every usable provider, before routing.
    pub fn providers(&self) -> &Arc<[Arc<Member>]> {
        &self.providers
    }

    /// The methods with their own route (declared by some provider).
    pub fn methods(&self) -> impl Iterator<Item = (&str, &Arc<MethodRoute>)> {
        self.methods.iter()
    }

    /// The route for `method` (the `*` route for methods no provider declares).
    pub fn method_route(&self, method: &str) -> &Arc<MethodRoute> {
        self.methods.get(method).unwrap_or(&self.any)
    }

    /// The router chain in force.
    pub fn routers(&self) -> &Arc<RouterChain> {
        &self.chain
    }

    /// The configurators in force.
    pub fn configurators(&self) -> &Arc<Configurators> {
        &self.configurators
    }

    /// Registered and excluded counts.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Registered provider URLs left out, and why.
    pub fn excluded(&self) -> &[(Url, Exclusion)] {
        &self.excluded
    }

    /// Warnings about rules that were ignored.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether this snapshot is the final one of a destroyed directory.
    pub fn is_destroyed(&self) -> bool {
        self.destroyed
    }

    /// Information about the service, for messages.
    pub fn info(&self) -> &Arc<ServiceInfo> {
        &self.info
    }

    /// Whether every subscribed category (providers, configurators, routers) has been
    /// received at least once.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Whether the provider list has been received at least once.
    pub fn is_notified(&self) -> bool {
        self.notified
    }

    /// Per-group snapshots of a multi-group consumer (`group=a,b` or `*`), by group name.
    pub fn groups(&self) -> &[(Arc<str>, Arc<Snapshot>)] {
        &self.groups
    }

    /// The routed providers for `inv`: shared from the snapshot unless a per-call router
    /// filtered the list.
    ///
    /// # Errors
    /// [`NoProviderError`] naming the service, group, version, registry and reason.
    pub fn list(&self, inv: &Invocation) -> Result<Listed, NoProviderError> {
        Ok(match self.find(inv)? {
            Found::Shared(r) => Listed::new(r.clone(), true),
            Found::Owned(r) => Listed::new(r, false),
        })
    }

    /// Run `f` on the routed providers for `inv` without taking a reference count on them:
    /// the cheapest way to list and pick (clone only the chosen member).
    ///
    /// # Errors
    /// [`NoProviderError`] as [`Snapshot::list`].
    #[inline]
    pub fn with_route<R>(&self, inv: &Invocation, f: impl FnOnce(&Route) -> R) -> Result<R, NoProviderError> {
        Ok(match self.find(inv)? {
            Found::Shared(r) => f(r),
            Found::Owned(r) => f(&r),
        })
    }

    #[inline]
    fn find(&self, inv: &Invocation) -> Result<Found<'_>, NoProviderError> {
        let route = self.method_route(inv.method());
        match &**route {
            MethodRoute::Fixed(r) => {
                if r.providers().is_empty() {
                    return Err(self.no_provider(inv, r.emptied_by()));
                }
                Ok(Found::Shared(r))
            }
            MethodRoute::Tagged { base, groups } => {
                let tag = inv
                    .attachment(keys::TAG)
                    .filter(|t| !t.is_empty())
                    .or(self.consumer_tag.as_deref());
                match groups.select(tag, false) {
                    Some(r) if tag.is_none() || groups.has_tag(tag) || !self.force_tag(inv) => Ok(Found::Shared(r)),
                    _ if base.providers().is_empty() => Err(self.no_provider(inv, base.emptied_by())),
                    _ => Err(self.no_provider(inv, Some(&crate::router::Router::Tag(None).name()))),
                }
            }
            MethodRoute::PerCall { base, from } => {
                if base.providers().is_empty() {
                    return Err(self.no_provider(inv, base.emptied_by()));
                }
                let routed = self.chain.route(
                    *from..self.chain.routers().len(),
                    base.providers().to_vec(),
                    |m: &Arc<Member>| m.url(),
                    &self.consumer,
                    Some(inv.method()),
                    Some(inv),
                );
                if routed.providers.is_empty() {
                    return Err(self.no_provider(inv, routed.emptied_by.as_deref()));
                }
                if routed.providers.len() == base.providers().len() {
                    Ok(Found::Shared(base))
                } else {
                    Ok(Found::Owned(Arc::new(Route::new(
                        Arc::from(routed.providers),
                        inv.method(),
                        None,
                    ))))
                }
            }
        }
    }

    /// Whether the request tag is forced: attachment `dubbo.force.tag`, else the consumer's.
    fn force_tag(&self, inv: &Invocation) -> bool {
        match inv.attachment(keys::FORCE_TAG).filter(|t| !t.is_empty()) {
            Some(v) => v.eq_ignore_ascii_case("true"),
            None => self.consumer_force_tag,
        }
    }

    /// The error for a call that finds no provider.
    pub fn no_provider(&self, inv: &Invocation, emptied_by: Option<&str>) -> NoProviderError {
        let reason = if self.destroyed {
            NoProviderReason::Destroyed
        } else if !self.notified {
            NoProviderReason::NotNotified
        } else if self.providers.is_empty() {
            let c = &self.counts;
            if c.registered == 0 {
                NoProviderReason::NoneRegistered
            } else if c.disabled == c.registered {
                NoProviderReason::AllDisabled {
                    registered: c.registered,
                }
            } else if c.filtered_by_protocol == c.registered {
                NoProviderReason::FilteredByProtocol {
                    registered: c.registered,
                    accepted: self.consumer.param(keys::PROTOCOL).unwrap_or_default().to_owned(),
                }
            } else {
                NoProviderReason::AllExcluded {
                    registered: c.registered,
                    disabled: c.disabled,
                    filtered_by_protocol: c.filtered_by_protocol,
                    invoker_failed: c.invoker_failed + c.duplicates,
                    no_address: c.no_address,
                }
            }
        } else {
            NoProviderReason::RoutedAway {
                available: self.providers.len(),
                rule: emptied_by.unwrap_or("(unknown)").to_owned(),
            }
        };
        NoProviderError {
            service: self.info.clone(),
            method: inv.method().to_owned(),
            reason,
        }
    }
}
