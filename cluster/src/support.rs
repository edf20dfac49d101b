//! What every cluster strategy shares (Dubbo's `AbstractClusterInvoker`): listing from the
//! directory, choosing the load balancer, sticky and re-selection, and calling one provider
//! with call statistics and the `served-by` attachment.

use crate::metrics::CallMetrics;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use zkdubbo_common::sync::lock;
use zkdubbo_common::{Invocation, NoProviderReason, Response, RpcError, Url};
use zkdubbo_directory::{Directory, Listed, Member};
use zkdubbo_loadbalance::PreparedSet;

use crate::outlier::Outliers;

/// Response attachment set by the cluster layer (never sent on the wire): the `host:port` of
/// the provider that answered. Nested clusters (multi-registry, multi-group) keep the
/// innermost, i.e. the real provider.
pub const SERVED_BY: &str = "zkdubbo.served-by";

/// `sticky`: keep calling the provider used last while it is available (method-level, default
/// false).
pub const STICKY_KEY: &str = "sticky";

/// `cluster.availablecheck`: re-select a pick whose invoker is unavailable (default true).
pub const AVAILABLE_CHECK_KEY: &str = "cluster.availablecheck";

/// The state shared by the strategies of one cluster invoker: the directory, the consumer
/// URL and the sticky provider.
pub struct ClusterBase {
    name: &'static str,
    directory: Arc<dyn Directory>,
    url: Url,
    available_check: bool,
    outliers: Outliers,
    sticky: Mutex<Option<Arc<str>>>,
    destroyed: AtomicBool,
    metrics: CallMetrics,
}

impl fmt::Debug for ClusterBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterBase")
            .field("cluster", &self.name)
            .field("url", &self.url.to_string())
            .finish_non_exhaustive()
    }
}

impl ClusterBase {
    /// The shared state of a `name` cluster over `directory`.
    pub fn new(name: &'static str, directory: Arc<dyn Directory>) -> Self {
        let url = directory.consumer_url().clone();
        ClusterBase {
            name,
            available_check: url.param_bool(AVAILABLE_CHECK_KEY, true),
            outliers: Outliers::from_url(&url),
            metrics: CallMetrics::new(url.service_key()),
            url,
            directory,
            sticky: Mutex::new(None),
            destroyed: AtomicBool::new(false),
        }
    }

    /// What this cluster's calls report to the metrics recorder.
    pub(crate) fn metrics(&self) -> &CallMetrics {
        &self.metrics
    }

