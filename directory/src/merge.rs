//! Merging a provider URL with the consumer's parameters (ARCHITECTURE: Directory).
//!
//! Start from the provider's parameters minus provider-only execution keys, overlay the
//! consumer's, keep the provider's `group`/`version`/`generic` when it has them and always its
//! `release`/`dubbo`/`methods`/`timestamp`/`dubbo.tag`, and add `remote.application`.
//! Configurators are applied on top afterwards, so precedence is
//! configurator > consumer > provider.
//!
//! ```
//! use zkdubbo_common::{Params, Url};
//! use zkdubbo_directory::merge_url;
//! let provider: Url = "dubbo://10.0.0.5:20880/com.foo.Bar?application=bar&timeout=500&threads=200".parse().unwrap();
//! let consumer: Url = "consumer://10.0.0.1/com.foo.Bar?application=shop&timeout=3000".parse().unwrap();
//! let merged = merge_url(&provider, consumer.params());
//! assert_eq!(merged.param("timeout"), Some("3000"));
//! assert_eq!(merged.param("threads"), None);
//! assert_eq!(merged.param("remote.application"), Some("bar"));
//! ```

use std::cmp::Ordering;

use zkdubbo_common::java_cmp;
use zkdubbo_common::{Params, Url, keys};

/// Provider execution keys that make no sense on the consumer side and are dropped.
pub(crate) const PROVIDER_ONLY_KEYS: [&str; 7] = [
    "threadname",
    "threadpool",
    "corethreads",
    "threads",
    "queues",
    "alive",
    "transporter",
];

/// Keys whose provider value is kept when the provider has one.
pub(crate) const PROVIDER_PREFERRED_KEYS: [&str; 3] = [keys::GROUP, keys::VERSION, keys::GENERIC];

/// Keys that are always the provider's (the consumer's value is never copied).
pub(crate) const PROVIDER_FIXED_KEYS: [&str; 5] = [
    keys::RELEASE,
    keys::DUBBO_VERSION,
    keys::METHODS,
    keys::TIMESTAMP,
    keys::TAG,
];

/// Consumer keys that describe the subscription, not the call, and are not copied.
pub(crate) const SUBSCRIPTION_KEYS: [&str; 1] = [keys::CATEGORY];

/// `remote.application`: the provider's application, added to the merged URL.
pub(crate) const REMOTE_APPLICATION_KEY: &str = "remote.application";

