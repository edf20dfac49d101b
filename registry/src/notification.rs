//! What a subscriber receives: one full list per category per change, coalesced and ordered.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use zkdubbo_common::sync::lock;
use zkdubbo_common::{Url, keys};

/// A registry category: the node below `<root>/<interface>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Provider registrations.
    Providers,
    /// Consumer registrations.
    Consumers,
    /// Routing rules (`condition://`, ...).
    Routers,
    /// Override rules (`override://`, `absent://`).
    Configurators,
}

impl Category {
    /// What a consumer subscribes to, in the order Dubbo notifies them.
    pub const CONSUMER_DEFAULT: [Category; 3] = [Category::Configurators, Category::Routers, Category::Providers];

    /// The node name / `category` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Providers => keys::PROVIDERS_CATEGORY,
            Category::Consumers => keys::CONSUMERS_CATEGORY,
            Category::Routers => keys::ROUTERS_CATEGORY,
            Category::Configurators => keys::CONFIGURATORS_CATEGORY,
        }
    }

    /// The category of `url` (its `category` param, default providers); `None` if unknown.
    pub fn of(url: &Url) -> Option<Category> {
        url.category().parse().ok()
    }

    /// The categories a consumer URL asks for: its `category` comma list, or
    /// providers, configurators and routers when it has none. `*` means all four.
    /// Unknown names are ignored.
    pub fn subscribed_by(consumer: &Url) -> Vec<Category> {
        match consumer.param(keys::CATEGORY).filter(|c| !c.is_empty()) {
            None => Category::CONSUMER_DEFAULT.to_vec(),
            Some(list) if list.split(',').any(|c| c.trim() == keys::ANY_VALUE) => vec![
                Category::Configurators,
                Category::Routers,
                Category::Providers,
                Category::Consumers,
            ],
            Some(list) => {
                let mut out: Vec<Category> = Vec::new();
                for c in list.split(',').filter_map(|c| c.trim().parse().ok()) {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
                out
            }
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            keys::PROVIDERS_CATEGORY => Ok(Category::Providers),
            keys::CONSUMERS_CATEGORY => Ok(Category::Consumers),
            keys::ROUTERS_CATEGORY => Ok(Category::Routers),
            keys::CONFIGURATORS_CATEGORY => Ok(Category::Configurators),
            other => Err(format!(
                "unknown category {other:?} (expected providers, consumers, routers or configurators)"
            )),
        }
    }
}

/// Where a notification's list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Read from the registry just now.
    Live,
    /// Served from the local cache file (the registry could not be read).
    Cache,
}

/// The version of a category's child list: the category node's creation zxid and its child
/// version. A node deleted and re-created gets a larger `czxid`, so ordering by
/// `(czxid, cversion)` stays correct even then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ListVersion {
    /// Creation zxid of the category node.
    pub czxid: i64,
    /// Child version of the category node.
    pub cversion: i32,
}

/// The full current list of one category of one interface (ARCHITECTURE: Notifications). When nothing in the
/// category matches the subscriber, `urls` holds exactly one `empty://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The interface the list belongs to (matters for `*` subscriptions).
    pub interface: Arc<str>,
    /// The category.
    pub category: Category,
    /// The matching URLs, or a single `empty://` URL.
    pub urls: Arc<[Url]>,
    /// The list's version when the registry knows it.
    pub version: Option<ListVersion>,
    /// Live or from the cache file.
    pub source: Source,
}

impl Notification {
    /// Whether this is the explicit "no URL in this category" notification.
    pub fn is_empty_marker(&self) -> bool {
        self.urls.len() == 1 && self.urls[0].protocol() == keys::EMPTY_PROTOCOL
    }

    /// The URLs without the `empty://` marker.
    pub fn non_empty_urls(&self) -> &[Url] {
        if self.is_empty_marker() { &[] } else { &self.urls }
    }
}

/// Build the notification for `category` from every URL found there: those matching
/// `consumer` (see [`zkdubbo_common::is_match`]), or the `empty://` marker when none match.
pub fn matching_list(consumer: &Url, category: Category, found: impl IntoIterator<Item = Url>) -> Arc<[Url]> {
    let consumer_here = consumer_in(consumer, category);
    let matched: Vec<Url> = found
        .into_iter()
        .filter(|u| matches_in(&consumer_here, category, u))
        .collect();
    list_or_empty(consumer, category, matched)
}

