//! `p2c`: power of two choices.

use rand::{Rng, RngExt};
use zkdubbo_common::Invocation;
use zkdubbo_common::MethodStats;

use crate::balance::impl_load_balance;
use crate::prepared::SetView;

/// Power of two choices: two distinct providers at random, then the one with the lower load
/// `(in-flight + 1) × EWMA latency` (a provider without latency samples counts 1 ns, so
/// in-flight calls still decide); the first drawn on a tie. Weights are ignored, as in
/// Dubbo's `P2CLoadBalance`.
#[derive(Debug, Default, Clone, Copy)]
pub struct P2cLoadBalance;

/// The load p2c compares.
#[inline]
pub(crate) fn p2c_load(stats: &MethodStats) -> u128 {
    u128::from(stats.in_flight() + 1) * u128::from(stats.ewma_nanos().max(1))
}

impl P2cLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "p2c";

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, _inv: &Invocation, rng: &mut R) -> Option<usize> {
        let n = set.len();
        let a = rng.random_range(0..n);
        let mut b = rng.random_range(0..n - 1);
        if b >= a {
            b += 1;
        }
        let stats = set.stats();
        Some(if p2c_load(&stats[b]) < p2c_load(&stats[a]) {
            b
        } else {
            a
        })
    }
}

impl_load_balance!(P2cLoadBalance, P2cLoadBalance::NAME);
