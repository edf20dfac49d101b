//! Routers: condition routers from the `routers` category plus the built-in tag router,
//! chained by priority (ARCHITECTURE: Routers).
//!
//! Each router is classified by what it looks at ([`RouterScope`]). When a snapshot is built,
//! the longest prefix of the chain that needs no call is applied once per method; the rest of
//! the chain (if any) runs per call. The tag router, when it is the only remaining step, is
//! pre-computed as tag groups, so even tag routing costs no allocation per call.

pub mod condition;
pub mod tag;
pub mod weighted;

use std::sync::Arc;

use zkdubbo_common::{Invocation, Url, keys};

pub use condition::{ConditionParseError, ConditionRouter, ConditionSyntax, RouterScope};
pub use weighted::WeightedRouter;

use crate::error::RuleError;

/// One step of the chain.
#[derive(Debug, Clone)]
pub enum Router {
    /// A condition rule.
    Condition(Arc<ConditionRouter>),
    /// A v3.1 condition with weighted destinations (picked per call).
    Weighted(Arc<WeightedRouter>),
    /// The tag router, with the config center's tag rule when there is one.
    Tag(Option<Arc<tag::TagRoutes>>),
}

impl Router {
    /// The router's priority (lower runs first).
    pub fn priority(&self) -> i64 {
        match self {
            Router::Condition(c) => c.priority(),
            Router::Weighted(w) => w.priority(),
            Router::Tag(_) => tag::TAG_ROUTER_PRIORITY,
        }
    }

    /// When the router can be evaluated.
    pub fn scope(&self) -> RouterScope {
        match self {
            Router::Condition(c) => c.scope(),
            Router::Weighted(_) | Router::Tag(_) => RouterScope::PerCall,
        }
    }

    /// A name for messages: the rule URL, or `tag router`.
    pub fn name(&self) -> String {
        match self {
            Router::Condition(c) => c.name(),
            Router::Weighted(w) => w.name().to_owned(),
            Router::Tag(None) => "tag router (dubbo.tag)".to_owned(),
            Router::Tag(Some(t)) => format!("tag router ({})", t.source),
        }
    }
}

/// What routing left, with the rule that emptied the list if it did.
#[derive(Debug, Clone)]
pub struct Routed<T> {
    /// The providers kept.
    pub providers: Vec<T>,
    /// The router whose result was empty (None when the list is non-empty or was empty
    /// before routing).
    pub emptied_by: Option<Arc<str>>,
}

/// The routers in force, sorted by priority (stable: equal priorities keep registry order).
#[derive(Debug, Clone)]
pub struct RouterChain {
    routers: Vec<Router>,
}

impl Default for RouterChain {
    fn default() -> Self {
        RouterChain::new(Vec::new())
    }
}

impl RouterChain {
    /// A chain of `conditions` plus the tag router, sorted by priority.
    pub fn new(conditions: Vec<Arc<ConditionRouter>>) -> Self {
        Self::with_tag_rule(conditions, None)
    }

    /// A chain of `conditions` plus the tag router without a dynamic rule, sorted by
    /// priority.
    pub fn with_tag_rule(conditions: Vec<Arc<ConditionRouter>>, tags: Option<Arc<tag::TagRoutes>>) -> Self {
        Self::with_routers(conditions.into_iter().map(Router::Condition).collect(), tags)
    }

    /// A chain of `routers` (condition and weighted ones) plus the tag router following
    /// `tags` (the config center's tag rule), sorted by priority (stable).
    pub fn with_routers(mut routers: Vec<Router>, tags: Option<Arc<tag::TagRoutes>>) -> Self {
        routers.retain(|r| !matches!(r, Router::Tag(_)));
        routers.push(Router::Tag(tags));
        routers.sort_by_key(Router::priority);
        RouterChain { routers }
    }

