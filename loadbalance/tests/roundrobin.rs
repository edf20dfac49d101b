//! Round robin: Dubbo's exact sequences, state carried across list changes, and agreement
//! with a straight port of Dubbo's algorithm.

mod support;

use proptest::prelude::*;
use support::{identities, set, urls};
use zkdubbo_common::{Invocation, Url};
use zkdubbo_loadbalance::dubbo_port::RoundRobin as DubboRoundRobin;
use zkdubbo_loadbalance::{LoadBalance, PreparedSet, RoundRobinLoadBalance};

fn picks(lb: &RoundRobinLoadBalance, set: &PreparedSet<Url>, n: usize) -> String {
    let inv = Invocation::new("m");
    (0..n)
        .map(|_| {
            let i = lb.select(set, &inv).expect("non-empty");
            set.providers()[i].host().to_string()
        })
        .collect::<Vec<_>>()
        .join("")
}

#[test]
fn dubbo_sequences_from_fresh_state() {
    let lb = RoundRobinLoadBalance::new();
    let s = set(urls(&[("A", 5), ("B", 1), ("C", 1)], ""));
    assert_eq!(picks(&lb, &s, 7), "AABACAA");
    assert_eq!(picks(&lb, &s, 14), "AABACAAAABACAA", "the period repeats");

    let lb = RoundRobinLoadBalance::new();
    let s = set(urls(&[("A", 3), ("B", 2), ("C", 1)], "interface=com.other"));
    assert_eq!(picks(&lb, &s, 6), "ABACBA");
    assert_eq!(picks(&lb, &s, 12), "ABACBAABACBA");
}

#[test]
fn zero_weights_and_equal_weights() {
    let lb = RoundRobinLoadBalance::new();
    let s = set(urls(&[("A", 0), ("B", 2), ("C", 0), ("D", 1)], ""));
    assert_eq!(picks(&lb, &s, 6), "BDBBDB");
    let lb = RoundRobinLoadBalance::new();
    let s = set(urls(&[("A", 0), ("B", 0)], ""));
    assert_eq!(picks(&lb, &s, 4), "AAAA", "all zero: Dubbo always takes the first");
    let lb = RoundRobinLoadBalance::new();
    let s = set(urls(&[("A", 7), ("B", 7), ("C", 7)], ""));
    assert_eq!(picks(&lb, &s, 6), "ABCABC");
}

#[test]
fn state_is_per_service_and_method() {
    let lb = RoundRobinLoadBalance::new();
    let s1 = set(urls(&[("A", 5), ("B", 1), ("C", 1)], ""));
    let s2 = set(urls(&[("A", 5), ("B", 1), ("C", 1)], "interface=com.other"));
    assert_eq!(picks(&lb, &s1, 3), "AAB");
    assert_eq!(picks(&lb, &s2, 3), "AAB");
    assert_eq!(picks(&lb, &s1, 4), "ACAA");
    assert_eq!(lb.state_count(), 2);
}

/// Compare our picks against Dubbo's per-call algorithm over a scripted series of lists.
fn check_against_dubbo(lists: &[Vec<(String, i64)>], picks_per_list: usize) {
    let ours = RoundRobinLoadBalance::new();
    let dubbo = DubboRoundRobin::default();
    let inv = Invocation::new("m");
    for (round, list) in lists.iter().enumerate() {
        let pairs: Vec<(&str, i64)> = list.iter().map(|(h, w)| (h.as_str(), *w)).collect();
        let u = urls(&pairs, "");
        let ids = identities(&u);
        let s = set(u.clone());
        for k in 0..picks_per_list {
            let a = ours.select(&s, &inv);
            let b = dubbo.select(&u, &ids, &inv);
            assert_eq!(a, b, "list {round} {list:?}, pick {k}");
        }
    }
}

