//! `failback`: a failed call returns an empty result at once and is retried in the
//! background (for notifications that must arrive eventually).
//!
//! Retries run every 5 s ([`FailbackCluster::period`]), each on a freshly listed provider
//! other than the last one that failed, up to `retries` times (method-level; Dubbo's failback
//! default is 3, also used when `retries ≤ 0`). At most `failbacktasks` calls (default 100)
//! wait for a retry; beyond that a failed call is dropped with an error log. Destroying the
//! invoker with calls still waiting logs a warning naming how many are lost.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::task::JoinSet;
use zkdubbo_common::invoker::InvokeFuture;
use zkdubbo_common::{Invocation, Invoker, Response, RpcError, Url, keys};
use zkdubbo_directory::Directory;

use crate::cluster::Cluster;
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
        "failback"
    }

    fn join(&self, directory: Arc<dyn Directory>) -> Arc<dyn Invoker> {
        self.join_failback(directory)
    }
}

impl FailbackCluster {
    /// [`Cluster::join`] returning the concrete invoker (to observe
    /// [`FailbackClusterInvoker::pending`]).
    pub fn join_failback(&self, directory: Arc<dyn Directory>) -> Arc<FailbackClusterInvoker> {
        let base = ClusterBase::new("failback", directory);
        let max_pending = base.url().param_as(FAILBACK_TASKS_KEY, DEFAULT_FAILBACK_TASKS).max(1);
        Arc::new(FailbackClusterInvoker {
            base: Arc::new(base),
            tasks: Mutex::new(JoinSet::new()),
            period: self.period,
            max_pending,
        })
    }
}

/// The invoker of [`FailbackCluster`].
pub struct FailbackClusterInvoker {
    base: Arc<ClusterBase>,
    tasks: Mutex<JoinSet<()>>,
    period: Duration,
    max_pending: usize,
}

impl std::fmt::Debug for FailbackClusterInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailbackClusterInvoker")
            .field("base", &self.base)
            .field("pending", &self.pending())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FailbackClusterInvoker {
    /// Failed calls waiting for a retry now.
    pub fn pending(&self) -> usize {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.len()
    }

    async fn call(&self, inv: &Invocation) -> Result<Response, RpcError> {
        let mut failed_on: Option<Arc<str>> = None;
        let result = async {
            let (listed, index) = self.base.pick(inv)?;
            failed_on = Some(listed.providers()[index].identity().into());
            self.base.call(&listed, index, inv).await
        }
        .await;
        let error = match result {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        let retries = self.retries(inv);
        tracing::warn!(
            service = %self.base.url().service_key(),
            method = inv.method(),
            error = %error,
            retries,
            "failback: call failed, returning an empty result and retrying in the background"
        );
        self.schedule(inv.clone(), failed_on, retries);
        Ok(Response::default())
    }

    fn retries(&self, inv: &Invocation) -> u32 {
        let n: i64 = self
            .base
            .url()
            .method_param_as(inv.method(), keys::RETRIES, DEFAULT_FAILBACK_TIMES);
        u32::try_from(if n <= 0 { DEFAULT_FAILBACK_TIMES } else { n }).unwrap_or(u32::MAX)
    }

    fn schedule(&self, inv: Invocation, failed_on: Option<Arc<str>>, retries: u32) {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= self.max_pending {
            tracing::error!(
                service = %self.base.url().service_key(),
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
        tasks.spawn(retry(Arc::clone(&self.base), inv, failed_on, retries, self.period));
    }

    fn abandon(&self) {
        let pending = self.pending();
        if pending > 0 {
            tracing::warn!(
                service = %self.base.url().service_key(),
                pending,
                "failback: shutting down with failed calls still waiting for a retry; they are lost"
            );
        }
        lock(&self.tasks).abort_all();
    }
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
        let lb = base.load_balance(&listed, &inv);
        let tried: Vec<Arc<str>> = last.iter().cloned().collect();
        let Some(index) = base.select(&*lb, &inv, &listed, &tried) else {
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

impl Invoker for FailbackClusterInvoker {
    fn url(&self) -> &Url {
        self.base.url()
    }

    fn is_available(&self) -> bool {
        self.base.is_available()
    }

    fn destroy(&self) {
        self.abandon();
        self.base.destroy();
    }

    fn invoke<'a>(&'a self, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(self.call(inv))
    }
}

impl Drop for FailbackClusterInvoker {
    fn drop(&mut self) {
        if !self.base.is_destroyed() {
            self.abandon();
        }
    }
}
