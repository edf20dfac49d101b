//! The consumer API: a [`Reference`] to a remote service, found through one or more
//! registries and called through a cluster strategy.

#[cfg(feature = "dubbo")]
mod dubbo;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zkdubbo_cluster::{Cluster, GroupsDirectory, MergeableCluster, by_name, join_registries};
use zkdubbo_common::host::local_ip;
use zkdubbo_common::sync::lock;
use zkdubbo_common::{Invocation, Invoker, InvokerFactory, Response, RpcError, Url, keys};
use zkdubbo_directory::{Directory, DirectoryError, RegistryDirectory};
use zkdubbo_discovery::MigrationStep;
use zkdubbo_registry::{Registration, Registry, RegistryError};

use crate::registries;
use crate::stamp::process_params;
use crate::transport::default_factory;

/// Default time `build` waits for each registry's first provider list.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a [`Reference`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The settings are incomplete or inconsistent.
    #[error("invalid reference settings: {0}")]
    Config(String),
    /// A registry could not be opened.
    #[error("cannot open registry {registry}: {source}")]
    Registry {
        /// The registry URL.
        registry: String,
        /// The registry's error.
        #[source]
        source: RegistryError,
    },
    /// Subscribing to a registry failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// `check=true` and no provider is available.
    #[error("no provider available for {service} (check=true; set check(false) to start anyway): {reasons}")]
    NoProvider {
        /// The service key (`group/interface:version`).
        service: String,
        /// What each registry says (service, group, version, registry, reason).
        reasons: String,
    },
}

/// Settings of a [`Reference`]; see [`Reference::builder`].
#[derive(Clone)]
pub struct ReferenceBuilder {
    pub(crate) interface: String,
    pub(crate) registries: Vec<String>,
    pub(crate) registry_instances: Vec<Arc<dyn Registry>>,
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) check: bool,
    pub(crate) registry_cluster: String,
    pub(crate) factory: Option<Arc<dyn InvokerFactory>>,
    pub(crate) ready_timeout: Duration,
}

impl fmt::Debug for ReferenceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReferenceBuilder")
            .field("interface", &self.interface)
            .field("registries", &self.registries)
            .field("params", &self.params)
            .field("check", &self.check)
            .field("registry_cluster", &self.registry_cluster)
            .finish_non_exhaustive()
    }
}

impl Default for ReferenceBuilder {
    fn default() -> Self {
        ReferenceBuilder {
            interface: String::new(),
            registries: Vec::new(),
            registry_instances: Vec::new(),
            params: BTreeMap::new(),
            check: true,
            registry_cluster: "zone-aware".into(),
            factory: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }
}

impl ReferenceBuilder {
    /// The service interface, e.g. `org.apache.dubbo.samples.Greeter` (required).
    pub fn interface(mut self, interface: impl Into<String>) -> Self {
        self.interface = interface.into();
        self
    }

    /// Add a registry: `zookeeper://host:port[?backup=..&zone=..&preferred=true&weight=..]`
    /// (a bare `host:port` means ZooKeeper). Repeatable: one cluster per registry, joined by
    /// the registry cluster.
    pub fn registry(mut self, url: impl Into<String>) -> Self {
        self.registries.push(url.into());
        self
    }

    /// Add a registry already opened (e.g. a [`MemoryRegistry`](zkdubbo_registry::MemoryRegistry)
    /// in tests). The reference does not shut it down.
    pub fn registry_instance(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry_instances.push(registry);
        self
    }

    /// The provider group (`a,b` or `*` for several, merged by `mergeable`).
    pub fn group(self, group: impl Into<String>) -> Self {
        self.param(keys::GROUP, group)
    }

    /// The provider version.
    pub fn version(self, version: impl Into<String>) -> Self {
        self.param(keys::VERSION, version)
    }

    /// The cluster strategy (default `failover`).
    pub fn cluster(self, cluster: impl Into<String>) -> Self {
        self.param(keys::CLUSTER, cluster)
    }

    /// The load balancer (default `random`).
    pub fn loadbalance(self, loadbalance: impl Into<String>) -> Self {
        self.param(keys::LOADBALANCE, loadbalance)
    }

    /// Retries after a failed attempt (failover; default 2).
    pub fn retries(self, retries: u32) -> Self {
        self.param(keys::RETRIES, retries.to_string())
    }

    /// Timeout of each call.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.param(keys::TIMEOUT, timeout.as_millis().to_string())
    }

    /// Fail [`ReferenceBuilder::build`] when no provider is available (default true).
    pub fn check(mut self, check: bool) -> Self {
        self.check = check;
        self
    }

    /// The consumer's application name.
    pub fn application(self, application: impl Into<String>) -> Self {
        self.param(keys::APPLICATION, application)
    }

