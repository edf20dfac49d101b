//! What a prepared set holds: anything that has a provider URL.

use std::sync::Arc;

use zkdubbo_common::Url;

/// A provider as the load balancers see it: its (merged) URL. The directory puts its
/// invokers in a [`PreparedSet`](crate::PreparedSet); tests and the CLI put plain [`Url`]s.
pub trait Provider: Send + Sync {
    /// The provider's URL: `weight`, `timestamp`, `warmup`, `hash.*` and the address are read
    /// from it when the set is prepared.
    fn url(&self) -> &Url;
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
}

impl<T: Provider + ?Sized> Provider for Box<T> {
    fn url(&self) -> &Url {
        (**self).url()
    }
}
