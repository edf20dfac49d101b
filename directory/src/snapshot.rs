//! The immutable snapshot a directory publishes: providers, the method → routed providers
//! map, and what is needed to explain an empty result (DESIGN B1).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::SystemTime;

use zkdubbo_common::{Invocation, Invoker, Url, keys};

use crate::configurator::Configurators;
use crate::error::{NoProviderError, NoProviderReason, ServiceInfo};
use crate::router::tag::{self, TagGroups};
use crate::router::{RouterChain, RouterScope};

/// One usable provider: the URL a consumer sees (provider merged with the consumer's
/// parameters, configurators applied) and the shared invoker for its endpoint.
pub struct Member {
    url: Url,
    registered: Url,
    identity: Arc<str>,
    invoker: Arc<dyn Invoker>,
}

impl Member {
    /// A member from its merged URL, the URL it was registered with, and its invoker.
    pub fn new(url: Url, registered: Url, identity: Arc<str>, invoker: Arc<dyn Invoker>) -> Self {
        Member {
            url,
            registered,
            identity,
            invoker,
        }
    }

    /// A member for an invoker used as is (static directories).
    pub fn from_invoker(invoker: Arc<dyn Invoker>) -> Self {
        let url = invoker.url().clone();
        Member {
            identity: url.identity().into(),
            registered: url.clone(),
            url,
            invoker,
        }
    }

    /// The merged, configured URL: what load balancing and the cluster read.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL as the provider registered it.
    pub fn registered_url(&self) -> &Url {
        &self.registered
    }

    /// `protocol://host:port/path`: the key invokers are shared by.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The invoker (shared by every snapshot while the provider stays).
    pub fn invoker(&self) -> &Arc<dyn Invoker> {
        &self.invoker
    }
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member").field("url", &self.url.to_string()).finish()
    }
}

/// A routed provider list, shared between calls.
#[derive(Debug, Default)]
pub struct Route {
    providers: Arc<[Arc<Member>]>,
    emptied_by: Option<Arc<str>>,
}

impl Route {
    /// A route over `providers`; `emptied_by` names the rule that left it empty.
    pub fn new(providers: Arc<[Arc<Member>]>, emptied_by: Option<Arc<str>>) -> Self {
        Route { providers, emptied_by }
    }

    /// The providers.
    pub fn providers(&self) -> &Arc<[Arc<Member>]> {
        &self.providers
    }

    /// The rule that emptied this route, if one did.
    pub fn emptied_by(&self) -> Option<&str> {
        self.emptied_by.as_deref()
    }
}

/// The result of [`Snapshot::list`]: a shared route from the snapshot, or a list built for
/// this call when a per-call router filtered it.
#[derive(Debug, Clone)]
pub enum Listed {
    /// Shared with every other call (no allocation).
    Shared(Arc<Route>),
    /// Built for this call.
    Owned(Arc<[Arc<Member>]>),
}

impl Listed {
    /// The providers to choose from (never empty when returned by `list`).
    pub fn providers(&self) -> &[Arc<Member>] {
        match self {
            Listed::Shared(r) => &r.providers,
            Listed::Owned(v) => v,
        }
    }

    /// Whether the list is shared with the snapshot (not built for this call).
    pub fn is_shared(&self) -> bool {
        matches!(self, Listed::Shared(_))
    }
}

impl std::ops::Deref for Listed {
    type Target = [Arc<Member>];
    fn deref(&self) -> &[Arc<Member>] {
        self.providers()
    }
}

/// How one method's providers are obtained at call time.
#[derive(Debug)]
pub enum MethodRoute {
    /// Fully routed at refresh time.
    Fixed(Arc<Route>),
    /// Routed at refresh time except for the tag router, pre-computed as groups.
    Tagged {
        /// The list before the tag router.
        base: Arc<Route>,
        /// The groups by provider tag.
        groups: TagGroups<Arc<Route>>,
    },
    /// Routed at refresh time up to router `from`; the rest per call.
    PerCall {
        /// The list before the per-call routers.
        base: Arc<Route>,
        /// Index of the first router that runs per call.
        from: usize,
    },
}

