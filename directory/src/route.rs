//! A routed provider list for one method, prepared for load balancing, and how a snapshot
//! finds the one for a call.

use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use zkdubbo_loadbalance::PreparedSet;

use crate::member::Member;
use crate::router::tag::TagGroups;

/// The providers of a route, shared between snapshots and routes.
pub type Members = Arc<[Arc<Member>]>;

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

    /// The same providers as `like`, prepared for `method` (sharing what does not depend on
    /// the method).
    pub(crate) fn like(like: &Route, method: &str, emptied_by: Option<Arc<str>>) -> Self {
        Route {
            set: like.set.for_method(method),
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

/// The result of [`Snapshot::list`](crate::Snapshot::list): a route shared with the snapshot, or one built for this
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
    map: Option<FxHashMap<Box<str>, Arc<MethodRoute>>>,
}

/// Up to this many methods are scanned instead of hashed.
const SCAN_METHODS: usize = 16;

impl MethodTable {
    pub(crate) fn new(map: FxHashMap<Box<str>, Arc<MethodRoute>>) -> Self {
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

    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = (&str, &Arc<MethodRoute>)> + '_> {
        match &self.map {
            Some(map) => Box::new(map.iter().map(|(k, v)| (&**k, v))),
            None => Box::new(self.list.iter().map(|(k, v)| (&**k, v))),
        }
    }
}

/// A route found for a call: shared with the snapshot, or built for this call.
pub(crate) enum Found<'a> {
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
