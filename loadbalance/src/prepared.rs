//! A provider set prepared for picking: built once per directory snapshot and method, read
//! by every pick.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use zkdubbo_common::{CallStats, HotStats, MethodStats};
use zkdubbo_common::{Invocation, wall_clock_ms};

use crate::balance::{LoadBalance, StrategyState};
use crate::ketama::HashSpec;
use crate::names::{by_name, strategy_name};
use crate::provider::Provider;
use crate::random::RandomLoadBalance;
use crate::table::WeightTable;
use crate::weight::WeightSpec;

/// How often, at most, warm-up weights are recomputed while a provider warms up.
pub const WARMUP_REFRESH_MS: u64 = 200;

/// Source of [`SetView::id`].
static SET_IDS: AtomicU64 = AtomicU64::new(1);

/// Providers prepared for one method: what the directory builds once per snapshot and
/// method, with the strategy their URLs configure bound in and its state prepared.
///
/// [`PreparedSet::pick`] picks with that strategy. The set dereferences to its [`SetView`],
/// the provider-type-free part the strategies read, so another strategy can pick from it too
/// (`lb.select(&set, &inv)`, an index into [`PreparedSet::providers`];
/// [`PreparedSet::select`] returns the provider itself).
///
/// ```
/// use zkdubbo_common::{Invocation, Url};
/// use zkdubbo_loadbalance::{PreparedSet, by_name};
///
/// let urls: Vec<Url> = ["dubbo://10.0.0.1:20880/com.foo.Bar?weight=1&loadbalance=roundrobin", "dubbo://10.0.0.2:20880/com.foo.Bar?weight=0"]
///     .iter().map(|s| s.parse().unwrap()).collect();
/// let set = PreparedSet::new(urls, "get");
/// assert_eq!(set.balancer().name(), "roundrobin", "bound from the first provider's URL");
/// assert_eq!(set.pick(&Invocation::new("get")), Some(0));
/// let lb = by_name("random").unwrap();
/// let picked = set.select(&*lb, &Invocation::new("get")).unwrap();
/// assert_eq!(picked.host(), "10.0.0.1");
/// ```
pub struct PreparedSet<P> {
    providers: Arc<[P]>,
    view: SetView,
}

impl<P: Provider> PreparedSet<P> {
    /// Prepare `providers` for `method`, at the current time and recording into
    /// [`CallStats::global`].
    pub fn new(providers: impl Into<Arc<[P]>>, method: &str) -> Self {
        Self::with_options(providers, method, wall_clock_ms(), Arc::clone(CallStats::global()))
    }

    /// Prepare `providers` for `method` as if the wall clock read `now_ms` now (it then
    /// advances with the monotonic clock), reading call statistics from `stats`.
    pub fn with_options(providers: impl Into<Arc<[P]>>, method: &str, now_ms: i64, stats: Arc<CallStats>) -> Self {
        let providers = providers.into();
        let view = SetView::build(&providers, method, now_ms, stats);
        PreparedSet { providers, view }
    }

    /// The same providers prepared for `method` (at the current time, with the same call
    /// statistics registry): shares this set's provider list, addresses and identities, and
    /// reads only the per-method parts again (weight inputs, hash parameters). Equivalent to
    /// `PreparedSet::new(self.providers_arc().clone(), method)` but cheaper.
    pub fn for_method(&self, method: &str) -> Self {
        let view = SetView::build_with(
            &self.providers,
            method,
            wall_clock_ms(),
            Arc::clone(&self.view.stats_source),
            Arc::clone(&self.view.addresses),
            Arc::clone(&self.view.identities),
        );
        PreparedSet {
            providers: Arc::clone(&self.providers),
            view,
        }
    }

    /// The providers, in the order the directory gave them.
    pub fn providers(&self) -> &[P] {
        &self.providers
    }

    /// The shared provider list.
    pub fn providers_arc(&self) -> &Arc<[P]> {
        &self.providers
    }

    /// The provider-type-free part the strategies read.
    pub fn view(&self) -> &SetView {
        &self.view
    }

