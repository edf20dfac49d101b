//! The shared core of `leastactive` and `shortestresponse`: the provider with the lowest
//! score, ties broken by weighted random among the tied as Dubbo does.

use rand::{Rng, RngExt};

use crate::table::WeightTable;

/// The index with the lowest `score`; among several, weighted random by `table`'s weights
/// (uniform when their weights are equal or all 0). When every provider ties this is the
/// set's own O(1) weighted pick; otherwise one pass scores and a second finds the winner
/// among the tied (re-scoring; if concurrent calls changed a score meanwhile the first
/// tied index is taken).
#[inline]
pub(crate) fn pick_least<R, F>(table: &WeightTable, score: F, rng: &mut R) -> Option<usize>
where
    R: Rng + ?Sized,
    F: Fn(usize) -> u128,
{
    let weights = table.weights();
    let n = weights.len();
    if n == 0 {
        return None;
    }
    let mut least = u128::MAX;
    let mut count = 0usize;
    let mut first = 0usize;
    let mut total = 0u64;
    let mut first_weight = 0u32;
    let mut same = true;
    for (i, &w) in weights.iter().enumerate() {
        let s = score(i);
        if s < least {
            least = s;
            count = 1;
            first = i;
            total = u64::from(w);
            first_weight = w;
            same = true;
        } else if s == least {
            count += 1;
            total += u64::from(w);
            same &= w == first_weight;
        }
    }
    if count == 1 {
        return Some(first);
    }
    if count == n {
        return table.pick(rng);
    }
    if !same && total > 0 {
        let mut offset = rng.random_range(0..total);
        for (i, &w) in weights.iter().enumerate().skip(first) {
            if score(i) == least {
                let w = u64::from(w);
                if offset < w {
                    return Some(i);
                }
                offset -= w;
            }
        }
        return Some(first);
    }
    let mut k = rng.random_range(0..count);
    for i in first..n {
        if score(i) == least {
            if k == 0 {
                return Some(i);
            }
            k -= 1;
        }
    }
    Some(first)
}
