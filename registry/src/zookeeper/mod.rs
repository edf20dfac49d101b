//! [`ZookeeperRegistry`]: the [`Registry`] on a real ZooKeeper, in Apache Dubbo's layout.
//!
//! * `config` — the registry URL ([`ZookeeperConfig`]).
//! * `paths` — the layout (ARCHITECTURE: ZooKeeper layout; [`Layout`]).
//! * `state` — what the handle and its tasks share; single ZooKeeper calls, each under the
//!   `timeout` of the registry URL.
//! * `session` — connecting, and the supervisor that follows the session state.
//! * `watcher` — one watch task per subscribed category path (and one on the root for `*`).
//! * `retry` — retry until success of own writes, and the periodic self-check.
//! * the cache file ([`crate::cache`]) — written from live lists, served to subscribers while
//!   ZooKeeper cannot be reached.
//!
//! Consumers register themselves through the caller (see
//! [`Registration::register_consumer`](crate::Registration::register_consumer)); `subscribe`
//! only subscribes, as with every [`Registry`].

mod config;
mod paths;
mod persistent;
mod retry;
mod rules;
mod session;
mod state;
mod watcher;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;

use async_trait::async_trait;
use tokio::sync::{Notify, watch};
use zkdubbo_common::{Url, keys};

pub use self::config::{
    CONFIG_BASE_PATH_KEY, CONFIG_ROOT_PATH_KEY, DEFAULT_CHECK_PERIOD_MS, DEFAULT_GROUP, DEFAULT_PORT,
    DEFAULT_RETRY_PERIOD_MS, DEFAULT_SESSION_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, DUBBO_EMPTY_PROTECTION_KEY,
    EMPTY_PROTECTION_KEY, TlsFiles, WATCH_ENV, WATCH_KEY, WatchMode, ZOOKEEPER_PROTOCOL, ZookeeperConfig,
    redact_address, registry_address,
};
pub use self::paths::{Layout, NodePath};
pub use self::retry::PendingOperation;
use self::state::{Inner, Live, Own, OwnEntry, lock, timed};
use self::watcher::{WatchSet, decode_children};
use crate::Registry;
use crate::cache::CacheFile;
use crate::config_center::{ChildrenWatch, ConfigCenter, NodeWatch};
use crate::error::RegistryError;
use crate::notification::{
    Category, SinkOptions, Subscription, SubscriptionSink, matching_list, subscription_channel_with,
};

/// How long cache file changes settle before they are written.
const CACHE_DEBOUNCE: Duration = Duration::from_millis(200);

/// A [`Registry`] on ZooKeeper, compatible with Java, Go and Python Dubbo.
///
/// * Registering writes `<root>/<interface>/<category>/<encoded URL>`, parents persistent,
///   the leaf ephemeral unless the URL says `dynamic=false`.
/// * Subscribing starts one task per category path that re-arms a one-shot child watch on
///   every event and delivers the full, versioned list (ARCHITECTURE: Notifications).
/// * A supervisor follows the session: after a reconnection every category is re-read; after
///   expiry a new session is established (capped exponential backoff), own ephemeral nodes
///   are re-created and every category re-read.
/// * A registration or unregistration that fails for a transient reason (no session,
///   timeout, lost connection) is kept and retried until it succeeds (see
///   [`ZookeeperRegistry::pending_operations`]); such calls return `Ok` (at once when there
///   is no connected session, else after the failed attempt). Invalid URLs, missing rights
///   and calls after shutdown return errors.
/// * With `empty.protection=true`, an empty provider list never replaces a non-empty one
///   ([`SinkOptions::empty_protection`]).
/// * Live lists are written to the cache file (`file` param, Java's default path, or none with
///   `file.cache=false`); a subscription made while there is no session first gets the cached
///   lists ([`Source::Cache`](crate::Source::Cache)), then live ones.
///
/// Dropping the last handle ends the session (so ZooKeeper removes its ephemeral nodes);
/// [`Registry::shutdown`] deletes them at once first.
///
/// ```no_run
/// # async fn demo() -> Result<(), zkdubbo_registry::RegistryError> {
/// use zkdubbo_registry::{Registry, ZookeeperRegistry};
/// let registry = ZookeeperRegistry::connect_str("zookeeper://127.0.0.1:2181?session=10000").await?;
/// registry.register(&"dubbo://10.0.0.5:20880/com.foo.Bar?side=provider".parse()?).await?;
/// let mut sub = registry.subscribe(&"consumer://10.0.0.1/com.foo.Bar".parse()?).await?;
/// while let Some(n) = sub.next().await {
///     println!("{} {}: {:?}", n.interface, n.category, n.non_empty_urls());
/// }
/// # Ok(()) }
/// ```
pub struct ZookeeperRegistry {
    inner: Arc<Inner>,
}