    /// The migration step between interface-level and application-level discovery
    /// (`migration.step`; default [`MigrationStep::ApplicationFirst`], Dubbo 3's). A migration
    /// rule of the consumer application in the config center overrides it at run time.
    pub fn migration_step(self, step: MigrationStep) -> Self {
        self.param(zkdubbo_discovery::migration::STEP_KEY, step.as_str())
    }

    /// The applications that provide the service (`provided-by`): application-level discovery
    /// follows their instances instead of reading the interface's mapping.
    pub fn provided_by(self, applications: impl Into<String>) -> Self {
        self.param(zkdubbo_discovery::PROVIDED_BY_KEY, applications)
    }

    /// Any other consumer parameter (`sticky`, `forks`, `<method>.retries`, `merger`,
    /// `protocol`, `register`...).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }

    /// How several registries are joined: `zone-aware` (default) or `available`.
    pub fn registry_cluster(mut self, cluster: impl Into<String>) -> Self {
        self.registry_cluster = cluster.into();
        self
    }

    /// The transport (default: the transports compiled in; Triple, `tri://`, with the `triple`
    /// feature).
    pub fn invoker_factory(mut self, factory: Arc<dyn InvokerFactory>) -> Self {
        self.factory = Some(factory);
        self
    }

    /// How long [`ReferenceBuilder::build`] waits for each registry's first provider list
    /// (default 5 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The consumer URL the reference will register and subscribe with.
    ///
    /// # Errors
    /// [`ReferenceError::Config`] when no interface is set.
    pub fn consumer_url(&self) -> Result<Url, ReferenceError> {
        let interface = self.interface.trim();
        if interface.is_empty() {
            return Err(ReferenceError::Config("no interface set".into()));
        }
        let mut url = Url::new(keys::CONSUMER_PROTOCOL, &local_ip(), None, interface)
            .with_params(process_params(interface, keys::CONSUMER_SIDE));
        if !self.params.contains_key(keys::APPLICATION) {
            url.set_param(keys::APPLICATION, "zkdubbo-consumer");
        }
        url.set_param(keys::CHECK, if self.check { "true" } else { "false" });
        for (k, v) in &self.params {
            url.set_param(k.as_str(), v.as_str());
        }
        Ok(url)
    }

    /// Open the registries, subscribe, register the consumer node, and build the cluster.
    ///
    /// # Errors
    /// [`ReferenceError::Config`] for missing or unknown settings, [`ReferenceError::Registry`]
    /// / [`ReferenceError::Directory`] when a registry cannot be used, and
    /// [`ReferenceError::NoProvider`] when `check` is on and no provider is available.
    pub async fn build(self) -> Result<Reference, ReferenceError> {
        let consumer = self.consumer_url()?;
        if self.registries.is_empty() && self.registry_instances.is_empty() {
            return Err(ReferenceError::Config(format!(
                "no registry set for {} (add .registry(\"zookeeper://host:2181\"))",
                consumer.interface()
            )));
        }
        let cluster = by_name(consumer.param_or(keys::CLUSTER, keys::DEFAULT_CLUSTER))
            .map_err(|e| ReferenceError::Config(e.to_string()))?;
        let lb = consumer.param_or(keys::LOADBALANCE, keys::DEFAULT_LOADBALANCE);
        zkdubbo_loadbalance::by_name(lb).map_err(|e| ReferenceError::Config(e.to_string()))?;
        let registry_cluster = match self.registry_cluster.trim().to_ascii_lowercase().as_str() {
            "zone-aware" | "zoneaware" | "" => by_name("zone-aware"),
            "available" => by_name("available"),
            other => {
                return Err(ReferenceError::Config(format!(
                    "registry cluster {other:?} is neither zone-aware nor available"
                )));
            }
        }
        .map_err(|e| ReferenceError::Config(e.to_string()))?;
        let factory = self.factory.clone().unwrap_or_else(default_factory);

        let mut inner = Inner {
            consumer: consumer.clone(),
            invoker: None,
            registrations: Mutex::new(Vec::new()),
            owned: Mutex::new(Vec::new()),
            directories: Vec::new(),
            shut: AtomicBool::new(false),
        };
        let mut registries: Vec<Arc<dyn Registry>> = self.registry_instances.clone();
        for spec in &self.registries {
            match open_registry(spec).await {
                Ok(lease) => {
                    registries.push(Arc::clone(lease.registry()) as Arc<dyn Registry>);
                    inner.owned_mut().push(lease);
                }
                Err(e) => {
                    inner.shutdown().await;
                    return Err(e);
                }
            }
        }
        let multi_group = consumer
            .group()
            .is_some_and(|g| g == keys::ANY_VALUE || g.contains(','));
        let mut members: Vec<(Url, Arc<dyn Invoker>)> = Vec::new();
        for registry in &registries {
            // Providers from interface-level nodes, application instances or both, per the
            // consumer's migration step.
            let view = crate::discovery::consumer_view(registry) as Arc<dyn Registry>;
            let dir = match RegistryDirectory::builder(consumer.clone(), Arc::clone(&factory))
                .subscribe(view)
                .await
            {
                Ok(d) => Arc::new(d),
                Err(e) => {
                    inner.shutdown().await;
                    return Err(e.into());
                }
            };
            match Registration::register_consumer(Arc::clone(registry), &consumer).await {
                Ok(Some(r)) => inner.registrations_mut().push(r),
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    registry = %registry.url(),
                    error = %e,
                    "cannot register the consumer node; calls are not affected"
                ),
            }
            let invoker = if multi_group {
                let groups = GroupsDirectory::new(Arc::clone(&dir), Arc::clone(&cluster));
                MergeableCluster::default().join(Arc::new(groups))
            } else {
                cluster.join(Arc::clone(&dir) as Arc<dyn Directory>)
            };
            inner.directories.push(dir);
            members.push((registry.url().clone(), invoker));
        }
        let invoker = if members.len() == 1 {
            members.pop().map(|(_, i)| i)
        } else {
            Some(join_registries(&consumer, members, &*registry_cluster))
        };
        inner.invoker = invoker;

