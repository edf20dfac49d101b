//! `failback`: a failed call returns an empty result at once and is retried in the
//! background (for notifications that must arrive eventually).
//!
//! Retries run every 5 s ([`FailbackCluster::period`]), each on a freshly listed provider
//! other than the last one that failed, up to `retries` times (method-level; Dubbo's failback
//! default is 3, also used when `retries ≤ 0`). At most `failbacktasks` calls (default 100)
//! wait for a retry; beyond that a failed call is dropped with an error log. Destroying the
//! invoker with calls still waiting logs a warning naming how many are lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use zkdubbo_common::sync::lock;
use zkdubbo_common::{Invocation, InvokeFuture, Invoker, Response, keys};
use zkdubbo_directory::Directory;

use crate::invoker::{ClusterInvoker, Strategy};
use crate::join::Cluster;
use crate::support::ClusterBase;

/// `failbacktasks`: most failed calls waiting for a retry.
pub const FAILBACK_TASKS_KEY: &str = "failbacktasks";
/// Default of [`FAILBACK_TASKS_KEY`].
pub const DEFAULT_FAILBACK_TASKS: usize = 100;
/// Default number of background retries of one failed call.
pub const DEFAULT_FAILBACK_TIMES: i64 = 3;
/// Default time between two retries.
pub const DEFAULT_FAILBACK_PERIOD: Duration = Duration::from_secs(5);

/// The `failback` strategy.
#[derive(Debug, Clone, Copy)]
pub struct FailbackCluster {
    /// Time between two retries of a failed call (Dubbo: 5 s).
    pub period: Duration,
}

impl Default for FailbackCluster {
    fn default() -> Self {
        FailbackCluster {
            period: DEFAULT_FAILBACK_PERIOD,
        }
    }
}

impl Cluster for FailbackCluster {
    fn name(&self) -> &'static str {
        Failback::NAME
    }

    fn join(&self, directory: Arc<dyn Directory>) -> Arc<dyn Invoker> {
        self.join_failback(directory)
    }
}

impl FailbackCluster {
    /// [`Cluster::join`] returning the concrete invoker (to observe
    /// [`Failback::pending`]).
    pub fn join_failback(&self, directory: Arc<dyn Directory>) -> Arc<ClusterInvoker<Failback>> {
        let max_pending = directory
            .consumer_url()
            .param_as(FAILBACK_TASKS_KEY, DEFAULT_FAILBACK_TASKS)
            .max(1);
        Arc::new(ClusterInvoker::new(
            directory,
            Failback {
                tasks: Mutex::new(JoinSet::new()),
                period: self.period,
                max_pending,
                abandoned: AtomicBool::new(false),
            },
        ))
    }
}

/// The `failback` strategy of one invoker: the failed calls waiting for a retry.
pub struct Failback {
    tasks: Mutex<JoinSet<()>>,
    period: Duration,
    max_pending: usize,
    abandoned: AtomicBool,
}

impl std::fmt::Debug for Failback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failback")
            .field("period", &self.period)
            .field("max_pending", &self.max_pending)
            .field("pending", &self.pending())
            .finish()
    }
}

impl Strategy for Failback {
    const NAME: &'static str = "failback";

    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async move {
            let mut failed_on: Option<Arc<str>> = None;
            let result = async {
                let (listed, index) = base.pick(inv)?;
                failed_on = Some(listed.providers()[index].identity().into());
                base.call(&listed, index, inv).await
            }
            .await;
            let error = match result {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            let retries = retries(base, inv);
            tracing::warn!(
                service = %base.url().service_key(),
                method = inv.method(),
                error = %error,
                retries,
                "failback: call failed, returning an empty result and retrying in the background"
            );
            self.schedule(base, inv.clone(), failed_on, retries);
            Ok(Response::default())
        })
    }

    fn destroy(&self) {
        self.abandon();
    }
}

impl Failback {
    /// Failed calls waiting for a retry now.
    pub fn pending(&self) -> usize {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.len()
    }

    fn schedule(&self, base: &Arc<ClusterBase>, inv: Invocation, failed_on: Option<Arc<str>>, retries: u32) {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= self.max_pending {
            tracing::error!(
                service = %base.url().service_key(),
                method = inv.method(),
                pending = tasks.len(),
                "failback: {FAILBACK_TASKS_KEY}={} calls already wait for a retry; this failed call is dropped",
                self.max_pending
            );
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::error!(
                method = inv.method(),
                "failback: no tokio runtime; the failed call is not retried"
            );
            return;
        }
        let pending = crate::metrics::FailbackPending::new(base.url().service_key());
        let retried = retry(Arc::clone(base), inv, failed_on, retries, self.period);
        tasks.spawn(async move {
            let _pending = pending;
            retried.await;
        });
    }

    fn abandon(&self) {
        if self.abandoned.swap(true, Ordering::AcqRel) {
            return;
        }
        let pending = self.pending();
        if pending > 0 {
            tracing::warn!(
                pending,
                "failback: shutting down with failed calls still waiting for a retry; they are lost"
            );
        }
        lock(&self.tasks).abort_all();
    }
}

impl Drop for Failback {
    fn drop(&mut self) {
        self.abandon();
    }
}

impl ClusterInvoker<Failback> {
    /// Failed calls waiting for a retry now.
    pub fn pending(&self) -> usize {
        self.strategy().pending()
    }
}

fn retries(base: &ClusterBase, inv: &Invocation) -> u32 {
    let n: i64 = base
        .url()
        .method_param_as(inv.method(), keys::RETRIES, DEFAULT_FAILBACK_TIMES);
    u32::try_from(if n <= 0 { DEFAULT_FAILBACK_TIMES } else { n }).unwrap_or(u32::MAX)
}

async fn retry(base: Arc<ClusterBase>, inv: Invocation, mut last: Option<Arc<str>>, retries: u32, period: Duration) {
    for attempt in 1..=retries {
        tokio::time::sleep(period).await;
        if base.is_destroyed() {
            return;
        }
        let listed = match base.list(&inv) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(method = inv.method(), attempt, error = %e, "failback retry: no provider");
                continue;
            }
        };
        let tried: Vec<Arc<str>> = last.iter().cloned().collect();
        let Some(index) = base.select(&inv, &listed, &tried) else {
            continue;
        };
        last = Some(listed.providers()[index].identity().into());
        match base.call(&listed, index, &inv).await {
            Ok(_) => {
                tracing::info!(
                    service = %base.url().service_key(),
                    method = inv.method(),
                    attempt,
                    provider = %listed.providers()[index].url().address(),
                    "failback retry succeeded"
                );
                return;
            }
            Err(e) => tracing::warn!(method = inv.method(), attempt, error = %e, "failback retry failed"),
        }
    }
    tracing::error!(
        service = %base.url().service_key(),
        method = inv.method(),
        retries,
        "failback: giving up after {retries} background retries"
    );
}
