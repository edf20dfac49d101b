//! The statistics-driven strategies: leastactive and shortestresponse prefer the idle or
//! faster provider; p2c never picks the worse of its two candidates.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{rng, set_with_stats, urls};
use zkdubbo_common::CallStats;
use zkdubbo_common::Invocation;
use zkdubbo_loadbalance::P2cLoadBalance;
use zkdubbo_loadbalance::{LeastActiveLoadBalance, LoadBalance, ShortestResponseLoadBalance};

fn four() -> Vec<zkdubbo_common::Url> {
    urls(&[("a", 100), ("b", 100), ("c", 100), ("d", 100)], "")
}

#[test]
fn leastactive_prefers_the_idle_provider() {
    let stats = Arc::new(CallStats::new());
    let u = four();
    let set = set_with_stats(u.clone(), &stats);
    let _busy: Vec<_> = [0, 1, 1, 3, 3, 3]
        .iter()
        .map(|&i| stats.begin(&u[i].identity(), "m"))
        .collect();
    let inv = Invocation::new("m");
    let mut r = rng(1);
    for _ in 0..1000 {
        assert_eq!(LeastActiveLoadBalance.select_with_rng(&set, &inv, &mut r), Some(2));
    }
}

#[test]
fn leastactive_ties_are_weighted() {
    let stats = Arc::new(CallStats::new());
    let u = urls(&[("a", 100), ("b", 300), ("c", 100), ("d", 100)], "");
    let set = set_with_stats(u.clone(), &stats);
    // a and c busy: b and d tie at 0 in flight, weights 300 : 100.
    let _busy = [stats.begin(&u[0].identity(), "m"), stats.begin(&u[2].identity(), "m")];
    let inv = Invocation::new("m");
    let mut r = rng(2);
    let mut counts = [0usize; 4];
    for _ in 0..40_000 {
        counts[LeastActiveLoadBalance
            .select_with_rng(&set, &inv, &mut r)
            .expect("some")] += 1;
    }
    assert_eq!(counts[0] + counts[2], 0);
    let share_b = counts[1] as f64 / 40_000.0;
    assert!((share_b - 0.75).abs() < 0.015, "{share_b}");
}

#[test]
fn shortestresponse_prefers_the_faster_provider() {
    let stats = Arc::new(CallStats::new());
    let u = four();
    let set = set_with_stats(u.clone(), &stats);
    for (i, ms) in [(0, 20), (1, 5), (2, 9), (3, 30)] {
        stats
            .handle(&u[i].identity(), "m")
            .record(true, Duration::from_millis(ms));
    }
    let inv = Invocation::new("m");
    let mut r = rng(3);
    for _ in 0..1000 {
        assert_eq!(ShortestResponseLoadBalance.select_with_rng(&set, &inv, &mut r), Some(1));
    }
    // In flight counts too: b at 5 ms × (1 + 1) = 10 is now worse than c at 9 ms × 1.
    let _g = stats.begin(&u[1].identity(), "m");
    assert_eq!(ShortestResponseLoadBalance.select_with_rng(&set, &inv, &mut r), Some(2));
}

#[test]
fn p2c_never_picks_the_worse_of_two() {
    let stats = Arc::new(CallStats::new());
    let u = four();
    let set = set_with_stats(u.clone(), &stats);
    // Distinct loads: a best, d worst.
    for (i, ms) in [(0, 1), (1, 2), (2, 3), (3, 4)] {
        stats
            .handle(&u[i].identity(), "m")
            .record(true, Duration::from_millis(ms));
    }
    let inv = Invocation::new("m");
    let mut r = rng(4);
    let mut counts = [0usize; 4];
    for _ in 0..30_000 {
        counts[P2cLoadBalance.select_with_rng(&set, &inv, &mut r).expect("some")] += 1;
    }
    // The worst can never win; the best wins whenever drawn (3 of 6 pairs), and so on.
    assert_eq!(counts[3], 0);
    let shares: Vec<f64> = counts.iter().map(|&c| c as f64 / 30_000.0).collect();
    for (got, want) in shares.iter().zip([0.5, 1.0 / 3.0, 1.0 / 6.0, 0.0]) {
        assert!((got - want).abs() < 0.015, "{shares:?}");
    }
    // In-flight calls count: with two in flight on a (load 3 × 1 ms), b (2 ms) beats it.
    let _g = [stats.begin(&u[0].identity(), "m"), stats.begin(&u[0].identity(), "m")];
    let mut r = rng(5);
    let mut a = 0;
    for _ in 0..10_000 {
        if P2cLoadBalance.select_with_rng(&set, &inv, &mut r) == Some(0) {
            a += 1;
        }
    }
    // a (3 ms-equivalent) now beats only c (3 ms: tie, first drawn) and d.
    assert!(a < 10_000 / 2, "{a}");
}

#[test]
fn p2c_candidates_are_distinct() {
    let stats = Arc::new(CallStats::new());
    let u = urls(&[("a", 1), ("b", 1)], "");
    let set = set_with_stats(u.clone(), &stats);
    stats
        .handle(&u[0].identity(), "m")
        .record(true, Duration::from_millis(1));
    stats
        .handle(&u[1].identity(), "m")
        .record(true, Duration::from_millis(2));
    let inv = Invocation::new("m");
    let mut r = rng(6);
    for _ in 0..1000 {
        assert_eq!(P2cLoadBalance.select_with_rng(&set, &inv, &mut r), Some(0));
    }
}

#[test]
fn every_memory_layout_of_the_statistics_reads_the_right_provider() {
    use zkdubbo_loadbalance::HotView;
    let layouts = ["dense", "gather", "scattered"];
    let expected = |layout: &str| if layout == "dense" { "dense" } else { "refs" };
    for layout in layouts {
        let stats = Arc::new(CallStats::new());
        let u = four();
        match layout {
            // Created in reverse order: one chunk, not in set order.
            "gather" => {
                for url in u.iter().rev() {
                    stats.handle(&url.identity(), "m");
                }
            }
            // Fill the first chunk so the first provider ends it and the others start another.
            "scattered" => {
                for k in 0..63 {
                    stats.handle(&format!("filler-{k}"), "m");
                }
                stats.handle(&u[0].identity(), "m");
            }
            _ => {}
        }
        let set = set_with_stats(u.clone(), &stats);
        let kind = match set.hot_view() {
            HotView::Dense(_) => "dense",
            HotView::Refs(_) => "refs",
        };
        assert_eq!(kind, expected(layout), "{layout}");
        // Equal latencies, so that in-flight calls decide for shortestresponse too.
        for s in set.stats() {
            s.record(true, Duration::from_millis(1));
        }
        for idle in 0..4 {
            let _busy: Vec<_> = (0..4)
                .filter(|&i| i != idle)
                .map(|i| stats.begin(&u[i].identity(), "m"))
                .collect();
            let mut r = rng(idle as u64);
            let inv = Invocation::new("m");
            assert_eq!(
                LeastActiveLoadBalance.select_with_rng(&set, &inv, &mut r),
                Some(idle),
                "{layout}"
            );
            assert_eq!(
                ShortestResponseLoadBalance.select_with_rng(&set, &inv, &mut r),
                Some(idle),
                "{layout}"
            );
        }
    }
}