        for dir in &inner.directories {
            dir.ready(self.ready_timeout).await;
        }
        if self.check && !inner.invoker.as_ref().is_some_and(|i| i.is_available()) {
            let probe = Invocation::new(keys::ANY_VALUE);
            let reasons: Vec<String> = inner
                .directories
                .iter()
                .map(|d| match d.list(&probe) {
                    Ok(_) => format!("{}: providers listed but none available", d.snapshot().info()),
                    Err(e) => e.to_string(),
                })
                .collect();
            inner.shutdown().await;
            return Err(ReferenceError::NoProvider {
                service: consumer.service_key(),
                reasons: reasons.join("; "),
            });
        }
        Ok(Reference { inner: Arc::new(inner) })
    }
}

async fn open_registry(spec: &str) -> Result<registries::Lease, ReferenceError> {
    registries::open(spec)
        .await
        .map_err(|(registry, source)| ReferenceError::Registry { registry, source })
}

struct Inner {
    consumer: Url,
    invoker: Option<Arc<dyn Invoker>>,
    registrations: Mutex<Vec<Registration>>,
    /// The registries this reference opened (shared with other builders of the process).
    owned: Mutex<Vec<registries::Lease>>,
    directories: Vec<Arc<RegistryDirectory>>,
    shut: AtomicBool,
}

impl Inner {
    fn registrations_mut(&mut self) -> &mut Vec<Registration> {
        self.registrations.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    fn owned_mut(&mut self) -> &mut Vec<registries::Lease> {
        self.owned.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    async fn shutdown(&self) {
        if self.shut.swap(true, Ordering::AcqRel) {
            return;
        }
        let registrations: Vec<Registration> = std::mem::take(&mut *lock(&self.registrations));
        for r in registrations {
            let url = r.url().to_string();
            if let Err(e) = r.close().await {
                tracing::warn!(%url, error = %e, "cannot unregister the consumer node");
            }
        }
        match &self.invoker {
            Some(invoker) => invoker.destroy(),
            None => {
                for d in &self.directories {
                    d.destroy();
                }
            }
        }
        let owned: Vec<registries::Lease> = std::mem::take(&mut *lock(&self.owned));
        for lease in owned {
            lease.release().await;
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.shut.load(Ordering::Acquire) {
            return;
        }
        tracing::debug!(consumer = %self.consumer, "reference dropped without shutdown; cleaning up in the background");
        let registrations = std::mem::take(self.registrations_mut());
        if let Some(invoker) = &self.invoker {
            invoker.destroy();
        }
        drop(registrations);
        // The last lease of a registry shuts it down in the background.
        drop(std::mem::take(self.owned_mut()));
    }
}

/// A consumer's handle to a remote service: cheap to clone (clones share the cluster,
/// directories and registry sessions). Call [`Reference::shutdown`] to unregister the
/// consumer node and close everything; dropping the last clone does it in the background.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use zkdubbo::{Invocation, Reference, SERVED_BY};
/// use zkdubbo::triple::greeter::{GreeterReply, GreeterRequest};
/// use zkdubbo::triple::{decode_reply, message_invocation};
///
/// let greeter = Reference::builder()
///     .interface("org.apache.dubbo.samples.Greeter")
///     .registry("zookeeper://127.0.0.1:2181")
///     .registry("zookeeper://127.0.0.1:2182?zone=backup")
///     .retries(2)
///     .build()
///     .await?;
/// let response = greeter.invoke(&message_invocation("sayHello", &GreeterRequest { name: "Bob".into() })).await?;
/// let reply: GreeterReply = decode_reply(&response)?;
/// println!("{} (from {:?})", reply.message, response.attachments.get(SERVED_BY));
/// greeter.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Reference {
    inner: Arc<Inner>,
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reference")
            .field("consumer", &self.inner.consumer.to_string())
            .finish_non_exhaustive()
    }
}

impl Reference {
    /// Start configuring a reference.
    pub fn builder() -> ReferenceBuilder {
        ReferenceBuilder::default()
    }

