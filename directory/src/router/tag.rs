//! The tag router (ARCHITECTURE: Routers): a request tag (invocation attachment `dubbo.tag`, else the
//! consumer's `dubbo.tag`) selects the providers with that `dubbo.tag`; when none has it and
//! the tag is not forced (`dubbo.force.tag`), the untagged providers; without a request tag,
//! only the untagged providers.
//!
//! The tag depends on the call, but the grouping does not: [`TagGroups`] partitions a
//! provider list once per snapshot, so routing a call is a map lookup.
//!
//! ```
//! use zkdubbo_common::{Invocation, Url};
//! use zkdubbo_directory::router::tag::{TagGroups, request_tag, force_tag};
//! let providers: Vec<Url> = ["dubbo://a:1/x?dubbo.tag=gray", "dubbo://b:1/x"].iter().map(|s| s.parse().unwrap()).collect();
//! let groups = TagGroups::build(&providers, |u| zkdubbo_directory::router::tag::provider_tag(u), |idx| idx);
//! let consumer: Url = "consumer://c/x".parse().unwrap();
//! let inv = Invocation::new("get").with_attachment("dubbo.tag", "gray");
//! assert_eq!(groups.select(request_tag(&consumer, Some(&inv)), force_tag(&consumer, Some(&inv))), Some(&vec![0]));
//! assert_eq!(groups.select(request_tag(&consumer, None), false), Some(&vec![1]));
//! ```

use std::sync::Arc;

use zkdubbo_common::{Invocation, Url, keys};
use zkdubbo_governance::{Tag, TagRule};

use rustc_hash::FxHashMap as FastMap;

/// Priority the tag router runs at among condition routers (Dubbo's `TagRouter` priority).
pub const TAG_ROUTER_PRIORITY: i64 = 100;

/// The request tag: attachment `dubbo.tag`, else the consumer's `dubbo.tag`; empty is none.
pub fn request_tag<'a>(consumer: &'a Url, inv: Option<&'a Invocation>) -> Option<&'a str> {
    inv.and_then(|i| i.attachment(keys::TAG))
        .filter(|t| !t.is_empty())
        .or_else(|| consumer.param(keys::TAG).filter(|t| !t.is_empty()))
}

/// Whether the tag is forced: attachment `dubbo.force.tag`, else the consumer's, default false.
pub fn force_tag(consumer: &Url, inv: Option<&Invocation>) -> bool {
    match inv
        .and_then(|i| i.attachment(keys::FORCE_TAG))
        .filter(|t| !t.is_empty())
    {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => consumer.param_bool(keys::FORCE_TAG, false),
    }
}

/// The tag of a provider (its `dubbo.tag`), if non-empty.
pub fn provider_tag(provider: &Url) -> Option<&str> {
    provider.param(keys::TAG).filter(|t| !t.is_empty())
}

/// Route `providers` by `tag`: the indices kept (possibly none).
pub fn route<P>(providers: &[P], url_of: impl Fn(&P) -> &Url, tag: Option<&str>, force: bool) -> Vec<usize> {
    let pick = |want: Option<&str>| -> Vec<usize> {
        providers
            .iter()
            .enumerate()
            .filter(|(_, p)| provider_tag(url_of(p)) == want)
            .map(|(i, _)| i)
            .collect()
    };
    match tag {
        Some(t) => {
            let tagged = pick(Some(t));
            if tagged.is_empty() && !force {
                pick(None)
            } else {
                tagged
            }
        }
        None => pick(None),
    }
}

/// A tag router rule from the config center (`<provider-app>.tag-router`) and its node.
#[derive(Debug, Clone)]
pub struct TagRoutes {
    /// The rule.
    pub rule: Arc<TagRule>,
    /// The node's path, for messages.
    pub source: Arc<str>,
}

/// The tag of `rule` a request for `tag` uses: the tag itself, else (unless forced) the
/// longest `|`-separated prefix the rule has (`a|b|c` → `a|b` → `a`, Dubbo 3.3).
fn rule_tag<'r>(rule: &'r TagRule, tag: &str, force: bool) -> Option<&'r Tag> {
    if let Some(t) = rule.tag(tag) {
        return Some(t);
    }
    if force {
        return None;
    }
    let mut prefix = tag;
    while let Some((head, _)) = prefix.rsplit_once('|') {
        if let Some(t) = rule.tag(head) {
            return Some(t);
        }
        prefix = head;
    }
    None
}

/// Route `providers` with a dynamic tag rule in force, as Dubbo's `TagStateRouter` does:
/// a requested tag the rule knows keeps the providers that hold it (returned even when
/// empty if the rule is `force`); a tag it does not know keeps the providers with that static
/// `dubbo.tag`; when that leaves nothing and the request does not force its tag, the
/// providers that hold no tag at all. Without a requested tag: the providers that hold no
/// tag, dynamic or static.
pub fn route_dynamic<P>(
    providers: &[P],
    url_of: impl Fn(&P) -> &Url,
    routes: &TagRoutes,
    tag: Option<&str>,
    force: bool,
) -> Vec<usize> {
    let rule = &routes.rule;
    if !rule.base.enabled {
        return route(providers, url_of, tag, force);
    }
    let keep = |f: &dyn Fn(&Url) -> bool| -> Vec<usize> {
        providers
            .iter()
            .enumerate()
            .filter(|(_, p)| f(url_of(p)))
            .map(|(i, _)| i)
            .collect()
    };
    let untagged = |u: &Url| !rule.tags_provider(u) && provider_tag(u).is_none();
    let Some(tag) = tag else {
        return keep(&untagged);
    };
    let result = match rule_tag(rule, tag, force) {
        Some(t) => {
            let held = keep(&|u| t.holds(u));
            if !held.is_empty() || rule.base.force {
                return held;
            }
            held
        }
        None => keep(&|u| provider_tag(u) == Some(tag)),
    };
    if !result.is_empty() || force {
        return result;
    }
    keep(&untagged)
}