impl MethodRoute {
    /// The list before any per-call step.
    pub fn base(&self) -> &Arc<Route> {
        match self {
            MethodRoute::Fixed(r) => r,
            MethodRoute::Tagged { base, .. } | MethodRoute::PerCall { base, .. } => base,
        }
    }
}

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
}

/// A small, fast hasher for method names and identities (FxHash's mixing step); keys come
/// from the registry, not from callers, so hash flooding is not a concern on this path.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w) ^ (rest.len() as u64) << 56).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` using [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// One published state of a directory. Immutable; readers never lock.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) version: u64,
    pub(crate) changed_at: SystemTime,
    pub(crate) consumer: Url,
    pub(crate) info: Arc<ServiceInfo>,
    pub(crate) notified: bool,
    pub(crate) destroyed: bool,
    pub(crate) providers: Arc<[Arc<Member>]>,
    pub(crate) methods: FastMap<Box<str>, Arc<MethodRoute>>,
    pub(crate) any: Arc<MethodRoute>,
    pub(crate) chain: Arc<RouterChain>,
    pub(crate) configurators: Arc<Configurators>,
    pub(crate) counts: Counts,
    pub(crate) excluded: Arc<[(Url, Exclusion)]>,
    pub(crate) warnings: Arc<[String]>,
    pub(crate) groups: Vec<(Arc<str>, Arc<Snapshot>)>,
}

impl Snapshot {
    /// A snapshot with nothing in it yet.
    pub fn empty(consumer: Url, info: Arc<ServiceInfo>) -> Self {
        let any = Arc::new(MethodRoute::Fixed(Arc::new(Route::default())));
        Snapshot {
            version: 0,
            changed_at: SystemTime::now(),
            consumer,
            info,
            notified: false,
            destroyed: false,
            providers: Arc::from(Vec::new()),
            methods: FastMap::default(),
            any,
            chain: Arc::new(RouterChain::default()),
            configurators: Arc::new(Configurators::new()),
            counts: Counts::default(),
            excluded: Arc::from(Vec::new()),
            warnings: Arc::from(Vec::new()),
            groups: Vec::new(),
        }
    }

