//! The shared core of `leastactive` and `shortestresponse`: the provider with the lowest
//! score, ties broken by weighted random among the tied as Dubbo does.

use rand::{Rng, RngExt};

use zkdubbo_common::HotStats;

use crate::prepared::{HotView, SetView};
use crate::table::WeightTable;

/// [`pick_least`] over the set's providers with `score` computed from each one's
/// [`HotStats`], reading them where they lie (see [`HotView`]).
#[inline]
pub(crate) fn pick_least_hot<R, F>(set: &SetView, score: F, rng: &mut R) -> Option<usize>
where
    R: Rng + ?Sized,
    F: Fn(&HotStats) -> u64,
{
    set.with_weights(|t| match set.hot_view() {
        HotView::Dense(hot) => pick_least(t, |i| score(&hot[i]), rng),
        HotView::Refs(refs) => pick_least(t, |i| score(refs[i]), rng),
    })
}

/// The index with the lowest `score`; among several, weighted random by `table`'s weights
/// (uniform when their weights are equal or all 0), as Dubbo breaks ties. When every
/// provider ties this is the set's own O(1) weighted pick.
///
/// Three short loops rather than Dubbo's one: the minimum, then the tied count and weights,
/// then the winner among the tied. Each is free of data-dependent branches (scores of busy
/// providers vary at random, and mispredictions would cost more than the extra passes over
/// data that sits in L1). Scores are re-read in each loop; if concurrent calls change one
/// meanwhile, the first index with the least score is taken.
#[inline]
pub(crate) fn pick_least<R, F>(table: &WeightTable, score: F, rng: &mut R) -> Option<usize>
where
    R: Rng + ?Sized,
    F: Fn(usize) -> u64,
{
    let weights = table.weights();
    let n = weights.len();
    if n == 0 {
        return None;
    }
    let mut least = u64::MAX;
    let mut first = 0usize;
    for i in 0..n {
        let s = score(i);
        first = if s < least { i } else { first };
        least = least.min(s);
    }
    let mut count = 0usize;
    let mut total = 0u64;
    let mut min_weight = u64::MAX;
    let mut max_weight = 0u64;
    for (i, &w) in weights.iter().enumerate().skip(first) {
        let eq = score(i) == least;
        let w = u64::from(w);
        count += usize::from(eq);
        total += if eq { w } else { 0 };
        min_weight = min_weight.min(if eq { w } else { u64::MAX });
        max_weight = max_weight.max(if eq { w } else { 0 });
    }
    if count <= 1 {
        return Some(first);
    }
    if count == n {
        return table.pick(rng);
    }
    if min_weight != max_weight && total > 0 {
        let mut offset = rng.random_range(0..total);
        for (i, &w) in weights.iter().enumerate().skip(first) {
            let w = if score(i) == least { u64::from(w) } else { 0 };
            if offset < w {
                return Some(i);
            }
            offset -= w;
        }
        return Some(first);
    }
    let mut k = rng.random_range(0..count);
    for i in first..n {
        let eq = usize::from(score(i) == least);
        if k < eq {
            return Some(i);
        }
        k -= eq;
    }
    Some(first)
}