    /// The strategy's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The consumer URL (the directory's).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The directory.
    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.directory
    }

    /// Whether some provider can take calls.
    pub fn is_available(&self) -> bool {
        !self.destroyed.load(Ordering::Acquire) && self.directory.is_available()
    }

    /// Destroy the directory (once).
    pub fn destroy(&self) {
        if !self.destroyed.swap(true, Ordering::AcqRel) {
            self.directory.destroy();
        }
    }

    /// Whether [`ClusterBase::destroy`] was called.
    pub fn is_destroyed(&self) -> bool {
        self.destroyed.load(Ordering::Acquire)
    }

    /// `service <key>, method <m>, cluster <name>`: the context of cluster-level errors.
    pub fn context(&self, inv: &Invocation) -> String {
        format!(
            "service {}, method {}, cluster {}, consumer {}",
            self.url.service_key(),
            inv.method(),
            self.name,
            self.url.host()
        )
    }

    /// The routed providers for `inv`.
    ///
    /// # Errors
    /// [`RpcError::NoProvider`] with the directory's explanation.
    pub fn list(&self, inv: &Invocation) -> Result<Listed, RpcError> {
        if self.is_destroyed() {
            return Err(RpcError::no_provider(NoProviderReason::ShutDown, self.context(inv)));
        }
        self.directory
            .list(inv)
            .map_err(|e| RpcError::from(e).with_context(format!("cluster {}", self.name)))
    }

    /// A method-level parameter of the first listed provider's merged URL (consumer settings
    /// override provider ones there), else of the consumer URL.
    pub fn method_param<T: std::str::FromStr>(&self, listed: &Listed, method: &str, key: &str, default: T) -> T {
        self.param_url(listed).method_param_as(method, key, default)
    }

    /// The URL call parameters are read from: the first listed provider's merged URL
    /// (consumer settings override provider ones there), else the consumer URL.
    pub fn param_url<'a>(&'a self, listed: &'a Listed) -> &'a Url {
        listed.providers().first().map_or(&self.url, |m| m.url())
    }

    fn usable(&self, m: &Member, tried: &[Arc<str>]) -> bool {
        !tried.iter().any(|t| **t == *m.identity())
            && (!self.available_check || m.invoker().is_available())
            && !self.outliers.is_ejected(m.identity())
    }

    /// Pick a provider of `listed` for `inv`, avoiding the identities in `tried` (Dubbo's
    /// `select`): sticky first, then the load balancer the route was prepared with (resolved
    /// when the directory built it, from the providers' `loadbalance`; nothing is looked up
    /// here); a pick that was already tried or is unavailable (with `cluster.availablecheck`)
    /// is re-selected among the others, as is an ejected outlier (ARCHITECTURE: Outlier
    /// ejection). Returns an index into `listed`, `None` only when the list is empty.
    pub fn select(&self, inv: &Invocation, listed: &Listed, tried: &[Arc<str>]) -> Option<usize> {
        let providers = listed.providers();
        if providers.is_empty() {
            return None;
        }
        // Read from the first provider's URL (`method_param`), which says whether it has one.
        let sticky = providers[0].names_sticky() && self.method_param(listed, inv.method(), STICKY_KEY, false);
        if sticky {
            let current = lock(&self.sticky).clone();
            if let Some(id) = current
                && let Some(i) = providers.iter().position(|m| *m.identity() == *id)
                && self.usable(&providers[i], tried)
            {
                return Some(i);
            }
        }
        let picked = self.do_select(inv, listed, tried)?;
        if sticky {
            *lock(&self.sticky) = Some(providers[picked].identity().into());
        }
        Some(picked)
    }

    fn do_select(&self, inv: &Invocation, listed: &Listed, tried: &[Arc<str>]) -> Option<usize> {
        let providers = listed.providers();
        if providers.len() == 1 {
            return Some(0);
        }
        let picked = listed.prepared().pick(inv).filter(|&i| i < providers.len())?;
        if self.usable(&providers[picked], tried) {
            return Some(picked);
        }
        Some(
            self.reselect(inv, listed, tried)
                .unwrap_or((picked + 1) % providers.len()),
        )
    }

    /// Choose among the providers not tried and available; failing that, among the tried
    /// ones that are available.
    fn reselect(&self, inv: &Invocation, listed: &Listed, tried: &[Arc<str>]) -> Option<usize> {
        let providers = listed.providers();
        let mut candidates: Vec<usize> = (0..providers.len())
            .filter(|&i| self.usable(&providers[i], tried))
            .collect();
        if candidates.is_empty() {
            candidates = (0..providers.len())
                .filter(|&i| providers[i].invoker().is_available())
                .collect();
        }
        match candidates.len() {
            0 => None,
            1 => Some(candidates[0]),
            _ => {
                let subset: Vec<Arc<Member>> = candidates.iter().map(|&i| Arc::clone(&providers[i])).collect();
                let set = PreparedSet::new(subset, inv.method());
                listed
                    .prepared()
                    .balancer()
                    .select(&set, inv)
                    .and_then(|j| candidates.get(j).copied())
            }
        }
    }

    /// One pick for a single attempt: the routed providers, their load balancer's choice
    /// (nothing tried yet), or a no-provider error with the call's context.
    pub fn pick(&self, inv: &Invocation) -> Result<(Listed, usize), RpcError> {
        let listed = self.list(inv)?;
        let index = self.select(inv, &listed, &[]).ok_or_else(|| {
            RpcError::no_provider(
                NoProviderReason::NoneSelectable {
                    listed: listed.providers().len(),
                },
                self.context(inv),
            )
        })?;
        Ok((listed, index))
    }

    /// Call provider `index` of `listed`, recording the call in the statistics the load
    /// balancers read (in flight until it ends; latency and outcome when it does; a call
    /// dropped before its end counts as failed) and marking the response with [`SERVED_BY`].
    pub async fn call(&self, listed: &Listed, index: usize, inv: &Invocation) -> Result<Response, RpcError> {
        self.call_attempt(listed, index, inv, 1).await
    }

    /// [`ClusterBase::call`] as the `attempt`-th try of a call (1 for the first), which its
    /// `zkdubbo.attempt` span records.
    pub async fn call_attempt(
        &self,
        listed: &Listed,
        index: usize,
        inv: &Invocation,
        attempt: usize,
    ) -> Result<Response, RpcError> {
        let Some(member) = listed.providers().get(index) else {
            return Err(RpcError::no_provider(
                NoProviderReason::NoneSelectable {
                    listed: listed.providers().len(),
                },
                format!("{}; provider index {index} out of range", self.context(inv)),
            ));
        };
        let guard = listed.prepared().stats().get(index).map(|s| s.begin());
        let span = tracing::debug_span!("zkdubbo.attempt", provider = %member.url().address(), attempt);
        let result = tracing::Instrument::instrument(member.invoker().invoke(inv), span).await;
        if let Some(guard) = guard {
            guard.end(result.is_ok());
        }
        self.outliers
            .record(member.identity(), || member.url().address(), &result);
        self.metrics
            .attempt(member.identity(), || member.url().address(), &result);
        result.map(|mut r| {
            r.attachments
                .entry(SERVED_BY.to_owned())
                .or_insert_with(|| member.url().address());
            r
        })
    }
}