    /// Parse the full list of the `routers` category: an `empty://` URL clears every rule;
    /// bad rules are skipped and returned as errors; `enabled=false` rules are dropped.
    pub fn parse(urls: &[Url]) -> (RouterChain, Vec<RuleError>) {
        if urls.iter().any(|u| u.protocol() == keys::EMPTY_PROTOCOL) {
            return (RouterChain::default(), Vec::new());
        }
        let mut conditions = Vec::new();
        let mut errors = Vec::new();
        for url in urls {
            match ConditionRouter::from_url(url) {
                Ok(Some(r)) => conditions.push(Arc::new(r)),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        (RouterChain::new(conditions), errors)
    }

    /// The routers in order.
    pub fn routers(&self) -> &[Router] {
        &self.routers
    }

    /// The condition routers in order.
    pub fn conditions(&self) -> impl Iterator<Item = &Arc<ConditionRouter>> {
        self.routers.iter().filter_map(|r| match r {
            Router::Condition(c) => Some(c),
            Router::Weighted(_) | Router::Tag(_) => None,
        })
    }

    /// Whether some router depends on the method name.
    pub fn is_method_sensitive(&self) -> bool {
        self.routers.iter().any(|r| r.scope() == RouterScope::PerMethod)
    }

    /// How many routers from the start can run at refresh time for `method` (`None`: a
    /// method not known in advance).
    pub fn static_prefix(&self, method: Option<&str>) -> usize {
        self.routers
            .iter()
            .position(|r| match r.scope() {
                RouterScope::Refresh => false,
                RouterScope::PerMethod => method.is_none(),
                RouterScope::PerCall => true,
            })
            .unwrap_or(self.routers.len())
    }

    /// Apply routers `range` to `providers`, for `consumer` calling `method` (with `inv`
    /// when routing a call).
    pub fn route<T: Clone>(
        &self,
        range: std::ops::Range<usize>,
        providers: Vec<T>,
        url_of: impl Fn(&T) -> &Url,
        consumer: &Url,
        method: Option<&str>,
        inv: Option<&Invocation>,
    ) -> Routed<T> {
        let mut list = providers;
        let mut emptied_by = None;
        for router in &self.routers[range] {
            if list.is_empty() {
                break;
            }
            let kept = match router {
                Router::Condition(c) => c.route(&list, &url_of, consumer, method, inv),
                Router::Weighted(w) => w.route(&list, &url_of, consumer, method, inv),
                Router::Tag(None) => Some(tag::route(
                    &list,
                    &url_of,
                    tag::request_tag(consumer, inv),
                    tag::force_tag(consumer, inv),
                )),
                Router::Tag(Some(routes)) => Some(tag::route_dynamic(
                    &list,
                    &url_of,
                    routes,
                    tag::request_tag(consumer, inv),
                    tag::force_tag(consumer, inv),
                )),
            };
            if let Some(kept) = kept {
                if kept.len() != list.len() {
                    list = kept.into_iter().map(|i| list[i].clone()).collect();
                }
                if list.is_empty() {
                    emptied_by = Some(Arc::from(router.name()));
                }
            }
        }
        Routed {
            providers: list,
            emptied_by,
        }
    }

    /// Whether the routers from `from` on are exactly the tag router without a dynamic
    /// rule (so the call-time part can be pre-computed as tag groups).
    pub fn rest_is_tag_only(&self, from: usize) -> bool {
        matches!(&self.routers[from..], [Router::Tag(None)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkdubbo_common::encoding::encode;

    fn rule(expr: &str, extra: &str) -> Url {
        format!(
            "condition://0.0.0.0/com.foo.Bar?category=routers&rule={}{extra}",
            encode(expr)
        )
        .parse()
        .unwrap()
    }

    #[test]
    fn chain_orders_by_priority_and_splits_static_from_per_call() {
        let (chain, errors) = RouterChain::parse(&[
            rule("arguments[0] = 1 => host = a", "&priority=5"),
            rule("method = get => host = b", "&priority=1"),
            rule("host = c => host = d", "&priority=-1"),
            rule("host = x => bad ==", ""),
            "script://0.0.0.0/com.foo.Bar?rule=x".parse().unwrap(),
        ]);
        assert_eq!(errors.len(), 2);
        let prios: Vec<i64> = chain.routers().iter().map(Router::priority).collect();
        assert_eq!(prios, [-1, 1, 5, 100]);
        assert_eq!(chain.static_prefix(None), 1);
        assert_eq!(chain.static_prefix(Some("get")), 2);
        assert!(chain.is_method_sensitive());
        assert!(!chain.rest_is_tag_only(2));
        assert!(chain.rest_is_tag_only(3));

        let (cleared, _) = RouterChain::parse(&["empty://c/com.foo.Bar?category=routers".parse().unwrap()]);
        assert_eq!(cleared.routers().len(), 1, "only the tag router is left");
    }

    #[test]
    fn route_names_the_rule_that_emptied_the_list() {
        let (chain, _) = RouterChain::parse(&[rule("=> host = nowhere", "&force=true")]);
        let providers: Vec<Url> = vec!["dubbo://a:1/x".parse().unwrap()];
        let consumer: Url = "consumer://c/x".parse().unwrap();
        let routed = chain.route(0..chain.routers().len(), providers, |u| u, &consumer, Some("m"), None);
        assert!(routed.providers.is_empty());
        assert!(routed.emptied_by.unwrap().contains("condition://0.0.0.0/com.foo.Bar"));
    }
}
