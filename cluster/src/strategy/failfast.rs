//! `failfast`: one attempt; a failure is returned at once (for non-idempotent writes).

use std::sync::Arc;

use zkdubbo_common::{Invocation, Invoker, Response, RpcError};
use zkdubbo_directory::Directory;

use crate::cluster::Cluster;
use crate::strategy::cluster_invoker;
use crate::support::ClusterBase;

/// The `failfast` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailfastCluster;

impl Cluster for FailfastCluster {
    fn name(&self) -> &'static str {
        "failfast"
    }

    fn join(&self, directory: Arc<dyn Directory>) -> Arc<dyn Invoker> {
        Arc::new(FailfastClusterInvoker {
            base: ClusterBase::new("failfast", directory),
        })
    }
}

/// The invoker of [`FailfastCluster`].
pub struct FailfastClusterInvoker {
    base: ClusterBase,
}

cluster_invoker!(FailfastClusterInvoker);

impl FailfastClusterInvoker {
    async fn call(&self, inv: &Invocation) -> Result<Response, RpcError> {
        let (listed, index) = self.base.pick(inv)?;
        self.base.call(&listed, index, inv).await.map_err(|e| {
            if e.is_business() {
                e
            } else {
                e.with_context("cluster failfast: not retried")
            }
        })
    }
}
