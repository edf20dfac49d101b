//! `failover` (the default): on a transport error or timeout, try another provider.
//!
//! Up to `retries` + 1 attempts (method-level `retries`, default 2). Every retry re-lists the
//! directory (so providers that left are not called and new ones can be) and avoids the
//! providers already tried. Business errors are returned at once, never retried. When every
//! attempt failed, the error names the method, the service, the attempts, the providers
//! tried and the last cause; its kind is the last cause's.

use std::sync::Arc;

use zkdubbo_common::{Invocation, InvokeFuture, NoProviderReason, RpcError, limits};

use crate::invoker::Strategy;
use crate::support::ClusterBase;

/// The `failover` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailoverCluster;

impl Strategy for FailoverCluster {
    const NAME: &'static str = "failover";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let mut listed = base.list(inv)?;
            // Bounded (docs/LIMITS.md): an override's `retries` sizes this call's loop.
            let retries = limits::RETRIES.read(base.param_url(&listed), inv.method());
            let attempts = usize::try_from(retries.saturating_add(1)).unwrap_or(1).max(1);
            let mut tried: Vec<Arc<str>> = Vec::with_capacity(attempts);
            let mut tried_addresses: Vec<String> = Vec::with_capacity(attempts);
            let mut last: Option<RpcError> = None;
            let mut made = 0;
            for attempt in 0..attempts {
                if attempt > 0 {
                    if base.is_destroyed() {
                        break;
                    }
                    base.metrics().retried(inv.method());
                    match base.list(inv) {
                        Ok(l) => listed = l,
                        Err(e) => {
                            last = Some(e);
                            break;
                        }
                    }
                }
                let Some(index) = base.select(inv, &listed, &tried) else {
                    break;
                };
                let member = &listed.providers()[index];
                tried.push(member.identity().into());
                let address = member.url().address();
                made += 1;
                match base.call_attempt(&listed, index, inv, attempt + 1).await {
                    Ok(response) => {
                        if attempt > 0 {
                            tracing::warn!(
                                service = %base.url().service_key(),
                                method = inv.method(),
                                provider = %address,
                                attempt = attempt + 1,
                                tried = ?tried_addresses,
                                "call succeeded after failing over"
                            );
                        }
                        return Ok(response);
                    }
                    Err(e) if e.is_business() => return Err(e),
                    Err(e) => {
                        tracing::debug!(provider = %address, method = inv.method(), error = %e, "attempt failed");
                        tried_addresses.push(address);
                        last = Some(e);
                    }
                }
            }
            let last = last.unwrap_or_else(|| {
                RpcError::no_provider(
                    NoProviderReason::NoneSelectable {
                        listed: listed.providers().len(),
                    },
                    base.context(inv),
                )
            });
            Err(last.clone().restated(
                format!(
                    "failed to invoke method {} of service {} after {made} of {attempts} attempt(s); providers tried {:?} \
                     ({} of {} listed); last error: {}",
                    inv.method(),
                    base.url().service_key(),
                    tried_addresses,
                    tried_addresses.len(),
                    listed.providers().len(),
                    last
                ),
                base.context(inv),
            ))
        })
    }
}
