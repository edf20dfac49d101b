//! One application's instances, followed: the children of `/services/<application>`, each
//! instance node's data, and the metadata of each revision (from the metadata report or the
//! instance's MetadataService, cached by revision), published as [`AppInstances`] whenever
//! one of them changes. One follower per application serves every subscription of the
//! process that needs it (a thousand interfaces of one application: one follower).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::watch;
use zkdubbo_common::sync::lock;
use zkdubbo_registry::{ChildrenState, ChildrenWatch, NodeState, NodeWatch, Registry};

use crate::instance::{ServiceInstance, StorageType};
use crate::metadata::MetadataInfo;

/// How long after a failed metadata fetch it is tried again.
const FETCH_RETRY: Duration = Duration::from_secs(5);
/// Metadata documents kept per process (by application and revision) before the cache is
/// emptied of the revisions no follower uses.
const CACHE_LIMIT: usize = 4096;

/// Fetches the metadata of an instance whose storage type is `local` (Dubbo's default): a
/// call of the instance's MetadataService. Transports implement it (zkdubbo's dubbo://
/// client does); without one, such instances are skipped with a warning.
#[async_trait]
pub trait MetadataFetcher: Send + Sync {
    /// `getMetadataInfo(revision)` of `instance`.
    async fn fetch(&self, instance: &ServiceInstance, revision: &str) -> Result<MetadataInfo, String>;
}

/// An instance with the metadata of its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedInstance {
    /// The instance node.
    pub instance: Arc<ServiceInstance>,
    /// Its services.
    pub metadata: Arc<MetadataInfo>,
}

/// What one application's follower publishes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppInstances {
    /// Whether the instance list was read at least once (until then, nothing is known).
    pub known: bool,
    /// The instances whose node and metadata could be read, by node name.
    pub instances: Vec<ResolvedInstance>,
}

/// Where the nodes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The root of instance nodes (`/services`).
    pub services_root: String,
    /// The root of metadata reports and mappings (`/dubbo`).
    pub metadata_root: String,
}

impl Paths {
    /// `/services/<application>`.
    pub fn application(&self, application: &str) -> String {
        join(&self.services_root, application)
    }

    /// `/dubbo/metadata/<application>/<revision>`.
    pub fn metadata(&self, application: &str, revision: &str) -> String {
        format!("{}/{application}/{revision}", join(&self.metadata_root, "metadata"))
    }

    /// `/dubbo/mapping/<interface>`.
    pub fn mapping(&self, interface: &str) -> String {
        join(&join(&self.metadata_root, "mapping"), interface)
    }
}

fn join(root: &str, child: &str) -> String {
    format!("{}/{child}", root.trim_end_matches('/'))
}

/// Whether `name` can be an application (a single path component).
pub(crate) fn valid_application(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.chars().any(char::is_control)
}

/// The followers of a registry's applications, and the metadata cache they share.
pub(crate) struct Applications {
    registry: Arc<dyn Registry>,
    paths: Paths,
    fetcher: Option<Arc<dyn MetadataFetcher>>,
    followers: Mutex<HashMap<String, watch::Sender<Arc<AppInstances>>>>,
    cache: Mutex<HashMap<(String, String), Arc<MetadataInfo>>>,
    /// Fetches made (metadata read or MetadataService called), for tests and figures.
    fetches: std::sync::atomic::AtomicU64,
}

impl Applications {
    pub(crate) fn new(
        registry: Arc<dyn Registry>,
        paths: Paths,
        fetcher: Option<Arc<dyn MetadataFetcher>>,
    ) -> Arc<Applications> {
        Arc::new(Applications {
            registry,
            paths,
            fetcher,
            followers: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            fetches: Default::default(),
        })
    }

    pub(crate) fn paths(&self) -> &Paths {
        &self.paths
    }

    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A receiver of `application`'s instances, from its follower (started when needed; it
    /// stops when its last receiver is dropped).
    pub(crate) fn watch(self: &Arc<Self>, application: &str) -> watch::Receiver<Arc<AppInstances>> {
        let mut followers = lock(&self.followers);
        if let Some(tx) = followers.get(application).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(Arc::new(AppInstances::default()));
        followers.insert(application.to_owned(), tx.clone());
        let Some(center) = self.registry.config_center() else {
            return rx;
        };
        let dir = self.paths.application(application);
        let children = center.watch_children(&dir);
        let follower = Follower {
            apps: Arc::downgrade(self),
            application: application.to_owned(),
            dir,
            tx,
            children,
            nodes: BTreeMap::new(),
            retry_at: None,
        };
        tokio::spawn(follower.run());
        rx
    }

