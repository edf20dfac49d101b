//! An in-process registry for unit tests of the layers above.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::watch;
use zkdubbo_common::sync::lock;
use zkdubbo_common::{Url, keys};

use crate::Registry;
use crate::config_center::{ChildrenState, ChildrenWatch, ConfigCenter, NodeState, NodeWatch};
use crate::error::RegistryError;
use crate::notification::{
    Category, ListVersion, Notification, SinkOptions, Source, Subscription, SubscriptionSink, matching_list,
    subscription_channel_with,
};

/// A [`Registry`] kept in memory, with the same notification semantics as ZooKeeper's (full
/// lists per category, `empty://` markers, versions). Tests can also replace a category's list
/// wholesale with [`MemoryRegistry::set_category`].
pub struct MemoryRegistry {
    url: Url,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    lists: HashMap<(String, Category), Vec<Url>>,
    versions: HashMap<(String, Category), i32>,
    subscribers: Vec<SubscriptionSink>,
    available: bool,
    shut_down: bool,
    options: SinkOptions,
    /// Rule nodes (config center): text and data version.
    nodes: HashMap<String, (String, i32)>,
    /// Followers of rule nodes, by path.
    node_watches: HashMap<String, watch::Sender<NodeState>>,
    /// Followers of children lists, by parent path.
    children_watches: HashMap<String, watch::Sender<ChildrenState>>,
}

impl Default for MemoryRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRegistry {
    /// An empty, available registry.
    pub fn new() -> Self {
        MemoryRegistry {
            url: Url::new("memory", "localhost", None, ""),
            state: Mutex::new(State {
                available: true,
                ..State::default()
            }),
        }
    }

    /// Replace the whole list of `interface`/`category` and notify subscribers.
    pub fn set_category(&self, interface: &str, category: Category, urls: Vec<Url>) {
        let mut st = self.lock();
        st.lists.insert((interface.to_owned(), category), urls);
        Self::changed(&mut st, interface, category);
    }

    /// Turn empty protection on or off for subscriptions made from now on (the ZooKeeper
    /// registry's `empty.protection` param; see [`SinkOptions::empty_protection`]).
    pub fn set_empty_protection(&self, on: bool) {
        self.lock().options.empty_protection = on;
    }

    /// Make [`Registry::is_available`] report `available`.
    pub fn set_available(&self, available: bool) {
        self.lock().available = available;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn filed_under(url: &Url) -> Result<(String, Category), RegistryError> {
        let category = Category::of(url).ok_or_else(|| RegistryError::InvalidUrl {
            op: "register",
            url: url.to_string(),
            reason: format!("unknown category {:?}", url.category()),
        })?;
        if url.interface().is_empty() {
            return Err(RegistryError::InvalidUrl {
                op: "register",
                url: url.to_string(),
                reason: "no interface (neither an `interface` param nor a path)".into(),
            });
        }
        Ok((url.interface().to_owned(), category))
    }

    fn changed(st: &mut State, interface: &str, category: Category) {
        let key = (interface.to_owned(), category);
        let version = {
            let v = st.versions.entry(key.clone()).or_insert(0);
            *v += 1;
            *v
        };
        st.subscribers.retain(|s| !s.is_cancelled());
        let urls = st.lists.get(&key).cloned().unwrap_or_default();
        for sink in &st.subscribers {
            Self::notify(sink, interface, category, &urls, version);
        }
    }

    fn notify(sink: &SubscriptionSink, interface: &str, category: Category, urls: &[Url], cversion: i32) {
        let consumer = sink.consumer();
        let wanted = consumer.interface() == keys::ANY_VALUE || consumer.interface() == interface;
        if !wanted || !Category::subscribed_by(consumer).contains(&category) {
            return;
        }
        sink.push(Notification {
            interface: interface.into(),
            category,
            urls: matching_list(consumer, category, urls.iter().cloned()),
            version: Some(ListVersion { czxid: 0, cversion }),
            source: Source::Live,
        });
    }

    fn check_open(&self, st: &State) -> Result<(), RegistryError> {
        if st.shut_down {
            return Err(RegistryError::Shutdown {
                registry: self.url.to_string(),
            });
        }
        Ok(())
    }
}

impl State {
    fn node_state(&self, path: &str) -> NodeState {
        match self.nodes.get(path) {
            Some((text, version)) => NodeState::Present {
                text: text.as_str().into(),
                version: *version,
            },
            None => NodeState::Absent,
        }
    }