/// A provider list partitioned by tag, each part turned into a `T` once.
#[derive(Debug, Clone)]
pub struct TagGroups<T> {
    by_tag: FastMap<Box<str>, T>,
    untagged: Option<T>,
}

impl<T> TagGroups<T> {
    /// Partition `providers` by their tag (`tag_of`, usually [`provider_tag`] of the URL);
    /// `make` turns each part's indices into `T`.
    pub fn build<P>(
        providers: &[P],
        tag_of: impl Fn(&P) -> Option<&str>,
        mut make: impl FnMut(Vec<usize>) -> T,
    ) -> Self {
        let mut parts: FastMap<Box<str>, Vec<usize>> = FastMap::default();
        let mut untagged = Vec::new();
        for (i, p) in providers.iter().enumerate() {
            match tag_of(p) {
                Some(t) => parts.entry(t.into()).or_default().push(i),
                None => untagged.push(i),
            }
        }
        TagGroups {
            by_tag: parts.into_iter().map(|(k, v)| (k, make(v))).collect(),
            untagged: (!untagged.is_empty()).then(|| make(untagged)),
        }
    }

    /// Whether no provider has a tag (then a call without a tag gets everything).
    pub fn has_tags(&self) -> bool {
        !self.by_tag.is_empty()
    }

    /// Whether some provider has `tag` (`None`: whether some provider is untagged).
    pub fn has_tag(&self, tag: Option<&str>) -> bool {
        match tag {
            Some(t) => self.by_tag.contains_key(t),
            None => self.untagged.is_some(),
        }
    }

    /// The tags present.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.by_tag.keys().map(|k| &**k)
    }

    /// Every group (tagged ones, then the untagged one).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.by_tag.values().chain(self.untagged.iter())
    }

    /// The same grouping with each group turned into a `U`.
    pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> TagGroups<U> {
        TagGroups {
            by_tag: self.by_tag.iter().map(|(k, v)| (k.clone(), f(v))).collect(),
            untagged: self.untagged.as_ref().map(f),
        }
    }

    /// The group for a request `tag`; `None` means no provider.
    pub fn select(&self, tag: Option<&str>, force: bool) -> Option<&T> {
        match tag {
            Some(t) => match self.by_tag.get(t) {
                Some(g) => Some(g),
                None if force => None,
                None => self.untagged.as_ref(),
            },
            None => self.untagged.as_ref(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // case tables
mod tests {
    use super::*;

    /// (case, consumer tag params, attachments, expected hosts)
    #[test]
    fn tag_cases() {
        let providers: Vec<Url> = [
            "dubbo://a:1/x?dubbo.tag=gray",
            "dubbo://b:1/x?dubbo.tag=blue",
            "dubbo://c:1/x",
            "dubbo://d:1/x?dubbo.tag=",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let cases: &[(&str, &str, &[(&str, &str)], &[&str])] = &[
            ("no tag → untagged only", "", &[], &["c", "d"]),
            ("consumer tag", "?dubbo.tag=gray", &[], &["a"]),
            ("attachment tag", "", &[("dubbo.tag", "blue")], &["b"]),
            (
                "attachment wins over consumer",
                "?dubbo.tag=gray",
                &[("dubbo.tag", "blue")],
                &["b"],
            ),
            (
                "empty attachment falls back to consumer",
                "?dubbo.tag=gray",
                &[("dubbo.tag", "")],
                &["a"],
            ),
            ("unknown tag, not forced → untagged", "?dubbo.tag=red", &[], &["c", "d"]),
            (
                "unknown tag, consumer forced → none",
                "?dubbo.tag=red&dubbo.force.tag=true",
                &[],
                &[],
            ),
            (
                "unknown tag, attachment forced → none",
                "",
                &[("dubbo.tag", "red"), ("dubbo.force.tag", "true")],
                &[],
            ),
            (
                "forced but present",
                "?dubbo.tag=gray&dubbo.force.tag=true",
                &[],
                &["a"],
            ),
        ];
        for (case, consumer, attachments, want) in cases {
            let consumer: Url = format!("consumer://x/x{consumer}").parse().unwrap();
            let inv = attachments
                .iter()
                .fold(Invocation::new("m"), |i, (k, v)| i.with_attachment(*k, *v));
            let (tag, force) = (request_tag(&consumer, Some(&inv)), force_tag(&consumer, Some(&inv)));
            let hosts = |idx: &[usize]| idx.iter().map(|&i| providers[i].host().to_owned()).collect::<Vec<_>>();
            assert_eq!(hosts(&route(&providers, |u| u, tag, force)), *want, "route: {case}");
            let groups = TagGroups::build(&providers, provider_tag, |v| v);
            let got = groups.select(tag, force).map(|v| hosts(v)).unwrap_or_default();
            assert_eq!(got, *want, "groups: {case}");
        }
    }
}