impl ZookeeperRegistry {
    /// [`Registry::subscribe`], inside its span.
    async fn subscribe_in(&self, consumer: &Url) -> Result<Subscription, RegistryError> {
        let inner = &self.inner;
        inner.check_open()?;
        Self::subscribed_interface(consumer)?;
        let categories = Category::subscribed_by(consumer);
        if categories.is_empty() {
            return Err(RegistryError::InvalidUrl {
                op: "subscribe",
                url: consumer.to_string(),
                reason: format!(
                    "no known category in {:?}",
                    consumer.param(keys::CATEGORY).unwrap_or("")
                ),
            });
        }
        let options = SinkOptions {
            empty_protection: inner.config.empty_protection,
        };
        let (sink, subscription) = subscription_channel_with(consumer.clone(), options);
        if !self.is_available() {
            inner.serve_cache(&sink, &categories);
        }
        let id = inner.next_subscription.fetch_add(1, Ordering::Relaxed);
        lock(&inner.subscriptions).insert(id, sink.clone());
        inner.spawn(drive_subscription(inner.clone(), id, sink, categories));
        Ok(subscription)
    }

    /// Connect to the ZooKeeper of `registry_url`
    /// (`zookeeper://host:port?backup=...&group=...&session=...&timeout=...`).
    ///
    /// Waits up to `timeout` for the first session. If none can be established, the registry
    /// is still returned and keeps connecting in the background, unless the URL says
    /// `check=true` (then the error is returned). Must be called on a tokio runtime.
    pub async fn connect(registry_url: &Url) -> Result<Arc<ZookeeperRegistry>, RegistryError> {
        let config = ZookeeperConfig::from_url(registry_url)?;
        Self::connect_with(registry_url.clone(), config).await
    }

    /// [`ZookeeperRegistry::connect`] with a registry address as [`registry_address`] reads
    /// it: a `zookeeper://` URL whose host part may be a comma list, or a bare `host:port`
    /// list.
    pub async fn connect_str(registry_address: &str) -> Result<Arc<ZookeeperRegistry>, RegistryError> {
        let url = config::registry_address(registry_address)?;
        Self::connect(&url).await
    }

    /// Connect with an explicit configuration; `url`, with its password hidden, is used in
    /// messages and by [`Registry::url`] (the credentials are the configuration's).
    pub async fn connect_with(url: Url, config: ZookeeperConfig) -> Result<Arc<ZookeeperRegistry>, RegistryError> {
        let config_file = config.file.clone();
        let (live, _) = watch::channel(Live::default());
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            url: url.redacted(),
            layout: Layout::new(&config.root),
            config,
            live,
            shutdown,
            shut_down: AtomicBool::new(false),
            own: Mutex::new(Own::default()),
            write_locks: state::WriteLocks::new(),
            known_paths: Mutex::new(Default::default()),
            open_parents: Mutex::new(Default::default()),
            subscriptions: Mutex::new(HashMap::new()),
            failing_watches: Mutex::new(HashMap::new()),
            rule_nodes: Mutex::new(HashMap::new()),
            child_lists: Mutex::new(HashMap::new()),
            next_subscription: AtomicU64::new(1),
            sessions: AtomicU64::new(0),
            wake_retry: Notify::new(),
            cache: config_file.map(|path| Arc::new(CacheFile::load(path))),
            notified: Mutex::new(HashMap::new()),
            recovering_until: std::sync::atomic::AtomicU64::new(0),
            persistent_refused: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        match session::connect_client(&inner.config).await {
            Ok(client) => {
                inner.install(client);
                if inner.config.watch == WatchMode::Persistent
                    && let Some(conn) = inner.conn()
                    && let Err(e) = persistent::probe(&inner, &conn).await
                    && persistent::refuses_persistent(&e)
                {
                    let _ = inner.shutdown.send(true);
                    return Err(RegistryError::Unavailable {
                        registry: inner.registry_name(),
                        reason: format!(
                            "watch=persistent, but the server refuses persistent watches (ZooKeeper before 3.6, \
                             or a watch manager without them: {e}); use watch=auto or watch=children"
                        ),
                    });
                }
            }
            Err(e) if inner.config.check => return Err(session::explain(&inner.config, e).await),
            Err(e) => tracing::warn!(
                registry = %inner.registry_name(),
                error = %e,
                "no ZooKeeper session yet; connecting in the background"
            ),
        }
        inner.spawn(session::supervise(inner.clone()));
        inner.spawn(retry::retry_loop(inner.clone()));
        if let Some(cache) = &inner.cache {
            inner.spawn(cache.clone().run_writer(CACHE_DEBOUNCE, inner.shutdown.subscribe()));
        }
        Ok(Arc::new(ZookeeperRegistry { inner }))
    }