#[test]
fn provider_added_or_removed_mid_stream_keeps_the_others_state() {
    let l = |v: &[(&str, i64)]| v.iter().map(|(h, w)| (h.to_string(), *w)).collect::<Vec<_>>();
    // Change after a partial period, before the cycle is recorded and after it is.
    for picks in [3, 7, 9, 20] {
        check_against_dubbo(
            &[
                l(&[("A", 5), ("B", 1), ("C", 1)]),
                l(&[("A", 5), ("B", 1), ("C", 1), ("D", 2)]),
                l(&[("A", 5), ("C", 1), ("D", 2)]),
                l(&[("A", 5), ("B", 1), ("C", 1), ("D", 2)]),
                l(&[("A", 5), ("B", 3), ("C", 1), ("D", 2)]),
            ],
            picks,
        );
    }
}

#[test]
fn concrete_mid_stream_change() {
    let lb = RoundRobinLoadBalance::new();
    let s = set(urls(&[("A", 5), ("B", 1), ("C", 1)], ""));
    assert_eq!(picks(&lb, &s, 3), "AAB");
    // After A A B the currents are A=1, B=-4, C=3. D joins with 0; the next round adds the
    // weights: A=6 B=-3 C=4 D=1 → A, which then loses the total 8: A=-2.
    let s2 = set(urls(&[("A", 5), ("B", 1), ("C", 1), ("D", 1)], ""));
    assert_eq!(picks(&lb, &s2, 1), "A");
    // → A=3 B=-2 C=5 D=2 → C.
    assert_eq!(picks(&lb, &s2, 1), "C");
}

#[test]
fn replays_after_one_period_and_switches_back_to_the_scan() {
    let lb = RoundRobinLoadBalance::new();
    let s = set(urls(&[("A", 5), ("B", 1), ("C", 1)], "interface=replay"));
    assert_eq!(picks(&lb, &s, 6), "AABACA");
    assert!(!lb.replays(&s), "the period (7) has not closed yet");
    assert_eq!(picks(&lb, &s, 1), "A");
    assert!(lb.replays(&s));
    assert_eq!(picks(&lb, &s, 3), "AAB");
    // Another set of the same service and method takes over from the state reached.
    let other = set(urls(&[("A", 5), ("B", 1), ("C", 1)], "interface=replay"));
    assert_eq!(picks(&lb, &other, 4), "ACAA");
    assert!(!lb.replays(&s));
}

