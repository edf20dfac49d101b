//! Walker/Vose alias table in integers: a weighted pick in O(1) with exactly the weights'
//! probabilities.

use rand::{Rng, RngExt};

/// One column of the table: kept with probability `threshold / total`, else `alias`.
#[derive(Debug, Clone, Copy)]
struct Column {
    threshold: u64,
    alias: u32,
}

/// An alias table over integer weights. Picking index `i` has probability exactly
/// `weights[i] / sum(weights)`.
#[derive(Debug, Clone)]
pub(crate) struct AliasTable {
    columns: Box<[Column]>,
    total: u64,
}

impl AliasTable {
    /// Build the table; `None` when the weights sum to 0 or there are more than `u32::MAX`.
    pub(crate) fn new(weights: &[u32]) -> Option<Self> {
        let n = weights.len() as u64;
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 || weights.len() > u32::MAX as usize {
            return None;
        }
        // Column capacity is `total`; the scaled weights `w * n` sum to `n * total`.
        let mut scaled: Vec<u64> = weights.iter().map(|&w| u64::from(w) * n).collect();
        let mut columns = vec![
            Column {
                threshold: total,
                alias: 0
            };
            weights.len()
        ];
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..weights.len() as u32).partition(|&i| scaled[i as usize] < total);
        while let (Some(&l), Some(&g)) = (small.last(), large.last()) {
            small.pop();
            columns[l as usize] = Column {
                threshold: scaled[l as usize],
                alias: g,
            };
            let rest = scaled[g as usize] - (total - scaled[l as usize]);
            scaled[g as usize] = rest;
            if rest < total {
                large.pop();
                small.push(g);
            }
        }
        for i in small.into_iter().chain(large) {
            columns[i as usize] = Column {
                threshold: total,
                alias: i,
            };
        }
        Some(AliasTable {
            columns: columns.into_boxed_slice(),
            total,
        })
    }

    /// Pick an index.
    #[inline]
    pub(crate) fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let i = rng.random_range(0..self.columns.len());
        let column = self.columns[i];
        if rng.random_range(0..self.total) < column.threshold {
            i
        } else {
            column.alias as usize
        }
    }

    /// The exact probability of each index, as (numerator, denominator): for tests.
    #[cfg(test)]
    pub(crate) fn odds(&self) -> (Vec<u64>, u64) {
        let n = self.columns.len() as u64;
        let mut num = vec![0u64; self.columns.len()];
        for (i, c) in self.columns.iter().enumerate() {
            num[i] += c.threshold;
            num[c.alias as usize] += self.total - c.threshold;
        }
        (num, n * self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn probabilities_are_exact(weights in proptest::collection::vec(0u32..1000, 1..60)) {
            let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
            match AliasTable::new(&weights) {
                None => prop_assert_eq!(total, 0),
                Some(table) => {
                    let (num, den) = table.odds();
                    let n = weights.len() as u64;
                    for (i, &w) in weights.iter().enumerate() {
                        // num / (n * total) == w / total
                        prop_assert_eq!(num[i], u64::from(w) * n, "index {} of {:?}", i, weights);
                    }
                    prop_assert_eq!(den, n * total);
                }
            }
        }
    }
}
