//! `broadcast`: call every provider, one after the other (e.g. to refresh caches).
//!
//! Any failure makes the call fail, after the others were called. With
//! `broadcast.fail.percent` (0–100, default 100) the broadcast stops once that share of the
//! providers has failed (Dubbo's threshold: `providers × percent / 100` failures).

use std::sync::Arc;

use zkdubbo_common::{Invocation, InvokeFuture, RpcError};

use crate::invoker::Strategy;
use crate::support::ClusterBase;

/// `broadcast.fail.percent`: share of failed providers (0–100) at which a broadcast stops.
pub const FAIL_PERCENT_KEY: &str = "broadcast.fail.percent";

/// The `broadcast` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct BroadcastCluster;

impl Strategy for BroadcastCluster {
    const NAME: &'static str = "broadcast";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let listed = base.list(inv)?;
            let len = listed.providers().len();
            let percent: i64 = base.url().param_as(FAIL_PERCENT_KEY, 100);
            let percent = usize::try_from(percent.clamp(0, 100)).unwrap_or(100);
            let threshold = len * percent / 100;
            let mut result = None;
            let mut failed: Vec<String> = Vec::new();
            let mut last: Option<RpcError> = None;
            let mut called = 0;
            for index in 0..len {
                called += 1;
                match base.call(&listed, index, inv).await {
                    Ok(r) => result = Some(r),
                    Err(e) => {
                        failed.push(listed.providers()[index].url().address());
                        last = Some(e);
                        if failed.len() == threshold {
                            break;
                        }
                    }
                }
            }
            match last {
                None => Ok(result.unwrap_or_default()),
                Some(last) => Err(last.clone().restated(
                    format!(
                        "broadcast of method {} failed on {} of {called} called provider(s) ({len} listed{}): {failed:?}; \
                         last error: {last}",
                        inv.method(),
                        failed.len(),
                        if failed.len() == threshold && called < len {
                            format!(", stopped at {FAIL_PERCENT_KEY}={percent}")
                        } else {
                            String::new()
                        }
                    ),
                    base.context(inv),
                )),
            }
        })
    }
}