/// The provider URL with the consumer's parameters merged in (ARCHITECTURE: Directory).
///
/// One pass over both sorted parameter lists; the result is built once.
pub fn merge_url(provider: &Url, consumer: &Params) -> Url {
    let mut out: Vec<(&str, &str)> = Vec::with_capacity(provider.params().len() + consumer.len() + 1);
    let keep_provider = |k: &str| !PROVIDER_ONLY_KEYS.contains(&k);
    let take_consumer = |k: &str| !PROVIDER_FIXED_KEYS.contains(&k) && !SUBSCRIPTION_KEYS.contains(&k);
    let mut p = provider.params().iter().peekable();
    let mut c = consumer.iter().peekable();
    loop {
        match (p.peek().copied(), c.peek().copied()) {
            (Some(pp), Some(cc)) => match java_cmp(pp.0, cc.0) {
                Ordering::Less => {
                    if keep_provider(pp.0) {
                        out.push(pp);
                    }
                    p.next();
                }
                Ordering::Greater => {
                    if take_consumer(cc.0) {
                        out.push(cc);
                    }
                    c.next();
                }
                Ordering::Equal => {
                    let provider_wins =
                        !take_consumer(cc.0) || (PROVIDER_PREFERRED_KEYS.contains(&pp.0) && !pp.1.is_empty());
                    out.push(if provider_wins { pp } else { cc });
                    p.next();
                    c.next();
                }
            },
            (Some(pp), None) => {
                if keep_provider(pp.0) {
                    out.push(pp);
                }
                p.next();
            }
            (None, Some(cc)) => {
                if take_consumer(cc.0) {
                    out.push(cc);
                }
                c.next();
            }
            (None, None) => break,
        }
    }
    if let Some(app) = provider.param(keys::APPLICATION).filter(|a| !a.is_empty()) {
        // At its place in key order, so the map is built without sorting.
        match out.binary_search_by(|(k, _)| java_cmp(k, REMOTE_APPLICATION_KEY)) {
            Ok(i) => out[i].1 = app,
            Err(i) => out.insert(i, (REMOTE_APPLICATION_KEY, app)),
        }
    }
    provider.clone().with_param_map(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case per merge rule: (rule, provider params, consumer params, key, expected).
    #[test]
    fn merge_precedence_table() {
        let cases: &[(&str, &str, &str, &str, Option<&str>)] = &[
            (
                "consumer overrides provider",
                "timeout=500",
                "timeout=3000",
                "timeout",
                Some("3000"),
            ),
            (
                "provider kept when consumer silent",
                "timeout=500",
                "",
                "timeout",
                Some("500"),
            ),
            ("consumer-only key copied", "", "retries=5", "retries", Some("5")),
            ("threadname dropped", "threadname=x", "", "threadname", None),
            ("threadpool dropped", "threadpool=fixed", "", "threadpool", None),
            ("corethreads dropped", "corethreads=1", "", "corethreads", None),
            ("threads dropped", "threads=200", "", "threads", None),
            ("queues dropped", "queues=0", "", "queues", None),
            ("alive dropped", "alive=1", "", "alive", None),
            ("transporter dropped", "transporter=netty", "", "transporter", None),
            ("provider group kept", "group=a", "group=a,b", "group", Some("a")),
            (
                "consumer group when provider has none",
                "",
                "group=a",
                "group",
                Some("a"),
            ),
            (
                "provider version kept",
                "version=1.0",
                "version=*",
                "version",
                Some("1.0"),
            ),
            (
                "consumer version when provider has none",
                "",
                "version=2",
                "version",
                Some("2"),
            ),
            (
                "provider generic kept",
                "generic=false",
                "generic=true",
                "generic",
                Some("false"),
            ),
            (
                "consumer generic when provider has none",
                "",
                "generic=true",
                "generic",
                Some("true"),
            ),
            (
                "release always provider's",
                "release=2.7.23",
                "release=3.2",
                "release",
                Some("2.7.23"),
            ),
            ("release never from consumer", "", "release=3.2", "release", None),
            (
                "dubbo always provider's",
                "dubbo=2.0.2",
                "dubbo=2.0.0",
                "dubbo",
                Some("2.0.2"),
            ),
            (
                "methods always provider's",
                "methods=get",
                "methods=put",
                "methods",
                Some("get"),
            ),
            (
                "timestamp always provider's",
                "timestamp=1",
                "timestamp=2",
                "timestamp",
                Some("1"),
            ),
            (
                "dubbo.tag always provider's",
                "dubbo.tag=gray",
                "dubbo.tag=blue",
                "dubbo.tag",
                Some("gray"),
            ),
            (
                "dubbo.tag not copied from consumer",
                "",
                "dubbo.tag=blue",
                "dubbo.tag",
                None,
            ),
            (
                "category not copied",
                "",
                "category=providers,routers",
                "category",
                None,
            ),
            (
                "remote.application added",
                "application=bar",
                "application=shop",
                "remote.application",
                Some("bar"),
            ),
            (
                "application becomes the consumer's",
                "application=bar",
                "application=shop",
                "application",
                Some("shop"),
            ),
            (
                "no remote.application without provider app",
                "",
                "application=shop",
                "remote.application",
                None,
            ),
            (
                "side becomes consumer",
                "side=provider",
                "side=consumer",
                "side",
                Some("consumer"),
            ),
        ];
        for (rule, p, c, key, want) in cases {
            let provider: Url = format!("dubbo://10.0.0.5:20880/com.foo.Bar?{p}").parse().unwrap();
            let consumer: Url = format!("consumer://10.0.0.1/com.foo.Bar?{c}").parse().unwrap();
            let merged = merge_url(&provider, consumer.params());
            assert_eq!(merged.param(key), *want, "rule: {rule}");
            assert_eq!(merged.identity(), provider.identity(), "identity unchanged: {rule}");
        }
    }
}