    /// Pick a provider with the set's own strategy ([`SetView::balancer`]): an index into
    /// [`PreparedSet::providers`], `None` when the set is empty.
    #[inline]
    pub fn pick(&self, inv: &Invocation) -> Option<usize> {
        self.view.balancer.select(&self.view, inv)
    }

    /// Pick a provider with `lb`; `None` when the set is empty.
    #[inline]
    pub fn select(&self, lb: &dyn LoadBalance, inv: &Invocation) -> Option<&P> {
        lb.select(&self.view, inv).and_then(|i| self.providers.get(i))
    }
}

impl<P> Deref for PreparedSet<P> {
    type Target = SetView;

    fn deref(&self) -> &SetView {
        &self.view
    }
}

impl<P> std::fmt::Debug for PreparedSet<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.view.fmt(f)
    }
}

/// Weights while some provider warms up: the current table and when it was computed.
struct Warming {
    table: ArcSwap<WeightTable>,
    /// Monotonic ms since the set was built at which `table` was computed.
    computed_at: AtomicU64,
}

/// Everything the strategies read about a prepared set, independent of the provider type.
pub struct SetView {
    id: u64,
    method: Box<str>,
    service_key: Box<str>,
    /// Shared between the sets of one provider list ([`PreparedSet::for_method`]).
    addresses: Arc<[Arc<str>]>,
    identities: Arc<[Arc<str>]>,
    specs: Box<[WeightSpec]>,
    hash: HashSpec,
    built: Instant,
    built_wall_ms: i64,
    warm_at: Option<i64>,
    settled: OnceLock<WeightTable>,
    warming: Option<Warming>,
    stats_source: Arc<CallStats>,
    stats: OnceLock<Box<[Arc<MethodStats>]>>,
    hot: OnceLock<HotLayout>,
    /// The strategy resolved when the set was built.
    balancer: Arc<dyn LoadBalance>,
    /// What a strategy keeps for this set: prepared by [`SetView::balancer`] at build, or
    /// made on first use by the first strategy that needs some.
    state: OnceLock<StrategyState>,
}

impl SetView {
    /// Per provider: [`Provider::weight_spec`], [`Provider::address`] and
    /// [`Provider::identity`] (no parsing or formatting for providers that cache them); the
    /// service key and hash parameters from the first provider's URL.
    fn build<P: Provider>(providers: &[P], method: &str, now_ms: i64, stats: Arc<CallStats>) -> Self {
        let addresses: Arc<[Arc<str>]> = providers.iter().map(Provider::address).collect();
        let identities: Arc<[Arc<str>]> = providers.iter().map(Provider::identity).collect();
        Self::build_with(providers, method, now_ms, stats, addresses, identities)
    }

    /// [`SetView::build`] with the providers' addresses and identities already collected.
    fn build_with<P: Provider>(
        providers: &[P],
        method: &str,
        now_ms: i64,
        stats: Arc<CallStats>,
        addresses: Arc<[Arc<str>]>,
        identities: Arc<[Arc<str>]>,
    ) -> Self {
        let specs: Box<[WeightSpec]> = providers.iter().map(|p| p.weight_spec(method)).collect();
        let warm_at = specs.iter().filter_map(|s| s.warm_at(now_ms)).max();
        let first = WeightTable::at(&specs, now_ms);
        let (settled, warming) = match warm_at {
            None => (OnceLock::from(first), None),
            Some(_) => (
                OnceLock::new(),
                Some(Warming {
                    table: ArcSwap::from_pointee(first),
                    computed_at: AtomicU64::new(0),
                }),
            ),
        };
        let first_url = providers.first().map(Provider::url);
        let balancer = match first_url.map(|u| strategy_name(u, method)) {
            None => by_name(RandomLoadBalance::NAME),
            Some(name) => by_name(name).map_err(|e| {
                tracing::warn!(method, error = %e, "using random load balancing for this provider list");
                e
            }),
        }
        .unwrap_or_else(|_| Arc::new(RandomLoadBalance));
        let mut view = SetView {
            id: SET_IDS.fetch_add(1, Ordering::Relaxed),
            method: method.into(),
            service_key: first_url.map(|u| u.service_key()).unwrap_or_default().into(),
            addresses,
            identities,
            hash: first_url.map(|u| HashSpec::of(u, method)).unwrap_or_default(),
            specs,
            built: Instant::now(),
            built_wall_ms: now_ms,
            warm_at,
            settled,
            warming,
            stats_source: stats,
            stats: OnceLock::new(),
            hot: OnceLock::new(),
            balancer: Arc::clone(&balancer),
            state: OnceLock::new(),
        };
        if let Some(state) = balancer.prepare(&view) {
            view.state = OnceLock::from(state);
        }
        view
    }

