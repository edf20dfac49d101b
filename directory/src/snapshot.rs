//! The immutable snapshot a directory publishes: providers, the method → routed providers
//! map, and what is needed to explain an empty result (ARCHITECTURE: Snapshots).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use zkdubbo_common::{Invocation, Invoker, Url, keys};
use zkdubbo_loadbalance::{MethodWeights, PreparedSet, WeightSpec};

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
    /// `dubbo.tag` and `methods` of `url`, read once.
    tag: Option<Box<str>>,
    methods: Option<Box<str>>,
    /// What every prepared set reads of `url`, computed once per member (and carried over
    /// from the previous member of the same provider when only parameters changed): `url`'s
    /// address and identity, and its weight inputs.
    address: Arc<str>,
    url_identity: Arc<str>,
    weights: MethodWeights,
    /// The last refresh of its directory that listed this member's identity (bookkeeping of
    /// the directory's refresh, under its lock).
    claimed: AtomicU64,
}

impl Member {
    /// A member from its merged URL, the URL it was registered with, and its invoker.
    pub fn new(url: Url, registered: Url, identity: Arc<str>, invoker: Arc<dyn Invoker>) -> Self {
        Self::build(url, registered, identity, invoker, None)
    }

    /// A member for the same provider as `prev` (same endpoint, new parameters): keeps
    /// `prev`'s invoker and re-uses its cached address and identity strings.
    pub(crate) fn update(prev: &Member, url: Url, registered: Url, identity: Arc<str>) -> Self {
        Self::build(url, registered, identity, prev.invoker.clone(), Some(prev))
    }

    fn build(url: Url, registered: Url, identity: Arc<str>, invoker: Arc<dyn Invoker>, prev: Option<&Member>) -> Self {
        let same_endpoint = |p: &&Member| {
            p.url.host() == url.host()
                && p.url.port() == url.port()
                && p.url.protocol() == url.protocol()
                && p.url.path() == url.path()
        };
        let (address, url_identity) = match prev.filter(same_endpoint) {
            Some(p) => (p.address.clone(), p.url_identity.clone()),
            None => {
                let url_identity: Arc<str> = if is_identity_of(&identity, &url) {
                    identity.clone()
                } else {
                    url.identity().into()
                };
                // `protocol://` + address + (`/path`): the address cut out of the identity
                // instead of formatted again.
                let start = url.protocol().len() + 3;
                let end = url_identity.len() - if url.path().is_empty() { 0 } else { url.path().len() + 1 };
                (Arc::from(&url_identity[start..end]), url_identity)
            }
        };
        Member {
            tag: tag::provider_tag(&url).map(Into::into),
            methods: url.param(keys::METHODS).filter(|m| !m.is_empty()).map(Into::into),
            weights: MethodWeights::of(&url),
            address,
            url_identity,
            url,
            registered,
            identity,
            invoker,
            claimed: AtomicU64::new(0),
        }
    }

    /// The last refresh that listed this member's identity.
    pub(crate) fn claimed_by(&self) -> u64 {
        self.claimed.load(Ordering::Relaxed)
    }

    /// Mark this member's identity as listed by `refresh`.
    pub(crate) fn claim(&self, refresh: u64) {
        self.claimed.store(refresh, Ordering::Relaxed);
    }

