//! The provider side: an application instance published as Dubbo 3 publishes it, its
//! services' metadata, and the service-name mapping of each interface.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zkdubbo_common::Url;
use zkdubbo_common::sync::lock;
use zkdubbo_registry::{ConfigCenter, Registry, RegistryError};

use crate::application::{Paths, valid_application};
use crate::instance::{
    ENDPOINTS_KEY, Endpoint, METADATA_SERVICE_URL_PARAMS_KEY, METADATA_SERVICE_VERSION_KEY, METADATA_STORAGE_TYPE_KEY,
    REVISION_KEY, ServiceInstance, StorageType,
};
use crate::mapping;
use crate::metadata::MetadataInfo;

/// The provider parameter choosing where a service is registered (Dubbo 3's `register-mode`).
pub const REGISTER_MODE_KEY: &str = "register-mode";
/// How many times a mapping append is tried against concurrent writers (Java's default
/// `dubbo.mapping.cas-retry-times`).
const MAPPING_ATTEMPTS: u32 = 6;

/// Where a provider is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RegisterMode {
    /// `/dubbo/<interface>/providers` only, as Dubbo 2 (zkdubbo's default: every consumer of
    /// any Dubbo version finds it, and nothing new appears in ZooKeeper).
    #[default]
    Interface,
    /// The application instance only (`/services/<application>/<ip>:<port>`).
    Instance,
    /// Both (Dubbo 3's default).
    All,
}

impl RegisterMode {
    /// Whether the interface-level node is written.
    pub fn interface(self) -> bool {
        self != RegisterMode::Instance
    }

    /// Whether the application instance is published.
    pub fn instance(self) -> bool {
        self != RegisterMode::Interface
    }

    /// `interface`, `instance` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisterMode::Interface => "interface",
            RegisterMode::Instance => "instance",
            RegisterMode::All => "all",
        }
    }
}

impl fmt::Display for RegisterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RegisterMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "interface" => Ok(RegisterMode::Interface),
            "instance" => Ok(RegisterMode::Instance),
            "all" => Ok(RegisterMode::All),
            _ => Err(format!(
                "unknown register-mode {s:?} (expected interface, instance or all)"
            )),
        }
    }
}

/// What an instance has published.
#[derive(Default)]
struct Published {
    urls: Vec<Url>,
    /// The instance node written, if any.
    node: Option<String>,
    /// Interfaces whose mapping names the application already.
    mapped: std::collections::HashSet<String>,
}

/// One application instance of this process on one registry: its node
/// `/services/<application>/<ip>:<port>` (kept by the registry as registrations are: re-created
/// after session expiry, removed at shutdown), the metadata of its services, and the mapping
/// `/dubbo/mapping/<interface>` naming the application (appended with compare-and-set,
/// never removed, as Dubbo does). Every change of the services re-computes the revision and
/// re-publishes.
///
/// Metadata is published as the storage type says: [`StorageType::Remote`] (the default
/// here) writes `/dubbo/metadata/<application>/<revision>`, which every Dubbo 3 consumer
/// reads without calling the provider; [`StorageType::Local`] (Dubbo's default) writes
/// nothing and names in the instance the MetadataService that the process serves
/// (`dubbo.metadata-service.url-params`): V1 on its dubbo:// port, else V2 on its Triple port
/// (with `meta-v=2.0.0`). An instance with neither is published `remote` (with a warning).
pub struct InstancePublisher {
    registry: Arc<dyn Registry>,
    paths: Paths,
    application: String,
    storage: StorageType,
    published: tokio::sync::Mutex<Published>,
    metadata: Mutex<Arc<MetadataInfo>>,
}

impl fmt::Debug for InstancePublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstancePublisher")
            .field("application", &self.application)
            .field("registry", &self.registry.url().to_string())
            .finish()
    }
}

impl InstancePublisher {
    /// The instance of `application` on `registry` (which must have a config center, as
    /// ZooKeeper's has), nodes below `paths`.
    ///
    /// # Errors
    /// [`RegistryError::InvalidUrl`] when `application` cannot be a node name.
    pub fn new(registry: Arc<dyn Registry>, paths: Paths, application: &str) -> Result<Self, RegistryError> {
        if !valid_application(application) {
            return Err(RegistryError::InvalidUrl {
                op: "publish instance",
                url: application.to_owned(),
                reason: "an application name must be one non-empty path component".into(),
            });
        }
        Ok(InstancePublisher {
            registry,
            paths,
            application: application.to_owned(),
            storage: StorageType::Remote,
            published: tokio::sync::Mutex::new(Published::default()),
            metadata: Mutex::new(Arc::new(MetadataInfo::of(application, &[]))),
        })
    }

