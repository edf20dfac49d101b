//! The provider API: register a service the Dubbo way on one or more registries, optionally
//! serving it over Triple, and unregister before the server stops.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use zkdubbo_common::host::local_ip;
use zkdubbo_common::{Url, keys};
use zkdubbo_discovery::{InstancePublisher, RegisterMode, StorageType};
use zkdubbo_registry::{Registry, RegistryError};

use self::overrides::Governed;

#[cfg(feature = "dubbo")]
mod dubbo;
#[cfg(feature = "triple")]
mod health;
mod overrides;
#[cfg(feature = "triple")]
mod triple;
#[cfg(feature = "dubbo")]
pub use dubbo::{DubboPort, DubboService};
/// Default time a registry may be unreachable before a provider's health reports NOT_SERVING
/// ([`ServiceBuilder::unhealthy_after`]).
pub const DEFAULT_UNHEALTHY_AFTER: std::time::Duration = std::time::Duration::from_secs(30);
#[cfg(feature = "triple")]
pub use triple::TripleService;

use crate::registries;
use crate::stamp::process_params;

/// The protocol a [`ServiceBuilder`] registers unless told otherwise.
const DEFAULT_PROTOCOL: &str = "tri";

/// Why a service could not be registered or served.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The settings are incomplete or inconsistent.
    #[error("invalid service settings: {0}")]
    Config(String),
    /// A registry could not be opened or refused the registration.
    #[error("registry {registry}: {source}")]
    Registry {
        /// The registry URL.
        registry: String,
        /// The registry's error.
        #[source]
        source: RegistryError,
    },
    /// The server could not bind or stopped with an error.
    #[error("server: {0}")]
    Server(#[from] std::io::Error),
}

/// Settings of a provider; see [`ServiceBuilder::new`].
///
/// ```
/// use zkdubbo::ServiceBuilder;
/// let url = ServiceBuilder::new("org.apache.dubbo.samples.Greeter")
///     .host("10.0.0.5")
///     .port(50051)
///     .method("sayHello")
///     .weight(200)
///     .application("greeter")
///     .url()
///     .unwrap();
/// assert_eq!(url.to_string().split('?').next(), Some("tri://10.0.0.5:50051/org.apache.dubbo.samples.Greeter"));
/// assert_eq!(url.param("weight"), Some("200"));
/// assert_eq!(url.param("side"), Some("provider"));
/// assert!(url.param("timestamp").is_some());
/// ```
#[derive(Clone)]
pub struct ServiceBuilder {
    interface: String,
    protocol: String,
    host: Option<String>,
    port: Option<u16>,
    methods: Vec<String>,
    params: BTreeMap<String, String>,
    registries: Vec<String>,
    registry_instances: Vec<Arc<dyn Registry>>,
    register_mode: RegisterMode,
    metadata_type: StorageType,
    /// How long a registry may be unreachable before a Triple provider's health says
    /// NOT_SERVING.
    #[cfg_attr(not(feature = "triple"), allow(dead_code))]
    unhealthy_after: std::time::Duration,
}

impl fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("interface", &self.interface)
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("registries", &self.registries)
            .field("register_mode", &self.register_mode)
            .finish_non_exhaustive()
    }
}

impl ServiceBuilder {
    /// A provider of `interface`, protocol `tri`, on this host's IP (see
    /// [`local_ip`]).
    pub fn new(interface: impl Into<String>) -> Self {
        ServiceBuilder {
            interface: interface.into(),
            protocol: DEFAULT_PROTOCOL.to_owned(),
            host: None,
            port: None,
            methods: Vec::new(),
            params: BTreeMap::new(),
            registries: Vec::new(),
            registry_instances: Vec::new(),
            register_mode: RegisterMode::default(),
            metadata_type: StorageType::Remote,
            unhealthy_after: DEFAULT_UNHEALTHY_AFTER,
        }
    }

    /// How long a registry this service is registered in may be unreachable before the
    /// provider's `grpc.health.v1.Health` reports NOT_SERVING ([`DEFAULT_UNHEALTHY_AFTER`] by
    /// default; Triple providers serve the health service, SERVING while registered and
    /// NOT_SERVING from the start of [`TripleService::shutdown`](crate::TripleService::shutdown)).
    /// Set it below the registry's session timeout to report before consumers lose the node.
    pub fn unhealthy_after(mut self, grace: std::time::Duration) -> Self {
        self.unhealthy_after = grace;
        self
    }