    /// A member for an invoker used as is (static directories).
    pub fn from_invoker(invoker: Arc<dyn Invoker>) -> Self {
        let url = invoker.url().clone();
        Member::new(url.clone(), url.clone(), url.identity().into(), invoker)
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

    /// The provider's `dubbo.tag`, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The provider's `methods` list, if it declares one.
    pub fn methods(&self) -> Option<&str> {
        self.methods.as_deref()
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

impl zkdubbo_loadbalance::Provider for Member {
    fn url(&self) -> &Url {
        &self.url
    }

    /// Cached when the member was made.
    fn address(&self) -> Arc<str> {
        self.address.clone()
    }

    /// Cached when the member was made.
    fn identity(&self) -> Arc<str> {
        self.url_identity.clone()
    }

    /// Cached when the member was made, unless the URL has method-level weights.
    fn weight_spec(&self, method: &str) -> WeightSpec {
        self.weights.for_method(&self.url, method)
    }
}

/// Whether `id` is `url.identity()` (`protocol://host[:port][/path]`), without formatting it.
fn is_identity_of(id: &str, url: &Url) -> bool {
    let Some(rest) = id
        .strip_prefix(url.protocol())
        .and_then(|r| r.strip_prefix("://"))
        .and_then(|r| r.strip_prefix(url.host()))
    else {
        return false;
    };
    let rest = match url.port() {
        None => rest,
        Some(port) => {
            let Some(r) = rest.strip_prefix(':') else { return false };
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            let (num, r) = r.split_at(digits);
            // `u16`'s decimal form: no sign, no leading zero (but "0" itself).
            if num.is_empty() || (num.len() > 1 && num.starts_with('0')) || num.parse::<u16>().ok() != Some(port) {
                return false;
            }
            r
        }
    };
    if url.path().is_empty() {
        rest.is_empty()
    } else {
        rest.strip_prefix('/') == Some(url.path())
    }
}

/// A routed provider list for one method, prepared for load balancing, shared between calls.
pub struct Route {
    set: PreparedSet<Arc<Member>>,
    emptied_by: Option<Arc<str>>,
}

impl Route {
    /// Prepare `providers` for `method`; `emptied_by` names the rule that left it empty.
    pub fn new(providers: Members, method: &str, emptied_by: Option<Arc<str>>) -> Self {
        Route {
            set: PreparedSet::new(providers, method),
            emptied_by,
        }
    }

    /// The providers.
    pub fn providers(&self) -> &Members {
        self.set.providers_arc()
    }

    /// The prepared load-balancing set over [`Route::providers`].
    pub fn prepared(&self) -> &PreparedSet<Arc<Member>> {
        &self.set
    }

    /// The rule that emptied this route, if one did.
    pub fn emptied_by(&self) -> Option<&str> {
        self.emptied_by.as_deref()
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("set", &self.set)
            .field("emptied_by", &self.emptied_by)
            .finish()
    }
}

/// The result of [`Snapshot::list`]: a route shared with the snapshot, or one built for this
/// call when a per-call router filtered the list. Dereferences to the providers.
#[derive(Debug, Clone)]
pub struct Listed {
    route: Arc<Route>,
    shared: bool,
}

impl Listed {
    /// A listed route; `shared` says whether it comes from the snapshot.
    pub fn new(route: Arc<Route>, shared: bool) -> Self {
        Listed { route, shared }
    }

    /// The providers to choose from (never empty when returned by `list`).
    pub fn providers(&self) -> &[Arc<Member>] {
        self.route.providers()
    }

    /// The prepared set to hand to a [`LoadBalance`](zkdubbo_loadbalance::LoadBalance).
    pub fn prepared(&self) -> &PreparedSet<Arc<Member>> {
        self.route.prepared()
    }

    /// The route.
    pub fn route(&self) -> &Arc<Route> {
        &self.route
    }

    /// Whether the list is shared with the snapshot (not built for this call).
    pub fn is_shared(&self) -> bool {
        self.shared
    }
}

impl std::ops::Deref for Listed {
    type Target = [Arc<Member>];
    fn deref(&self) -> &[Arc<Member>] {
        self.providers()
    }
}

/// Method name → route. A short list is scanned (length first, then bytes): cheaper than
/// hashing for the handful of methods a service usually has; long lists use a hash map.
#[derive(Debug, Default)]
pub(crate) struct MethodTable {
    list: Vec<(Box<str>, Arc<MethodRoute>)>,
    map: Option<FastMap<Box<str>, Arc<MethodRoute>>>,
}

/// Up to this many methods are scanned instead of hashed.
const SCAN_METHODS: usize = 16;

impl MethodTable {
    fn new(map: FastMap<Box<str>, Arc<MethodRoute>>) -> Self {
        if map.len() <= SCAN_METHODS {
            let mut list: Vec<_> = map.into_iter().collect();
            list.sort_by(|a, b| a.0.cmp(&b.0));
            MethodTable { list, map: None }
        } else {
            MethodTable {
                list: Vec::new(),
                map: Some(map),
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, method: &str) -> Option<&Arc<MethodRoute>> {
        match &self.map {
            Some(map) => map.get(method),
            None => {
                let wanted = method.as_bytes();
                self.list
                    .iter()
                    .find(|(k, _)| {
                        let k = k.as_bytes();
                        k.len() == wanted.len() && k.iter().zip(wanted).all(|(a, b)| a == b)
                    })
                    .map(|(_, v)| v)
            }
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (&str, &Arc<MethodRoute>)> + '_> {
        match &self.map {
            Some(map) => Box::new(map.iter().map(|(k, v)| (&**k, v))),
            None => Box::new(self.list.iter().map(|(k, v)| (&**k, v))),
        }
    }
}

enum Found<'a> {
    Shared(&'a Arc<Route>),
    Owned(Arc<Route>),
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
#[derive(Default, Clone, Copy, Debug)]
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

    /// Build a snapshot: route the providers for every method they declare and for the rest
    /// (`*`), and prepare a load-balancing set per route. Routes of `prev` whose providers
    /// are unchanged are re-used as they are.
    pub(crate) fn build(parts: SnapshotParts, prev: Option<&Snapshot>) -> Self {
        let SnapshotParts {
            version,
            consumer,
            info,
            providers,
            chain,
            configurators,
            counts,
            notified,
        } = parts;
        let builder = RouteBuilder {
            consumer: &consumer,
            chain: &chain,
        };
        // Routing (cheap) first, sequentially: one shape per method, shared where equal.
        let any_shape = builder.shape(providers.clone(), None);
        let method_sensitive = chain.is_method_sensitive();
        let mut full_shape: Option<Shape> = (!method_sensitive).then(|| any_shape.clone());
        let mut jobs: Vec<(&str, Shape, Option<&MethodRoute>)> = Vec::new();
        let lists = method_lists(&providers);
        for (method, list) in &lists {
            let prev_route = prev.and_then(|p| p.methods.get(method)).map(|r| &**r);
            let shape = match list {
                None => match &full_shape {
                    Some(shape) => shape.clone(),
                    None => {
                        let shape = builder.shape(providers.clone(), Some(method));
                        if !method_sensitive {
                            full_shape = Some(shape.clone());
                        }
                        shape
                    }
                },
                Some(list) => builder.shape(list.clone(), Some(method)),
            };
            jobs.push((method, shape, prev_route));
        }
        jobs.push((keys::ANY_VALUE, any_shape, prev.map(|p| &*p.any)));
        // Then the load-balancing sets: re-used from `prev` where a route's providers are
        // unchanged; a list already prepared for another method of this snapshot shares its
        // addresses and identities (only the per-method weight inputs are read again).
        let mut built: Vec<Arc<Route>> = Vec::new();
        let mut routes: Vec<(&str, Arc<MethodRoute>)> = jobs
            .into_iter()
            .map(|(method, shape, prev)| (method, Arc::new(shape.materialize(method, prev, &mut built))))
            .collect();
        let any = routes.pop().map(|(_, r)| r).unwrap_or_else(|| {
            Arc::new(MethodRoute::Fixed(Arc::new(Route::new(
                Arc::from(Vec::new()),
                keys::ANY_VALUE,
                None,
            ))))
        });
        let methods: FastMap<Box<str>, Arc<MethodRoute>> = routes.into_iter().map(|(m, r)| (m.into(), r)).collect();
        Snapshot {
            version,
            changed_at: SystemTime::now(),
            consumer_tag: tag::request_tag(&consumer, None).map(Into::into),
            consumer_force_tag: tag::force_tag(&consumer, None),
            consumer,
            info,
            notified,
            complete: false,
            destroyed: false,
            providers,
            methods: MethodTable::new(methods),
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
                    _ => Err(self.no_provider(inv, Some(&crate::router::Router::Tag.name()))),
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

/// What [`Snapshot::build`] needs.
pub(crate) struct SnapshotParts {
    pub(crate) version: u64,
    pub(crate) consumer: Url,
    pub(crate) info: Arc<ServiceInfo>,
    pub(crate) providers: Members,
    pub(crate) chain: Arc<RouterChain>,
    pub(crate) configurators: Arc<Configurators>,
    pub(crate) counts: Counts,
    pub(crate) notified: bool,
}

/// The routing result for one method, before load-balancing sets are prepared: shared
/// between methods whose routing is the same.
#[derive(Clone)]
struct Shape {
    base: Members,
    emptied_by: Option<Arc<str>>,
    rest: Rest,
}

#[derive(Clone)]
enum Rest {
    Done,
    Tag(TagGroups<Members>),
    PerCall(usize),
}

impl Shape {
    /// Prepare the sets for `method`, re-using those of `prev` with the same providers.
    fn materialize(&self, method: &str, prev: Option<&MethodRoute>, built: &mut Vec<Arc<Route>>) -> MethodRoute {
        let base = route_for(&self.base, method, self.emptied_by.clone(), prev, None, built);
        match &self.rest {
            Rest::Done => MethodRoute::Fixed(base),
            Rest::PerCall(from) => MethodRoute::PerCall { base, from: *from },
            Rest::Tag(groups) => {
                let groups = groups.map(|members| route_for(members, method, None, prev, Some(&base), built));
                MethodRoute::Tagged { base, groups }
            }
        }
    }
}

/// A route over `members`: `also` or a route of `prev` when one has exactly these members,
/// else a newly prepared one (from a route in `built` with these members, prepared for
/// another method, when there is one; then added to `built`).
fn route_for(
    members: &Members,
    method: &str,
    emptied_by: Option<Arc<str>>,
    prev: Option<&MethodRoute>,
    also: Option<&Arc<Route>>,
    built: &mut Vec<Arc<Route>>,
) -> Arc<Route> {
    let same = |r: &&Arc<Route>| same_members(r.providers(), members) && r.emptied_by == emptied_by;
    if let Some(r) = also.filter(same) {
        return r.clone();
    }
    if let Some(prev) = prev {
        let found = match prev {
            MethodRoute::Fixed(r) | MethodRoute::PerCall { base: r, .. } => Some(r).filter(same),
            MethodRoute::Tagged { base, groups } => Some(base).filter(same).or_else(|| groups.iter().find(same)),
        };
        if let Some(r) = found {
            return r.clone();
        }
    }
    let route = match built.iter().find(|r| same_members(r.providers(), members)) {
        Some(like) => Route {
            set: like.set.for_method(method),
            emptied_by,
        },
        None => Route::new(members.clone(), method, emptied_by),
    };
    let route = Arc::new(route);
    built.push(route.clone());
    route
}

fn same_members(a: &Members, b: &Members) -> bool {
    Arc::ptr_eq(a, b) || (a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| Arc::ptr_eq(x, y)))
}

struct RouteBuilder<'a> {
    consumer: &'a Url,
    chain: &'a RouterChain,
}

impl RouteBuilder<'_> {
    fn shape(&self, providers: Members, method: Option<&str>) -> Shape {
        let prefix = self.chain.static_prefix(method);
        let (base, emptied_by) = if prefix == 0 || providers.is_empty() {
            (providers, None)
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
                (providers, None)
            } else {
                (Arc::from(routed.providers), routed.emptied_by)
            }
        };
        let rest = if prefix == self.chain.routers().len() {
            Rest::Done
        } else if self.chain.rest_is_tag_only(prefix) {
            let list = base.clone();
            Rest::Tag(TagGroups::build(
                &list,
                |m: &Arc<Member>| m.tag(),
                |idx| {
                    if idx.len() == list.len() {
                        list.clone()
                    } else {
                        idx.iter().map(|&i| list[i].clone()).collect()
                    }
                },
            ))
        } else {
            debug_assert!(self.chain.routers()[prefix].scope() != RouterScope::Refresh);
            Rest::PerCall(prefix)
        };
        Shape { base, emptied_by, rest }
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
        match m.methods() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_check_agrees_with_url_identity() {
        let urls = [
            "dubbo://10.0.0.5:20880/com.foo.Bar?a=1",
            "dubbo://10.0.0.5/com.foo.Bar",
            "tri://10.0.0.7:50051?service=x",
            "dubbo://[::1]:0/a/b",
            "dubbo://h:1",
        ];
        let others = [
            "dubbo://10.0.0.5:20880/com.foo.Bar",
            "dubbo://10.0.0.5:020880/com.foo.Bar",
            "dubbo://10.0.0.5:20880/com.foo.Baz",
            "dubbo://10.0.0.5:2088/com.foo.Bar",
            "tri://10.0.0.5:20880/com.foo.Bar",
            "dubbo://10.0.0.5/com.foo.Bar",
            "dubbo://10.0.0.5:20880/com.foo.Bar/",
            "tri://10.0.0.7:50051",
            "tri://10.0.0.7:50051/",
            "dubbo://[::1]:0/a/b",
            "dubbo://[::1]:00/a/b",
            "dubbo://h:1",
            "dubbo://h:1x",
        ];
        for u in urls {
            let url: Url = u.parse().unwrap();
            assert!(is_identity_of(&url.identity(), &url), "{u}");
            let invoker = zkdubbo_common::InvokerFactory::create(&crate::inert::InertInvokerFactory, &url).unwrap();
            for identity in [url.identity(), "bogus".to_owned()] {
                let member = Member::new(url.clone(), url.clone(), identity.into(), invoker.clone());
                assert_eq!(
                    zkdubbo_loadbalance::Provider::address(&member).as_ref(),
                    url.address(),
                    "{u}"
                );
                assert_eq!(
                    zkdubbo_loadbalance::Provider::identity(&member).as_ref(),
                    url.identity(),
                    "{u}"
                );
            }
            for id in others {
                assert_eq!(is_identity_of(id, &url), id == url.identity(), "{u} vs {id}");
            }
        }
    }
}
