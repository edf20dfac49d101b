//! `available`: the first available provider, without load balancing.

use std::sync::Arc;

use zkdubbo_common::{Invocation, InvokeFuture, NoProviderReason, RpcError};

use crate::invoker::Strategy;
use crate::support::ClusterBase;

/// The `available` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct AvailableCluster;

impl Strategy for AvailableCluster {
    const NAME: &'static str = "available";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let listed = base.list(inv)?;
            match listed.providers().iter().position(|m| m.invoker().is_available()) {
                Some(index) => base.call(&listed, index, inv).await,
                None => Err(RpcError::no_provider(
                    NoProviderReason::NoneAvailable {
                        listed: listed.providers().iter().map(|m| m.url().address()).collect(),
                    },
                    base.context(inv),
                )),
            }
        })
    }
}