#[test]
fn alternating_subsets_share_state_like_dubbo() {
    let ours = RoundRobinLoadBalance::new();
    let dubbo = DubboRoundRobin::default();
    let inv = Invocation::new("m");
    let full = urls(&[("A", 5), ("B", 1), ("C", 3), ("D", 2)], "interface=alt");
    let part = urls(&[("A", 5), ("C", 3)], "interface=alt");
    let (full_ids, part_ids) = (identities(&full), identities(&part));
    let (full_set, part_set) = (set(full.clone()), set(part.clone()));
    for round in 0..200 {
        // Runs of varying length from each subset, long enough to record periods at times.
        for k in 0..(round % 13) {
            assert_eq!(
                ours.select(&full_set, &inv),
                dubbo.select(&full, &full_ids, &inv),
                "round {round} full {k}"
            );
        }
        for k in 0..(round % 5) {
            assert_eq!(
                ours.select(&part_set, &inv),
                dubbo.select(&part, &part_ids, &inv),
                "round {round} part {k}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn agrees_with_dubbo_over_random_lists(
        lists in proptest::collection::vec(
            proptest::collection::vec((0usize..8, 0i64..6), 1..7), 1..5),
        picks in 1usize..40,
    ) {
        let lists: Vec<Vec<(String, i64)>> = lists
            .into_iter()
            .map(|l| {
                let mut seen = std::collections::HashSet::new();
                l.into_iter()
                    .filter(|(h, _)| seen.insert(*h))
                    .map(|(h, w)| (format!("h{h}"), w))
                    .collect()
            })
            .collect();
        check_against_dubbo(&lists, picks);
    }
}

/// Dubbo's smooth weighted round robin over named providers, for expected sequences.
#[derive(Clone, Debug, Default)]
struct Model(std::collections::HashMap<&'static str, i64>);

impl Model {
    fn pick(&mut self, list: &[(&'static str, i64)]) -> &'static str {
        let total: i64 = list.iter().map(|&(_, w)| w).sum();
        let mut best: Option<(&'static str, i64)> = None;
        for &(name, w) in list {
            let cur = self.0.entry(name).or_insert(0);
            *cur += w;
            if best.is_none_or(|(_, b)| *cur > b) {
                best = Some((name, *cur));
            }
        }
        let (name, _) = best.expect("non-empty");
        *self.0.get_mut(name).unwrap() -= total;
        name
    }

    fn picks(&mut self, list: &[(&'static str, i64)], n: usize) -> String {
        (0..n).map(|_| self.pick(list)).collect()
    }
}

const FULL: [(&str, i64); 3] = [("A", 5), ("B", 1), ("C", 1)];
const PART: [(&str, i64); 2] = [("A", 5), ("B", 1)];

/// Picks A A B from A, B, C, then picks from A, B only, every 10 ms for `idle`, mirroring
/// every pick in a model; returns the model (C's current still in it) and the sequence of
/// the next 14 picks from A, B, C.
fn c_idle_for(lb: &RoundRobinLoadBalance, idle: std::time::Duration) -> (Model, String) {
    let full = set(urls(&FULL, "interface=recycle"));
    let part = set(urls(&PART, "interface=recycle"));
    let mut model = Model::default();
    assert_eq!(picks(lb, &full, 3), "AAB");
    assert_eq!(model.picks(&FULL, 3), "AAB");
    assert_eq!(model.0["C"], 3, "C has a current of its own");
    let start = std::time::Instant::now();
    while start.elapsed() < idle {
        assert_eq!(picks(lb, &part, 1), model.picks(&PART, 1));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (model, picks(lb, &full, 14))
}

#[test]
fn the_recycle_period_is_dubbos_unless_set() {
    assert_eq!(
        RoundRobinLoadBalance::new().recycle_period(),
        std::time::Duration::from_secs(60)
    );
    assert_eq!(
        RoundRobinLoadBalance::default().recycle_period(),
        std::time::Duration::from_secs(60)
    );
    let lb = RoundRobinLoadBalance::with_recycle_period(std::time::Duration::from_millis(250));
    assert_eq!(lb.recycle_period(), std::time::Duration::from_millis(250));
}

/// A provider not picked from for longer than the recycle period loses its current: when it
/// returns its state starts fresh (current 0), while the providers picked meanwhile keep
/// theirs.
#[test]
fn a_provider_idle_past_the_recycle_period_starts_fresh() {
    let lb = RoundRobinLoadBalance::with_recycle_period(std::time::Duration::from_millis(200));
    let (model, got) = c_idle_for(&lb, std::time::Duration::from_millis(700));
    // C forgotten, A and B as they are.
    let mut recycled = model.clone();
    recycled.0.remove("C");
    let want = recycled.picks(&FULL, 14);
    // The alternatives differ, so the sequence tells which happened.
    let mut kept = model.clone();
    assert_ne!(kept.picks(&FULL, 14), want, "C keeping its current would differ");
    let mut all_fresh = Model::default();
    assert_ne!(all_fresh.picks(&FULL, 14), want, "A and B starting fresh would differ");
    assert_eq!(got, want);
}

/// Within the recycle period an absent provider keeps its current.
#[test]
fn a_provider_idle_within_the_recycle_period_keeps_its_current() {
    let lb = RoundRobinLoadBalance::with_recycle_period(std::time::Duration::from_secs(5));
    let (model, got) = c_idle_for(&lb, std::time::Duration::from_millis(300));
    let mut kept = model.clone();
    let want = kept.picks(&FULL, 14);
    let mut recycled = model.clone();
    recycled.0.remove("C");
    assert_ne!(recycled.picks(&FULL, 14), want, "C starting fresh would differ");
    assert_eq!(got, want);
}
