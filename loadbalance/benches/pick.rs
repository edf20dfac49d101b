//! Per-pick cost of every strategy at N = 10, 100, 1000 providers, weights random in
//! 1..100 or all equal, each beside a port of Dubbo's per-call algorithm (`dubbo`, from
//! `zkdubbo_loadbalance::reference`) in the same run.
//!
//! Short by default (0.5 s warm-up, 1 s measurement); `cargo bench -p zkdubbo-loadbalance
//! --bench pick -- <filter>` narrows it.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use zkdubbo_common::{CallGuard, CallStats};
use zkdubbo_common::{Invocation, Url};
use zkdubbo_loadbalance::dubbo_port::{self, ConsistentHash, RoundRobin};
use zkdubbo_loadbalance::{
    ConsistentHashLoadBalance, FastRng, LeastActiveLoadBalance, LoadBalance, P2cLoadBalance, PreparedSet,
    RandomLoadBalance, RoundRobinLoadBalance, ShortestResponseLoadBalance, wall_clock_ms,
};

const SIZES: [usize; 3] = [10, 100, 1000];

struct Fixture {
    urls: Vec<Url>,
    identities: Vec<String>,
    stats: Arc<CallStats>,
    set: PreparedSet<Url>,
    invocations: Vec<Invocation>,
    _in_flight: Vec<CallGuard>,
}

fn fixture(n: usize, equal: bool, tag: &str) -> Fixture {
    let mut rng = SmallRng::seed_from_u64(n as u64);
    let urls: Vec<Url> = (0..n)
        .map(|i| {
            let w = if equal { 100 } else { rng.random_range(1..=100) };
            format!(
                "dubbo://10.{}.{}.{}:20880/com.foo.Bench{tag}?weight={w}&timestamp=1600000000000",
                i / 65536,
                (i / 256) % 256,
                i % 256
            )
            .parse()
            .expect("bench URL")
        })
        .collect();
    let identities: Vec<String> = urls.iter().map(Url::identity).collect();
    let stats = Arc::new(CallStats::new());
    let mut in_flight = Vec::new();
    for id in &identities {
        let h = stats.handle(id, "m");
        h.record(true, Duration::from_micros(rng.random_range(100..1000)));
        for _ in 0..rng.random_range(0..3) {
            in_flight.push(h.begin());
        }
    }
    let set = PreparedSet::with_options(urls.clone(), "m", wall_clock_ms(), Arc::clone(&stats));
    let invocations = (0..1024)
        .map(|k| Invocation::new("m").with_argument(format!("user-{k}")))
        .collect();
    Fixture {
        urls,
        identities,
        stats,
        set,
        invocations,
        _in_flight: in_flight,
    }
}

fn bench_strategy(c: &mut Criterion, name: &str) {
    for equal in [false, true] {
        let mut group = c.benchmark_group(format!("{name}/{}", if equal { "equal" } else { "weighted" }));
        for n in SIZES {
            let f = fixture(n, equal, name);
            let ours: Box<dyn LoadBalance> = match name {
                "random" => Box::new(RandomLoadBalance),
                "roundrobin" => Box::new(RoundRobinLoadBalance::new()),
                "leastactive" => Box::new(LeastActiveLoadBalance),
                "consistenthash" => Box::new(ConsistentHashLoadBalance),
                "shortestresponse" => Box::new(ShortestResponseLoadBalance),
                _ => Box::new(P2cLoadBalance),
            };
            group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
                let mut k = 0usize;
                b.iter(|| {
                    k = (k + 1) & 1023;
                    black_box(ours.select(&f.set, &f.invocations[k]))
                })
            });
            let rr = RoundRobin::default();
            let ch = ConsistentHash::default();
            group.bench_with_input(BenchmarkId::new("dubbo", n), &n, |b, _| {
                let mut k = 0usize;
                let mut rng = FastRng;
                b.iter(|| {
                    k = (k + 1) & 1023;
                    let inv = &f.invocations[k];
                    black_box(match name {
                        "random" => dubbo_port::random(&f.urls, inv, &mut rng),
                        "roundrobin" => rr.select(&f.urls, &f.identities, inv),
                        "leastactive" => dubbo_port::least_active(&f.urls, &f.identities, &f.stats, inv, &mut rng),
                        "consistenthash" => ch.select(&f.urls, inv),
                        "shortestresponse" => {
                            dubbo_port::shortest_response(&f.urls, &f.identities, &f.stats, inv, &mut rng)
                        }
                        _ => dubbo_port::p2c(&f.urls, &f.identities, &f.stats, inv, &mut rng),
                    })
                })
            });
        }
        group.finish();
    }
}

