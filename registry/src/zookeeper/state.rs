//! The state shared by the registry handle and its tasks, and the single ZooKeeper calls.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use zkdubbo_common::Url;
use zookeeper_client::{Acls, Client, CreateMode, SessionState};

use super::config::ZookeeperConfig;
use super::paths::{Layout, NodePath};
use crate::cache::CacheFile;
use crate::error::RegistryError;
use crate::notification::{Category, SubscriptionSink};

/// One ZooKeeper session.
pub(crate) struct Conn {
    pub client: Client,
}

impl Conn {
    pub(super) fn session_id(&self) -> i64 {
        self.client.session_id().0
    }

    pub(super) fn is_connected(&self) -> bool {
        matches!(
            self.client.state(),
            SessionState::SyncConnected | SessionState::ConnectedReadOnly
        )
    }
}

/// What the supervisor publishes to every task: the current session, and an epoch bumped on
/// every new session and every reconnection within a session (watchers then re-read).
#[derive(Clone, Default)]
pub(crate) struct Live {
    pub conn: Option<Arc<Conn>>,
    pub epoch: u64,
}

/// One of this process's nodes: a registration, or a node with data (an application instance).
#[derive(Debug, Clone)]
pub(crate) struct OwnEntry {
    /// The registered URL; `None` for a node with data.
    pub url: Option<Url>,
    /// The node's path.
    pub leaf: String,
    /// Its parent, created persistent when missing.
    pub parent: String,
    /// The highest ancestor that may have been deleted by hand: forgotten from the known
    /// paths when the node cannot be created for a missing parent.
    pub top: String,
    /// The node's data (empty for a registration).
    pub data: Arc<[u8]>,
    pub ephemeral: bool,
    /// The session in which the node was last written (and not found missing since).
    pub written_in: Option<i64>,
}

impl OwnEntry {
    /// A registration filed at `node`.
    pub(super) fn registration(url: &Url, node: NodePath, top: String) -> OwnEntry {
        OwnEntry {
            url: Some(url.clone()),
            ephemeral: url.param_bool(zkdubbo_common::keys::DYNAMIC, true),
            leaf: node.leaf,
            parent: node.parent,
            top,
            data: Arc::from(&[][..]),
            written_in: None,
        }
    }

    /// Whether the node needs no writing in session `session` (`None`: no session): an
    /// ephemeral node must have been written in that very session, a persistent one in any.
    pub(super) fn is_written(&self, session: Option<i64>) -> bool {
        match self.written_in {
            None => false,
            Some(_) if !self.ephemeral => true,
            Some(s) => Some(s) == session,
        }
    }
}

impl std::fmt::Display for OwnEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.url {
            Some(url) => write!(f, "{url}"),
            None => write!(f, "node {}", self.leaf),
        }
    }
}

/// This process's registrations and the unregistrations still to be done.
#[derive(Default)]
pub(crate) struct Own {
    /// By leaf path.
    pub entries: HashMap<String, OwnEntry>,
    /// Leaf path → URL (none for a node with data) of removals that failed and are retried.
    pub deletes: HashMap<String, Option<Url>>,
}

/// The list last delivered per category of one subscription.
pub(crate) type NotifiedLists = std::collections::BTreeMap<Category, Arc<[Url]>>;

pub(crate) struct Inner {
    pub url: Url,
    pub config: ZookeeperConfig,
    pub layout: Layout,
    pub live: watch::Sender<Live>,
    pub shutdown: watch::Sender<bool>,
    pub shut_down: AtomicBool,
    pub own: Mutex<Own>,
    /// Serialises writes of own nodes (register, unregister, retries), so that a retry never
    /// re-creates a node that an unregister has just deleted.
    pub write_locks: WriteLocks,
    /// Persistent paths known to exist.
    pub known_paths: Mutex<HashSet<String>>,
    /// Existing parents found open to anyone (reported once each).
    pub open_parents: Mutex<HashSet<String>>,
    pub subscriptions: Mutex<HashMap<u64, SubscriptionSink>>,
    /// (subscription id, category path) → consumer, for category paths not read yet.
    pub failing_watches: Mutex<HashMap<(u64, String), Url>>,
    /// Rule nodes followed, by path: one follower per node, whoever asks for it.
    pub rule_nodes: super::rules::Followers<crate::config_center::NodeState>,
    /// Children lists followed, by parent path (application instances).
    pub child_lists: super::rules::Followers<crate::config_center::ChildrenState>,
    pub next_subscription: AtomicU64,
    /// Sessions established so far.
    pub sessions: AtomicU64,
    pub wake_retry: Notify,
    /// The cache file, unless `file.cache=false`.
    pub cache: Option<Arc<CacheFile>>,
    /// The registry's own tasks (supervisor, retry, cache writer, subscriptions), awaited by
    /// a graceful shutdown.
    pub tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Subscription id → the list last delivered per category (what the cache file holds).
    pub notified: Mutex<HashMap<u64, NotifiedLists>>,
    /// Until this monotonic time (ms), the server is known to have lost its data and
    /// providers may not have registered again: empty provider lists are held back.
    pub recovering_until: AtomicU64,
    /// The server refused a persistent watch: subscriptions follow lists with one-shot
    /// child watches (`watch=auto`).
    pub persistent_refused: AtomicBool,
}

