//! What a prepared set holds: anything that has a provider URL.

use std::sync::Arc;

use zkdubbo_common::Url;

use crate::weight::WeightSpec;

/// A provider as the load balancers see it: its (merged) URL. The directory puts its
/// invokers in a [`PreparedSet`](crate::PreparedSet); tests and the CLI put plain [`Url`]s.
///
/// Preparing a set reads, per provider, its [address](Provider::address),
/// [identity](Provider::identity) and [weight inputs](Provider::weight_spec). The provided
/// methods compute them from [`Provider::url`] on every call; a provider that lives across
/// many sets (the directory's members) overrides them with values computed once, so that
/// preparing a set of unchanged providers formats and parses nothing. An override must return
/// exactly what the provided method would.
pub trait Provider: Send + Sync {
    /// The provider's URL: `weight`, `timestamp`, `warmup`, `hash.*` and the address are read
    /// from it when the set is prepared.
    fn url(&self) -> &Url;

    /// `host:port` of [`Provider::url`] (see [`Url::address`]).
    fn address(&self) -> Arc<str> {
        self.url().address().into()
    }

    /// `protocol://host:port/path` of [`Provider::url`] (see [`Url::identity`]): the key of
    /// its call statistics and round-robin state.
    fn identity(&self) -> Arc<str> {
        self.url().identity().into()
    }

    /// The weight inputs of [`Provider::url`] for `method` (see [`WeightSpec::of`]).
    fn weight_spec(&self, method: &str) -> WeightSpec {
        WeightSpec::of(self.url(), method)
    }
}

impl Provider for Url {
    fn url(&self) -> &Url {
        self
    }
}

impl<T: Provider + ?Sized> Provider for Arc<T> {
    fn url(&self) -> &Url {
        (**self).url()
    }
    fn address(&self) -> Arc<str> {
        (**self).address()
    }
    fn identity(&self) -> Arc<str> {
        (**self).identity()
    }
    fn weight_spec(&self, method: &str) -> WeightSpec {
        (**self).weight_spec(method)
    }
}

impl<T: Provider + ?Sized> Provider for Box<T> {
    fn url(&self) -> &Url {
        (**self).url()
    }
    fn address(&self) -> Arc<str> {
        (**self).address()
    }
    fn identity(&self) -> Arc<str> {
        (**self).identity()
    }
    fn weight_spec(&self, method: &str) -> WeightSpec {
        (**self).weight_spec(method)
    }
}