/// `consumer` as it matches URLs found under `category` (see [`matches_in`]).
pub(crate) fn consumer_in(consumer: &Url, category: Category) -> Url {
    consumer.clone().with_param(keys::CATEGORY, category.as_str())
}

/// Whether `u`, found under `category`, is for `consumer_here` ([`consumer_in`]). A URL's
/// category is where it was found, whatever its own `category` param says.
pub(crate) fn matches_in(consumer_here: &Url, category: Category, u: &Url) -> bool {
    if u.category() == category.as_str() {
        zkdubbo_common::is_match(consumer_here, u)
    } else {
        zkdubbo_common::is_match(consumer_here, &u.clone().with_param(keys::CATEGORY, category.as_str()))
    }
}

/// The matched URLs, or the `empty://` marker when there are none.
pub(crate) fn list_or_empty(consumer: &Url, category: Category, matched: Vec<Url>) -> Arc<[Url]> {
    if matched.is_empty() {
        Arc::from(vec![empty_url(consumer, category)])
    } else {
        Arc::from(matched)
    }
}

/// The `empty://` marker for `category`, built from the consumer URL as Dubbo does.
pub fn empty_url(consumer: &Url, category: Category) -> Url {
    consumer
        .clone()
        .with_protocol(keys::EMPTY_PROTOCOL)
        .with_param(keys::CATEGORY, category.as_str())
}

type Key = (Arc<str>, Category);

#[derive(Default)]
struct Pending {
    order: VecDeque<Key>,
    latest: HashMap<Key, Notification>,
    delivered: HashMap<Key, Option<ListVersion>>,
    /// The last non-empty provider list accepted per interface (for empty protection; a
    /// shared slice, so keeping it costs no copy).
    kept: HashMap<Key, Arc<[Url]>>,
    /// The interfaces whose empty provider list is being held back.
    protecting: HashSet<Key>,
}

/// Options of a subscription, fixed when its channel is created (see
/// [`subscription_channel_with`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkOptions {
    /// Empty protection (registry param `empty.protection`, default false): an authoritative
    /// empty provider list (the `empty://` marker of category providers) does not replace the
    /// last non-empty one; the subscriber keeps its providers until a non-empty list arrives.
    /// Other categories are never held back.
    pub empty_protection: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    options: SinkOptions,
    wake_subscriber: Notify,
    wake_registry: Notify,
    cancelled: AtomicBool,
    closed: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave `Pending` half-updated in a way that
        // matters (each update is a single insert), so recover from poisoning.
        lock(&self.pending)
    }
}

/// Create a connected pair: the registry keeps the [`SubscriptionSink`], the subscriber gets
/// the [`Subscription`]. Default options (no empty protection).
pub fn subscription_channel(consumer: Url) -> (SubscriptionSink, Subscription) {
    subscription_channel_with(consumer, SinkOptions::default())
}

/// [`subscription_channel`] with explicit [`SinkOptions`] (e.g. empty protection).
pub fn subscription_channel_with(consumer: Url, options: SinkOptions) -> (SubscriptionSink, Subscription) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        options,
        wake_subscriber: Notify::new(),
        wake_registry: Notify::new(),
        cancelled: AtomicBool::new(false),
        closed: AtomicBool::new(false),
    });
    (
        SubscriptionSink {
            shared: shared.clone(),
            consumer: consumer.clone(),
        },
        Subscription { shared, consumer },
    )
}

/// The registry's end of a subscription: pushes notifications, learns of cancellation.
///
/// Ordering and coalescing are enforced here, for every registry implementation: a
/// notification whose [`ListVersion`] is not newer than the last one delivered or queued for
/// the same interface and category is dropped; an unversioned one (from the cache file) is
/// accepted only while nothing versioned has been seen; and a pending notification that was
/// not yet taken is replaced by a newer one, so a slow subscriber only sees the latest list.
///
/// With [`SinkOptions::empty_protection`], an empty provider list that would replace a
/// non-empty one is held back (its version still counts for ordering): the subscriber keeps
/// the last non-empty list. A warning is logged when protection starts holding an interface's
/// list back and an info line when a non-empty list ends it, not on every notification.
#[derive(Clone)]
pub struct SubscriptionSink {
    shared: Arc<Shared>,
    consumer: Url,
}

impl SubscriptionSink {
    /// The subscriber's consumer URL.
    pub fn consumer(&self) -> &Url {
        &self.consumer
    }

    /// The options the channel was created with.
    pub fn options(&self) -> SinkOptions {
        self.shared.options
    }

