//! `shortestresponse`: shortest expected response.

use rand::Rng;
use zkdubbo_common::Invocation;

use crate::balance::impl_load_balance;
use crate::least::pick_least;
use crate::prepared::SetView;

/// The provider with the smallest `average successful latency in the window × (in-flight +
/// 1)`; a provider without successes in the window counts 0; ties by weighted random among
/// them. The window (30 s by default) is kept by the call statistics; a pick reads one clock
/// and three atomics per provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShortestResponseLoadBalance;

impl ShortestResponseLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "shortestresponse";

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, _inv: &Invocation, rng: &mut R) -> Option<usize> {
        let stats = set.stats();
        let slice = stats[0].current_slice();
        set.with_weights(|t| {
            pick_least(
                t,
                |i| {
                    let s = &stats[i];
                    u128::from(s.window_average_nanos_at(slice)) * u128::from(s.in_flight() + 1)
                },
                rng,
            )
        })
    }
}

impl_load_balance!(ShortestResponseLoadBalance, ShortestResponseLoadBalance::NAME);
