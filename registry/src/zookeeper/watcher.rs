//! Watch tasks: one per subscribed category path, and one per `*` subscription on the root.
//!
//! A category task loops: read the children and arm a one-shot child watch
//! (`get_and_watch_children`), decode them, deliver the full list with its version
//! (`czxid`, `cversion`) to the subscription's sink, then wait for the watch to fire or for
//! the supervisor to publish a reconnection or a new session. The sink drops lists older than
//! the last one delivered and coalesces lists the subscriber has not taken yet, so nothing
//! here ever blocks on a slow subscriber, and ZooKeeper's own event thread never runs our code.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use zkdubbo_common::text::excerpt;
use zkdubbo_common::{Url, keys};
use zookeeper_client::EventType;

use super::retry::Backoff;
use super::state::{Conn, Inner, Live, lock, timed};
use crate::error::RegistryError;
use crate::notification::{
    Category, ListVersion, Notification, Source, SubscriptionSink, consumer_in, empty_url, list_or_empty, matches_in,
};

/// Decode one child node name of `<root>/<interface>/<category>` (see [`decode_children`]).
pub(super) fn decode_child(interface: &str, name: &str) -> Result<Url, zkdubbo_common::UrlError> {
    let url = Url::from_node_name(name)?;
    // Already right when its path names the interface (`dubbo://h:1/com.foo.Bar`): the URL is
    // then kept exactly as registered.
    Ok(
        if url.param(keys::INTERFACE).is_none_or(str::is_empty) && url.interface() != interface {
            url.with_param(keys::INTERFACE, interface)
        } else {
            url
        },
    )
}

/// How many new garbage child names of one list read are warned about one by one; the rest
/// are counted in one more warning (10,000 garbage children must not be 10,000 log lines).
const GARBAGE_WARNINGS_PER_READ: usize = 5;

/// The warnings about the child names of one list read that are not URLs.
#[derive(Default)]
pub(super) struct GarbageReport {
    warned: usize,
    more: usize,
}

impl GarbageReport {
    pub(super) fn add(&mut self, name: &str, path: &str, error: &zkdubbo_common::UrlError) {
        if self.warned < GARBAGE_WARNINGS_PER_READ {
            self.warned += 1;
            tracing::warn!(node = %excerpt(name), %path, %error, "skipping a child node that is not a URL");
        } else {
            self.more += 1;
        }
    }

    pub(super) fn finish(self, path: &str) {
        if self.more > 0 {
            tracing::warn!(%path, more = self.more, "skipping {} more child nodes that are not URLs", self.more);
        }
    }
}

/// Decode the children of `<root>/<interface>/<category>`: a name that is not a URL is skipped
/// with a warning naming it (once per `warned` set); a URL without an `interface` param whose
/// path does not name the interface either (`tri://10.0.0.7:50051?service=com.foo.Bar`) gets
/// `interface=<the interface of the ZooKeeper path it sits under>`.
pub(crate) fn decode_children(
    interface: &str,
    path: &str,
    children: &[String],
    warned: &mut HashSet<String>,
) -> Vec<Url> {
    let mut urls = Vec::with_capacity(children.len());
    let mut report = GarbageReport::default();
    for name in children {
        match decode_child(interface, name) {
            Ok(url) => urls.push(url),
            Err(e) => {
                if warned.insert(name.clone()) {
                    report.add(name, path, &e);
                }
            }
        }
    }
    report.finish(path);
    if warned.len() > children.len() {
        // Forget names that are gone, so the set cannot grow without bound.
        let present: HashSet<&String> = children.iter().collect();
        warned.retain(|n| present.contains(n));
    }
    urls
}

/// Lists shorter than this are decoded from scratch each time rather than kept by name:
/// decoding a few URLs costs little, and a consumer of many small services would otherwise
/// hold every node name (~360 bytes per provider) for nothing.
const KEEP_NAMES_FROM: usize = 32;

/// The decoded children of one category path from its last read, by node name, with whether
/// each matches the subscriber: a re-read decodes and matches only the names that are new (a
/// list of N providers usually changes by one node, and decoding is most of the cost of a
/// refresh). Same results as [`decode_children`] filtered by the same predicate.
pub(crate) struct DecodedChildren {
    by_name: HashMap<String, (Url, bool)>,
    /// Names that are not URLs, warned about once while they stay.
    warned: HashSet<String>,
    /// Lists of at least this many URLs are kept ([`KEEP_NAMES_FROM`]).
    keep_from: usize,
}

impl Default for DecodedChildren {
    fn default() -> Self {
        DecodedChildren {
            by_name: HashMap::new(),
            warned: HashSet::new(),
            keep_from: KEEP_NAMES_FROM,
        }
    }
}