    /// A tonic channel over this reference's providers: give it to any tonic-generated
    /// client (`GreeterClient::new(reference.grpc_channel())`) and each call is routed and
    /// balanced by zkdubbo; see [`GrpcChannel`](crate::GrpcChannel).
    #[cfg(feature = "triple")]
    pub fn grpc_channel(&self) -> crate::GrpcChannel {
        let directories = self
            .inner
            .directories
            .iter()
            .map(|d| Arc::clone(d) as Arc<dyn Directory>)
            .collect();
        crate::GrpcChannel::new(self.inner.consumer.clone(), directories)
    }

    /// The consumer URL (what is registered under `consumers` and subscribed with).
    pub fn consumer_url(&self) -> &Url {
        &self.inner.consumer
    }

    /// Whether some provider can take calls now.
    pub fn is_available(&self) -> bool {
        !self.inner.shut.load(Ordering::Acquire) && self.inner.invoker.as_ref().is_some_and(|i| i.is_available())
    }

    /// The directory of each registry (for inspection: snapshots, descriptions).
    pub fn directories(&self) -> &[Arc<RegistryDirectory>] {
        &self.inner.directories
    }

    /// The top cluster invoker.
    pub fn invoker(&self) -> Option<&Arc<dyn Invoker>> {
        self.inner.invoker.as_ref()
    }

    /// Call the service. The response carries [`SERVED_BY`](crate::cluster::SERVED_BY) (and, with
    /// several registries, [`SERVED_BY_REGISTRY`](crate::cluster::SERVED_BY_REGISTRY)).
    ///
    /// # Errors
    /// The cluster's [`RpcError`].
    pub async fn invoke(&self, inv: &Invocation) -> Result<Response, RpcError> {
        match &self.inner.invoker {
            Some(invoker) if !self.inner.shut.load(Ordering::Acquire) => invoker.invoke(inv).await,
            _ => Err(RpcError::no_provider(
                zkdubbo_common::NoProviderReason::ShutDown,
                format!("service {}", self.inner.consumer.service_key()),
            )),
        }
    }

    /// Call `method` with a prost message and decode the reply (Triple / gRPC services).
    ///
    /// # Errors
    /// The cluster's [`RpcError`]; a reply that does not decode is a business error.
    #[cfg(feature = "triple")]
    pub async fn call<Req, Resp>(&self, method: &str, request: &Req) -> Result<Resp, RpcError>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        self.call_message(method, zkdubbo_triple::message_invocation(method, request))
            .await
    }

    /// [`Reference::call`] with `key` as what `loadbalance=consistenthash` hashes: a protobuf
    /// request has no Dubbo argument list, so without a key every call hashes alike. Calls
    /// with equal keys go to the same provider while it is there (Dubbo's `hash.arguments`
    /// applies to the key as the first argument).
    ///
    /// # Errors
    /// As [`Reference::call`].
    #[cfg(feature = "triple")]
    pub async fn call_hashed<Req, Resp>(&self, method: &str, request: &Req, key: &str) -> Result<Resp, RpcError>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let inv = zkdubbo_triple::message_invocation(method, request).with_argument(key);
        self.call_message(method, inv).await
    }

    #[cfg(feature = "triple")]
    async fn call_message<Resp>(&self, method: &str, inv: Invocation) -> Result<Resp, RpcError>
    where
        Resp: prost::Message + Default,
    {
        let response = self.invoke(&inv).await?;
        zkdubbo_triple::decode_reply(&response).map_err(|e| {
            e.with_context(format!(
                "service {}, method {method}, provider {}",
                self.inner.consumer.service_key(),
                response.attachments.get(crate::SERVED_BY).map_or("?", String::as_str)
            ))
        })
    }

    /// Unregister the consumer node(s), release every provider connection and close the
    /// registries this reference opened. Idempotent; calls made afterwards fail.
    pub async fn shutdown(&self) {
        self.inner.shutdown().await;
    }
}
