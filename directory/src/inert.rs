//! Invokers that never call anything: for tools that only want to see what a consumer sees
//! (`zkdubbo describe`), and for tests.

use std::sync::Arc;

use zkdubbo_common::{Invocation, Url};
use zkdubbo_common::{InvokeFuture, Invoker, InvokerFactory, RpcError};

/// Creates [`InertInvoker`]s: no connection is opened.
#[derive(Debug, Default, Clone, Copy)]
pub struct InertInvokerFactory;

impl InvokerFactory for InertInvokerFactory {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        Ok(Arc::new(InertInvoker { url: url.clone() }))
    }
}

/// An invoker that is always available and fails every call with a transport error.
#[derive(Debug, Clone)]
pub struct InertInvoker {
    url: Url,
}

impl Invoker for InertInvoker {
    fn url(&self) -> &Url {
        &self.url
    }

    fn invoke<'a>(&'a self, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            Err(RpcError::transport(
                "inert invoker: no transport",
                format!("method {} on {}", inv.method(), self.url.address()),
            ))
        })
    }
}
