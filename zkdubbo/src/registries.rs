//! Opening the registries a builder names, one ZooKeeper session per registry URL and process.
//!
//! Builders in one process that name the same registry (a provider and a consumer, several
//! `Reference`s) share one [`ZookeeperRegistry`], and so one session and its connection,
//! instead of a session each (dubbo-go opened one per registry config, dubbo-go#300). Each
//! builder holds a [`Lease`]; the registry shuts down with the last one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use zkdubbo_common::sync::lock;
use zkdubbo_registry::{Registry, RegistryError, ZookeeperRegistry, redact_address, registry_address};

/// The open registries by their full URL (credentials included: different users never share),
/// with how many leases each has.
type Pool = tokio::sync::Mutex<HashMap<String, (Arc<ZookeeperRegistry>, usize)>>;

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// A builder's share of an open registry. [`Lease::release`] (or dropping it) gives it back;
/// the last one shuts the registry down.
pub(crate) struct Lease {
    registry: Arc<ZookeeperRegistry>,
    key: Option<String>,
    /// Set once released, so that dropping does not give the share back twice.
    released: Mutex<bool>,
}

impl Lease {
    /// The registry.
    pub(crate) fn registry(&self) -> &Arc<ZookeeperRegistry> {
        &self.registry
    }

    /// Give the share back; the last share shuts the registry down (own nodes deleted first).
    pub(crate) async fn release(self) {
        *lock(&self.released) = true;
        if let Some(key) = &self.key
            && give_back(key).await
        {
            self.registry.shutdown().await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if *lock(&self.released) {
            return;
        }
        let (Some(key), Ok(handle)) = (self.key.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let registry = Arc::clone(&self.registry);
        handle.spawn(async move {
            if give_back(&key).await {
                registry.shutdown().await;
            }
        });
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("registry", &self.registry.url().to_string())
            .finish()
    }
}

/// Count one share of `key` back; whether it was the last.
async fn give_back(key: &str) -> bool {
    let mut pool = pool().lock().await;
    match pool.get_mut(key) {
        Some((_, n)) if *n > 1 => {
            *n -= 1;
            false
        }
        Some(_) => {
            pool.remove(key);
            true
        }
        None => false,
    }
}

/// Open (or share) the ZooKeeper registry of `spec` (an address as [`registry_address`] reads
/// it). The error comes with the registry's name for messages, its password hidden.
pub(crate) async fn open(spec: &str) -> Result<Lease, (String, RegistryError)> {
    let url = registry_address(spec).map_err(|source| (redact_address(spec), source))?;
    let key = url.to_string();
    // Held while connecting: two builders opening the same registry at once share it too.
    let mut pool = pool().lock().await;
    if let Some((registry, n)) = pool.get_mut(&key)
        && registry.is_open()
    {
        *n += 1;
        return Ok(Lease {
            registry: Arc::clone(registry),
            key: Some(key),
            released: Mutex::new(false),
        });
    }
    let registry = ZookeeperRegistry::connect(&url)
        .await
        .map_err(|source| (url.redacted().to_string(), source))?;
    pool.insert(key.clone(), (Arc::clone(&registry), 1));
    Ok(Lease {
        registry,
        key: Some(key),
        released: Mutex::new(false),
    })
}