    /// The metadata of `instance`'s revision: cached, else read or fetched.
    async fn metadata(&self, instance: &ServiceInstance, revision: &str) -> Result<Arc<MetadataInfo>, String> {
        let key = (instance.name.clone(), revision.to_owned());
        if let Some(m) = lock(&self.cache).get(&key) {
            return Ok(m.clone());
        }
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let info = match instance.storage_type() {
            StorageType::Remote => {
                let path = self.paths.metadata(&instance.name, revision);
                let center = self
                    .registry
                    .config_center()
                    .ok_or_else(|| "the registry has no metadata report".to_owned())?;
                match center.read_node(&path).await {
                    Ok(Some((text, _))) => {
                        MetadataInfo::from_json(text.as_bytes()).map_err(|e| format!("{path}: {e}"))?
                    }
                    Ok(None) => return Err(format!("{path} does not exist")),
                    Err(e) => return Err(e.to_string()),
                }
            }
            StorageType::Local => match &self.fetcher {
                Some(f) => f.fetch(instance, revision).await?,
                None => return Err(
                    "its metadata is local (served by its MetadataService) and no MetadataService client is configured"
                        .into(),
                ),
            },
        };
        if info.revision != revision {
            tracing::debug!(
                application = %instance.name,
                expected = revision,
                got = %info.revision,
                "metadata revision differs from the instance's; used under the instance's"
            );
        }
        let info = Arc::new(info);
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_LIMIT {
            let used: HashSet<String> = lock(&self.followers).keys().cloned().collect();
            cache.retain(|(app, _), _| used.contains(app));
        }
        cache.insert(key, info.clone());
        Ok(info)
    }
}

/// One instance node, followed.
struct Node {
    watch: NodeWatch,
    /// The data version last parsed, and what it gave.
    parsed: Option<(i32, Option<Arc<ServiceInstance>>)>,
    /// The metadata of its revision, once fetched.
    resolved: Option<ResolvedInstance>,
    /// A fetch failed: the revision it failed for.
    failed: Option<String>,
}

struct Follower {
    apps: Weak<Applications>,
    application: String,
    /// `/services/<application>`.
    dir: String,
    tx: watch::Sender<Arc<AppInstances>>,
    children: ChildrenWatch,
    nodes: BTreeMap<String, Node>,
    retry_at: Option<tokio::time::Instant>,
}

impl Follower {
    async fn run(mut self) {
        loop {
            let Some(apps) = self.apps.upgrade() else { return };
            let Some(center) = apps.registry.config_center() else {
                return;
            };
            let listed = self.sync_children(center);
            // Known once the list and every node on it were read (and their metadata tried):
            // a partial list would have a consumer start on too few instances, or on the
            // other level.
            let known = self.resolve(&apps).await && listed;
            let snapshot = Arc::new(AppInstances {
                known,
                instances: self.nodes.values().filter_map(|n| n.resolved.clone()).collect(),
            });
            self.tx.send_if_modified(|current| {
                if **current == *snapshot {
                    return false;
                }
                *current = snapshot;
                true
            });
            drop(apps);
            if !self.wait().await {
                break;
            }
        }
        // Forget the follower unless a new one took the name meanwhile.
        if let Some(apps) = self.apps.upgrade() {
            let mut followers = lock(&apps.followers);
            if followers
                .get(&self.application)
                .is_some_and(|t| t.same_channel(&self.tx))
            {
                followers.remove(&self.application);
            }
        }
    }

