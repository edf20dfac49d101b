//! `mergeable`: call every member (one per group) and merge the answers.
//!
//! The member list comes from the directory: for a multi-group reference (`group=a,b` or `*`)
//! every member is the cluster invoker of one group. The method-level `merger` parameter
//! decides: absent or `false` → no merging, the first available member is called; otherwise
//! every member is called in parallel (each bounded by `timeout`), failed members are logged
//! and skipped, and the answers are merged with the named [`PayloadMerger`] (`true` or
//! `default`: protobuf merge; see [`Mergers`]). Unlike Dubbo, which returns an empty result
//! when every member failed, the last failure is returned.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use zkdubbo_common::{Invocation, InvokeFuture, NoProviderReason, Response, RpcError, limits};

use crate::invoker::Strategy;
use crate::merger::{Mergers, PayloadMerger};
use crate::support::ClusterBase;

/// `merger`: the method-level name of the merger.
pub const MERGER_KEY: &str = "merger";

/// The `mergeable` strategy.
#[derive(Debug, Clone)]
pub struct MergeableCluster {
    /// Where named mergers are looked up.
    pub mergers: Arc<Mergers>,
}

impl Default for MergeableCluster {
    fn default() -> Self {
        MergeableCluster {
            mergers: Arc::clone(Mergers::global()),
        }
    }
}

impl Strategy for MergeableCluster {
    const NAME: &'static str = "mergeable";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let listed = base.list(inv)?;
            let method = inv.method();
            let merger = base
                .url()
                .method_param(method, MERGER_KEY)
                .map(str::trim)
                .filter(|m| !m.is_empty() && !m.eq_ignore_ascii_case("false"));
            let Some(merger_name) = merger else {
                let index = listed
                    .providers()
                    .iter()
                    .position(|m| m.invoker().is_available())
                    .unwrap_or(0);
                return base.call(&listed, index, inv).await;
            };
            let merger: Arc<dyn PayloadMerger> = self.mergers.get(merger_name).ok_or_else(|| {
                RpcError::business(
                    format!(
                        "unknown merger {merger_name:?} for method {method} (known: {})",
                        self.mergers.names().join(", ")
                    ),
                    base.context(inv),
                )
            })?;
            let timeout_ms = limits::TIMEOUT.read(base.url(), method) as u64;
            let timeout = Duration::from_millis(timeout_ms);
            let calls = (0..listed.providers().len()).map(|i| {
                let listed = &listed;
                async move {
                    match tokio::time::timeout(timeout, base.call(listed, i, inv)).await {
                        Ok(r) => r,
                        Err(_) => Err(RpcError::timeout(
                            format!("no answer within {timeout_ms} ms"),
                            format!("member {}", listed.providers()[i].url()),
                        )),
                    }
                }
            });
            let results = join_all(calls).await;
            let mut answers: Vec<Response> = Vec::with_capacity(results.len());
            let mut last = None;
            for (i, r) in results.into_iter().enumerate() {
                match r {
                    Ok(a) => answers.push(a),
                    Err(e) => {
                        tracing::error!(
                            member = %listed.providers()[i].url(),
                            method,
                            error = %e,
                            "mergeable: a member failed; merging the others"
                        );
                        last = Some(e);
                    }
                }
            }
            match answers.len() {
                0 => {
                    let last =
                        last.unwrap_or_else(|| RpcError::no_provider(NoProviderReason::NoMember, base.context(inv)));
                    Err(last.clone().restated(
                        format!(
                            "every one of the {} member(s) failed; last error: {last}",
                            listed.providers().len()
                        ),
                        base.context(inv),
                    ))
                }
                1 => Ok(answers.pop().unwrap_or_default()),
                _ => {
                    let payloads: Vec<_> = answers.iter().map(|a| a.payload.clone()).collect();
                    let payload = merger.merge(&payloads).map_err(|e| {
                        RpcError::business(
                            format!("merger {merger_name:?} could not merge {} answers: {e}", payloads.len()),
                            base.context(inv),
                        )
                    })?;
                    let mut attachments = std::collections::BTreeMap::new();
                    for a in answers {
                        attachments.extend(a.attachments);
                    }
                    Ok(Response {
                        payload,
                        attachments,
                        protocol: None,
                    })
                }
            }
        })
    }
}
