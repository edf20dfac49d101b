//! A registration that undoes itself.

use std::sync::Arc;

use zkdubbo_common::{Url, keys};

use crate::Registry;
use crate::error::RegistryError;

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

    /// Register a consumer's own URL under `consumers`, as Dubbo does before subscribing:
    /// `consumer` with `category=consumers` and `check=false` (see
    /// [`Registration::consumer_url`]). Returns `None` without registering when the consumer
    /// says `register=false`. [`Registry::subscribe`] never registers anything itself.
    pub async fn register_consumer(
        registry: Arc<dyn Registry>,
        consumer: &Url,
    ) -> Result<Option<Registration>, RegistryError> {
        match Registration::consumer_url(consumer) {
            Some(url) => Registration::register(registry, url).await.map(Some),
            None => Ok(None),
        }
    }

    /// The URL a consumer registers under `consumers`: `consumer` with `category=consumers`
    /// and `check=false`, or `None` when it says `register=false`.
    ///
    /// ```
    /// use zkdubbo_registry::Registration;
    /// let consumer = "consumer://10.0.0.1/com.foo.Bar?category=providers,configurators,routers&side=consumer";
    /// let url = Registration::consumer_url(&consumer.parse().unwrap()).unwrap();
    /// assert_eq!(url.to_string(), "consumer://10.0.0.1/com.foo.Bar?category=consumers&check=false&side=consumer");
    /// assert!(Registration::consumer_url(&"consumer://h/x?register=false".parse().unwrap()).is_none());
    /// ```
    pub fn consumer_url(consumer: &Url) -> Option<Url> {
        if !consumer.param_bool(keys::REGISTER, true) {
            return None;
        }
        Some(
            consumer
                .clone()
                .with_param(keys::CATEGORY, keys::CONSUMERS_CATEGORY)
                .with_param(keys::CHECK, "false"),
        )
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
                    match registry.unregister(&url).await {
                        Ok(()) => {}
                        // Shutdown already removed this process's nodes.
                        Err(RegistryError::Shutdown { .. }) => {}
                        Err(e) => tracing::warn!(%url, error = %e, "unregister on drop failed"),
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

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("url", &self.url.to_string())
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}
