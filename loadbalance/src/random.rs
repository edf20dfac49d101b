//! `random`: weighted random, Dubbo's default.

use rand::Rng;
use zkdubbo_common::Invocation;

use crate::balance::impl_load_balance;
use crate::prepared::SetView;

/// Weighted random: each provider with probability weight / total, uniform when all weights
/// are equal (or all 0); a weight-0 provider is never picked unless all are 0. O(1) per pick
/// (an alias table built with the set).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomLoadBalance;

impl RandomLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "random";

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, _inv: &Invocation, rng: &mut R) -> Option<usize> {
        set.with_weights(|t| t.pick(rng))
    }
}

impl_load_balance!(RandomLoadBalance, RandomLoadBalance::NAME);