    /// Publish metadata as `storage` says (before the first service is added).
    pub fn with_storage(mut self, storage: StorageType) -> Self {
        self.storage = storage;
        self
    }

    /// How metadata is published.
    pub fn storage(&self) -> StorageType {
        self.storage
    }

    /// The registry the instance is published in.
    pub fn registry(&self) -> &Arc<dyn Registry> {
        &self.registry
    }

    /// The application.
    pub fn application(&self) -> &str {
        &self.application
    }

    /// The metadata published now (what `getMetadataInfo(revision)` answers).
    pub fn metadata(&self) -> Arc<MetadataInfo> {
        lock(&self.metadata).clone()
    }

    /// The instance node's path, once published.
    pub async fn node(&self) -> Option<String> {
        self.published.lock().await.node.clone()
    }

    /// Add an exported service and publish again.
    ///
    /// # Errors
    /// Errors of the registry that are not transient (those are retried by it).
    pub async fn add(&self, url: &Url) -> Result<(), RegistryError> {
        let mut published = self.published.lock().await;
        if !published.urls.contains(url) {
            published.urls.push(url.clone());
        }
        self.publish(&mut published).await
    }

    /// Remove an exported service and publish again; the instance node goes with the last.
    ///
    /// # Errors
    /// As [`InstancePublisher::add`].
    pub async fn remove(&self, url: &Url) -> Result<(), RegistryError> {
        let mut published = self.published.lock().await;
        published.urls.retain(|u| u != url);
        self.publish(&mut published).await
    }

    fn center(&self) -> Result<&dyn ConfigCenter, RegistryError> {
        self.registry.config_center().ok_or_else(|| RegistryError::Unavailable {
            registry: self.registry.url().to_string(),
            reason: "this registry cannot hold application instances (no config center)".into(),
        })
    }

    async fn publish(&self, published: &mut Published) -> Result<(), RegistryError> {
        let center = self.center()?;
        let metadata = MetadataInfo::of(&self.application, &published.urls);
        *lock(&self.metadata) = Arc::new(metadata.clone());
        let Some(first) = published.urls.first() else {
            if let Some(node) = published.node.take() {
                center.remove_kept_node(&node).await?;
                tracing::info!(application = %self.application, %node, "application instance removed");
            }
            return Ok(());
        };
        // The MetadataService of `local` metadata: V1 on the dubbo:// port, else V2 on the
        // Triple one.
        let metadata_service = ["dubbo", "tri"].into_iter().find_map(|protocol| {
            let url = published.urls.iter().find(|u| u.protocol() == protocol)?;
            Some((protocol, url.port()?))
        });
        let storage = match (self.storage, metadata_service) {
            (StorageType::Local, None) => {
                tracing::warn!(
                    application = %self.application,
                    "local metadata needs a dubbo:// or tri:// service to serve the MetadataService on; published remote"
                );
                StorageType::Remote
            }
            (s, _) => s,
        };
        if storage == StorageType::Remote {
            self.report(center, &metadata).await?;
        }
        // The instance's port is its dubbo endpoint's when it has one, as Java prefers it.
        let main = published.urls.iter().find(|u| u.protocol() == "dubbo").unwrap_or(first);
        let mut endpoints: Vec<Endpoint> = Vec::new();
        for u in &published.urls {
            let e = Endpoint {
                port: u.port().unwrap_or(0),
                protocol: u.protocol().to_owned(),
            };
            if !endpoints.contains(&e) {
                endpoints.push(e);
            }
        }
        let mut md = BTreeMap::new();
        md.insert(ENDPOINTS_KEY.to_owned(), ServiceInstance::endpoints_value(&endpoints));
        md.insert(REVISION_KEY.to_owned(), metadata.revision.clone());
        md.insert(METADATA_STORAGE_TYPE_KEY.to_owned(), storage_name(storage).to_owned());
        if let (StorageType::Local, Some((protocol, port))) = (storage, metadata_service) {
            md.insert(
                METADATA_SERVICE_URL_PARAMS_KEY.to_owned(),
                metadata_service_params(protocol, port),
            );
            if protocol == "tri" {
                md.insert(METADATA_SERVICE_VERSION_KEY.to_owned(), "2.0.0".to_owned());
            }
        }
        let instance = ServiceInstance::new(&self.application, main.host(), main.port().unwrap_or(0), md);
        let node = format!("{}/{}", self.paths.application(&self.application), instance.id);
        center.keep_node(&node, instance.to_json().as_bytes()).await?;
        if let Some(old) = published.node.replace(node.clone()).filter(|old| *old != node) {
            center.remove_kept_node(&old).await?;
        }
        tracing::info!(application = %self.application, %node, revision = %metadata.revision, "application instance published");
        let interfaces: Vec<String> = published.urls.iter().map(|u| u.interface().to_owned()).collect();
        for interface in interfaces {
            if published.mapped.contains(&interface) {
                continue;
            }
            let path = self.paths.mapping(&interface);
            if let Err(e) = map(center, &path, &self.application).await {
                // The instance stands; consumers find it once the mapping names it.
                tracing::warn!(%path, application = %self.application, error = %e, "cannot append to the mapping yet; retrying in the background");
                tokio::spawn(map_until_done(
                    Arc::downgrade(&self.registry),
                    path,
                    self.application.clone(),
                ));
            }
            published.mapped.insert(interface);
        }
        Ok(())
    }

