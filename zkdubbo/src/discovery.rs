//! Dubbo 3 application-level discovery in the front door: one [`ServiceDiscoveryRegistry`]
//! per registry for the consumers of the process (so that they share instance followers and
//! the metadata cache), and one [`InstancePublisher`] per registry and application for its
//! providers (one instance node, however many services the process exports).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use zkdubbo_common::Url;
use zkdubbo_common::sync::lock;
use zkdubbo_discovery::{InstancePublisher, Paths, ServiceDiscoveryRegistry, StorageType};
use zkdubbo_registry::{Registry, RegistryError};

/// The registry URL parameter naming the root of instance nodes (Java's `rootPath` of
/// `ZookeeperServiceDiscovery`).
const ROOT_PATH_KEY: &str = "rootPath";
/// Java's default root of instance nodes.
const DEFAULT_SERVICES_ROOT: &str = "/services";

/// Where a registry's instance nodes, metadata and mappings are, as Java's
/// `CuratorFrameworkUtils.getRootPath` and `ZookeeperMetadataReport` find them: instances
/// under the registry's `rootPath`, else under `/<group>` when the registry has a group, else
/// under `/services`; metadata and mappings under `/<group>` (`/dubbo`).
pub(crate) fn paths(registry: &Url) -> Paths {
    let rooted = |p: &str| {
        if p.starts_with('/') {
            p.to_owned()
        } else {
            format!("/{p}")
        }
    };
    let group = registry.group().filter(|g| !g.is_empty() && *g != "/");
    let services_root = match registry
        .param(ROOT_PATH_KEY)
        .filter(|p| !p.is_empty() && *p != DEFAULT_SERVICES_ROOT)
    {
        Some(root) => rooted(root),
        None => group.map_or_else(|| DEFAULT_SERVICES_ROOT.to_owned(), rooted),
    };
    Paths {
        services_root,
        metadata_root: rooted(group.unwrap_or("dubbo")),
    }
}

/// Identity of a registry handle: one entry per open registry, not per URL (two in-memory
/// registries share a URL).
fn key(registry: &Arc<dyn Registry>) -> usize {
    Arc::as_ptr(registry).cast::<()>() as usize
}

/// Live handles by key, dropped with their last user.
type Pool<K, T> = Mutex<HashMap<K, Weak<T>>>;

/// The consumers' view of `registry` with application-level discovery added, as every
/// [`Reference`](crate::Reference) of the process subscribes through it (one per registry:
/// shared instance followers and metadata cache; local metadata fetched over dubbo:// with
/// the `dubbo` feature).
pub fn consumer_view(registry: &Arc<dyn Registry>) -> Arc<ServiceDiscoveryRegistry> {
    static VIEWS: OnceLock<Pool<usize, ServiceDiscoveryRegistry>> = OnceLock::new();
    let mut views = lock(VIEWS.get_or_init(Default::default));
    views.retain(|_, v| v.strong_count() > 0);
    if let Some(view) = views.get(&key(registry)).and_then(Weak::upgrade) {
        return view;
    }
    let fetcher = crate::metadata_service::fetcher();
    let view = Arc::new(ServiceDiscoveryRegistry::new(
        Arc::clone(registry),
        paths(registry.url()),
        fetcher,
    ));
    views.insert(key(registry), Arc::downgrade(&view));
    view
}

fn publishers() -> &'static Pool<(usize, String), InstancePublisher> {
    static PUBLISHERS: OnceLock<Pool<(usize, String), InstancePublisher>> = OnceLock::new();
    PUBLISHERS.get_or_init(Default::default)
}

/// The instance of `application` on `registry`; the first service of the application sets how
/// its metadata is published (`storage`).
pub(crate) fn publisher(
    registry: &Arc<dyn Registry>,
    application: &str,
    storage: StorageType,
) -> Result<Arc<InstancePublisher>, RegistryError> {
    let mut all = lock(publishers());
    all.retain(|_, p| p.strong_count() > 0);
    let k = (key(registry), application.to_owned());
    if let Some(p) = all.get(&k).and_then(Weak::upgrade) {
        if p.storage() != storage {
            tracing::warn!(
                %application,
                kept = ?p.storage(),
                asked = ?storage,
                "the application's instance is published already; its metadata type stays"
            );
        }
        return Ok(p);
    }
    let p = InstancePublisher::new(Arc::clone(registry), paths(registry.url()), application)?.with_storage(storage);
    let p = Arc::new(p);
    all.insert(k, Arc::downgrade(&p));
    Ok(p)
}

/// The metadata of `application` at `revision` published by this process (on any registry),
/// what its MetadataService answers.
#[cfg(any(feature = "dubbo", feature = "triple"))]
pub(crate) fn metadata_of(application: &str, revision: &str) -> Option<Arc<zkdubbo_discovery::MetadataInfo>> {
    lock(publishers())
        .iter()
        .filter(|((_, app), _)| app == application)
        .filter_map(|(_, p)| p.upgrade())
        .map(|p| p.metadata())
        .find(|m| m.revision == revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_javas() {
        let p = |u: &str| {
            let p = paths(&u.parse().unwrap());
            (p.services_root, p.metadata_root)
        };
        assert_eq!(p("zookeeper://h:2181"), ("/services".into(), "/dubbo".into()));
        assert_eq!(p("zookeeper://h:2181?group=prod"), ("/prod".into(), "/prod".into()));
        assert_eq!(
            p("zookeeper://h:2181?group=prod&rootPath=/inst"),
            ("/inst".into(), "/prod".into())
        );
    }
}
