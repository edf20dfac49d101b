//! The weights of a provider set at one moment: per-provider weights, prefix sums, the
//! uniform flag and an alias table, computed once and read by every pick.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, RngExt};

use crate::alias::AliasTable;
use crate::weight::WeightSpec;

/// Source of [`WeightTable::epoch`]: unique over the process.
static EPOCHS: AtomicU64 = AtomicU64::new(1);

/// Weights of every provider of a set at one moment.
#[derive(Debug)]
pub struct WeightTable {
    weights: Box<[u32]>,
    prefix: Box<[u64]>,
    total: u64,
    uniform: bool,
    alias: Option<AliasTable>,
    epoch: u64,
}

impl WeightTable {
    /// Compute the weights of `specs` at wall-clock time `now_ms`.
    pub fn at(specs: &[WeightSpec], now_ms: i64) -> Self {
        Self::from_weights(specs.iter().map(|s| s.weight_at(now_ms)).collect())
    }

    /// A table over explicit weights.
    ///
    /// ```
    /// # use zkdubbo_loadbalance::WeightTable;
    /// let t = WeightTable::from_weights(vec![5, 0, 3]);
    /// assert_eq!(t.total(), 8);
    /// assert_eq!(t.prefix_sums(), &[5, 5, 8]);
    /// assert!(!t.is_uniform());
    /// assert_eq!(t.index_of_offset(5), 2);
    /// ```
    pub fn from_weights(weights: Vec<u32>) -> Self {
        let mut total = 0u64;
        let prefix: Box<[u64]> = weights
            .iter()
            .map(|&w| {
                total += u64::from(w);
                total
            })
            .collect();
        let uniform = weights.windows(2).all(|w| w[0] == w[1]);
        let alias = if uniform { None } else { AliasTable::new(&weights) };
        WeightTable {
            weights: weights.into_boxed_slice(),
            prefix,
            total,
            uniform,
            alias,
            epoch: EPOCHS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Per-provider weights, in set order.
    #[inline]
    pub fn weights(&self) -> &[u32] {
        &self.weights
    }

    /// Inclusive prefix sums of the weights.
    pub fn prefix_sums(&self) -> &[u64] {
        &self.prefix
    }

    /// Sum of the weights.
    #[inline]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether every weight is the same (then picks are uniform).
    #[inline]
    pub fn is_uniform(&self) -> bool {
        self.uniform
    }

    /// Number of providers.
    #[inline]
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// A process-unique number of this table: a new table means the weights may differ.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The provider whose weight range holds `offset` (`offset < total`): the first index
    /// whose prefix sum exceeds it, by binary search. Exactly Dubbo's linear scan
    /// `offset -= weight[i]` until negative.
    #[inline]
    pub fn index_of_offset(&self, offset: u64) -> usize {
        self.prefix
            .partition_point(|&p| p <= offset)
            .min(self.prefix.len().saturating_sub(1))
    }

    /// Dubbo's weighted random pick over the whole table: uniform when all weights are equal
    /// or all are 0, else weighted, never a weight-0 provider. `None` when empty.
    #[inline]
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<usize> {
        let n = self.weights.len();
        if n <= 1 {
            return (n == 1).then_some(0);
        }
        match &self.alias {
            Some(alias) => Some(alias.pick(rng)),
            None => Some(rng.random_range(0..n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_like_a_linear_scan() {
        let t = WeightTable::from_weights(vec![3, 0, 2, 5]);
        let linear = |mut offset: i64| {
            for (i, &w) in t.weights().iter().enumerate() {
                offset -= i64::from(w);
                if offset < 0 {
                    return i;
                }
            }
            unreachable!()
        };
        for off in 0..t.total() {
            assert_eq!(t.index_of_offset(off), linear(off as i64), "offset {off}");
        }
    }

    #[test]
    fn uniform_and_zero() {
        assert!(WeightTable::from_weights(vec![7, 7, 7]).is_uniform());
        let zeros = WeightTable::from_weights(vec![0, 0]);
        assert!(zeros.is_uniform());
        assert_eq!(zeros.total(), 0);
        assert!(WeightTable::from_weights(vec![]).pick(&mut crate::FastRng).is_none());
        assert_eq!(
            WeightTable::from_weights(vec![0, 0, 0])
                .pick(&mut crate::FastRng)
                .map(|i| i < 3),
            Some(true)
        );
    }
}
