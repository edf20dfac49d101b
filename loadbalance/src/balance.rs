//! The [`LoadBalance`] trait.

use rand::Rng;
use zkdubbo_common::Invocation;

use crate::prepared::SetView;

/// A load-balancing strategy: picks one provider of a prepared set for a call.
///
/// Dyn-compatible, so strategies are chosen by name at run time
/// ([`by_name`](crate::by_name)) and held as `Arc<dyn LoadBalance>`. `select` takes the
/// provider-type-free [`SetView`] (a `&PreparedSet<P>` coerces to it) and returns an index
/// into the set's providers; [`PreparedSet::select`](crate::PreparedSet::select) maps it to
/// the provider. As in Dubbo, an empty set gives `None` and a one-provider set gives it
/// without consulting the strategy.
pub trait LoadBalance: Send + Sync + std::fmt::Debug {
    /// The strategy's name (`random`, `roundrobin`, ...).
    fn name(&self) -> &'static str;

    /// Pick a provider for `inv` using the thread's fast generator ([`FastRng`](crate::FastRng)).
    fn select(&self, set: &SetView, inv: &Invocation) -> Option<usize>;

    /// Pick a provider for `inv` drawing randomness from `rng` (seeded generators make tests
    /// reproducible).
    fn select_with_rng(&self, set: &SetView, inv: &Invocation, rng: &mut dyn Rng) -> Option<usize>;
}

/// Implement [`LoadBalance`] for a strategy type with an inherent
/// `fn pick<R: Rng + ?Sized>(&self, &SetView, &Invocation, &mut R) -> Option<usize>`
/// that is only called for two or more providers.
macro_rules! impl_load_balance {
    ($ty:ty, $name:expr) => {
        impl $crate::balance::LoadBalance for $ty {
            fn name(&self) -> &'static str {
                $name
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