    /// The children of `path`: the last components of the nodes right below it (parents are
    /// implied, as `mkdir -p` would create them).
    fn children_state(&self, path: &str) -> ChildrenState {
        let below = format!("{}/", path.trim_end_matches('/'));
        let mut children: Vec<String> = self
            .nodes
            .keys()
            .filter_map(|p| p.strip_prefix(&below))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
            .collect();
        if children.is_empty() && !self.nodes.contains_key(path) {
            return ChildrenState::Absent;
        }
        children.sort();
        children.dedup();
        ChildrenState::Present(children.into())
    }

    fn node_changed(&mut self, path: &str) {
        let state = self.node_state(path);
        if let Some(tx) = self.node_watches.get(path) {
            tx.send_replace(state);
            if tx.is_closed() {
                self.node_watches.remove(path);
            }
        }
        let parents: Vec<String> = self
            .children_watches
            .keys()
            .filter(|p| path.starts_with(&format!("{}/", p.trim_end_matches('/'))))
            .cloned()
            .collect();
        for parent in parents {
            let state = self.children_state(&parent);
            if let Some(tx) = self.children_watches.get(&parent) {
                tx.send_if_modified(|s| std::mem::replace(s, state.clone()) != state);
                if tx.is_closed() {
                    self.children_watches.remove(&parent);
                }
            }
        }
    }
}

#[async_trait]
impl ConfigCenter for MemoryRegistry {
    fn config_root(&self) -> &str {
        "/dubbo/config"
    }

    fn watch_node(&self, path: &str) -> NodeWatch {
        let mut st = self.lock();
        let state = st.node_state(path);
        match st.node_watches.get(path) {
            Some(tx) if !tx.is_closed() => tx.subscribe(),
            _ => {
                let (tx, rx) = watch::channel(state);
                st.node_watches.insert(path.to_owned(), tx);
                rx
            }
        }
    }

    fn watch_children(&self, path: &str) -> ChildrenWatch {
        let mut st = self.lock();
        let state = st.children_state(path);
        match st.children_watches.get(path) {
            Some(tx) if !tx.is_closed() => tx.subscribe(),
            _ => {
                let (tx, rx) = watch::channel(state);
                st.children_watches.insert(path.to_owned(), tx);
                rx
            }
        }
    }

    async fn keep_node(&self, path: &str, data: &[u8]) -> Result<(), RegistryError> {
        let mut st = self.lock();
        self.check_open(&st)?;
        let version = st.nodes.get(path).map_or(0, |(_, v)| v + 1);
        st.nodes
            .insert(path.to_owned(), (String::from_utf8_lossy(data).into_owned(), version));
        st.node_changed(path);
        Ok(())
    }

    async fn remove_kept_node(&self, path: &str) -> Result<(), RegistryError> {
        let mut st = self.lock();
        self.check_open(&st)?;
        if st.nodes.remove(path).is_some() {
            st.node_changed(path);
        }
        Ok(())
    }

    async fn read_node(&self, path: &str) -> Result<Option<(String, i32)>, RegistryError> {
        let st = self.lock();
        self.check_open(&st)?;
        Ok(st.nodes.get(path).cloned())
    }

