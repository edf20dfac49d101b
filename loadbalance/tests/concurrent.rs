//! Many threads picking while the set is replaced through an `ArcSwap`: no panic, and every
//! pick is a member of some published set.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use support::urls;
use zkdubbo_common::{Invocation, Url};
use zkdubbo_loadbalance::{NAMES, PreparedSet, by_name, wall_clock_ms};

#[test]
fn picks_while_sets_are_swapped() {
    let hosts: Vec<String> = (0..40).map(|i| format!("10.9.0.{i}")).collect();
    let make = |round: usize| -> PreparedSet<Url> {
        // Each round a sliding window of 10..30 hosts with varying weights and warm-up.
        let lo = round % 10;
        let hi = 10 + (round * 7) % 30;
        let list: Vec<(&str, i64)> = hosts[lo..hi.max(lo + 1)]
            .iter()
            .enumerate()
            .map(|(k, h)| (h.as_str(), ((k + round) % 5) as i64))
            .collect();
        let extra = if round.is_multiple_of(3) {
            format!("timestamp={}&warmup=5000", wall_clock_ms())
        } else {
            String::new()
        };
        PreparedSet::new(urls(&list, &extra), "m")
    };
    let all: HashSet<String> = hosts.iter().map(|h| format!("{h}:20880")).collect();
    let current = Arc::new(ArcSwap::from_pointee(make(0)));
    let stop = Arc::new(AtomicBool::new(false));
    // Picks made so far by all threads: the swapper waits on it, so every published set is
    // picked from, however fast or loaded the machine is.
    let picked = Arc::new(AtomicU64::new(0));
    let pickers: Vec<_> = (0..4)
        .map(|t| {
            let current = Arc::clone(&current);
            let stop = Arc::clone(&stop);
            let picked = Arc::clone(&picked);
            let all = all.clone();
            std::thread::spawn(move || {
                let mut picks = 0u64;
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let set = current.load_full();
                    for name in NAMES {
                        let lb = by_name(name).expect("known");
                        k += 1;
                        let inv = Invocation::new("m").with_argument(format!("key{k}"));
                        let guard = (name == "leastactive")
                            .then(|| zkdubbo_common::CallStats::global().begin(&set.identities()[0], "m"));
                        // The raw index: a pick computed from another set's tables (a stale
                        // weight table, ring or round-robin state after a swap) would fall
                        // outside this set's providers.
                        let i = lb.select(&set, &inv).expect("sets are never empty");
                        assert!(i < set.len(), "thread {t}: {name} picked {i} of {}", set.len());
                        let p = &set.providers()[i];
                        assert!(all.contains(&p.address()));
                        if let Some(g) = guard {
                            g.end(true);
                        }
                        picks += 1;
                        picked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                picks
            })
        })
        .collect();
    const PICKS_PER_SET: u64 = 8;
    const ROUNDS: u64 = 200;
    for round in 1..ROUNDS {
        let target = picked.load(Ordering::Relaxed) + PICKS_PER_SET;
        current.store(Arc::new(make(round as usize)));
        while picked.load(Ordering::Relaxed) < target && !pickers.iter().any(|h| h.is_finished()) {
            std::thread::yield_now();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let total: u64 = pickers.into_iter().map(|h| h.join().expect("no panic")).sum();
    assert!(total >= (ROUNDS - 1) * PICKS_PER_SET, "{total}");
}
