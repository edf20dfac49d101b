//! `consistenthash`: Ketama, bit-compatible with Java and Go Dubbo.

use rand::Rng;
use zkdubbo_common::Invocation;

use crate::balance::impl_load_balance;
use crate::prepared::SetView;

/// Consistent hashing: the request key (the arguments at `hash.arguments`, concatenated) is
/// hashed with MD5 and mapped to the first ring point at or after it, the ring holding
/// `hash.nodes` points per provider address. Weights are ignored. The ring is built once
/// per set, on first use; a pick is one MD5 and a lookup.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsistentHashLoadBalance;

impl ConsistentHashLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "consistenthash";

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, inv: &Invocation, _rng: &mut R) -> Option<usize> {
        let hash = set.hash_spec().hash(inv);
        set.ring().lookup(hash)
    }
}

impl_load_balance!(ConsistentHashLoadBalance, ConsistentHashLoadBalance::NAME);