impl DecodedChildren {
    /// Decode `children` (the full list just read) and keep those for which `wanted` holds,
    /// reusing the URLs and verdicts of names read before (`wanted` must not change between
    /// calls: it is the subscriber's match).
    pub(super) fn decode(
        &mut self,
        interface: &str,
        path: &str,
        children: Vec<String>,
        wanted: impl Fn(&Url) -> bool,
    ) -> Vec<Url> {
        let mut previous = std::mem::take(&mut self.by_name);
        let mut by_name = HashMap::with_capacity(children.len());
        let mut urls = Vec::with_capacity(children.len());
        let mut bad: Vec<String> = Vec::new();
        let mut report = GarbageReport::default();
        for name in children {
            let (url, keep) = match previous.remove(&name) {
                Some(entry) => entry,
                None => match decode_child(interface, &name) {
                    Ok(url) => {
                        let keep = wanted(&url);
                        (url, keep)
                    }
                    Err(e) => {
                        if !self.warned.contains(&name) {
                            report.add(&name, path, &e);
                        }
                        bad.push(name);
                        continue;
                    }
                },
            };
            if keep {
                urls.push(url.clone());
            }
            by_name.insert(name, (url, keep));
        }
        report.finish(path);
        // Only names still present stay warned about.
        self.warned = bad.into_iter().collect();
        if by_name.len() >= self.keep_from {
            self.by_name = by_name;
        }
        urls
    }

    /// Forget everything (the path's node was deleted or is being re-read from scratch).
    pub(super) fn clear(&mut self) {
        self.by_name.clear();
    }
}

/// ZooKeeper's default `jute.maxbuffer` (`0xfffff`): the largest reply a Java client (Java
/// Dubbo, Curator, `zkCli.sh`) accepts unless its JVM runs with `-Djute.maxbuffer=...`.
pub(crate) const JAVA_DEFAULT_JUTE_MAXBUFFER: usize = 0xfffff;

/// The size of the `getChildren` reply listing `children`: reply header (xid, zxid, error),
/// vector length, each name with its length prefix, and the Stat of `getChildren2`.
pub(crate) fn children_reply_bytes(children: &[String]) -> usize {
    16 + 4 + children.iter().map(|c| 4 + c.len()).sum::<usize>() + 68
}

/// Wait for a published session; `None` once the registry is gone.
pub(super) async fn wait_conn(live: &mut watch::Receiver<Live>) -> Option<Arc<Conn>> {
    loop {
        if let Some(conn) = live.borrow_and_update().conn.clone() {
            return Some(conn);
        }
        live.changed().await.ok()?;
    }
}

/// What one category task watches and where it delivers.
pub(crate) struct CategoryWatch {
    pub inner: Arc<Inner>,
    pub subscription: u64,
    pub sink: SubscriptionSink,
    pub interface: Arc<str>,
    pub category: Category,
    /// Create the category path when it is missing (a subscription to one interface, as
    /// Dubbo does). `*` subscriptions only wait for it to appear, so that they never
    /// resurrect an interface an operator deleted.
    pub create_missing: bool,
}

impl CategoryWatch {
    /// Deliver the URLs that match the subscriber (the `empty://` marker when there are none).
    pub(super) fn deliver(&self, matched: Vec<Url>, version: ListVersion) {
        let consumer = self.sink.consumer();
        let list = list_or_empty(consumer, self.category, matched);
        let n = Notification {
            interface: self.interface.clone(),
            category: self.category,
            urls: list.clone(),
            version: Some(version),
            source: Source::Live,
        };
        let accepted = if self.inner.is_recovering() {
            self.sink.push_protected(n)
        } else {
            self.sink.push(n)
        };
        crate::metrics::notified(&self.inner.metrics_label(), self.category.as_str());
        if accepted {
            self.inner
                .cache_notified(self.subscription, consumer, self.category, &list);
        }
    }

    /// The category node does not exist: its list is authoritatively empty. Versioned as the
    /// last state of the incarnation last seen (or before any incarnation), so a re-created
    /// node (larger `czxid`) always wins over it.
    pub(super) fn deliver_missing(&self) {
        let version = match self.sink.last_version(&self.interface, self.category) {
            Some(v) if v.cversion == i32::MAX => return,
            Some(v) => ListVersion {
                czxid: v.czxid,
                cversion: i32::MAX,
            },
            None => ListVersion { czxid: 0, cversion: 0 },
        };
        let n = Notification {
            interface: self.interface.clone(),
            category: self.category,
            urls: Arc::from(vec![empty_url(self.sink.consumer(), self.category)]),
            version: Some(version),
            source: Source::Live,
        };
        if self.inner.is_recovering() {
            self.sink.push_protected(n);
        } else {
            self.sink.push(n);
        }
        crate::metrics::notified(&self.inner.metrics_label(), self.category.as_str());
    }

