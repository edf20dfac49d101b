//! `shortestresponse`: shortest expected response.

use rand::Rng;
use zkdubbo_common::Invocation;

use crate::balance::impl_load_balance;
use crate::least::pick_least_hot;
use crate::prepared::SetView;

/// The provider with the smallest `average successful latency in the window × (in-flight +
/// 1)`; a provider without successes in the window counts 0; ties by weighted random among
/// them. The window (30 s by default) is kept by the call statistics; a pick reads one clock
/// and two atomics per provider, from one compact array in the common case.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShortestResponseLoadBalance;

impl ShortestResponseLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "shortestresponse";

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, _inv: &Invocation, rng: &mut R) -> Option<usize> {
        let slice = set.stats()[0].current_slice();
        pick_least_hot(
            set,
            |s| s.window_average_nanos_at(slice).saturating_mul(s.in_flight() + 1),
            rng,
        )
    }
}

impl_load_balance!(ShortestResponseLoadBalance, ShortestResponseLoadBalance::NAME);
