//! Dubbo's per-call algorithms ported as-is, as the baseline for benchmarks and the oracle
//! for conformance tests: weights and warm-up recomputed on every call (reading the clock
//! per provider, as `getWeight` does), linear scans, per-call state-map lookups and
//! allocations, and the consistent-hash selector cached per service + method and rebuilt
//! when the list's hash changes. Not for production use.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use md5::{Digest, Md5};
use rand::{Rng, RngExt};
use zkdubbo_common::CallStats;
use zkdubbo_common::sync::lock;
use zkdubbo_common::{Invocation, Url};

use crate::ketama::HashSpec;
use crate::provider::Provider;
use crate::weight::WeightSpec;
use zkdubbo_common::wall_clock_ms;

/// `AbstractLoadBalance.getWeight`: parsed from the URL and warmed up against the clock,
/// on every call.
pub fn get_weight(url: &Url, method: &str) -> i32 {
    WeightSpec::of(url, method).weight_at(wall_clock_ms()) as i32
}

/// `RandomLoadBalance.doSelect`.
pub fn random<P: Provider, R: Rng + ?Sized>(invokers: &[P], inv: &Invocation, rng: &mut R) -> Option<usize> {
    let length = invokers.len();
    if length <= 1 {
        return (length == 1).then_some(0);
    }
    let mut same_weight = true;
    let mut weights = vec![0i64; length];
    let mut total = 0i64;
    for (i, p) in invokers.iter().enumerate() {
        let w = i64::from(get_weight(p.url(), inv.method()));
        total += w;
        weights[i] = total;
        if same_weight && total != w * (i as i64 + 1) {
            same_weight = false;
        }
    }
    if total > 0 && !same_weight {
        let offset = rng.random_range(0..total);
        return weights.iter().position(|&w| offset < w);
    }
    Some(rng.random_range(0..length))
}

/// `RoundRobinLoadBalance.WeightedRoundRobin`.
#[derive(Debug, Default)]
struct WeightedRoundRobin {
    weight: AtomicI64,
    current: AtomicI64,
    last_update: AtomicI64,
}

/// `RoundRobinLoadBalance`: state maps keyed by `serviceKey.method`, then identity.
#[derive(Debug, Default)]
pub struct RoundRobin {
    method_weight_map: DashMap<String, Arc<DashMap<String, Arc<WeightedRoundRobin>>>>,
}

impl RoundRobin {
    /// `doSelect`. `identities` are the providers' identity strings (Java caches them in the
    /// URL).
    pub fn select<P: Provider>(&self, invokers: &[P], identities: &[String], inv: &Invocation) -> Option<usize> {
        let first = invokers.first()?;
        if invokers.len() == 1 {
            return Some(0);
        }
        let key = format!("{}.{}", first.url().service_key(), inv.method());
        let map = Arc::clone(self.method_weight_map.entry(key).or_default().value());
        let mut total = 0i64;
        let mut max_current = i64::MIN;
        let now = wall_clock_ms();
        let mut selected: Option<(usize, Arc<WeightedRoundRobin>)> = None;
        for (i, p) in invokers.iter().enumerate() {
            let weight = i64::from(get_weight(p.url(), inv.method()));
            let wrr = Arc::clone(
                map.entry(identities[i].clone())
                    .or_insert_with(|| {
                        Arc::new(WeightedRoundRobin {
                            weight: AtomicI64::new(weight),
                            ..Default::default()
                        })
                    })
                    .value(),
            );
            if weight != wrr.weight.load(Ordering::Relaxed) {
                wrr.weight.store(weight, Ordering::Relaxed);
                wrr.current.store(0, Ordering::Relaxed);
            }
            let cur = wrr.current.fetch_add(weight, Ordering::Relaxed) + weight;
            wrr.last_update.store(now, Ordering::Relaxed);
            if cur > max_current {
                max_current = cur;
                selected = Some((i, wrr));
            }
            total += weight;
        }
        if invokers.len() != map.len() {
            map.retain(|_, w| now - w.last_update.load(Ordering::Relaxed) <= 60_000);
        }
        let (i, wrr) = selected?;
        wrr.current.fetch_sub(total, Ordering::Relaxed);
        Some(i)
    }
}

/// Fewest-score selection with Dubbo's tie handling, scores and weights computed per call.
fn least_by<P: Provider, R: Rng + ?Sized>(
    invokers: &[P],
    inv: &Invocation,
    rng: &mut R,
    score: impl Fn(usize) -> i64,
) -> Option<usize> {
    let length = invokers.len();
    if length <= 1 {
        return (length == 1).then_some(0);
    }
    let mut least = i64::MAX;
    let mut least_count = 0;
    let mut least_indexes = vec![0usize; length];
    let mut weights = vec![0i64; length];
    let mut total = 0i64;
    let mut first_weight = 0i64;
    let mut same_weight = true;
    for (i, p) in invokers.iter().enumerate() {
        let s = score(i);
        let w = i64::from(get_weight(p.url(), inv.method()));
        weights[i] = w;
        if s < least {
            least = s;
            least_count = 1;
            least_indexes[0] = i;
            total = w;
            first_weight = w;
            same_weight = true;
        } else if s == least {
            least_indexes[least_count] = i;
            least_count += 1;
            total += w;
            if same_weight && w != first_weight {
                same_weight = false;
            }
        }
    }
    if least_count == 1 {
        return Some(least_indexes[0]);
    }
    if !same_weight && total > 0 {
        let mut offset = rng.random_range(0..total);
        for &idx in &least_indexes[..least_count] {
            offset -= weights[idx];
            if offset < 0 {
                return Some(idx);
            }
        }
    }
    Some(least_indexes[rng.random_range(0..least_count)])
}

