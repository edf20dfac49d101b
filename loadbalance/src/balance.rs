//! The [`LoadBalance`] trait.

use std::any::Any;

use rand::Rng;
use zkdubbo_common::Invocation;

use crate::prepared::SetView;

/// What a strategy keeps for one prepared set (round-robin slots, a Ketama ring): made by the
/// strategy, stored in the set, read back by the strategy with [`SetView::state`].
pub type StrategyState = Box<dyn Any + Send + Sync>;

/// A load-balancing strategy: picks one provider of a prepared set for a call.
///
/// Dyn-compatible, so strategies are chosen by name ([`by_name`](crate::by_name)) and held
/// as `Arc<dyn LoadBalance>`. A [`PreparedSet`](crate::PreparedSet) resolves its strategy once,
/// when it is built (the `loadbalance` its providers' URLs configure for its method), lets
/// the strategy [`prepare`](LoadBalance::prepare) its state then, and picks with it through
/// [`PreparedSet::pick`](crate::PreparedSet::pick): nothing is looked up on the call path.
/// `select` takes the provider-type-free [`SetView`] (a `&PreparedSet<P>` coerces to it) and
/// returns an index into the set's providers. As in Dubbo, an empty set gives `None` and a
/// one-provider set gives it without consulting the strategy.
pub trait LoadBalance: Send + Sync + std::fmt::Debug {
    /// The strategy's name (`random`, `roundrobin`, ...).
    fn name(&self) -> &'static str;

    /// The state picks from `set` need, made when the set is built for this strategy (off the
    /// call path); `None` when the strategy keeps none, or builds it on first use. The set
    /// stores it and the strategy reads it back with [`SetView::state`].
    fn prepare(&self, _set: &SetView) -> Option<StrategyState> {
        None
    }

    /// Pick a provider for `inv` using the thread's fast generator ([`FastRng`](crate::FastRng)).
    fn select(&self, set: &SetView, inv: &Invocation) -> Option<usize>;

    /// Pick a provider for `inv` drawing randomness from `rng` (seeded generators make tests
    /// reproducible).
    fn select_with_rng(&self, set: &SetView, inv: &Invocation, rng: &mut dyn Rng) -> Option<usize>;
}

/// Implement [`LoadBalance`] for a strategy type with an inherent
/// `fn pick<R: Rng + ?Sized>(&self, &SetView, &Invocation, &mut R) -> Option<usize>`
/// that is only called for two or more providers, and optionally a closure preparing the
/// strategy's state of a set.
macro_rules! impl_load_balance {
    ($ty:ty, $name:expr) => {
        $crate::balance::impl_load_balance!($ty, $name, |_lb: &$ty, _set: &$crate::SetView| None);
    };
    ($ty:ty, $name:expr, $prepare:expr) => {
        impl $crate::balance::LoadBalance for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn prepare(&self, set: &$crate::SetView) -> Option<$crate::balance::StrategyState> {
                ($prepare)(self, set)
            }

            #[inline]
            fn select(&self, set: &$crate::SetView, inv: &zkdubbo_common::Invocation) -> Option<usize> {
                match set.len() {
                    0 => None,
                    1 => Some(0),
                    _ => self.pick(set, inv, &mut $crate::FastRng),
                }
            }

            fn select_with_rng(
                &self,
                set: &$crate::SetView,
                inv: &zkdubbo_common::Invocation,
                rng: &mut dyn rand::Rng,
            ) -> Option<usize> {
                match set.len() {
                    0 => None,
                    1 => Some(0),
                    _ => self.pick(set, inv, rng),
                }
            }
        }
    };
}
pub(crate) use impl_load_balance;
