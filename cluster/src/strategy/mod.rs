//! One module per cluster strategy (ARCHITECTURE: Cluster).

pub mod available;
pub mod broadcast;
pub mod failback;
pub mod failfast;
pub mod failover;
pub mod failsafe;
pub mod forking;
pub mod mergeable;
pub mod zoneaware;

pub use available::{AvailableCluster, AvailableClusterInvoker};
pub use broadcast::{BroadcastCluster, BroadcastClusterInvoker};
pub use failback::{FailbackCluster, FailbackClusterInvoker};
pub use failfast::{FailfastCluster, FailfastClusterInvoker};
pub use failover::{FailoverCluster, FailoverClusterInvoker};
pub use failsafe::{FailsafeCluster, FailsafeClusterInvoker};
pub use forking::{ForkingCluster, ForkingClusterInvoker};
pub use mergeable::{MergeableCluster, MergeableClusterInvoker};
pub use zoneaware::{ZoneAwareCluster, ZoneAwareClusterInvoker};

/// Implement [`Invoker`](zkdubbo_common::Invoker) for a strategy type with a `base:
/// ClusterBase` field and an inherent `async fn call(&self, inv: &Invocation) ->
/// Result<Response, RpcError>`.
macro_rules! cluster_invoker {
    ($ty:ty) => {
        impl zkdubbo_common::Invoker for $ty {
            fn url(&self) -> &zkdubbo_common::Url {
                self.base.url()
            }

            fn is_available(&self) -> bool {
                self.base.is_available()
            }

            fn destroy(&self) {
                self.base.destroy();
            }

            fn invoke<'a>(&'a self, inv: &'a zkdubbo_common::Invocation) -> zkdubbo_common::invoker::InvokeFuture<'a> {
                Box::pin(self.call(inv))
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).field("base", &self.base).finish()
            }
        }
    };
}
pub(crate) use cluster_invoker;
