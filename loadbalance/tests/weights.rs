//! Fixed-seed statistical tests: every weighted strategy follows the weights, including
//! weight 0, all-zero weights and warm-up at 10 %, 50 % and 100 % of the period.
//!
//! Tolerance: 100,000 picks per case; each provider's share must be within 1.5 percentage
//! points of weight / total (the binomial standard deviation is at most 0.16 points, so
//! this is about 9 σ; the seed makes the runs reproducible anyway).

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{rng, urls};
use zkdubbo_common::CallStats;
use zkdubbo_common::{Invocation, Url};
use zkdubbo_loadbalance::{LoadBalance, MethodWeights, PreparedSet, WeightSpec, by_name, wall_clock_ms};

const PICKS: usize = 100_000;
const TOLERANCE: f64 = 0.015;

fn shares(lb: &dyn LoadBalance, set: &PreparedSet<Url>, seed: u64) -> Vec<f64> {
    let mut counts = vec![0usize; set.len()];
    let mut r = rng(seed);
    let inv = Invocation::new("m");
    for _ in 0..PICKS {
        counts[lb.select_with_rng(set, &inv, &mut r).expect("non-empty")] += 1;
    }
    counts.iter().map(|&c| c as f64 / PICKS as f64).collect()
}

fn assert_shares(name: &str, got: &[f64], weights: &[f64]) {
    let total: f64 = weights.iter().sum();
    for (i, (&g, &w)) in got.iter().zip(weights).enumerate() {
        let want = w / total;
        assert!(
            (g - want).abs() <= TOLERANCE,
            "{name}: provider {i} share {g:.4}, want {want:.4} (weights {weights:?})"
        );
        if w == 0.0 {
            assert_eq!(g, 0.0, "{name}: weight-0 provider {i} picked");
        }
    }
}

/// The weighted strategies; for the statistics-based ones every provider ties (idle), so
/// the tie-break, a weighted random, decides.
const WEIGHTED: [&str; 4] = ["random", "roundrobin", "leastactive", "shortestresponse"];

fn set_at(urls: Vec<Url>, now_ms: i64) -> PreparedSet<Url> {
    PreparedSet::with_options(urls, "m", now_ms, Arc::new(CallStats::new()))
}

#[test]
fn follow_weights_including_zero() {
    let cases: [&[(&str, i64)]; 4] = [
        &[("a", 1), ("b", 2), ("c", 3), ("d", 4)],
        &[("a", 0), ("b", 50), ("c", 0), ("d", 150)],
        &[("a", 100), ("b", 100), ("c", 100)],
        &[("a", 7), ("b", -3), ("c", 1)],
    ];
    for name in WEIGHTED {
        let lb = by_name(name).expect("known");
        for (k, case) in cases.iter().enumerate() {
            let set = set_at(urls(case, ""), wall_clock_ms());
            let weights: Vec<f64> = case.iter().map(|&(_, w)| w.max(0) as f64).collect();
            assert_shares(
                &format!("{name} case {k}"),
                &shares(&*lb, &set, 42 + k as u64),
                &weights,
            );
        }
    }
}

#[test]
fn all_zero_weights_are_uniform() {
    for name in ["random", "leastactive", "shortestresponse"] {
        let lb = by_name(name).expect("known");
        let set = set_at(urls(&[("a", 0), ("b", 0), ("c", 0), ("d", 0)], ""), wall_clock_ms());
        assert_shares(name, &shares(&*lb, &set, 7), &[1.0; 4]);
    }
    // Round robin keeps Dubbo's behaviour: with a total of 0 the first provider always wins.
    let lb = by_name("roundrobin").expect("known");
    let set = set_at(urls(&[("a", 0), ("b", 0)], "interface=zero"), wall_clock_ms());
    assert_eq!(shares(&*lb, &set, 7), vec![1.0, 0.0]);
}

#[test]
fn warmup_at_10_50_and_100_percent() {
    const WARMUP: i64 = 100_000;
    let start = 1_700_000_000_000i64;
    for (fraction, warm_weight) in [(0.1, 10.0), (0.5, 50.0), (1.0, 100.0)] {
        let mut u = urls(&[("cold", 100)], &format!("timestamp={start}&warmup={WARMUP}"));
        u.extend(urls(&[("old", 100)], ""));
        let now = start + (WARMUP as f64 * fraction) as i64;
        for name in WEIGHTED {
            let lb = by_name(name).expect("known");
            // A distinct interface per case keeps round-robin states apart.
            let u: Vec<Url> = u
                .iter()
                .map(|x| x.clone().with_param("interface", format!("w{fraction}")))
                .collect();
            let set = set_at(u, now);
            assert_eq!(set.is_warming_up(), fraction < 1.0);
            assert_eq!(set.warmup_ends_at(), (fraction < 1.0).then_some(start + WARMUP));
            assert_shares(
                &format!("{name} at {fraction}"),
                &shares(&*lb, &set, 3),
                &[warm_weight, 100.0],
            );
        }
    }
}

#[test]
fn warmup_weights_refresh_over_time_but_not_per_pick() {
    let now = wall_clock_ms();
    // Started 100 ms ago with a 1 s warm-up: weight 10 of 100 now.
    let u = urls(&[("cold", 100)], &format!("timestamp={}&warmup=1000", now - 100));
    let set = set_at(u, now);
    let w0 = set.with_weights(|t| t.weights()[0]);
    assert!((10..=12).contains(&w0), "{w0}");
    std::thread::sleep(Duration::from_millis(350));
    let w1 = set.with_weights(|t| t.weights()[0]);
    assert!(w1 >= 40, "weight grew: {w1}");
    let epoch = set.with_weights(|t| t.epoch());
    assert_eq!(
        set.with_weights(|t| t.epoch()),
        epoch,
        "no recompute within the refresh interval"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(set.with_weights(|t| t.weights()[0]), 100);
    assert!(!set.is_warming_up());
}

/// A weight or warm-up that is not a number (`weight=abc`) is refused with a warning and the
/// default used; it used to be replaced without a word.
#[test]
fn weights_that_are_not_numbers_are_refused_for_the_default() {
    let url: Url = "dubbo://10.0.0.1:20880/com.foo.Bar?weight=abc&get.weight=1e99&warmup=soon"
        .parse()
        .unwrap();
    for method in ["get", "put"] {
        let spec = WeightSpec::of(&url, method);
        assert_eq!(spec.weight, 100, "{method}");
        assert_eq!(spec.warmup, 600_000, "{method}");
        assert_eq!(MethodWeights::of(&url).for_method(&url, method), spec, "{method}");
    }
}
