//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use zkdubbo_common::CallStats;
use zkdubbo_common::Url;
use zkdubbo_loadbalance::{PreparedSet, wall_clock_ms};

/// Provider URLs `dubbo://<host>:20880/com.foo.Bar?weight=<w>` with extra params.
pub(crate) fn urls(providers: &[(&str, i64)], extra: &str) -> Vec<Url> {
    providers
        .iter()
        .map(|(host, w)| {
            let sep = if extra.is_empty() { "" } else { "&" };
            format!("dubbo://{host}:20880/com.foo.Bar?weight={w}{sep}{extra}")
                .parse()
                .expect("test URL")
        })
        .collect()
}

/// A set over `urls` for method `m` with its own statistics registry.
pub(crate) fn set(urls: Vec<Url>) -> PreparedSet<Url> {
    PreparedSet::with_options(urls, "m", wall_clock_ms(), Arc::new(CallStats::new()))
}

/// A set with the given statistics registry.
pub(crate) fn set_with_stats(urls: Vec<Url>, stats: &Arc<CallStats>) -> PreparedSet<Url> {
    PreparedSet::with_options(urls, "m", wall_clock_ms(), Arc::clone(stats))
}

/// A seeded generator.
pub(crate) fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

/// Hosts of `n` providers: `h0`, `h1`, ...
pub(crate) fn hosts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("h{i}")).collect()
}

/// The identity strings of a provider list (as Java caches them).
pub(crate) fn identities(urls: &[Url]) -> Vec<String> {
    urls.iter().map(Url::identity).collect()
}