    /// The configuration read from the registry URL.
    pub fn config(&self) -> &ZookeeperConfig {
        &self.inner.config
    }

    /// How subscriptions follow lists now: [`WatchMode::Persistent`], or
    /// [`WatchMode::Children`] when configured so or after the server refused persistent
    /// watches.
    pub fn watch_mode(&self) -> WatchMode {
        self.inner.effective_watch()
    }

    /// Whether the registry can still be used ([`Registry::shutdown`] not called).
    pub fn is_open(&self) -> bool {
        !self.inner.is_shut_down()
    }

    /// The root path (`/dubbo`).
    pub fn root(&self) -> &str {
        self.inner.layout.root()
    }

    /// The cache file in use, if any.
    pub fn cache_file(&self) -> Option<&std::path::Path> {
        self.inner.cache.as_deref().map(CacheFile::path)
    }

    /// The layout (paths of interfaces, categories and nodes).
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// The current session id, if a session exists (connected or not).
    pub fn session_id(&self) -> Option<i64> {
        self.inner.conn().map(|c| c.session_id())
    }

    /// The session timeout negotiated with the server, if a session exists.
    pub fn session_timeout(&self) -> Option<Duration> {
        self.inner.conn().map(|c| c.client.session_timeout())
    }

    /// How many sessions were established so far (1 + the number of replaced sessions).
    pub fn sessions_established(&self) -> u64 {
        self.inner.sessions.load(Ordering::Relaxed)
    }

    /// Subscriptions still followed. One that ends leaves this count once its watch tasks
    /// have stopped (their watches are then removed from the session, or left to the other
    /// subscriptions of the same path: the client keeps one server watch per path).
    pub fn subscriptions(&self) -> usize {
        lock(&self.inner.subscriptions).len()
    }

    /// This process's registrations, in path order.
    pub fn registrations(&self) -> Vec<Url> {
        let own = lock(&self.inner.own);
        let mut entries: Vec<_> = own.entries.values().collect();
        entries.sort_by(|a, b| a.leaf.cmp(&b.leaf));
        entries.into_iter().filter_map(|e| e.url.clone()).collect()
    }

    /// Keep an ephemeral node of this process at `path` holding `data`, as registrations are
    /// kept: parents created persistent, the node re-created in every new session, after
    /// it vanishes and across failures (retried in the background), deleted at shutdown.
    /// Calling it again for the same path replaces the data (an application instance's
    /// node, whose metadata revision changes with its services).
    ///
    /// # Errors
    /// [`RegistryError::InvalidUrl`] for a path that is not absolute, ends with `/` or has
    /// empty components; errors that are not transient (missing rights, shutdown).
    pub async fn register_node(&self, path: &str, data: &[u8]) -> Result<(), RegistryError> {
        self.inner.check_open()?;
        let (parent, top) = paths::data_node(path).map_err(|reason| RegistryError::InvalidUrl {
            op: "register node",
            url: path.to_owned(),
            reason,
        })?;
        let entry = OwnEntry {
            url: None,
            leaf: path.to_owned(),
            parent,
            top,
            data: Arc::from(data),
            ephemeral: true,
            written_in: None,
        };
        self.inner.keep(entry).await
    }

    /// Stop keeping the node of [`ZookeeperRegistry::register_node`] and delete it (retried
    /// in the background when ZooKeeper cannot be reached).
    pub async fn unregister_node(&self, path: &str) -> Result<(), RegistryError> {
        self.inner.check_open()?;
        self.inner.remove(path.to_owned(), None).await
    }

    /// Operations not carried out yet and being retried: own registrations missing in the
    /// current session, failed unregistrations, and subscribed paths not read yet.
    pub fn pending_operations(&self) -> Vec<PendingOperation> {
        self.inner.pending_operations()
    }

    /// The interfaces under the root (its children), sorted.
    pub async fn services(&self) -> Result<Vec<String>, RegistryError> {
        self.inner.check_open()?;
        let conn = self.inner.connected()?;
        let root = self.inner.layout.root();
        let mut children = match timed("list", root, self.inner.config.timeout, conn.client.list_children(root)).await {
            Err(e) if e.is_no_node() => Vec::new(),
            other => other?,
        };
        if root == "/" {
            children.retain(|c| c != "zookeeper");
        }
        children.sort();
        Ok(children)
    }

