//! `leastactive`: fewest calls in flight.

use rand::Rng;
use zkdubbo_common::HotStats;
use zkdubbo_common::Invocation;

use crate::balance::impl_load_balance;
use crate::least::pick_least_hot;
use crate::prepared::SetView;

/// The provider with the fewest calls in flight for this method; ties by weighted random
/// among them. In-flight counts come from the set's call statistics, which the cluster layer
/// keeps for every call (no `actives` setting needed). O(n) atomic loads per pick, from one
/// compact array in the common case.
#[derive(Debug, Default, Clone, Copy)]
pub struct LeastActiveLoadBalance;

impl LeastActiveLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "leastactive";

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, _inv: &Invocation, rng: &mut R) -> Option<usize> {
        pick_least_hot(set, HotStats::in_flight, rng)
    }
}

impl_load_balance!(LeastActiveLoadBalance, LeastActiveLoadBalance::NAME);