    /// Write the metadata report of `metadata`'s revision unless it exists (a revision's
    /// metadata never changes).
    async fn report(&self, center: &dyn ConfigCenter, metadata: &MetadataInfo) -> Result<(), RegistryError> {
        let path = self.paths.metadata(&self.application, &metadata.revision);
        match center.read_node(&path).await? {
            Some((text, _)) if !text.trim().is_empty() => Ok(()),
            _ => match center.write_node(&path, &metadata.to_json(), None).await {
                // Written by another instance of the same revision meanwhile.
                Err(e) if e.is_conflict() => Ok(()),
                other => other.map(drop),
            },
        }
    }
}

/// Append `application` to the mapping at `path`, compare-and-set, retried against concurrent
/// writers (each round one of them wins, so fewer than [`MAPPING_ATTEMPTS`] writers at once
/// always get through).
async fn map(center: &dyn ConfigCenter, path: &str, application: &str) -> Result<(), RegistryError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = center.read_node(path).await?;
        let Some(next) = mapping::with_application(current.as_ref().map(|(t, _)| t.as_str()), application) else {
            return Ok(());
        };
        match center.write_node(path, &next, current.map(|(_, v)| v)).await {
            Ok(_) => {
                tracing::debug!(%path, %application, "mapping appended");
                return Ok(());
            }
            Err(e) if e.is_conflict() && attempt < MAPPING_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// [`map`] again and again (1 s, doubling to 30 s) until it succeeds or the registry is gone.
async fn map_until_done(registry: std::sync::Weak<dyn Registry>, path: String, application: String) {
    let mut wait = Duration::from_secs(1);
    loop {
        tokio::time::sleep(wait).await;
        let Some(registry) = registry.upgrade() else { return };
        let Some(center) = registry.config_center() else { return };
        match map(center, &path, &application).await {
            Ok(()) => {
                tracing::info!(%path, %application, "mapping appended after retries");
                return;
            }
            Err(RegistryError::Shutdown { .. }) => return,
            Err(e) => tracing::debug!(%path, error = %e, "mapping not appended yet"),
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// `dubbo.metadata-service.url-params` of a MetadataService on `protocol` `port`, with the
/// parameters Java's `MetadataServiceURLParamsMetadataCustomizer` writes.
fn metadata_service_params(protocol: &str, port: u16) -> String {
    let params: BTreeMap<&str, String> = [
        ("connections", "1".to_owned()),
        ("version", "1.0.0".to_owned()),
        ("dubbo", "2.0.2".to_owned()),
        ("side", "provider".to_owned()),
        ("port", port.to_string()),
        ("protocol", protocol.to_owned()),
    ]
    .into_iter()
    .collect();
    serde_json::to_string(&params).unwrap_or_default()
}

fn storage_name(storage: StorageType) -> &'static str {
    match storage {
        StorageType::Local => "local",
        StorageType::Remote => "remote",
    }
}

/// The register mode a provider URL asks for (`register-mode`), interface by default.
///
/// # Errors
/// The message naming an unknown mode.
pub fn register_mode(url: &Url) -> Result<RegisterMode, String> {
    url.param(REGISTER_MODE_KEY)
        .filter(|m| !m.trim().is_empty())
        .map_or(Ok(RegisterMode::default()), str::parse)
}