    /// A process-unique id of this set.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of providers.
    #[inline]
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The method this set was prepared for.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The service key of the first provider (`[group/]interface[:version]`), which keys
    /// round-robin state as in Dubbo; empty for an empty set.
    pub fn service_key(&self) -> &str {
        &self.service_key
    }

    /// `host:port` of each provider.
    pub fn addresses(&self) -> &[Arc<str>] {
        &self.addresses
    }

    /// Identity (`protocol://host:port/path`) of each provider: the key of its call
    /// statistics and round-robin state.
    pub fn identities(&self) -> &[Arc<str>] {
        &self.identities
    }

    /// The weight inputs of each provider.
    pub fn weight_specs(&self) -> &[WeightSpec] {
        &self.specs
    }

    /// The consistent-hash parameters (from the first provider's URL).
    pub fn hash_spec(&self) -> &HashSpec {
        &self.hash
    }

    /// The wall clock as this set sees it: the time it was prepared at plus the monotonic
    /// time elapsed since.
    pub fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.built.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.built_wall_ms.saturating_add(elapsed)
    }

    /// When the last warming provider's weight stops changing (ms since the epoch), if any
    /// was warming up when the set was prepared.
    pub fn warmup_ends_at(&self) -> Option<i64> {
        self.warm_at
    }

    /// Whether weights may still change (some provider is warming up).
    pub fn is_warming_up(&self) -> bool {
        self.settled.get().is_none() && self.warm_at.is_some_and(|end| self.now_ms() < end)
    }

    /// Run `f` on the current weights. Free when no provider warms up; while one does, the
    /// weights are recomputed at most every [`WARMUP_REFRESH_MS`], and the table (with a new
    /// [`WeightTable::epoch`]) replaced only if they changed.
    #[inline]
    pub fn with_weights<R>(&self, f: impl FnOnce(&WeightTable) -> R) -> R {
        match self.settled.get() {
            Some(table) => f(table),
            None => self.with_warming_weights(f),
        }
    }

    #[cold]
    fn with_warming_weights<R>(&self, f: impl FnOnce(&WeightTable) -> R) -> R {
        let now = self.now_ms();
        let Some(warming) = self
            .warming
            .as_ref()
            .filter(|_| self.warm_at.is_some_and(|end| now < end))
        else {
            return f(self.settled.get_or_init(|| WeightTable::at(&self.specs, now)));
        };
        let since_built = u64::try_from(self.built.elapsed().as_millis()).unwrap_or(u64::MAX);
        let computed_at = warming.computed_at.load(Ordering::Relaxed);
        if since_built.saturating_sub(computed_at) >= WARMUP_REFRESH_MS
            && warming
                .computed_at
                .compare_exchange(computed_at, since_built, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let current = warming.table.load();
            let unchanged = self
                .specs
                .iter()
                .zip(current.weights())
                .all(|(s, &w)| s.weight_at(now) == w);
            if !unchanged {
                warming.table.store(Arc::new(WeightTable::at(&self.specs, now)));
            }
        }
        f(&warming.table.load())
    }

    /// The strategy resolved when the set was built: the `loadbalance` the first provider's
    /// URL configures for the method (method-level first; default `random`; an unknown name
    /// is `random`, with a warning when the set is built).
    pub fn balancer(&self) -> &Arc<dyn LoadBalance> {
        &self.balancer
    }

    /// The strategy state kept for this set, if it is a `T`.
    #[inline]
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.state.get().and_then(|s| s.downcast_ref::<T>())
    }

    /// The strategy state kept for this set, made with `init` if the set has none yet; `None`
    /// when the set keeps another strategy's state (the set's own strategy prepared it).
    #[inline]
    pub fn state_or_init<T: Send + Sync + 'static>(&self, init: impl FnOnce() -> T) -> Option<&T> {
        self.state
            .get_or_init(|| Box::new(init()) as StrategyState)
            .downcast_ref::<T>()
    }

    /// Call statistics of each provider for this set's method, resolved on first use
    /// (providers seen for the first time get adjacent slots, see [`CallStats::handles`]).
    #[inline]
    pub fn stats(&self) -> &[Arc<MethodStats>] {
        self.stats.get_or_init(|| {
            self.stats_source
                .handles(&self.identities, &self.method)
                .into_boxed_slice()
        })
    }

    /// Where the providers' [`HotStats`] lie, for strategies that read all of them.
    #[inline]
    pub fn hot_view(&self) -> HotView<'_> {
        match self.hot.get_or_init(|| HotLayout::of(self.stats())) {
            HotLayout::Dense(run) => HotView::Dense(run),
            HotLayout::Refs(refs) => HotView::Refs(refs),
        }
    }

    /// The registry the statistics come from.
    pub fn stats_source(&self) -> &Arc<CallStats> {
        &self.stats_source
    }
}