    async fn write_node(&self, path: &str, text: &str, expected: Option<i32>) -> Result<i32, RegistryError> {
        let mut st = self.lock();
        self.check_open(&st)?;
        let current = st.nodes.get(path).map(|(_, v)| *v);
        let version = match (current, expected) {
            (None, None) => 0,
            (Some(v), Some(e)) if v == e => v + 1,
            _ => {
                return Err(RegistryError::Conflict {
                    op: "write",
                    path: path.to_owned(),
                    expected,
                });
            }
        };
        st.nodes.insert(path.to_owned(), (text.to_owned(), version));
        st.node_changed(path);
        Ok(version)
    }

    async fn delete_node(&self, path: &str, expected: Option<i32>) -> Result<(), RegistryError> {
        let mut st = self.lock();
        self.check_open(&st)?;
        match (st.nodes.get(path).map(|(_, v)| *v), expected) {
            (None, None) => return Ok(()),
            (Some(v), Some(e)) if v != e => {
                return Err(RegistryError::Conflict {
                    op: "delete",
                    path: path.to_owned(),
                    expected,
                });
            }
            (None, Some(_)) => {
                return Err(RegistryError::Conflict {
                    op: "delete",
                    path: path.to_owned(),
                    expected,
                });
            }
            _ => {}
        }
        st.nodes.remove(path);
        st.node_changed(path);
        Ok(())
    }
}

#[async_trait]
impl Registry for MemoryRegistry {
    fn config_center(&self) -> Option<&dyn ConfigCenter> {
        Some(self)
    }

    fn url(&self) -> &Url {
        &self.url
    }

    async fn register(&self, url: &Url) -> Result<(), RegistryError> {
        let key = Self::filed_under(url)?;
        let mut st = self.lock();
        self.check_open(&st)?;
        let list = st.lists.entry(key.clone()).or_default();
        if !list.contains(url) {
            list.push(url.clone());
            Self::changed(&mut st, &key.0, key.1);
        }
        Ok(())
    }

    async fn unregister(&self, url: &Url) -> Result<(), RegistryError> {
        let key = Self::filed_under(url)?;
        let mut st = self.lock();
        self.check_open(&st)?;
        let list = st.lists.entry(key.clone()).or_default();
        let before = list.len();
        list.retain(|u| u != url);
        if list.len() != before {
            Self::changed(&mut st, &key.0, key.1);
        }
        Ok(())
    }

    async fn subscribe(&self, consumer: &Url) -> Result<Subscription, RegistryError> {
        let mut st = self.lock();
        self.check_open(&st)?;
        let (sink, sub) = subscription_channel_with(consumer.clone(), st.options);
        let mut interfaces: Vec<String> = if consumer.interface() == keys::ANY_VALUE {
            st.lists.keys().map(|(i, _)| i.clone()).collect()
        } else {
            vec![consumer.interface().to_owned()]
        };
        interfaces.sort();
        interfaces.dedup();
        for interface in interfaces {
            for category in Category::subscribed_by(consumer) {
                let key = (interface.clone(), category);
                let urls = st.lists.get(&key).cloned().unwrap_or_default();
                let version = st.versions.get(&key).copied().unwrap_or(0);
                Self::notify(&sink, &interface, category, &urls, version);
            }
        }
        st.subscribers.push(sink);
        Ok(sub)
    }

    async fn lookup(&self, consumer: &Url) -> Result<Vec<Url>, RegistryError> {
        let st = self.lock();
        self.check_open(&st)?;
        let mut out = Vec::new();
        for ((interface, category), urls) in &st.lists {
            if consumer.interface() != keys::ANY_VALUE && consumer.interface() != interface {
                continue;
            }
            if !Category::subscribed_by(consumer).contains(category) {
                continue;
            }
            let list = matching_list(consumer, *category, urls.iter().cloned());
            out.extend(list.iter().filter(|u| u.protocol() != keys::EMPTY_PROTOCOL).cloned());
        }
        Ok(out)
    }

    fn is_available(&self) -> bool {
        let st = self.lock();
        st.available && !st.shut_down
    }

