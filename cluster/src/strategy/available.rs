//! `available`: the first available provider, without load balancing.

use std::sync::Arc;

use zkdubbo_common::{Invocation, Invoker, NoProviderReason, Response, RpcError};
use zkdubbo_directory::Directory;

use crate::cluster::Cluster;
use crate::strategy::cluster_invoker;
use crate::support::ClusterBase;

/// The `available` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct AvailableCluster;

impl Cluster for AvailableCluster {
    fn name(&self) -> &'static str {
        "available"
    }

    fn join(&self, directory: Arc<dyn Directory>) -> Arc<dyn Invoker> {
        Arc::new(AvailableClusterInvoker {
            base: ClusterBase::new("available", directory),
        })
    }
}

/// The invoker of [`AvailableCluster`].
pub struct AvailableClusterInvoker {
    base: ClusterBase,
}

cluster_invoker!(AvailableClusterInvoker);

impl AvailableClusterInvoker {
    async fn call(&self, inv: &Invocation) -> Result<Response, RpcError> {
        let listed = self.base.list(inv)?;
        match listed.providers().iter().position(|m| m.invoker().is_available()) {
            Some(index) => self.base.call(&listed, index, inv).await,
            None => Err(RpcError::no_provider(
                NoProviderReason::NoneAvailable {
                    listed: listed.providers().iter().map(|m| m.url().address()).collect(),
                },
                self.base.context(inv),
            )),
        }
    }
}