    fn subscribed_interface(consumer: &Url) -> Result<(), RegistryError> {
        let interface = consumer.interface();
        if interface == keys::ANY_VALUE {
            return Ok(());
        }
        paths::check_interface(interface).map_err(|reason| RegistryError::InvalidUrl {
            op: "subscribe",
            url: consumer.to_string(),
            reason,
        })
    }
}

/// Run one subscription: its category tasks (or the root watch for `*`) until the
/// subscriber cancels or the registry shuts down.
async fn drive_subscription(inner: Arc<Inner>, id: u64, sink: SubscriptionSink, categories: Vec<Category>) {
    let mut shutdown = inner.shutdown.subscribe();
    let interface = sink.consumer().interface().to_owned();
    let any = interface == keys::ANY_VALUE;
    // `*` subscriptions never create category paths: see `CategoryWatch::create_missing`.
    let mut watches = WatchSet::new(inner.clone(), id, sink.clone(), !any);
    if any {
        tokio::select! {
            _ = sink.cancelled() => {}
            _ = shutdown.wait_for(|s| *s) => {}
            _ = watcher::watch_root(inner.clone(), categories, &mut watches) => {}
        }
    } else {
        let interface: Arc<str> = Arc::from(interface);
        for category in categories {
            watches.spawn(interface.clone(), category);
        }
        tokio::select! {
            _ = sink.cancelled() => {}
            _ = shutdown.wait_for(|s| *s) => {}
            _ = watches.keep_alive() => {}
        }
    }
    watches.stop().await;
    lock(&inner.notified).remove(&id);
    lock(&inner.subscriptions).remove(&id);
    lock(&inner.failing_watches).retain(|(sub, _), _| *sub != id);
    if inner.is_shut_down() {
        sink.close();
    }
    tracing::debug!(subscription = id, consumer = %sink.consumer(), "subscription ended");
}

#[async_trait]
impl ConfigCenter for ZookeeperRegistry {
    fn config_root(&self) -> &str {
        &self.inner.config.config_root
    }

    fn watch_node(&self, path: &str) -> NodeWatch {
        rules::watch_node(&self.inner, path)
    }

    fn watch_children(&self, path: &str) -> ChildrenWatch {
        rules::watch_children(&self.inner, path)
    }

    async fn keep_node(&self, path: &str, data: &[u8]) -> Result<(), RegistryError> {
        self.register_node(path, data).await
    }

    async fn remove_kept_node(&self, path: &str) -> Result<(), RegistryError> {
        self.unregister_node(path).await
    }

    async fn read_node(&self, path: &str) -> Result<Option<(String, i32)>, RegistryError> {
        self.inner.read_rule_node(path).await
    }

    async fn write_node(&self, path: &str, text: &str, expected: Option<i32>) -> Result<i32, RegistryError> {
        self.inner.write_rule_node(path, text, expected).await
    }

    async fn delete_node(&self, path: &str, expected: Option<i32>) -> Result<(), RegistryError> {
        self.inner.delete_rule_node(path, expected).await
    }
}

#[async_trait]
impl Registry for ZookeeperRegistry {
    fn url(&self) -> &Url {
        &self.inner.url
    }

    fn config_center(&self) -> Option<&dyn ConfigCenter> {
        Some(self)
    }

    async fn register(&self, url: &Url) -> Result<(), RegistryError> {
        let span =
            tracing::info_span!("zkdubbo.registry.register", service = %url.service_key(), address = %url.address());
        async {
            self.inner.check_open()?;
            let node = self.inner.layout.node(url, "register")?;
            let top = self.inner.layout.service(&node.interface);
            self.inner.keep(OwnEntry::registration(url, node, top)).await
        }
        .instrument(span)
        .await
    }

    async fn unregister(&self, url: &Url) -> Result<(), RegistryError> {
        let span =
            tracing::info_span!("zkdubbo.registry.unregister", service = %url.service_key(), address = %url.address());
        async {
            self.inner.check_open()?;
            let node = self.inner.layout.node(url, "unregister")?;
            self.inner.remove(node.leaf, Some(url.clone())).await
        }
        .instrument(span)
        .await
    }

    async fn subscribe(&self, consumer: &Url) -> Result<Subscription, RegistryError> {
        let span = tracing::info_span!("zkdubbo.registry.subscribe", service = %consumer.service_key());
        self.subscribe_in(consumer).instrument(span).await
    }