/// Stripes of the write lock of own nodes. A register or unregister holds the stripe of its
/// leaf path, so two writes of one node never interleave while writes of different nodes run
/// concurrently (many `register` futures in flight are pipelined on the session). Retries and
/// shutdown hold every stripe, as a single lock would be held.
pub(crate) struct WriteLocks {
    stripes: Box<[tokio::sync::Mutex<()>]>,
}

/// How many stripes [`WriteLocks`] has.
const WRITE_STRIPES: usize = 64;

impl WriteLocks {
    pub(super) fn new() -> WriteLocks {
        WriteLocks {
            stripes: (0..WRITE_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// The stripe of `leaf`.
    pub(super) async fn leaf(&self, leaf: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        leaf.hash(&mut hasher);
        self.stripes[(hasher.finish() % self.stripes.len() as u64) as usize]
            .lock()
            .await
    }

    /// Every stripe, taken in order (so two callers never deadlock).
    pub(super) async fn all(&self) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut guards = Vec::with_capacity(self.stripes.len());
        for stripe in self.stripes.iter() {
            guards.push(stripe.lock().await);
        }
        guards
    }
}

pub(crate) use zkdubbo_common::sync::lock;

/// Run one ZooKeeper call under `after`; a client error becomes [`RegistryError::ZooKeeper`].
pub(crate) async fn timed<T>(
    op: &'static str,
    path: &str,
    after: Duration,
    call: impl Future<Output = Result<T, zookeeper_client::Error>>,
) -> Result<T, RegistryError> {
    match tokio::time::timeout(after, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(RegistryError::ZooKeeper {
            op,
            path: path.to_owned(),
            source,
        }),
        Err(_) => Err(RegistryError::Timeout {
            op,
            path: path.to_owned(),
            after,
        }),
    }
}

impl Inner {
    /// Whether the server is known to have lost its data recently (see
    /// [`Inner::start_recovery`]).
    pub(crate) fn is_recovering(&self) -> bool {
        zkdubbo_common::monotonic_ms() < self.recovering_until.load(Ordering::Acquire)
    }

    /// The server lost its data: versions start again from zero, parents are gone, and until
    /// providers have had a session timeout to register again an empty provider list is held
    /// back (the subscribers keep their last providers).
    pub(crate) fn start_recovery(&self) {
        let until = zkdubbo_common::monotonic_ms() + self.config.session_timeout.as_millis() as u64;
        self.recovering_until.store(until, Ordering::Release);
        lock(&self.known_paths).clear();
        for sink in lock(&self.subscriptions).values() {
            sink.forget_versions();
        }
    }

    /// Run `task` as one of the registry's own tasks.
    pub(super) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    pub(super) fn registry_name(&self) -> String {
        self.url.to_string()
    }

    /// The registry's label in metrics: its server list (the URL would be unbounded).
    pub(super) fn metrics_label(&self) -> String {
        self.url.address()
    }

    pub(super) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    pub(super) fn check_open(&self) -> Result<(), RegistryError> {
        if self.is_shut_down() {
            return Err(RegistryError::Shutdown {
                registry: self.registry_name(),
            });
        }
        Ok(())
    }

    /// The current session, whatever its connection state.
    pub(super) fn conn(&self) -> Option<Arc<Conn>> {
        self.live.borrow().conn.clone()
    }

    /// The current session if it is connected right now.
    pub(super) fn connected(&self) -> Result<Arc<Conn>, RegistryError> {
        match self.conn() {
            Some(c) if c.is_connected() => Ok(c),
            Some(_) => Err(self.unavailable("disconnected from ZooKeeper")),
            None => Err(self.unavailable("no ZooKeeper session")),
        }
    }

    pub(super) fn unavailable(&self, reason: &str) -> RegistryError {
        RegistryError::Unavailable {
            registry: self.registry_name(),
            reason: reason.to_owned(),
        }
    }

    /// ACLs of the nodes this registry creates: creator-only with digest auth.
    pub(super) fn acls(&self) -> Acls<'static> {
        if self.config.username.is_some() {
            Acls::creator_all()
        } else {
            Acls::anyone_all()
        }
    }

    /// Create `path` and its missing ancestors as persistent nodes (`mkdir -p`) and remember
    /// them. Levels already known to exist are skipped; if one of them turns out to be gone
    /// (deleted by hand), everything known is forgotten and the whole chain is created.
    pub(super) async fn ensure_path(&self, conn: &Conn, path: &str) -> Result<(), RegistryError> {
        if lock(&self.known_paths).contains(path) {
            return Ok(());
        }
        match self.create_chain(conn, path).await {
            Err(e) if e.is_no_node() => {
                self.forget_path("/");
                self.create_chain(conn, path).await
            }
            other => other,
        }
    }

    async fn create_chain(&self, conn: &Conn, path: &str) -> Result<(), RegistryError> {
        let chain: Vec<String> = {
            let known = lock(&self.known_paths);
            Layout::chain(path).into_iter().filter(|p| !known.contains(p)).collect()
        };
        let options = CreateMode::Persistent.with_acls(self.acls());
        // Requests are sent when the futures are created: one round trip for the chain.
        let calls: Vec<_> = chain.iter().map(|p| conn.client.create(p, &[], &options)).collect();
        let mut existing: Vec<&String> = Vec::new();
        timed("create", path, self.config.timeout, async {
            for (p, call) in chain.iter().zip(calls) {
                match call.await {
                    Ok(_) => {
                        lock(&self.known_paths).insert(p.clone());
                    }
                    Err(zookeeper_client::Error::NodeExists) => {
                        lock(&self.known_paths).insert(p.clone());
                        existing.push(p);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
        .await?;
        if self.config.username.is_some() {
            for p in existing {
                self.check_parent_acl(conn, p).await;
            }
        }
        Ok(())
    }

    /// With credentials, this registry's nodes are creator-only, but a parent someone else
    /// created first may be open to anyone: then anyone can delete what is below it (deleting
    /// a node needs the DELETE right on its parent). Warn once per such node, naming its ACL.
    async fn check_parent_acl(&self, conn: &Conn, path: &str) {
        if lock(&self.open_parents).contains(path) {
            return;
        }
        let Ok(Ok((acls, _))) = tokio::time::timeout(self.config.timeout, conn.client.get_acl(path)).await else {
            return;
        };
        let open = acls.iter().any(|acl| {
            acl.scheme() == "world"
                && (acl.permission().has(zookeeper_client::Permission::DELETE)
                    || acl.permission().has(zookeeper_client::Permission::CREATE))
        });
        if open && lock(&self.open_parents).insert(path.to_owned()) {
            let acl: Vec<String> = acls
                .iter()
                .map(|a| format!("{}:{}:{}", a.scheme(), a.id(), a.permission()))
                .collect();
            if self.config.acl_repair && self.config.username.is_some() {
                let set = tokio::time::timeout(
                    self.config.timeout,
                    conn.client.set_acl(path, &Acls::creator_all(), None),
                );
                match set.await {
                    Ok(Ok(_)) => {
                        tracing::info!(
                            registry = %self.registry_name(),
                            node = %path,
                            was = ?acl,
                            "acl.repair: a parent open to anyone now has the creator-only ACL of this registry's credentials"
                        );
                        return;
                    }
                    Ok(Err(e)) => tracing::warn!(node = %path, error = %e, "acl.repair: cannot set the ACL"),
                    Err(_) => tracing::warn!(node = %path, "acl.repair: setting the ACL timed out"),
                }
            }
            tracing::warn!(
                registry = %self.registry_name(),
                node = %path,
                ?acl,
                "a parent of this registry's nodes is open to anyone: anyone can create and delete \
                 nodes below it, creator-only ACLs notwithstanding (it was created by another \
                 client, or before credentials were used); set its ACL, e.g. setAcl {path} \
                 auth::cdrwa"
            );
        }
    }

    /// Forget `path` and everything below it in the known paths (it was found missing);
    /// `/` forgets everything.
    pub(super) fn forget_path(&self, path: &str) {
        let mut known = lock(&self.known_paths);
        if path == "/" {
            known.clear();
            return;
        }
        let below = format!("{path}/");
        known.retain(|p| p != path && !p.starts_with(&below));
    }

    /// Write one own node in `conn`'s session: parents, then the leaf. An existing ephemeral
    /// leaf owned by another session (e.g. our expired one) is deleted and re-created, so that
    /// it lives as long as this session; one of ours gets the entry's data.
    pub(super) async fn write_node(&self, conn: &Conn, entry: &OwnEntry) -> Result<(), RegistryError> {
        let t = self.config.timeout;
        let leaf = &entry.leaf;
        let data = &entry.data[..];
        let mode = if entry.ephemeral {
            CreateMode::Ephemeral
        } else {
            CreateMode::Persistent
        };
        let options = mode.with_acls(self.acls());
        let mut parents_checked = false;
        for _attempt in 0..4 {
            self.ensure_path(conn, &entry.parent).await?;
            let created = timed("create", leaf, t, conn.client.create(leaf, data, &options)).await;
            match created {
                Ok(_) => return Ok(()),
                Err(e) if e.is_no_node() && !parents_checked => {
                    // A parent we believed in was deleted (by hand, or by an admin tool).
                    parents_checked = true;
                    self.forget_path(&entry.top);
                }
                Err(e) if e.is_node_exists() => {
                    if !entry.ephemeral {
                        return Ok(());
                    }
                    match timed("stat", leaf, t, conn.client.check_stat(leaf)).await? {
                        None => continue,
                        Some(stat) if stat.ephemeral_owner == conn.session_id() => {
                            if entry.url.is_none() {
                                timed("set", leaf, t, conn.client.set_data(leaf, data, None)).await?;
                            }
                            return Ok(());
                        }
                        Some(stat) if stat.ephemeral_owner == 0 => {
                            tracing::debug!(path = %leaf, "registration exists as a persistent node; kept");
                            return Ok(());
                        }
                        Some(stat) => {
                            tracing::info!(
                                path = %leaf,
                                owner = format_args!("{:#x}", stat.ephemeral_owner),
                                "registration is held by another session; re-creating it in ours"
                            );
                            // Delete and create in one transaction: watchers never see the
                            // provider missing in between.
                            let mut txn = conn.client.new_multi_writer();
                            let replaced = match txn
                                .add_delete(leaf, Some(stat.version))
                                .and_then(|()| txn.add_create(leaf, data, &options))
                            {
                                Ok(()) => {
                                    let commit = txn.commit();
                                    timed("replace", leaf, t, async {
                                        commit.await.map_err(zookeeper_client::Error::from)
                                    })
                                    .await
                                }
                                Err(source) => Err(RegistryError::ZooKeeper {
                                    op: "replace",
                                    path: leaf.clone(),
                                    source,
                                }),
                            };
                            match replaced {
                                Ok(_) => return Ok(()),
                                // Changed or gone meanwhile: look again.
                                Err(e)
                                    if e.is_no_node()
                                        || e.is_node_exists()
                                        || matches!(e.zookeeper_error(), Some(zookeeper_client::Error::BadVersion)) => {
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(RegistryError::ZooKeeper {
            op: "create",
            path: leaf.clone(),
            source: zookeeper_client::Error::RuntimeInconsistent,
        })
    }

    /// Keep `entry` (a registration or a node with data): remember it, write it now if a
    /// session is connected, else leave it to the retry task.
    pub(super) async fn keep(&self, mut entry: OwnEntry) -> Result<(), RegistryError> {
        let leaf = entry.leaf.clone();
        let _writing = self.write_locks.leaf(&leaf).await;
        self.check_open()?;
        let session = self.conn().map(|c| c.session_id());
        {
            let mut own = lock(&self.own);
            own.deletes.remove(&leaf);
            // A node already written in this session only needs its new data.
            if let Some(old) = own.entries.get(&leaf).filter(|old| old.is_written(session)) {
                entry.written_in = old.written_in;
            }
            own.entries.insert(leaf.clone(), entry.clone());
        }
        let mut written_in = None;
        let written = match self.connected() {
            Ok(conn) => {
                // Recorded with the entry: if the session is replaced meanwhile, the entry stays
                // pending for the new one.
                written_in = Some(conn.session_id());
                if entry.written_in == written_in && entry.url.is_none() {
                    timed(
                        "set",
                        &leaf,
                        self.config.timeout,
                        conn.client.set_data(&leaf, &entry.data, None),
                    )
                    .await
                    .map(drop)
                } else {
                    self.write_node(&conn, &entry).await
                }
            }
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => {
                if let (Some(e), Some(session)) = (lock(&self.own).entries.get_mut(&leaf), written_in) {
                    e.written_in = Some(session);
                }
                tracing::debug!(node = %entry, path = %leaf, ephemeral = entry.ephemeral, "registered");
                Ok(())
            }
            Err(e) if e.is_transient() || e.is_no_node() => {
                // No node (deleted by hand between our write and set): re-created by the retry.
                if let Some(own) = lock(&self.own).entries.get_mut(&leaf) {
                    own.written_in = None;
                }
                tracing::warn!(node = %entry, error = %e, "registration not written yet; retrying in the background");
                self.wake_retry.notify_one();
                Ok(())
            }
            Err(e) => {
                lock(&self.own).entries.remove(&leaf);
                Err(e)
            }
        }
    }

    /// Stop keeping the node at `leaf` and delete it, or leave the deletion to the retry task.
    pub(super) async fn remove(&self, leaf: String, url: Option<Url>) -> Result<(), RegistryError> {
        let _writing = self.write_locks.leaf(&leaf).await;
        self.check_open()?;
        lock(&self.own).entries.remove(&leaf);
        let deleted = match self.connected() {
            Ok(conn) => self.delete_node(&conn, &leaf).await,
            Err(e) => Err(e),
        };
        match deleted {
            Ok(()) => {
                lock(&self.own).deletes.remove(&leaf);
                tracing::debug!(url = ?url.as_ref().map(Url::to_string), path = %leaf, "unregistered");
                Ok(())
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(path = %leaf, error = %e, "unregistration not done yet; retrying in the background");
                lock(&self.own).deletes.insert(leaf, url);
                self.wake_retry.notify_one();
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Remember the list just delivered to subscription `id` and put the subscription's lists
    /// of every category into the cache file (ARCHITECTURE: Registry resilience: key = service key, value = all URLs,
    /// `empty://` markers included). `*` subscriptions are not cached.
    pub(super) fn cache_notified(&self, id: u64, consumer: &Url, category: Category, urls: &Arc<[Url]>) {
        let Some(cache) = &self.cache else { return };
        if consumer.interface() == zkdubbo_common::keys::ANY_VALUE {
            return;
        }
        let all: Vec<Url> = {
            let mut notified = lock(&self.notified);
            let lists = notified.entry(id).or_default();
            lists.insert(category, urls.clone());
            lists.values().flat_map(|l| l.iter().cloned()).collect()
        };
        cache.store(&consumer.service_key(), &all);
    }

    /// Serve the cached lists of `sink`'s consumer (when ZooKeeper cannot be read): one
    /// unversioned [`Source::Cache`](crate::Source::Cache) notification per subscribed category
    /// found in the cache. Live lists replace them as soon as they are read.
    pub(super) fn serve_cache(&self, sink: &SubscriptionSink, categories: &[Category]) -> bool {
        let Some(cache) = &self.cache else { return false };
        let consumer = sink.consumer();
        if consumer.interface() == zkdubbo_common::keys::ANY_VALUE {
            return false;
        }
        let Some(urls) = cache.urls(&consumer.service_key()) else {
            return false;
        };
        let interface: Arc<str> = Arc::from(consumer.interface());
        let mut served = false;
        for &category in categories {
            let in_category: Vec<Url> = urls
                .iter()
                .filter(|u| u.category() == category.as_str())
                .cloned()
                .collect();
            if in_category.is_empty() {
                continue;
            }
            let found = in_category
                .into_iter()
                .filter(|u| u.protocol() != zkdubbo_common::keys::EMPTY_PROTOCOL);
            served |= sink.push(crate::Notification {
                interface: interface.clone(),
                category,
                urls: crate::notification::matching_list(consumer, category, found),
                version: None,
                source: crate::Source::Cache,
            });
        }
        if served {
            tracing::info!(
                consumer = %consumer,
                path = %cache.path().display(),
                "ZooKeeper unavailable: serving the cached lists"
            );
        }
        served
    }

    /// Delete a leaf; an absent one is fine.
    pub(super) async fn delete_node(&self, conn: &Conn, leaf: &str) -> Result<(), RegistryError> {
        match timed("delete", leaf, self.config.timeout, conn.client.delete(leaf, None)).await {
            Err(e) if e.is_no_node() => Ok(()),
            other => other,
        }
    }
}
