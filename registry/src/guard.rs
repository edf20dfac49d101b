//! A registration that undoes itself.

use std::sync::Arc;

use zkdubbo_common::Url;

use crate::error::RegistryError;
use crate::registry::Registry;

/// A live registration. [`Registration::close`] unregisters and reports the outcome;
/// dropping the guard unregisters in the background (on the current tokio runtime).
///
/// ```
/// # async fn demo() -> Result<(), zkdubbo_registry::RegistryError> {
/// use std::sync::Arc;
/// use zkdubbo_registry::{MemoryRegistry, Registration, Registry};
/// let registry: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
/// let url = "dubbo://10.0.0.5:20880/com.foo.Bar".parse()?;
/// let guard = Registration::register(registry.clone(), url).await?;
/// assert_eq!(registry.lookup(&"consumer://x/com.foo.Bar".parse()?).await?.len(), 1);
/// guard.close().await?;
/// assert!(registry.lookup(&"consumer://x/com.foo.Bar".parse()?).await?.is_empty());
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use = "dropping the guard unregisters at once"]
pub struct Registration {
    registry: Arc<dyn Registry>,
    url: Url,
    active: bool,
}

impl Registration {
    /// Register `url` on `registry` and return the guard.
    pub async fn register(registry: Arc<dyn Registry>, url: Url) -> Result<Registration, RegistryError> {
        registry.register(&url).await?;
        Ok(Registration {
            registry,
            url,
            active: true,
        })
    }

    /// The registered URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Unregister now.
    pub async fn close(mut self) -> Result<(), RegistryError> {
        self.active = false;
        self.registry.unregister(&self.url).await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        let registry = self.registry.clone();
        let url = self.url.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = registry.unregister(&url).await {
                        tracing::warn!(%url, error = %e, "unregister on drop failed");
                    }
                });
            }
            Err(_) => tracing::warn!(
                url = %self.url,
                "registration dropped outside a tokio runtime: not unregistered (use Registration::close)"
            ),
        }
    }
}