    async fn shutdown(&self) {
        let mut st = self.lock();
        st.shut_down = true;
        for sink in st.subscribers.drain(..) {
            sink.close();
        }
    }
}

impl std::fmt::Debug for MemoryRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRegistry")
            .field("url", &self.url.to_string())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn register_notifies_full_lists_and_empty_markers() {
        let reg = MemoryRegistry::new();
        let mut sub = reg.subscribe(&url("consumer://c/com.foo.Bar")).await.unwrap();
        // Initial lists: all empty, in Dubbo's category order.
        for want in Category::CONSUMER_DEFAULT {
            let n = sub.next().await.unwrap();
            assert_eq!(n.category, want);
            assert!(n.is_empty_marker());
        }
        reg.register(&url("dubbo://a:1/com.foo.Bar")).await.unwrap();
        reg.register(&url("dubbo://b:1/com.foo.Bar")).await.unwrap();
        let n = sub.next().await.unwrap();
        assert_eq!(n.urls.len(), 2, "coalesced to the latest full list");
        reg.unregister(&url("dubbo://a:1/com.foo.Bar")).await.unwrap();
        reg.unregister(&url("dubbo://b:1/com.foo.Bar")).await.unwrap();
        assert!(sub.next().await.unwrap().is_empty_marker());
        reg.shutdown().await;
        assert!(sub.next().await.is_none());
        assert!(matches!(
            reg.register(&url("dubbo://a:1/x")).await,
            Err(RegistryError::Shutdown { .. })
        ));
    }

    #[tokio::test]
    async fn empty_protection_keeps_the_last_providers_per_subscription() {
        let reg = MemoryRegistry::new();
        let unprotected = reg
            .subscribe(&url("consumer://c/com.foo.Bar?category=providers"))
            .await
            .unwrap();
        reg.set_empty_protection(true);
        let mut sub = reg
            .subscribe(&url("consumer://c/com.foo.Bar?category=providers"))
            .await
            .unwrap();
        let mut unprotected = unprotected;
        assert!(sub.next().await.unwrap().is_empty_marker(), "nothing to keep yet");
        assert!(unprotected.next().await.unwrap().is_empty_marker());

        let a = url("dubbo://a:1/com.foo.Bar");
        reg.register(&a).await.unwrap();
        assert_eq!(&*sub.next().await.unwrap().urls, std::slice::from_ref(&a));
        assert_eq!(&*unprotected.next().await.unwrap().urls, std::slice::from_ref(&a));

        reg.unregister(&a).await.unwrap();
        reg.set_category("com.foo.Bar", Category::Providers, Vec::new());
        assert!(unprotected.next().await.unwrap().is_empty_marker());
        assert!(sub.try_next().is_none(), "the protected subscriber keeps its provider");

        // Configurators and routers are never held back.
        let mut rules = reg.subscribe(&url("consumer://c/com.foo.Bar")).await.unwrap();
        for _ in 0..3 {
            rules.next().await.unwrap();
        }
        reg.register(&url("override://0.0.0.0/com.foo.Bar?category=configurators&weight=5"))
            .await
            .unwrap();
        reg.set_category("com.foo.Bar", Category::Configurators, Vec::new());
        let n = rules.next().await.unwrap();
        assert_eq!(n.category, Category::Configurators);
        assert!(n.is_empty_marker());

        let b = url("dubbo://b:1/com.foo.Bar");
        reg.register(&b).await.unwrap();
        assert_eq!(&*sub.next().await.unwrap().urls, std::slice::from_ref(&b));
    }

    #[tokio::test]
    async fn rejects_urls_it_cannot_file() {
        let reg = MemoryRegistry::new();
        assert!(matches!(
            reg.register(&url("dubbo://a:1")).await,
            Err(RegistryError::InvalidUrl { .. })
        ));
        assert!(matches!(
            reg.register(&url("dubbo://a:1/x?category=bogus")).await,
            Err(RegistryError::InvalidUrl { .. })
        ));
    }
}
