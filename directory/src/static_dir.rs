//! A fixed list of members (ARCHITECTURE: Directory): used to compose several registries (one cluster
//! invoker per registry) or several groups.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use zkdubbo_common::{Invocation, Invoker, Url, keys};

use crate::Directory;
use crate::error::{NoProviderError, NoProviderReason, ServiceInfo};
use crate::member::Member;
use crate::route::{Listed, Route};

/// A directory over a fixed list of invokers; available when any member is. Every call
/// gets every member, with one load-balancing set prepared for method `*`.
pub struct StaticDirectory {
    consumer: Url,
    info: Arc<ServiceInfo>,
    route: Arc<Route>,
    destroyed: AtomicBool,
}

impl StaticDirectory {
    /// A directory of `members` for `consumer`.
    pub fn new(consumer: Url, members: Vec<Arc<dyn Invoker>>) -> Self {
        let members: Arc<[Arc<Member>]> = members.into_iter().map(|i| Arc::new(Member::from_invoker(i))).collect();
        StaticDirectory {
            info: Arc::new(ServiceInfo::new(&consumer, "static")),
            consumer,
            route: Arc::new(Route::new(members, keys::ANY_VALUE, None)),
            destroyed: AtomicBool::new(false),
        }
    }

    /// The members.
    pub fn members(&self) -> &[Arc<Member>] {
        self.route.providers()
    }
}

impl Directory for StaticDirectory {
    fn list(&self, inv: &Invocation) -> Result<Listed, NoProviderError> {
        let reason = if self.destroyed.load(Ordering::Acquire) {
            NoProviderReason::Destroyed
        } else if self.route.providers().is_empty() {
            NoProviderReason::NoMember
        } else {
            return Ok(Listed::new(self.route.clone(), true));
        };
        Err(NoProviderError {
            service: self.info.clone(),
            method: inv.method().to_owned(),
            reason,
        })
    }

    fn is_available(&self) -> bool {
        !self.destroyed.load(Ordering::Acquire) && self.route.providers().iter().any(|m| m.invoker().is_available())
    }

    fn consumer_url(&self) -> &Url {
        &self.consumer
    }

    fn destroy(&self) {
        if !self.destroyed.swap(true, Ordering::AcqRel) {
            for m in self.route.providers().iter() {
                m.invoker().destroy();
            }
        }
    }
}

impl std::fmt::Debug for StaticDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticDirectory")
            .field("consumer", &self.consumer.to_string())
            .finish_non_exhaustive()
    }
}