    /// Build a snapshot: route `providers` for every method they declare and for the rest.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        version: u64,
        consumer: Url,
        info: Arc<ServiceInfo>,
        providers: Arc<[Arc<Member>]>,
        chain: Arc<RouterChain>,
        configurators: Arc<Configurators>,
        counts: Counts,
        notified: bool,
    ) -> Self {
        let builder = RouteBuilder {
            consumer: &consumer,
            chain: &chain,
        };
        let any = Arc::new(builder.method_route(providers.clone(), None));
        let mut methods: FastMap<Box<str>, Arc<MethodRoute>> = FastMap::default();
        let method_sensitive = chain.is_method_sensitive();
        let mut full_route: Option<Arc<MethodRoute>> = (!method_sensitive).then(|| any.clone());
        for (method, list) in method_lists(&providers) {
            let route = match list {
                None => match &full_route {
                    Some(r) => r.clone(),
                    None => {
                        let r = Arc::new(builder.method_route(providers.clone(), Some(method)));
                        if !method_sensitive {
                            full_route = Some(r.clone());
                        }
                        r
                    }
                },
                Some(list) => Arc::new(builder.method_route(list, Some(method))),
            };
            methods.insert(method.into(), route);
        }
        Snapshot {
            version,
            changed_at: SystemTime::now(),
            consumer,
            info,
            notified,
            destroyed: false,
            providers,
            methods,
            any,
            chain,
            configurators,
            counts,
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
        self.methods.iter().map(|(k, v)| (&**k, v))
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
        let route = self.method_route(inv.method());
        let listed = match &**route {
            MethodRoute::Fixed(r) => {
                if r.providers.is_empty() {
                    return Err(self.no_provider(inv, r.emptied_by.as_deref()));
                }
                Listed::Shared(r.clone())
            }
            MethodRoute::Tagged { base, groups } => {
                let tag = tag::request_tag(&self.consumer, Some(inv));
                let force = tag.is_some() && tag::force_tag(&self.consumer, Some(inv));
                match groups.select(tag, force) {
                    Some(r) => Listed::Shared(r.clone()),
                    None => {
                        let rule = if base.providers.is_empty() {
                            base.emptied_by.clone()
                        } else {
                            Some(Arc::from(crate::router::Router::Tag.name()))
                        };
                        return Err(self.no_provider(inv, rule.as_deref()));
                    }
                }
            }
            MethodRoute::PerCall { base, from } => {
                if base.providers.is_empty() {
                    return Err(self.no_provider(inv, base.emptied_by.as_deref()));
                }
                let routed = self.chain.route(
                    *from..self.chain.routers().len(),
                    base.providers.to_vec(),
                    |m: &Arc<Member>| m.url(),
                    &self.consumer,
                    Some(inv.method()),
                    Some(inv),
                );
                if routed.providers.is_empty() {
                    return Err(self.no_provider(inv, routed.emptied_by.as_deref()));
                }
                if routed.providers.len() == base.providers.len() {
                    Listed::Shared(base.clone())
                } else {
                    Listed::Owned(Arc::from(routed.providers))
                }
            }
        };
        Ok(listed)
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

struct RouteBuilder<'a> {
    consumer: &'a Url,
    chain: &'a RouterChain,
}

impl RouteBuilder<'_> {
    fn method_route(&self, providers: Arc<[Arc<Member>]>, method: Option<&str>) -> MethodRoute {
        let prefix = self.chain.static_prefix(method);
        let base = if prefix == 0 || providers.is_empty() {
            Route::new(providers, None)
        } else {
            let routed = self.chain.route(
                0..prefix,
                providers.to_vec(),
                |m: &Arc<Member>| m.url(),
                self.consumer,
                method,
                None,
            );
            if routed.providers.len() == providers.len() {
                Route::new(providers, None)
            } else {
                Route::new(Arc::from(routed.providers), routed.emptied_by)
            }
        };
        let base = Arc::new(base);
        if prefix == self.chain.routers().len() {
            MethodRoute::Fixed(base)
        } else if self.chain.rest_is_tag_only(prefix) {
            let list = base.providers.clone();
            let groups = TagGroups::build(
                &list,
                |m: &Arc<Member>| m.url(),
                |idx| {
                    let members: Arc<[Arc<Member>]> = if idx.len() == list.len() {
                        list.clone()
                    } else {
                        idx.iter().map(|&i| list[i].clone()).collect()
                    };
                    Arc::new(Route::new(members, None))
                },
            );
            MethodRoute::Tagged { base, groups }
        } else {
            debug_assert!(self.chain.routers()[prefix].scope() != RouterScope::Refresh);
            MethodRoute::PerCall { base, from: prefix }
        }
    }
}

/// A provider list shared between snapshots and routes.
pub type Members = Arc<[Arc<Member>]>;

/// For every method some provider declares (`methods` param): `None` when every provider
/// serves it (the full list is shared), else the providers declaring it plus those that
/// declare no methods at all.
fn method_lists(providers: &Members) -> Vec<(&str, Option<Members>)> {
    // Group providers by their `methods` string: usually very few distinct strings.
    let mut groups: FastMap<&str, Vec<usize>> = FastMap::default();
    let mut undeclared: Vec<usize> = Vec::new();
    for (i, m) in providers.iter().enumerate() {
        match m.url().param(keys::METHODS).filter(|s| !s.is_empty()) {
            Some(list) => groups.entry(list).or_default().push(i),
            None => undeclared.push(i),
        }
    }
    let mut by_method: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for list in groups.keys() {
        for method in list
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty() && *m != keys::ANY_VALUE)
        {
            let owners = by_method.entry(method).or_default();
            if !owners.contains(list) {
                owners.push(list);
            }
        }
    }
    by_method
        .into_iter()
        .map(|(method, owners)| {
            if owners.len() == groups.len() {
                return (method, None);
            }
            let mut idx: Vec<usize> = owners.iter().flat_map(|o| groups[o].iter().copied()).collect();
            idx.extend_from_slice(&undeclared);
            idx.sort_unstable();
            (method, Some(idx.into_iter().map(|i| providers[i].clone()).collect()))
        })
        .collect()
}
