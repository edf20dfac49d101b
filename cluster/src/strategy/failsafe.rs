//! `failsafe`: a failure is logged and an empty result returned (for audit logs and other
//! calls whose failure must not fail the caller).

use std::sync::Arc;

use zkdubbo_common::{Invocation, Invoker, Response, RpcError};
use zkdubbo_directory::Directory;

use crate::cluster::Cluster;
use crate::strategy::cluster_invoker;
use crate::support::ClusterBase;

/// The `failsafe` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailsafeCluster;

impl Cluster for FailsafeCluster {
    fn name(&self) -> &'static str {
        "failsafe"
    }

    fn join(&self, directory: Arc<dyn Directory>) -> Arc<dyn Invoker> {
        Arc::new(FailsafeClusterInvoker {
            base: ClusterBase::new("failsafe", directory),
        })
    }
}

/// The invoker of [`FailsafeCluster`].
pub struct FailsafeClusterInvoker {
    base: ClusterBase,
}

cluster_invoker!(FailsafeClusterInvoker);

impl FailsafeClusterInvoker {
    async fn call(&self, inv: &Invocation) -> Result<Response, RpcError> {
        let result = async {
            let (listed, index) = self.base.pick(inv)?;
            self.base.call(&listed, index, inv).await
        }
        .await;
        match result {
            Ok(r) => Ok(r),
            Err(e) => {
                tracing::error!(
                    service = %self.base.url().service_key(),
                    method = inv.method(),
                    error = %e,
                    "failsafe: call failed, returning an empty result"
                );
                Ok(Response::default())
            }
        }
    }
}