    /// How an application instance publishes its metadata (Dubbo's `metadata-type`):
    /// [`StorageType::Remote`] (the default here: `/dubbo/metadata/<application>/<revision>`,
    /// read by every Dubbo 3 consumer without calling the provider) or [`StorageType::Local`]
    /// (Dubbo's default: consumers call the MetadataService that
    /// [`ServiceBuilder::serve_dubbo`] then serves on the service's port, V1, or
    /// [`ServiceBuilder::serve_triple`], V2). Only matters with a
    /// [`register_mode`](ServiceBuilder::register_mode) that publishes the instance.
    pub fn metadata_type(mut self, storage: StorageType) -> Self {
        self.metadata_type = storage;
        self
    }

    /// Where the service is registered (Dubbo 3's `register-mode`): `/dubbo/<interface>/providers`
    /// ([`RegisterMode::Interface`], the default), this process's application instance
    /// `/services/<application>/<ip>:<port>` with its metadata and the interface's mapping
    /// ([`RegisterMode::Instance`]), or both ([`RegisterMode::All`], Dubbo 3's default). Every
    /// service of one application in the process shares one instance per registry; name the
    /// application with [`ServiceBuilder::application`].
    pub fn register_mode(mut self, mode: RegisterMode) -> Self {
        self.register_mode = mode;
        self
    }

    /// The protocol registered (default `tri`).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = protocol.into();
        self
    }

    /// The host registered (default: the address the server is bound to, or, for a wildcard
    /// bind or no server, [`local_ip`]: `DUBBO_IP_TO_REGISTRY` or the outbound IP).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The port registered (set by [`ServiceBuilder::serve_triple`] from the bound socket).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Add a method name (registered as the `methods` list).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.methods.push(method.into());
        self
    }

    /// The provider's weight (default 100).
    pub fn weight(self, weight: u32) -> Self {
        self.param(keys::WEIGHT, weight.to_string())
    }

    /// The group.
    pub fn group(self, group: impl Into<String>) -> Self {
        self.param(keys::GROUP, group)
    }

    /// The version.
    pub fn version(self, version: impl Into<String>) -> Self {
        self.param(keys::VERSION, version)
    }

    /// The application name.
    pub fn application(self, application: impl Into<String>) -> Self {
        self.param(keys::APPLICATION, application)
    }

    /// Any other parameter (`warmup`, `timeout`, `dubbo.tag`...).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }

    /// Add a registry (`zookeeper://host:port?...`, or a bare `host:port`). Repeatable.
    pub fn registry(mut self, url: impl Into<String>) -> Self {
        self.registries.push(url.into());
        self
    }

    /// Add a registry already opened; it is not shut down with the service.
    pub fn registry_instance(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry_instances.push(registry);
        self
    }

    /// The application whose MetadataService this provider's server must serve: set when it
    /// publishes its instance with local metadata.
    #[cfg(any(feature = "triple", feature = "dubbo"))]
    fn local_metadata_application(&self) -> Option<String> {
        (self.register_mode.instance() && self.metadata_type == StorageType::Local)
            .then(|| self.params.get(keys::APPLICATION).cloned().unwrap_or_default())
    }

    /// Register the address a server is bound to, unless a port or host was set.
    #[cfg(any(feature = "triple", feature = "dubbo"))]
    fn bound_to(&mut self, addr: std::net::SocketAddr) {
        if self.port.is_none() {
            self.port = Some(addr.port());
        }
        if self.host.is_none() {
            self.host = Some(zkdubbo_common::host::register_host(addr.ip()));
        }
    }

    /// The URL that will be registered; `timestamp` is now (providers warm up from it).
    ///
    /// # Errors
    /// [`ProviderError::Config`] without interface or port.
    pub fn url(&self) -> Result<Url, ProviderError> {
        let interface = self.interface.trim();
        if interface.is_empty() {
            return Err(ProviderError::Config("no interface set".into()));
        }
        let port = self
            .port
            .ok_or_else(|| ProviderError::Config(format!("no port set for {interface}")))?;
        let host = self.host.clone().unwrap_or_else(local_ip);
        let mut url = Url::new(&self.protocol, &host, Some(port), interface)
            .with_params(process_params(interface, keys::PROVIDER_SIDE))
            .with_params([
                (keys::ANYHOST, "false"),
                (keys::APPLICATION, "zkdubbo-provider"),
                (keys::DEPRECATED, "false"),
                (keys::DYNAMIC, "true"),
                (keys::GENERIC, "false"),
            ]);
        if !self.methods.is_empty() {
            let mut methods = self.methods.clone();
            methods.sort();
            methods.dedup();
            url.set_param(keys::METHODS, methods.join(","));
        }
        for (k, v) in &self.params {
            url.set_param(k.as_str(), v.as_str());
        }
        Ok(url)
    }

    /// Register the service on every registry and return the guard that unregisters it.
    ///
    /// # Errors
    /// [`ProviderError`] when a setting is missing, a registry cannot be opened, or a
    /// registration fails (registrations already made are undone).
    pub async fn register(self) -> Result<Exported, ProviderError> {
        let url = self.url()?;
        if self.registries.is_empty() && self.registry_instances.is_empty() {
            return Err(ProviderError::Config(format!(
                "no registry set for {}",
                url.interface()
            )));
        }
        let mut exported = Exported {
            url,
            registrations: Vec::new(),
            instances: Vec::new(),
            owned: Vec::new(),
        };
        let application = exported.url.param_or(keys::APPLICATION, "").to_owned();
        let mut registries = self.registry_instances.clone();
        for spec in &self.registries {
            match registries::open(spec).await {
                Ok(lease) => {
                    registries.push(Arc::clone(lease.registry()) as Arc<dyn Registry>);
                    exported.owned.push(lease);
                }
                Err((registry, source)) => {
                    let _ = exported.unregister().await;
                    return Err(ProviderError::Registry { registry, source });
                }
            }
        }
        for registry in registries {
            let name = registry.url().to_string();
            if self.register_mode.instance() {
                let published = match crate::discovery::publisher(&registry, &application, self.metadata_type) {
                    Ok(p) => p.add(&exported.url).await.map(|()| p),
                    Err(e) => Err(e),
                };
                match published {
                    Ok(p) => exported.instances.push(p),
                    Err(source) => {
                        let _ = exported.unregister().await;
                        return Err(ProviderError::Registry { registry: name, source });
                    }
                }
            }
            if !self.register_mode.interface() {
                continue;
            }
            match Governed::register(registry, exported.url.clone()).await {
                Ok(r) => exported.registrations.push(r),
                Err(source) => {
                    let _ = exported.unregister().await;
                    return Err(ProviderError::Registry { registry: name, source });
                }
            }
        }
        tracing::info!(url = %exported.url, register_mode = %self.register_mode, "service registered");
        Ok(exported)
    }
}

