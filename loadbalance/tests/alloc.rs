//! A counting global allocator shows that a pick allocates nothing, for every strategy,
//! once the set's lazy parts (ring, statistics handles, round-robin state) exist. While a
//! provider warms up, the weight table may be rebuilt at most every 200 ms (a handful of
//! allocations, plus O(n) when round robin re-binds its state to the new weights; never per
//! pick); the warming case checks that bound.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::urls;
use zkdubbo_common::CallStats;
use zkdubbo_common::{Invocation, Url};
use zkdubbo_loadbalance::{NAMES, PreparedSet, wall_clock_ms};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The three sets, bound to strategy `name` (their URLs configure it), as the directory
/// builds them for a route.
fn sets(name: &str) -> Vec<(&'static str, PreparedSet<Url>)> {
    let stats = Arc::new(CallStats::new());
    let weighted: Vec<(String, i64)> = (0..200)
        .map(|i| (format!("10.0.{}.{}", i / 100, i % 100), 1 + i % 7))
        .collect();
    let pairs: Vec<(&str, i64)> = weighted.iter().map(|(h, w)| (h.as_str(), *w)).collect();
    let equal: Vec<(&str, i64)> = pairs.iter().map(|&(h, _)| (h, 100)).collect();
    let warming = format!("timestamp={}&warmup=600000", wall_clock_ms() - 1000);
    let mut out = Vec::new();
    let lb = format!("loadbalance={name}");
    for (label, u) in [
        ("weighted", urls(&pairs, &lb)),
        ("equal", urls(&equal, &format!("interface=eq&{lb}"))),
        ("warming", urls(&pairs, &format!("interface=warm&{warming}&{lb}"))),
    ] {
        let u2 = u.clone();
        let set = PreparedSet::with_options(u, "m", wall_clock_ms(), Arc::clone(&stats));
        // Some statistics so every code path reads real numbers.
        for (i, url) in u2.iter().enumerate().step_by(3) {
            let h = stats.handle(&url.identity(), "m");
            h.record(true, Duration::from_micros(100 + i as u64));
        }
        out.push((label, set));
    }
    out
}

#[test]
fn no_allocation_per_pick() {
    let inv = Invocation::new("m").with_argument("some-key-123");
    for name in NAMES {
        for (label, set) in &sets(name) {
            assert_eq!(set.balancer().name(), name, "the set is bound to its strategy");
            // Warm up: lazy ring and handles, round-robin period recording, thread-locals.
            for _ in 0..20_000 {
                set.pick(&inv);
            }
            let started = std::time::Instant::now();
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            for _ in 0..10_000 {
                std::hint::black_box(set.pick(&inv));
            }
            let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
            let refreshes = started.elapsed().as_millis() as usize / 200 + 1;
            let allowed = if *label == "warming" {
                (12 + 3 * set.len()) * refreshes
            } else {
                0
            };
            assert!(
                allocations <= allowed,
                "{name} on {label} set allocated {allocations} times in 10,000 picks (allowed {allowed})"
            );
        }
    }
}
