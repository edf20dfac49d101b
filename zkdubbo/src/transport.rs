//! Which transport calls a provider: the invoker factory a [`Reference`](crate::Reference)
//! uses unless it is given one.

use std::sync::Arc;

use zkdubbo_common::InvokerFactory;
#[cfg(not(feature = "triple"))]
use zkdubbo_common::{Invoker, RpcError, Url};

/// The invoker factory of the transports compiled in (the `triple` feature: `tri://`).
pub(crate) fn default_factory() -> Arc<dyn InvokerFactory> {
    #[cfg(feature = "triple")]
    {
        Arc::new(zkdubbo_triple::TripleInvokerFactory::new())
    }
    #[cfg(not(feature = "triple"))]
    {
        Arc::new(NoTransport)
    }
}

/// The factory when no transport feature is enabled: every provider is refused with a message
/// that names the missing feature.
#[cfg(not(feature = "triple"))]
#[derive(Debug)]
struct NoTransport;

#[cfg(not(feature = "triple"))]
impl InvokerFactory for NoTransport {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        Err(RpcError::transport(
            format!(
                "protocol {:?} has no transport: zkdubbo was built without the `triple` feature",
                url.protocol()
            ),
            format!("provider {}", url.address()),
        ))
    }
}
