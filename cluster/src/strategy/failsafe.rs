//! `failsafe`: a failure is logged and an empty result returned (for audit logs and other
//! calls whose failure must not fail the caller).

use std::sync::Arc;

use zkdubbo_common::{Invocation, InvokeFuture, Response};

use crate::invoker::Strategy;
use crate::support::ClusterBase;

/// The `failsafe` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailsafeCluster;

impl Strategy for FailsafeCluster {
    const NAME: &'static str = "failsafe";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let result = async {
                let (listed, index) = base.pick(inv)?;
                base.call(&listed, index, inv).await
            }
            .await;
            match result {
                Ok(r) => Ok(r),
                Err(e) => {
                    tracing::error!(
                        service = %base.url().service_key(),
                        method = inv.method(),
                        error = %e,
                        "failsafe: call failed, returning an empty result"
                    );
                    Ok(Response::default())
                }
            }
        })
    }
}
