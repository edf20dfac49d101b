//! `consistenthash`: Ketama, bit-compatible with Java and Go Dubbo.

use rand::Rng;
use zkdubbo_common::Invocation;

use crate::balance::impl_load_balance;
use crate::ketama::KetamaRing;
use crate::prepared::SetView;

/// Consistent hashing: the request key (the arguments at `hash.arguments`, concatenated) is
/// hashed with MD5 and mapped to the first ring point at or after it, the ring holding
/// `hash.nodes` points per provider address. Weights are ignored. The ring is the strategy's
/// state of the set, built on the first pick (building it for every method of every list at
/// refresh would hash `hash.nodes / 4` keys per provider for methods never called); a pick is
/// one MD5 and a lookup.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsistentHashLoadBalance;

impl ConsistentHashLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "consistenthash";

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, inv: &Invocation, _rng: &mut R) -> Option<usize> {
        let hash = set.hash_spec().hash(inv);
        match set.state_or_init(|| Self::ring(set)) {
            Some(ring) => ring.lookup(hash),
            // The set keeps another strategy's state: a ring for this pick only.
            None => Self::ring(set).lookup(hash),
        }
    }

    /// The Ketama ring of `set`'s providers.
    pub fn ring(set: &SetView) -> KetamaRing {
        KetamaRing::build(set.addresses(), set.hash_spec().nodes())
    }
}

impl_load_balance!(ConsistentHashLoadBalance, ConsistentHashLoadBalance::NAME);