    async fn lookup(&self, consumer: &Url) -> Result<Vec<Url>, RegistryError> {
        let inner = &self.inner;
        inner.check_open()?;
        Self::subscribed_interface(consumer)?;
        let conn = inner.connected()?;
        let t = inner.config.timeout;
        let interfaces = if consumer.interface() == keys::ANY_VALUE {
            self.services().await?
        } else {
            vec![consumer.interface().to_owned()]
        };
        let categories = Category::subscribed_by(consumer);
        let paths: Vec<(&str, Category, String)> = interfaces
            .iter()
            .flat_map(|i| {
                categories
                    .iter()
                    .map(move |&c| (i.as_str(), c, inner.layout.category(i, c)))
            })
            .collect();
        // Pipelined: every request is sent before the first answer is awaited.
        let calls: Vec<_> = paths.iter().map(|(_, _, p)| conn.client.get_children(p)).collect();
        let lists = timed("list", inner.layout.root(), t, async {
            let mut lists = Vec::with_capacity(calls.len());
            for call in calls {
                match call.await {
                    Ok((children, _)) => lists.push(children),
                    Err(zookeeper_client::Error::NoNode) => lists.push(Vec::new()),
                    Err(e) => return Err(e),
                }
            }
            Ok(lists)
        })
        .await?;
        let mut out = Vec::new();
        let mut warned = Default::default();
        for ((interface, category, path), children) in paths.iter().zip(lists) {
            let urls = decode_children(interface, path, &children, &mut warned);
            let list = matching_list(consumer, *category, urls);
            out.extend(list.iter().filter(|u| u.protocol() != keys::EMPTY_PROTOCOL).cloned());
        }
        Ok(out)
    }

    fn is_available(&self) -> bool {
        !self.inner.is_shut_down() && self.inner.conn().is_some_and(|c| c.is_connected())
    }

    async fn shutdown(&self) {
        let inner = &self.inner;
        {
            let _writing = inner.write_locks.all().await;
            if inner.shut_down.swap(true, Ordering::AcqRel) {
                return;
            }
            // Only nodes of the current session: an older one may belong to someone else now.
            let session = inner.conn().map(|c| c.session_id());
            let ephemeral: Vec<String> = {
                let mut own = lock(&inner.own);
                own.deletes.clear();
                own.entries
                    .drain()
                    .filter(|(_, e)| e.ephemeral && e.is_written(session))
                    .map(|(leaf, _)| leaf)
                    .collect()
            };
            if let Some(conn) = inner.conn().filter(|c| c.is_connected()) {
                // Pipelined deletes, so the nodes vanish at once rather than at session close.
                let calls: Vec<_> = ephemeral.iter().map(|p| conn.client.delete(p, None)).collect();
                let deleted = timed("delete", inner.layout.root(), inner.config.timeout, async {
                    for (path, call) in ephemeral.iter().zip(calls) {
                        match call.await {
                            Ok(()) | Err(zookeeper_client::Error::NoNode) => {}
                            Err(e) => tracing::warn!(%path, error = %e, "cannot delete own node at shutdown"),
                        }
                    }
                    Ok(())
                })
                .await;
                if let Err(e) = deleted {
                    tracing::warn!(error = %e, "own nodes not all deleted at shutdown; the session close removes them");
                }
            }
        }
        inner.shutdown.send_replace(true);
        let sinks: Vec<SubscriptionSink> = lock(&inner.subscriptions).drain().map(|(_, s)| s).collect();
        for sink in sinks {
            sink.close();
        }
        if let Some(cache) = inner.cache.clone() {
            match tokio::task::spawn_blocking(move || cache.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot write the registry cache file"),
                Err(e) => tracing::warn!(error = %e, "the cache file writer failed"),
            }
        }
        // Wait for every task of ours to stop (they drop their clients as they do), then drop
        // the last client: that closes the session.
        let tasks: Vec<_> = lock(&inner.tasks).drain(..).collect();
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(inner.config.timeout, task).await.is_err() {
                abort.abort();
            }
        }
        inner.live.send_modify(|live| {
            live.conn = None;
            live.epoch += 1;
        });
        tracing::info!(registry = %inner.registry_name(), "registry shut down");
    }
}

impl Drop for ZookeeperRegistry {
    fn drop(&mut self) {
        // Stop every task; once they have dropped their clients the session is closed and
        // ZooKeeper removes this process's ephemeral nodes.
        self.inner.shut_down.store(true, Ordering::Release);
        self.inner.shutdown.send_replace(true);
        self.inner.live.send_modify(|live| live.conn = None);
    }
}

impl std::fmt::Debug for ZookeeperRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZookeeperRegistry")
            .field("url", &self.inner.registry_name())
            .field("session", &self.session_id().map(|id| format!("{id:#x}")))
            .field("available", &self.is_available())
            .finish()
    }
}