/// `LeastActiveLoadBalance.doSelect`: `RpcStatus.getStatus(url, method)` (two map lookups)
/// per provider per call.
pub fn least_active<P: Provider, R: Rng + ?Sized>(
    invokers: &[P],
    identities: &[String],
    stats: &CallStats,
    inv: &Invocation,
    rng: &mut R,
) -> Option<usize> {
    least_by(invokers, inv, rng, |i| {
        stats
            .get(&identities[i], inv.method())
            .map_or(0, |s| s.in_flight() as i64)
    })
}

/// `ShortestResponseLoadBalance.doSelect`: per provider a status lookup, the window average
/// and in-flight count; estimate = average × (in-flight + 1).
pub fn shortest_response<P: Provider, R: Rng + ?Sized>(
    invokers: &[P],
    identities: &[String],
    stats: &CallStats,
    inv: &Invocation,
    rng: &mut R,
) -> Option<usize> {
    least_by(invokers, inv, rng, |i| match stats.get(&identities[i], inv.method()) {
        Some(s) => {
            let avg = s.window_average().map_or(0, |d| d.as_nanos() as i64);
            avg.saturating_mul(s.in_flight() as i64 + 1)
        }
        None => 0,
    })
}

/// P2C as Dubbo's `P2CLoadBalance` does it: two distinct random candidates, each one's weight
/// recomputed and statistics looked up per call.
pub fn p2c<P: Provider, R: Rng + ?Sized>(
    invokers: &[P],
    identities: &[String],
    stats: &CallStats,
    inv: &Invocation,
    rng: &mut R,
) -> Option<usize> {
    let length = invokers.len();
    if length <= 1 {
        return (length == 1).then_some(0);
    }
    let a = rng.random_range(0..length);
    let mut b = rng.random_range(0..length - 1);
    if b >= a {
        b += 1;
    }
    let load = |i: usize| {
        let _weight = get_weight(invokers[i].url(), inv.method());
        stats.get(&identities[i], inv.method()).map_or(1u128, |s| {
            u128::from(s.in_flight() + 1) * u128::from(s.ewma_nanos().max(1))
        })
    };
    Some(if load(b) < load(a) { b } else { a })
}

/// `ConsistentHashSelector`: a `TreeMap` ring.
#[derive(Debug)]
struct Selector {
    identity_hash: u64,
    ring: BTreeMap<u32, usize>,
    spec: HashSpec,
}

/// `ConsistentHashLoadBalance`: selectors cached by `serviceKey.method`, rebuilt when the
/// invoker list's hash changes (computed per call over the list, as `List.hashCode()`).
#[derive(Debug, Default)]
pub struct ConsistentHash {
    selectors: Mutex<std::collections::HashMap<String, Arc<Selector>>>,
}

impl ConsistentHash {
    /// `doSelect`.
    pub fn select<P: Provider>(&self, invokers: &[P], inv: &Invocation) -> Option<usize> {
        let first = invokers.first()?;
        let key = format!("{}.{}", first.url().service_key(), inv.method());
        let mut h = DefaultHasher::new();
        for p in invokers {
            h.write_usize(std::ptr::from_ref(p).addr());
        }
        let identity_hash = h.finish();
        let selector = {
            let mut selectors = lock(&self.selectors);
            match selectors.get(&key) {
                Some(s) if s.identity_hash == identity_hash => Arc::clone(s),
                _ => {
                    let s = Arc::new(Selector::new(invokers, inv.method(), identity_hash));
                    selectors.insert(key, Arc::clone(&s));
                    s
                }
            }
        };
        selector.select(inv)
    }
}

impl Selector {
    fn new<P: Provider>(invokers: &[P], method: &str, identity_hash: u64) -> Self {
        let spec = invokers
            .first()
            .map(|p| HashSpec::of(p.url(), method))
            .unwrap_or_default();
        let mut ring = BTreeMap::new();
        for (i, p) in invokers.iter().enumerate() {
            let address = p.url().address();
            for n in 0..spec.nodes() / 4 {
                let digest = Md5::digest(format!("{address}{n}").as_bytes());
                for h in 0..4 {
                    let m =
                        u32::from_le_bytes([digest[4 * h], digest[4 * h + 1], digest[4 * h + 2], digest[4 * h + 3]]);
                    ring.insert(m, i);
                }
            }
        }
        Selector {
            identity_hash,
            ring,
            spec,
        }
    }

    fn select(&self, inv: &Invocation) -> Option<usize> {
        let mut key = String::new();
        for &i in self.spec.arguments() {
            if let Some(a) = inv.argument(i) {
                key.push_str(a);
            }
        }
        let digest = Md5::digest(key.as_bytes());
        let hash = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
        self.ring
            .range(hash..)
            .next()
            .or_else(|| self.ring.iter().next())
            .map(|(_, &i)| i)
    }
}