/// Round robin when two subsets of one service and method are picked from alternately
/// (e.g. per tag): the state is shared, so no period is ever replayed and every pick runs
/// Dubbo's scan (without its map lookups).
fn roundrobin_alternating(c: &mut Criterion) {
    let mut group = c.benchmark_group("roundrobin/alternating");
    for n in SIZES {
        let f = fixture(n, false, "alt");
        let half_urls: Vec<Url> = f.urls.iter().step_by(2).cloned().collect();
        let half_ids: Vec<String> = half_urls.iter().map(Url::identity).collect();
        let half = PreparedSet::with_options(half_urls.clone(), "m", wall_clock_ms(), Arc::clone(&f.stats));
        let ours = RoundRobinLoadBalance::new();
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
            let mut k = 0usize;
            b.iter(|| {
                k += 1;
                let set = if k.is_multiple_of(2) { &f.set } else { &half };
                black_box(ours.select(set, &f.invocations[k & 1023]))
            })
        });
        let rr = RoundRobin::default();
        group.bench_with_input(BenchmarkId::new("dubbo", n), &n, |b, _| {
            let mut k = 0usize;
            b.iter(|| {
                k += 1;
                let inv = &f.invocations[k & 1023];
                black_box(if k.is_multiple_of(2) {
                    rr.select(&f.urls, &f.identities, inv)
                } else {
                    rr.select(&half_urls, &half_ids, inv)
                })
            })
        });
    }
    group.finish();
}

/// The two parts of a consistent-hash pick at N = 1000: the MD5 of the key, and the ring
/// lookup.
fn consistenthash_parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("consistenthash/parts");
    let f = fixture(1000, false, "parts");
    let spec = f.set.hash_spec().clone();
    group.bench_function("md5_of_key", |b| {
        let mut k = 0usize;
        b.iter(|| {
            k = (k + 1) & 1023;
            black_box(spec.hash(&f.invocations[k]))
        })
    });
    let ring = ConsistentHashLoadBalance::ring(&f.set);
    let hashes: Vec<u32> = f.invocations.iter().map(|inv| spec.hash(inv)).collect();
    group.bench_function("ring_lookup", |b| {
        let mut k = 0usize;
        b.iter(|| {
            k = (k + 1) & 1023;
            black_box(ring.lookup(hashes[k]))
        })
    });
    group.finish();
}

/// leastactive and shortestresponse at N = 1000 when the set's statistics were created by
/// the set itself (as the cluster layer does, recording through `SetView::stats`): its
/// providers' slots are then one contiguous array ([`zkdubbo_loadbalance::HotView::Dense`]).
fn dense_statistics(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense");
    let mut rng = SmallRng::seed_from_u64(7);
    let urls: Vec<Url> = (0..1000)
        .map(|i| {
            format!(
                "dubbo://10.0.{}.{}:20880/com.foo.Dense?weight={}",
                i / 256,
                i % 256,
                rng.random_range(1..=100)
            )
            .parse()
            .expect("bench URL")
        })
        .collect();
    let set = PreparedSet::with_options(urls, "m", wall_clock_ms(), Arc::new(CallStats::new()));
    let mut in_flight = Vec::new();
    for s in set.stats() {
        s.record(true, Duration::from_micros(rng.random_range(100..1000)));
        for _ in 0..rng.random_range(0..3) {
            in_flight.push(s.begin());
        }
    }
    assert!(matches!(set.hot_view(), zkdubbo_loadbalance::HotView::Dense(_)));
    let inv = Invocation::new("m");
    group.bench_function("leastactive/1000", |b| {
        b.iter(|| black_box(LeastActiveLoadBalance.select(&set, &inv)))
    });
    group.bench_function("shortestresponse/1000", |b| {
        b.iter(|| black_box(ShortestResponseLoadBalance.select(&set, &inv)))
    });
    group.finish();
    drop(in_flight);
}

fn strategies(c: &mut Criterion) {
    for name in [
        "random",
        "roundrobin",
        "leastactive",
        "consistenthash",
        "shortestresponse",
        "p2c",
    ] {
        bench_strategy(c, name);
    }
    roundrobin_alternating(c);
    consistenthash_parts(c);
    dense_statistics(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = strategies
}
criterion_main!(benches);