    pub(super) fn failing(&self, path: &str, e: Option<&RegistryError>) {
        let key = (self.subscription, path.to_owned());
        let mut failing = lock(&self.inner.failing_watches);
        match e {
            None => {
                failing.remove(&key);
            }
            Some(_) => {
                failing.insert(key, self.sink.consumer().clone());
            }
        }
    }

    /// The task body; runs until aborted or the registry is gone: with a persistent
    /// recursive watch (`persistent.rs`) unless the registry says `watch=children` or the
    /// server refuses them, else with one-shot child watches.
    pub(super) async fn run(self) {
        if self.inner.wants_persistent() {
            match self.run_persistent().await {
                super::persistent::Ended::Stop => return,
                super::persistent::Ended::Refused => {}
            }
        }
        self.run_classic().await;
    }

    /// Follow the category with one-shot child watches, re-listing on every change.
    async fn run_classic(&self) {
        let inner = self.inner.clone();
        let path = inner.layout.category(&self.interface, self.category);
        let t = inner.config.timeout;
        let mut live = inner.live.subscribe();
        let mut backoff = Backoff::for_retries(inner.config.retry_period);
        let mut decoded = DecodedChildren::default();
        let consumer_here = consumer_in(self.sink.consumer(), self.category);
        let mut over_java_limit = false;
        loop {
            let Some(conn) = wait_conn(&mut live).await else { return };
            let read = timed("list", &path, t, conn.client.get_and_watch_children(&path)).await;
            let error = match read {
                Ok((children, stat, watcher)) => {
                    backoff.reset();
                    self.failing(&path, None);
                    // ZooKeeper sends lists of any size and this client reads them, but Java
                    // clients refuse replies over their jute.maxbuffer: say so once per crossing.
                    let bytes = children_reply_bytes(&children);
                    if (bytes > JAVA_DEFAULT_JUTE_MAXBUFFER) != over_java_limit {
                        over_java_limit = !over_java_limit;
                        if over_java_limit {
                            tracing::warn!(
                                %path,
                                children = children.len(),
                                bytes,
                                "this list exceeds 1 MiB, the default jute.maxbuffer: Java clients (Java Dubbo, Curator, \
                                 zkCli.sh) cannot read it unless started with -Djute.maxbuffer=<bytes>; zkdubbo reads it"
                            );
                        }
                    }
                    let urls = decoded.decode(&self.interface, &path, children, |u| {
                        matches_in(&consumer_here, self.category, u)
                    });
                    self.deliver(
                        urls,
                        ListVersion {
                            czxid: stat.czxid,
                            cversion: stat.cversion,
                        },
                    );
                    tokio::select! {
                        event = watcher.changed() => {
                            if event.event_type == EventType::Session && event.session_state.is_terminated() {
                                // Wait for the supervisor's next session.
                                if live.changed().await.is_err() {
                                    return;
                                }
                            }
                        }
                        changed = live.changed() => {
                            if changed.is_err() {
                                return;
                            }
                        }
                    }
                    continue;
                }
                Err(e) if e.is_no_node() && self.create_missing => {
                    tracing::debug!(%path, "category path missing; creating it");
                    inner.forget_path(&path);
                    // Boxed: a rare branch, kept out of the task's state (a consumer of 1,000
                    // interfaces has 3,000 of these tasks).
                    match Box::pin(inner.ensure_path(&conn, &path)).await {
                        Ok(()) => continue,
                        Err(e) => e,
                    }
                }
                Err(e) if e.is_no_node() => {
                    decoded.clear();
                    self.deliver_missing();
                    match Box::pin(timed("exists", &path, t, conn.client.check_and_watch_stat(&path))).await {
                        Ok((Some(_), _)) => continue,
                        Ok((None, watcher)) => {
                            self.failing(&path, None);
                            tokio::select! {
                                _ = watcher.changed() => {}
                                changed = live.changed() => if changed.is_err() { return },
                            }
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            let wait = backoff.next_delay();
            tracing::warn!(%path, error = %error, retry_in_ms = wait.as_millis() as u64, "cannot read a subscribed category; retrying");
            self.failing(&path, Some(&error));
            drop(conn);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = live.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// The category tasks of one subscription. A task that dies (a panic, in our code or in the
/// client's) is started again, so a subscription is never silently lost.
pub(crate) struct WatchSet {
    inner: Arc<Inner>,
    subscription: u64,
    sink: SubscriptionSink,
    create_missing: bool,
    tasks: JoinSet<()>,
    by_id: HashMap<tokio::task::Id, (Arc<str>, Category)>,
    by_key: HashMap<(Arc<str>, Category), AbortHandle>,
}

impl WatchSet {
    /// An empty set for subscription `subscription`; see [`CategoryWatch::create_missing`].
    pub(super) fn new(inner: Arc<Inner>, subscription: u64, sink: SubscriptionSink, create_missing: bool) -> WatchSet {
        WatchSet {
            inner,
            subscription,
            sink,
            create_missing,
            tasks: JoinSet::new(),
            by_id: HashMap::new(),
            by_key: HashMap::new(),
        }
    }

    /// Start watching `interface`/`category`.
    pub(super) fn spawn(&mut self, interface: Arc<str>, category: Category) {
        let handle = self.tasks.spawn(
            CategoryWatch {
                inner: self.inner.clone(),
                subscription: self.subscription,
                sink: self.sink.clone(),
                interface: interface.clone(),
                category,
                create_missing: self.create_missing,
            }
            .run(),
        );
        self.by_id.insert(handle.id(), (interface.clone(), category));
        if let Some(old) = self.by_key.insert((interface, category), handle) {
            old.abort();
        }
    }

    /// Stop every task of `interface`.
    pub(super) fn stop_interface(&mut self, interface: &str) {
        self.by_key.retain(|(i, _), handle| {
            if &**i == interface {
                handle.abort();
                false
            } else {
                true
            }
        });
    }

    /// Stop every task and wait until they are gone.
    pub(super) async fn stop(mut self) {
        self.by_key.clear();
        self.tasks.shutdown().await;
    }

    /// Restart tasks that die; never returns (cancel-safe, for `select!`).
    pub(super) async fn keep_alive(&mut self) {
        loop {
            let Some(done) = self.tasks.join_next_with_id().await else {
                std::future::pending::<()>().await;
                continue;
            };
            let (id, panicked) = match &done {
                Ok((id, ())) => (*id, false),
                Err(e) => (e.id(), e.is_panic()),
            };
            let Some((interface, category)) = self.by_id.remove(&id) else {
                continue;
            };
            let current = self.by_key.get(&(interface.clone(), category)).map(AbortHandle::id);
            if current == Some(id) && panicked && !self.inner.is_shut_down() {
                tracing::warn!(%interface, %category, "a watch task died; restarting it");
                self.spawn(interface, category);
            }
        }
    }
}

impl Drop for WatchSet {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Watch the root's children for a `*` subscription: every interface found gets category
/// tasks; an interface that disappears gets `empty://` lists and its tasks stopped.
pub(crate) async fn watch_root(inner: Arc<Inner>, categories: Vec<Category>, watches: &mut WatchSet) {
    let subscription = watches.subscription;
    let sink = watches.sink.clone();
    let root = inner.layout.root().to_owned();
    let t = inner.config.timeout;
    let mut live = inner.live.subscribe();
    let mut backoff = Backoff::for_retries(inner.config.retry_period);
    let mut running: HashSet<String> = HashSet::new();
    loop {
        let Some(conn) = wait_conn(&mut live).await else { return };
        let error = match timed("list", &root, t, conn.client.get_and_watch_children(&root)).await {
            Ok((children, _stat, watcher)) => {
                backoff.reset();
                lock(&inner.failing_watches).remove(&(subscription, root.clone()));
                let present: HashSet<&str> = children.iter().map(String::as_str).collect();
                let gone: Vec<String> = running
                    .iter()
                    .filter(|i| !present.contains(i.as_str()))
                    .cloned()
                    .collect();
                for interface in gone {
                    tracing::info!(%interface, "interface removed from the registry");
                    running.remove(&interface);
                    watches.stop_interface(&interface);
                    for &category in &categories {
                        let version = sink.last_version(&interface, category);
                        sink.push(Notification {
                            interface: Arc::from(interface.as_str()),
                            category,
                            urls: Arc::from(vec![empty_url(sink.consumer(), category)]),
                            version: Some(ListVersion {
                                czxid: version.map_or(0, |v| v.czxid),
                                cversion: i32::MAX,
                            }),
                            source: Source::Live,
                        });
                    }
                }
                for interface in &children {
                    if running.contains(interface)
                        || super::paths::check_interface(interface).is_err()
                        || (root == "/" && interface == "zookeeper")
                    {
                        continue;
                    }
                    let iface: Arc<str> = Arc::from(interface.as_str());
                    for &category in &categories {
                        watches.spawn(iface.clone(), category);
                    }
                    running.insert(interface.clone());
                }
                drop(children);
                tokio::select! {
                    _ = watcher.changed() => {}
                    changed = live.changed() => if changed.is_err() { return },
                    _ = watches.keep_alive() => {}
                }
                continue;
            }
            Err(e) if e.is_no_node() => match inner.ensure_path(&conn, &root).await {
                Ok(()) => continue,
                Err(e) => e,
            },
            Err(e) => e,
        };
        let wait = backoff.next_delay();
        tracing::warn!(path = %root, error = %error, retry_in_ms = wait.as_millis() as u64, "cannot read the registry root; retrying");
        lock(&inner.failing_watches).insert((subscription, root.clone()), sink.consumer().clone());
        drop(conn);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = live.changed() => if changed.is_err() { return },
            _ = watches.keep_alive() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_skips_garbage_and_fills_the_interface_from_the_path() {
        let children: Vec<String> = [
            "not-a-url",
            "tri%3A%2F%2F10.0.0.7%3A50051%3Fservice%3Dcom.foo.Bar",
            "dubbo%3A%2F%2F10.0.0.5%3A20880%2Fcom.foo.Bar%3Fside%3Dprovider",
            "dubbo%3A%2F%2F10.0.0.6%3A20880%2Fcom.foo.BarImpl",
            "dubbo%3A%2F%2Fh%3Aport",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut warned = HashSet::new();
        let urls = decode_children("com.foo.Bar", "/dubbo/com.foo.Bar/providers", &children, &mut warned);
        let shown: Vec<String> = urls.iter().map(Url::to_string).collect();
        assert_eq!(
            shown,
            [
                "tri://10.0.0.7:50051?interface=com.foo.Bar&service=com.foo.Bar",
                "dubbo://10.0.0.5:20880/com.foo.Bar?side=provider",
                "dubbo://10.0.0.6:20880/com.foo.BarImpl?interface=com.foo.Bar",
            ]
        );
        assert_eq!(warned.len(), 2);
        // Names that disappear are forgotten.
        decode_children("com.foo.Bar", "/p", &children[1..2], &mut warned);
        assert!(warned.is_empty());
    }

    #[test]
    fn the_reply_size_counts_names_with_their_length_prefixes() {
        let names = vec!["ab".to_owned(), "cde".to_owned()];
        assert_eq!(children_reply_bytes(&names), 16 + 4 + (4 + 2) + (4 + 3) + 68);
        assert_eq!(children_reply_bytes(&[]), 88);
    }

    #[test]
    fn cached_decoding_equals_decoding_from_scratch_as_the_list_changes() {
        let name = |i: usize| {
            Url::parse(&format!(
                "dubbo://10.0.0.{i}:20880/com.foo.Bar?side=provider&methods=get"
            ))
            .unwrap()
            .to_node_name()
        };
        let lists: Vec<Vec<String>> = vec![
            vec![name(1), name(2), "garbage".into()],
            vec![name(1), name(2), name(3), "garbage".into()],
            vec![name(3), "tri%3A%2F%2F10.0.0.7%3A50051%3Fservice%3Dcom.foo.Bar".into()],
            vec![],
            vec![name(1)],
        ];
        let mut cache = DecodedChildren {
            keep_from: 0,
            ..DecodedChildren::default()
        };
        // Keep every other host, as a subscriber's match would.
        let wanted = |u: &Url| u.host() != "10.0.0.2";
        for list in lists.clone() {
            let fresh: Vec<Url> = decode_children("com.foo.Bar", "/p", &list, &mut HashSet::new())
                .into_iter()
                .filter(wanted)
                .collect();
            let cached = cache.decode("com.foo.Bar", "/p", list.clone(), wanted);
            assert_eq!(cached, fresh);
            let fresh = decode_children("com.foo.Bar", "/p", &list, &mut HashSet::new());
            assert_eq!(cache.by_name.len(), fresh.len());
            assert_eq!(cache.warned.len(), list.iter().filter(|n| *n == "garbage").count());
        }
        cache.clear();
        assert!(cache.by_name.is_empty());
        // Short lists are not kept, and decode the same.
        let mut small = DecodedChildren::default();
        for list in lists {
            let fresh = decode_children("com.foo.Bar", "/p", &list, &mut HashSet::new());
            assert_eq!(small.decode("com.foo.Bar", "/p", list, |_| true), fresh);
            assert!(small.by_name.is_empty());
        }
    }
}
