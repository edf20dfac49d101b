//! Readers calling `list` while the directory refreshes: no panic, no torn state.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use support::*;
use zkdubbo_common::Invocation;
use zkdubbo_directory::Directory;
use zkdubbo_loadbalance::by_name;
use zkdubbo_registry::Category;

#[test]
fn four_readers_during_a_thousand_refreshes_see_consistent_versions() {
    let (dir, factory) = directory("");
    let dir = Arc::new(dir);
    let generation = |k: usize| -> Vec<zkdubbo_common::Url> {
        // Between 2 and 6 providers, every one stamped with the generation.
        (0..2 + k % 5)
            .map(|i| provider(&format!("10.0.0.{}", 1 + i), &format!("gen={k}&weight={}", 1 + k % 7)))
            .collect()
    };
    dir.notify(&note(Category::Providers, &generation(0), 0));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..4)
        .map(|t| {
            let (dir, stop, reads) = (dir.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let lb = by_name("roundrobin").unwrap();
                let inv = Invocation::new(if t % 2 == 0 { "get" } else { "other" });
                let mut last_gen = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let listed = dir.list(&inv).expect("never without provider");
                    let gens: Vec<usize> = listed.iter().map(|m| m.url().param_as("gen", usize::MAX)).collect();
                    let g = gens[0];
                    assert!(gens.iter().all(|x| *x == g), "torn read: {gens:?}");
                    assert_eq!(listed.len(), 2 + g % 5, "list of generation {g} is complete");
                    assert!(g >= last_gen, "went back from {last_gen} to {g}");
                    assert_eq!(listed.prepared().len(), listed.len());
                    let picked = listed.prepared().select(&*lb, &inv).expect("a pick");
                    assert_eq!(picked.url().param_as("gen", usize::MAX), g);
                    last_gen = g;
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for k in 1..=1000 {
        dir.notify(&note(Category::Providers, &generation(k), k as i32));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader panicked");
    }
    assert_eq!(dir.snapshot().version(), 1001);
    assert!(reads.load(Ordering::Relaxed) > 0);
    // Identity-keyed invokers: exactly the current providers' invokers are alive.
    let alive = factory.created.load(Ordering::Relaxed) - factory.destroyed();
    assert_eq!(alive, 2, "generation 1000 has 2 + 1000 % 5 = 2 providers");
}