/// A registered service: [`Exported::unregister`] removes it from every registry; dropping
/// it unregisters in the background.
#[must_use = "dropping the guard unregisters the service"]
pub struct Exported {
    url: Url,
    registrations: Vec<Governed>,
    /// The application instances the service is published in.
    instances: Vec<Arc<InstancePublisher>>,
    /// The registries this service opened (shared with other builders of the process).
    owned: Vec<registries::Lease>,
}

impl fmt::Debug for Exported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exported")
            .field("url", &self.url.to_string())
            .finish_non_exhaustive()
    }
}

impl Exported {
    /// The registered URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The registries the service is registered in (interface nodes or application
    /// instances), each once.
    #[cfg(feature = "triple")]
    pub(crate) fn registries(&self) -> Vec<Arc<dyn Registry>> {
        let mut all: Vec<Arc<dyn Registry>> = Vec::new();
        let held = self.registrations.iter().map(|r| r.registry());
        for registry in held.chain(self.instances.iter().map(|p| p.registry())) {
            if !all.iter().any(|r| Arc::ptr_eq(r, registry)) {
                all.push(Arc::clone(registry));
            }
        }
        all
    }

    /// Unregister from every registry, then close the registries this service opened.
    ///
    /// # Errors
    /// The first unregistration error (the others are still attempted).
    pub async fn unregister(mut self) -> Result<(), ProviderError> {
        let mut first = None;
        for p in std::mem::take(&mut self.instances) {
            if let Err(source) = p.remove(&self.url).await
                && first.is_none()
            {
                first = Some(ProviderError::Registry {
                    registry: p.application().to_owned(),
                    source,
                });
            }
        }
        for r in std::mem::take(&mut self.registrations) {
            let registry = r.registry().url().to_string();
            if let Err(source) = r.close().await
                && first.is_none()
            {
                first = Some(ProviderError::Registry { registry, source });
            }
        }
        for lease in std::mem::take(&mut self.owned) {
            lease.release().await;
        }
        match first {
            Some(e) => Err(e),
            None => {
                tracing::info!(url = %self.url, "service unregistered");
                Ok(())
            }
        }
    }
}

// Dropping an `Exported` drops its registrations (each unregisters in the background) and its
// leases (the last share of a registry shuts it down, which removes ephemeral nodes too); its
// services leave their application instances in the background.
impl Drop for Exported {
    fn drop(&mut self) {
        let instances = std::mem::take(&mut self.instances);
        if instances.is_empty() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let url = self.url.clone();
        handle.spawn(async move {
            for p in instances {
                if let Err(e) = p.remove(&url).await {
                    tracing::warn!(%url, error = %e, "cannot remove the service from its application instance");
                }
            }
        });
    }
}