    /// Queue `n` for the subscriber. Returns whether it was accepted for delivery: false when
    /// it is stale, the subscription is cancelled, or empty protection held it back.
    pub fn push(&self, n: Notification) -> bool {
        self.push_with(n, self.shared.options.empty_protection)
    }

    /// [`SubscriptionSink::push`], holding back an empty provider list as empty protection
    /// does even when the channel was created without it: what a registry does while it
    /// knows its server lost its data and providers have yet to register again.
    pub fn push_protected(&self, n: Notification) -> bool {
        self.push_with(n, true)
    }

    /// Forget the versions delivered so far, so that the next list of each category is
    /// accepted whatever its version: after the server lost its data, versions start again
    /// from zero.
    pub fn forget_versions(&self) {
        let mut p = self.shared.lock();
        for v in p.delivered.values_mut() {
            *v = None;
        }
        for n in p.latest.values_mut() {
            n.version = None;
        }
    }

    fn push_with(&self, n: Notification, protect: bool) -> bool {
        if self.is_cancelled() || self.shared.closed.load(Ordering::Acquire) {
            return false;
        }
        let key: Key = (n.interface.clone(), n.category);
        {
            let mut p = self.shared.lock();
            let newest_known = p
                .latest
                .get(&key)
                .map(|q| q.version)
                .or_else(|| p.delivered.get(&key).copied());
            if let Some(known) = newest_known {
                match (known, n.version) {
                    (Some(k), Some(v)) if v <= k => return false,
                    (Some(_), None) => return false,
                    _ => {}
                }
            }
            if n.category == Category::Providers {
                if !protect && n.is_empty_marker() {
                    // Not protecting: delivered below as it is, and nothing is kept any more.
                    p.kept.remove(&key);
                } else if n.is_empty_marker() {
                    if let Some(kept) = p.kept.get(&key).map(|k| k.len()) {
                        // The subscriber has (or is about to take) the kept list: only the
                        // version moves on, so that older lists stay stale.
                        match p.latest.get_mut(&key) {
                            Some(queued) => queued.version = n.version,
                            None => {
                                p.delivered.insert(key.clone(), n.version);
                            }
                        }
                        if p.protecting.insert(key) {
                            tracing::warn!(
                                consumer = %self.consumer,
                                interface = %n.interface,
                                kept,
                                "the registry reports no provider; empty protection keeps the last provider list"
                            );
                        }
                        return false;
                    }
                } else {
                    p.kept.insert(key.clone(), n.urls.clone());
                    if p.protecting.remove(&key) {
                        tracing::info!(
                            consumer = %self.consumer,
                            interface = %n.interface,
                            providers = n.urls.len(),
                            "providers are back; empty protection no longer holds the list"
                        );
                    }
                }
            }
            if p.latest.insert(key.clone(), n).is_none() {
                p.order.push_back(key);
            }
        }
        self.shared.wake_subscriber.notify_one();
        true
    }

    /// Whether empty protection is holding back the empty provider list of `interface`
    /// right now (the subscriber keeps the last non-empty one).
    pub fn is_protecting(&self, interface: &str) -> bool {
        let key: Key = (Arc::from(interface), Category::Providers);
        self.shared.lock().protecting.contains(&key)
    }

    /// The version last delivered or queued for `interface`/`category`, if any.
    pub fn last_version(&self, interface: &str, category: Category) -> Option<ListVersion> {
        let p = self.shared.lock();
        let key: Key = (Arc::from(interface), category);
        p.latest
            .get(&key)
            .and_then(|n| n.version)
            .or_else(|| p.delivered.get(&key).copied().flatten())
    }

    /// Whether the subscriber dropped or closed its [`Subscription`].
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Acquire)
    }

    /// Resolves once the subscriber has cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.shared.wake_registry.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// End the stream: the subscriber's `next` returns `None` once the queue is drained.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake_subscriber.notify_one();
    }
}

/// The subscriber's end: call [`Subscription::next`] in a loop. Dropping it unsubscribes.
pub struct Subscription {
    shared: Arc<Shared>,
    consumer: Url,
}

impl Subscription {
    /// The consumer URL this subscription was made with.
    pub fn consumer(&self) -> &Url {
        &self.consumer
    }

    /// The next notification (the latest list of some category that changed since it was
    /// last taken), or `None` when the registry closed the subscription.
    pub async fn next(&mut self) -> Option<Notification> {
        loop {
            let notified = self.shared.wake_subscriber.notified();
            if let Some(n) = take(&self.shared) {
                return Some(n);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return None;
            }
            notified.await;
        }
    }

