//! `forking`: call several providers in parallel; the first success wins.
//!
//! `forks` (method-level, default 2) distinct providers are chosen by the load balancer; `forks
//! ≤ 0` or `≥` the number of providers calls them all. The first successful answer is
//! returned and the other calls are cancelled (their futures dropped, which closes their
//! streams); an error is returned only when every call failed, or when none succeeded within
//! `timeout` (method-level, default 1000 ms).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use zkdubbo_common::{Invocation, InvokeFuture, NoProviderReason, RpcError, limits};

use crate::invoker::Strategy;
use crate::support::ClusterBase;

/// `forks`: how many providers a forking call uses.
pub const FORKS_KEY: &str = "forks";
/// Default of [`FORKS_KEY`].
pub const DEFAULT_FORKS: i64 = 2;

/// The `forking` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForkingCluster;

impl Strategy for ForkingCluster {
    const NAME: &'static str = "forking";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let listed = base.list(inv)?;
            let method = inv.method();
            let forks = limits::FORKS.read(base.param_url(&listed), method);
            let timeout_ms = limits::TIMEOUT.read(base.param_url(&listed), method) as u64;
            let len = listed.providers().len();
            let chosen: Vec<usize> = match usize::try_from(forks) {
                Ok(n) if n > 0 && n < len => {
                    let mut chosen = Vec::with_capacity(n);
                    let mut tried: Vec<Arc<str>> = Vec::with_capacity(n);
                    for _ in 0..n {
                        if let Some(i) = base.select(inv, &listed, &tried)
                            && !chosen.contains(&i)
                        {
                            tried.push(listed.providers()[i].identity().into());
                            chosen.push(i);
                        }
                    }
                    chosen
                }
                _ => (0..len).collect(),
            };
            let addresses: Vec<String> = chosen.iter().map(|&i| listed.providers()[i].url().address()).collect();
            let mut calls: FuturesUnordered<_> = chosen.iter().map(|&i| base.call(&listed, i, inv)).collect();
            let deadline = tokio::time::sleep(Duration::from_millis(timeout_ms));
            tokio::pin!(deadline);
            let mut last: Option<RpcError> = None;
            let mut failed = 0usize;
            loop {
                tokio::select! {
                    next = calls.next() => match next {
                        Some(Ok(response)) => return Ok(response),
                        Some(Err(e)) => {
                            failed += 1;
                            last = Some(e);
                        }
                        None => break,
                    },
                    () = &mut deadline => {
                        return Err(RpcError::timeout(
                            format!(
                                "no forked call of method {method} succeeded within {timeout_ms} ms ({failed} of {} failed); \
                                 providers {addresses:?}",
                                addresses.len()
                            ),
                            base.context(inv),
                        ));
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
                    "all {} forked call(s) of method {method} failed; providers {addresses:?}; last error: {last}",
                    addresses.len()
                ),
                base.context(inv),
            ))
        })
    }
}
