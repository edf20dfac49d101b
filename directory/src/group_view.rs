//! One group of a multi-group [`RegistryDirectory`], as a directory of its own (what the
//! mergeable cluster calls per group).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use zkdubbo_common::{Invocation, Url};

use crate::Directory;
use crate::error::NoProviderError;
use crate::registry_directory::{Inner, RegistryDirectory};
use crate::route::Listed;
use crate::snapshot::Snapshot;

/// One group of a multi-group [`RegistryDirectory`].
pub struct GroupView {
    inner: Arc<Inner>,
    group: Arc<str>,
}

impl GroupView {
    pub(crate) fn new(inner: Arc<Inner>, group: &str) -> Self {
        GroupView {
            inner,
            group: group.into(),
        }
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    fn with_group<R>(&self, f: impl FnOnce(&Snapshot) -> R, missing: impl FnOnce(&Snapshot) -> R) -> R {
        let snap = self.inner.snapshot.load();
        match snap.groups().iter().find(|(g, _)| **g == *self.group) {
            Some((_, s)) => f(s),
            None => missing(&snap),
        }
    }
}

impl Directory for GroupView {
    fn list(&self, inv: &Invocation) -> Result<Listed, NoProviderError> {
        self.with_group(
            |s| s.list(inv),
            |snap| {
                let mut e = snap.no_provider(inv, None);
                let mut info = (*e.service).clone();
                info.group = Some(self.group.to_string());
                e.service = Arc::new(info);
                if matches!(e.reason, crate::error::NoProviderReason::RoutedAway { .. }) || snap.is_notified() {
                    e.reason = crate::error::NoProviderReason::NoneRegistered;
                }
                Err(e)
            },
        )
    }

    fn is_available(&self) -> bool {
        !self.inner.destroyed.load(Ordering::Acquire)
            && self.with_group(|s| s.providers().iter().any(|m| m.invoker().is_available()), |_| false)
    }

    fn consumer_url(&self) -> &Url {
        &self.inner.consumer
    }

    /// Destroying one group destroys the whole directory it belongs to.
    fn destroy(&self) {
        RegistryDirectory {
            inner: self.inner.clone(),
        }
        .destroy();
    }
}

impl std::fmt::Debug for GroupView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupView")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}