/// Where the [`HotStats`] of a set's providers lie in memory.
#[derive(Debug, Clone, Copy)]
pub enum HotView<'a> {
    /// One contiguous run, in set order: provider `i` is at `[i]`.
    Dense(&'a [HotStats]),
    /// Anywhere: provider `i` is at `*refs[i]`.
    Refs(&'a [&'static HotStats]),
}

/// The owned form of [`HotView`].
enum HotLayout {
    Dense(&'static [HotStats]),
    Refs(Box<[&'static HotStats]>),
}

impl HotLayout {
    fn of(stats: &[Arc<MethodStats>]) -> Self {
        if let Some((chunk, start)) = stats.first().map(|s| s.slot())
            && stats
                .iter()
                .enumerate()
                .all(|(i, s)| std::ptr::eq(s.slot().0, chunk) && s.slot().1 == start + i)
        {
            return HotLayout::Dense(&chunk[start..start + stats.len()]);
        }
        HotLayout::Refs(stats.iter().map(|s| s.hot()).collect())
    }
}

impl std::fmt::Debug for SetView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedSet")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("service_key", &self.service_key)
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkdubbo_common::Url;

    #[test]
    fn for_method_equals_a_fresh_set_and_shares_addresses() {
        let urls: Vec<Url> = [
            "dubbo://10.0.0.1:20880/com.foo.Bar?weight=5&get.weight=9&hash.nodes=40",
            "dubbo://10.0.0.2:20880/com.foo.Bar?weight=1&put.hash.arguments=1",
            "dubbo://10.0.0.3:20880/com.foo.Bar",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let get = PreparedSet::new(urls, "get");
        for method in ["put", "get", "other"] {
            let derived = get.for_method(method);
            let fresh = PreparedSet::new(get.providers_arc().clone(), method);
            assert_eq!(derived.method(), method);
            assert_eq!(derived.weight_specs(), fresh.weight_specs(), "{method}");
            assert_eq!(derived.hash_spec(), fresh.hash_spec(), "{method}");
            assert_eq!(derived.addresses(), fresh.addresses());
            assert_eq!(derived.identities(), fresh.identities());
            assert_eq!(derived.service_key(), fresh.service_key());
            assert_eq!(
                derived.with_weights(|t| t.weights().to_vec()),
                fresh.with_weights(|t| t.weights().to_vec())
            );
            assert!(Arc::ptr_eq(&derived.addresses, &get.addresses));
            assert!(Arc::ptr_eq(derived.providers_arc(), get.providers_arc()));
            assert_ne!(derived.id(), get.id());
        }
    }
}
