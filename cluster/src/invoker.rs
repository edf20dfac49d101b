//! The one cluster invoker: a [`Strategy`] over the state every strategy shares
//! ([`ClusterBase`]). A strategy says only how one call uses the providers; listing,
//! availability, destruction and `Debug` are the same for all of them.

use std::fmt;
use std::sync::Arc;
use zkdubbo_common::trace;

use zkdubbo_common::{Invocation, InvokeFuture, Invoker, Url};
use zkdubbo_directory::Directory;

use crate::join::Cluster;
use crate::support::ClusterBase;

/// How one call uses the providers of a directory: failover, failfast, ...
///
/// A strategy that is `Clone` is a [`Cluster`] too: joining a directory wraps a clone of it
/// in a [`ClusterInvoker`].
///
/// ```
/// use std::sync::Arc;
/// use zkdubbo_cluster::{ClusterBase, Strategy};
/// use zkdubbo_common::{InvokeFuture, Invocation};
///
/// /// Always the first listed provider.
/// #[derive(Debug, Clone)]
/// struct First;
///
/// impl Strategy for First {
///     const NAME: &'static str = "first";
///
///     fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a> {
///         Box::pin(async move {
///             let listed = base.list(inv)?;
///             base.call(&listed, 0, inv).await
///         })
///     }
/// }
/// ```
pub trait Strategy: Send + Sync + fmt::Debug + 'static {
    /// The strategy's name (`failover`, `failfast`, ...).
    const NAME: &'static str;

    /// Make one call of `inv` through `base`.
    fn call<'a>(&'a self, base: &'a Arc<ClusterBase>, inv: &'a Invocation) -> InvokeFuture<'a>;

    /// Release what the strategy holds for this invoker (e.g. background retries); called
    /// once, before the directory is destroyed.
    fn destroy(&self) {}
}

/// A cluster invoker: the directory's providers behind one [`Invoker`], called the way
/// strategy `S` calls them.
pub struct ClusterInvoker<S> {
    base: Arc<ClusterBase>,
    strategy: S,
}

impl<S: Strategy> ClusterInvoker<S> {
    /// `strategy` over `directory`.
    pub fn new(directory: Arc<dyn Directory>, strategy: S) -> Self {
        ClusterInvoker {
            base: Arc::new(ClusterBase::new(S::NAME, directory)),
            strategy,
        }
    }

    /// The strategy (and the state it keeps for this invoker).
    pub fn strategy(&self) -> &S {
        &self.strategy
    }

    /// The state shared by every strategy: directory, consumer URL, sticky provider.
    pub fn base(&self) -> &Arc<ClusterBase> {
        &self.base
    }
}

impl<S: Strategy> Invoker for ClusterInvoker<S> {
    fn url(&self) -> &Url {
        self.base.url()
    }

    fn is_available(&self) -> bool {
        self.base.is_available()
    }

    fn destroy(&self) {
        if !self.base.is_destroyed() {
            self.strategy.destroy();
        }
        self.base.destroy();
    }

    fn invoke<'a>(&'a self, inv: &'a Invocation) -> InvokeFuture<'a> {
        let span = tracing::info_span!(
            "zkdubbo.call",
            service = self.base.metrics().service(),
            method = inv.method(),
            cluster = self.base.name(),
            trace_id = tracing::field::Empty,
        );
        // The call's place in its trace, if it has one: transports send it as `traceparent`.
        let trace = trace::for_call(&span);
        Box::pin(trace::in_trace(trace, span, async move {
            let record = self.base.metrics().begin(inv.method());
            let result = self.strategy.call(&self.base, inv).await;
            record.end(&result);
            result
        }))
    }
}

impl<S: Strategy> fmt::Debug for ClusterInvoker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterInvoker")
            .field("strategy", &self.strategy)
            .field("base", &self.base)
            .finish()
    }
}

impl<S: Strategy + Clone> Cluster for S {
    fn name(&self) -> &'static str {
        S::NAME
    }

    fn join(&self, directory: Arc<dyn Directory>) -> Arc<dyn Invoker> {
        Arc::new(ClusterInvoker::new(directory, self.clone()))
    }
}
