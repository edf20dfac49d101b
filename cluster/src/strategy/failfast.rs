//! `failfast`: one attempt; a failure is returned at once (for non-idempotent writes).

use std::sync::Arc;

use zkdubbo_common::{Invocation, InvokeFuture};

use crate::invoker::Strategy;
use crate::support::ClusterBase;

/// The `failfast` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailfastCluster;

impl Strategy for FailfastCluster {
    const NAME: &'static str = "failfast";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let (listed, index) = base.pick(inv)?;
            base.call(&listed, index, inv).await.map_err(|e| {
                if e.is_business() {
                    e
                } else {
                    e.with_context("cluster failfast: not retried")
                }
            })
        })
    }
}