    /// Take a pending notification without waiting.
    pub fn try_next(&mut self) -> Option<Notification> {
        take(&self.shared)
    }

    /// Unsubscribe (the same as dropping the handle).
    pub fn close(self) {}
}

fn take(shared: &Shared) -> Option<Notification> {
    let mut p = shared.lock();
    let key = p.order.pop_front()?;
    let n = p.latest.remove(&key)?;
    p.delivered.insert(key, n.version);
    Some(n)
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::Release);
        self.shared.wake_registry.notify_waiters();
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("consumer", &self.consumer)
            .finish()
    }
}

impl std::fmt::Debug for SubscriptionSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionSink")
            .field("consumer", &self.consumer.to_string())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer() -> Url {
        "consumer://10.0.0.1/com.foo.Bar".parse().unwrap()
    }

    fn note(category: Category, urls: &[&str], version: Option<(i64, i32)>) -> Notification {
        Notification {
            interface: "com.foo.Bar".into(),
            category,
            urls: urls.iter().map(|u| u.parse().unwrap()).collect(),
            version: version.map(|(czxid, cversion)| ListVersion { czxid, cversion }),
            source: if version.is_some() { Source::Live } else { Source::Cache },
        }
    }

    #[tokio::test]
    async fn pending_lists_coalesce_to_the_latest_in_first_arrival_order() {
        let (sink, mut sub) = subscription_channel(consumer());
        assert!(sink.push(note(Category::Providers, &["dubbo://a:1/x"], Some((1, 1)))));
        assert!(sink.push(note(Category::Routers, &["empty://r"], Some((2, 1)))));
        assert!(sink.push(note(Category::Providers, &["dubbo://b:1/x"], Some((1, 2)))));
        let first = sub.next().await.unwrap();
        assert_eq!(first.category, Category::Providers);
        assert_eq!(first.urls[0].host(), "b");
        assert_eq!(sub.next().await.unwrap().category, Category::Routers);
        assert!(sub.try_next().is_none());
    }

    #[tokio::test]
    async fn stale_versions_and_late_cache_lists_are_dropped() {
        let (sink, mut sub) = subscription_channel(consumer());
        assert!(sink.push(note(Category::Providers, &["dubbo://cache:1/x"], None)));
        assert!(sink.push(note(Category::Providers, &["dubbo://a:1/x"], Some((5, 3)))));
        assert_eq!(sub.next().await.unwrap().urls[0].host(), "a");
        assert!(!sink.push(note(Category::Providers, &["dubbo://old:1/x"], Some((5, 2)))));
        assert!(!sink.push(note(Category::Providers, &["dubbo://same:1/x"], Some((5, 3)))));
        assert!(!sink.push(note(Category::Providers, &["dubbo://cache:1/x"], None)));
        // The category node was deleted and re-created: larger czxid, cversion restarts.
        assert!(sink.push(note(Category::Providers, &["dubbo://new:1/x"], Some((9, 0)))));
        assert_eq!(sub.next().await.unwrap().urls[0].host(), "new");
        assert_eq!(
            sink.last_version("com.foo.Bar", Category::Providers),
            Some(ListVersion { czxid: 9, cversion: 0 })
        );
    }

    #[tokio::test]
    async fn dropping_the_subscription_cancels_and_close_ends_the_stream() {
        let (sink, sub) = subscription_channel(consumer());
        let waiter = tokio::spawn({
            let sink = sink.clone();
            async move { sink.cancelled().await }
        });
        drop(sub);
        waiter.await.unwrap();
        assert!(sink.is_cancelled());
        assert!(!sink.push(note(Category::Providers, &["dubbo://a:1/x"], Some((1, 1)))));

        let (sink, mut sub) = subscription_channel(consumer());
        sink.push(note(Category::Providers, &["dubbo://a:1/x"], Some((1, 1))));
        sink.close();
        assert!(sub.next().await.is_some(), "queued notifications are still delivered");
        assert!(sub.next().await.is_none());
    }

    fn protected() -> (SubscriptionSink, Subscription) {
        subscription_channel_with(consumer(), SinkOptions { empty_protection: true })
    }

    #[tokio::test]
    async fn empty_protection_keeps_the_last_non_empty_provider_list() {
        let (sink, mut sub) = protected();
        assert!(sink.options().empty_protection);
        // Nothing kept yet: an empty first list is delivered as it is.
        assert!(sink.push(note(Category::Providers, &["empty://c"], Some((1, 1)))));
        assert!(sub.next().await.unwrap().is_empty_marker());
        assert!(sink.push(note(Category::Providers, &["dubbo://a:1/x"], Some((1, 2)))));
        assert_eq!(sub.next().await.unwrap().urls[0].host(), "a");

        // An authoritative empty list is held back; its version still counts.
        assert!(!sink.push(note(Category::Providers, &["empty://c"], Some((1, 3)))));
        assert!(sink.is_protecting("com.foo.Bar"));
        assert!(sub.try_next().is_none());
        assert_eq!(
            sink.last_version("com.foo.Bar", Category::Providers),
            Some(ListVersion { czxid: 1, cversion: 3 })
        );
        assert!(!sink.push(note(Category::Providers, &["dubbo://old:1/x"], Some((1, 2)))));
        // The category node deleted (the registry's "missing" version) is held back too.
        assert!(!sink.push(note(Category::Providers, &["empty://c"], Some((1, i32::MAX)))));

        // Other categories are never protected.
        assert!(sink.push(note(Category::Routers, &["condition://r"], Some((2, 1)))));
        assert!(sink.push(note(Category::Routers, &["empty://r"], Some((2, 2)))));
        assert!(sub.next().await.unwrap().is_empty_marker());

        // Providers come back (a re-created node): delivered, protection ends.
        assert!(sink.push(note(Category::Providers, &["dubbo://b:1/x"], Some((7, 1)))));
        assert!(!sink.is_protecting("com.foo.Bar"));
        assert_eq!(sub.next().await.unwrap().urls[0].host(), "b");
    }

    #[tokio::test]
    async fn empty_protection_keeps_a_queued_list_and_moves_its_version() {
        let (sink, mut sub) = protected();
        assert!(sink.push(note(Category::Providers, &["dubbo://a:1/x"], Some((1, 1)))));
        // Not taken yet when the empty list arrives: the queued list stays, with its version.
        assert!(!sink.push(note(Category::Providers, &["empty://c"], Some((1, 2)))));
        let n = sub.next().await.unwrap();
        assert_eq!(n.urls[0].host(), "a");
        assert_eq!(n.version, Some(ListVersion { czxid: 1, cversion: 2 }));
        assert!(sub.try_next().is_none());

        // A cached list counts as the last non-empty one too.
        let (sink, mut sub) = protected();
        assert!(sink.push(note(Category::Providers, &["dubbo://cache:1/x"], None)));
        assert_eq!(sub.next().await.unwrap().urls[0].host(), "cache");
        assert!(!sink.push(note(Category::Providers, &["empty://c"], Some((3, 0)))));
        assert!(sub.try_next().is_none());

        // Without protection the empty list goes through.
        let (sink, mut sub) = subscription_channel(consumer());
        assert!(!sink.options().empty_protection);
        sink.push(note(Category::Providers, &["dubbo://a:1/x"], Some((1, 1))));
        sub.next().await.unwrap();
        assert!(sink.push(note(Category::Providers, &["empty://c"], Some((1, 2)))));
        assert!(sub.next().await.unwrap().is_empty_marker());
    }

    #[test]
    fn matching_list_filters_and_marks_empty() {
        let consumer: Url = "consumer://10.0.0.1/com.foo.Bar?group=g".parse().unwrap();
        let found: Vec<Url> = ["dubbo://a:1/com.foo.Bar?group=g", "dubbo://b:1/com.foo.Bar?group=h"]
            .iter()
            .map(|u| u.parse().unwrap())
            .collect();
        let list = matching_list(&consumer, Category::Providers, found);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].host(), "a");

        let routers = matching_list(&consumer, Category::Routers, Vec::new());
        assert_eq!(routers.len(), 1);
        assert_eq!(
            routers[0].to_string(),
            "empty://10.0.0.1/com.foo.Bar?category=routers&group=g"
        );
    }

    #[test]
    fn categories_subscribed_by_a_consumer() {
        let url = |s: &str| -> Url { s.parse().unwrap() };
        assert_eq!(
            Category::subscribed_by(&url("consumer://h/x")),
            Category::CONSUMER_DEFAULT.to_vec()
        );
        assert_eq!(
            Category::subscribed_by(&url("consumer://h/x?category=providers,bogus,providers")),
            vec![Category::Providers]
        );
        assert_eq!(Category::subscribed_by(&url("consumer://h/x?category=*")).len(), 4);
    }
}