    /// Follow the current children: new nodes watched, gone ones dropped. Whether the list is
    /// known.
    fn sync_children(&mut self, center: &dyn zkdubbo_registry::ConfigCenter) -> bool {
        let names: Arc<[String]> = match &*self.children.borrow_and_update() {
            ChildrenState::Unknown => return false,
            ChildrenState::Absent => Arc::from(Vec::new()),
            ChildrenState::Present(names) => names.clone(),
        };
        self.nodes.retain(|name, _| names.contains(name));
        for name in names.iter() {
            if !self.nodes.contains_key(name) {
                let path = format!("{}/{name}", self.dir);
                self.nodes.insert(
                    name.clone(),
                    Node {
                        watch: center.watch_node(&path),
                        parsed: None,
                        resolved: None,
                        failed: None,
                    },
                );
            }
        }
        true
    }

    /// Parse changed nodes and fetch the metadata of revisions not known yet; whether every
    /// node has been read.
    async fn resolve(&mut self, apps: &Applications) -> bool {
        self.retry_at = None;
        let mut all_read = true;
        let mut wanted: Vec<(String, Arc<ServiceInstance>, String)> = Vec::new();
        for (name, node) in &mut self.nodes {
            let state = node.watch.borrow_and_update().clone();
            all_read &= state != NodeState::Unknown;
            let NodeState::Present { text, version } = state else {
                node.parsed = None;
                node.resolved = None;
                continue;
            };
            if node.parsed.as_ref().is_none_or(|(v, _)| *v != version) {
                let parsed = match ServiceInstance::from_json(text.as_bytes()) {
                    Ok(i) => Some(Arc::new(i)),
                    Err(e) => {
                        tracing::warn!(application = %self.application, instance = %name, error = %e, "instance node skipped");
                        None
                    }
                };
                node.parsed = Some((version, parsed));
            }
            let Some((_, Some(instance))) = &node.parsed else {
                node.resolved = None;
                continue;
            };
            let Some(revision) = instance.revision() else {
                tracing::warn!(application = %self.application, instance = %name, "instance node has no metadata revision; skipped");
                node.resolved = None;
                continue;
            };
            let current = node
                .resolved
                .as_ref()
                .is_some_and(|r| Arc::ptr_eq(&r.instance, instance));
            if !current {
                wanted.push((name.clone(), instance.clone(), revision.to_owned()));
            }
        }
        // One fetch per revision, however many instances share it; revisions in parallel.
        let mut by_revision: BTreeMap<String, Arc<ServiceInstance>> = BTreeMap::new();
        for (_, instance, revision) in &wanted {
            by_revision.entry(revision.clone()).or_insert_with(|| instance.clone());
        }
        let fetched: HashMap<String, Result<Arc<MetadataInfo>, String>> = futures::future::join_all(
            by_revision
                .iter()
                .map(|(revision, instance)| apps.metadata(instance, revision).map(move |r| (revision.clone(), r))),
        )
        .await
        .into_iter()
        .collect();
        for (name, instance, revision) in wanted {
            let Some(node) = self.nodes.get_mut(&name) else {
                continue;
            };
            let Some(result) = fetched.get(&revision) else {
                continue;
            };
            match result {
                Ok(metadata) => {
                    node.failed = None;
                    node.resolved = Some(ResolvedInstance {
                        instance,
                        metadata: metadata.clone(),
                    });
                }
                Err(reason) => {
                    if node.failed.as_deref() != Some(revision.as_str()) {
                        tracing::warn!(
                            application = %self.application,
                            instance = %name,
                            %revision,
                            %reason,
                            "cannot get the metadata of an instance; it is left out until it can"
                        );
                    }
                    node.failed = Some(revision);
                    // The last good state stays: an instance whose new revision cannot be read
                    // keeps serving what it served.
                    self.retry_at = Some(tokio::time::Instant::now() + FETCH_RETRY);
                }
            }
        }
        all_read
    }

    /// Wait for a change; false when nobody listens any more.
    async fn wait(&mut self) -> bool {
        let retry = async {
            match self.retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let nodes = futures::future::select_all(
            self.nodes
                .values_mut()
                // A node whose follower is gone (the registry shut down) never wakes us again.
                .map(|n| {
                    n.watch
                        .changed()
                        .then(|r| async move {
                            if r.is_err() {
                                std::future::pending::<()>().await;
                            }
                        })
                        .boxed()
                })
                .chain(std::iter::once(std::future::pending().boxed())),
        );
        tokio::select! {
            r = self.children.changed() => r.is_ok(),
            _ = nodes => true,
            _ = retry => true,
            _ = self.tx.closed() => false,
        }
    }
}
