//! Building a [`Snapshot`] from its parts: routing every method once (sharing equal
//! results), then preparing one load-balancing set per route, re-using the routes of the
//! previous snapshot whose providers did not change.

use std::sync::Arc;
use std::time::SystemTime;

use rustc_hash::FxHashMap;
use zkdubbo_common::{Url, keys};

use super::{Counts, Exclusion, Snapshot};
use crate::configurator::Configurators;
use crate::error::ServiceInfo;
use crate::member::Member;
use crate::route::{Members, MethodRoute, MethodTable, Route};
use crate::router::tag::{self, TagGroups};
use crate::router::{RouterChain, RouterScope};

/// Everything a [`Snapshot`] is made of: a snapshot is built whole from its parts, never
/// patched afterwards.
pub(crate) struct SnapshotParts {
    pub(crate) version: u64,
    pub(crate) consumer: Url,
    pub(crate) info: Arc<ServiceInfo>,
    pub(crate) providers: Members,
    pub(crate) chain: Arc<RouterChain>,
    pub(crate) configurators: Arc<Configurators>,
    pub(crate) counts: Counts,
    pub(crate) notified: bool,
    /// Every subscribed category has been received at least once.
    pub(crate) complete: bool,
    pub(crate) excluded: Arc<[(Url, Exclusion)]>,
    pub(crate) warnings: Arc<[String]>,
    pub(crate) groups: Vec<(Arc<str>, Arc<Snapshot>)>,
}

impl Snapshot {
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
            complete,
            excluded,
            warnings,
            groups,
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
        let methods: FxHashMap<Box<str>, Arc<MethodRoute>> = routes.into_iter().map(|(m, r)| (m.into(), r)).collect();
        Snapshot {
            version,
            changed_at: SystemTime::now(),
            consumer_tag: tag::request_tag(&consumer, None).map(Into::into),
            consumer_force_tag: tag::force_tag(&consumer, None),
            consumer,
            info,
            notified,
            complete,
            destroyed: false,
            providers,
            methods: MethodTable::new(methods),
            any,
            chain,
            configurators,
            counts,
            excluded,
            warnings,
            groups,
        }
    }
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
    let same = |r: &&Arc<Route>| same_members(r.providers(), members) && r.emptied_by() == emptied_by.as_deref();
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
        Some(like) => Route::like(like, method, emptied_by),
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

/// For every method some provider declares (`methods` param): `None` when every provider
/// serves it (the full list is shared), else the providers declaring it plus those that
/// declare no methods at all.
fn method_lists(providers: &Members) -> Vec<(&str, Option<Members>)> {
    // Group providers by their `methods` string: usually very few distinct strings.
    let mut groups: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
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
