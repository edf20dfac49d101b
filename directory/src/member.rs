//! A provider as the consumer sees it: its merged URL and the invoker made for that URL,
//! on its endpoint's shared connection (ARCHITECTURE: Invokers by identity).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use zkdubbo_common::{Invoker, Url, keys};
use zkdubbo_loadbalance::{MethodWeights, WeightSpec};

use crate::router::tag;

/// One usable provider: the URL a consumer sees (provider merged with the consumer's
/// parameters, configurators applied) and the invoker made for that URL.
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
    /// Whether `sticky` or `<method>.sticky` is among `url`'s parameters.
    names_sticky: bool,
    /// The last refresh of its directory that listed this member's identity (bookkeeping of
    /// the directory's refresh, under its lock).
    claimed: AtomicU64,
    /// Set when a newer member of the same provider calls through another invoker: this
    /// member's invoker is destroyed when the member drops (with the last list holding it,
    /// so calls already picked from such a list still go through).
    retired: AtomicBool,
}

impl Member {
    /// A member from its merged URL, the URL it was registered with, and its invoker.
    pub fn new(url: Url, registered: Url, identity: Arc<str>, invoker: Arc<dyn Invoker>) -> Self {
        Self::build(url, registered, identity, invoker, None)
    }

    /// A member for the same provider as `prev` (same endpoint, new parameters) calling through
    /// `invoker`: re-uses `prev`'s cached address and identity strings.
    pub(crate) fn update(
        prev: &Member,
        url: Url,
        registered: Url,
        identity: Arc<str>,
        invoker: Arc<dyn Invoker>,
    ) -> Self {
        Self::build(url, registered, identity, invoker, Some(prev))
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
        let names_sticky = url
            .params()
            .iter()
            .any(|(k, _)| k == "sticky" || k.ends_with(".sticky"));
        Member {
            tag: tag::provider_tag(&url).map(Into::into),
            methods: url.param(keys::METHODS).filter(|m| !m.is_empty()).map(Into::into),
            weights: MethodWeights::of(&url),
            names_sticky,
            address,
            url_identity,
            url,
            registered,
            identity,
            invoker,
            claimed: AtomicU64::new(0),
            retired: AtomicBool::new(false),
        }
    }

    /// Destroy this member's invoker once the member drops: a newer member replaced it.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
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

    /// Whether the URL has a `sticky` parameter, for the service or a method: without one,
    /// the cluster need not look it up per call.
    pub fn names_sticky(&self) -> bool {
        self.names_sticky
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

impl Drop for Member {
    fn drop(&mut self) {
        if *self.retired.get_mut() {
            self.invoker.destroy();
        }
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
