//! The [`Directory`] trait and the [`RegistryDirectory`]: registry notifications in,
//! atomically swapped [`Snapshot`]s out.
//!
//! Each notification (the full list of one category) updates the latest list of that
//! category; then, off the call path, the directory rebuilds: configurators → merge → filter →
//! invokers (shared by provider identity) → routers → snapshot, published with `ArcSwap`.
//! A call ([`Directory::list`]) loads the snapshot and returns a shared route: no lock, no
//! allocation, unless a per-call router filtered the list.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zkdubbo_common::{Invocation, Invoker, InvokerFactory, Url, keys};
use zkdubbo_registry::{Category, Notification, Registry};

use crate::configurator::Configurators;
use crate::describe::Description;
use crate::error::{DirectoryError, NoProviderError, RuleError, ServiceInfo};
use crate::merge::merge_url;
use crate::router::RouterChain;
use crate::snapshot::{Counts, Exclusion, FastHasher, FastMap, Listed, Member, Members, Snapshot, SnapshotParts};

/// `enable-empty-protection`: registry URL param that keeps the last non-empty provider list
/// when the registry reports none (Dubbo 3.2's key; default false).
pub const EMPTY_PROTECTION_KEY: &str = "enable-empty-protection";

/// Where a consumer's calls find their providers.
pub trait Directory: Send + Sync {
    /// The routed providers for `inv` (never empty on success).
    ///
    /// # Errors
    /// [`NoProviderError`] naming the service, group, version, registry and the reason.
    fn list(&self, inv: &Invocation) -> Result<Listed, NoProviderError>;

    /// Whether some provider can take calls.
    fn is_available(&self) -> bool;

    /// The consumer URL this directory serves.
    fn consumer_url(&self) -> &Url;

    /// Stop following changes and release every invoker.
    fn destroy(&self);
}

/// Options of a [`RegistryDirectory`].
pub struct DirectoryBuilder {
    consumer: Url,
    factory: Arc<dyn InvokerFactory>,
    registry_name: Option<String>,
    empty_protection: Option<bool>,
}

impl DirectoryBuilder {
    /// Keep the last non-empty provider list when the registry reports none (default: the
    /// registry URL's `enable-empty-protection`, else false).
    pub fn empty_protection(mut self, on: bool) -> Self {
        self.empty_protection = Some(on);
        self
    }

    /// The registry name used in messages (default: the registry's URL, or `unsubscribed`).
    pub fn registry_name(mut self, name: impl Into<String>) -> Self {
        self.registry_name = Some(name.into());
        self
    }

    /// A directory fed by hand with [`RegistryDirectory::notify`] (tests, benchmarks, tools).
    ///
    /// # Errors
    /// [`DirectoryError::NoInterface`] when the consumer URL names no interface.
    pub fn build(self) -> Result<RegistryDirectory, DirectoryError> {
        let name = self.registry_name.clone().unwrap_or_else(|| "unsubscribed".to_owned());
        let protect = self.empty_protection.unwrap_or(false);
        self.build_with(name, protect)
    }

    /// Subscribe through `registry` and follow its notifications on a background task
    /// (needs a Tokio runtime). Returns at once; the first lists follow as soon as the
    /// registry delivers them (see [`RegistryDirectory::changes`]).
    ///
    /// # Errors
    /// [`DirectoryError::Subscribe`] when the registry refuses the subscription.
    pub async fn subscribe(self, registry: Arc<dyn Registry>) -> Result<RegistryDirectory, DirectoryError> {
        let name = self.registry_name.clone().unwrap_or_else(|| registry.url().to_string());
        let protect = self
            .empty_protection
            .unwrap_or_else(|| registry.url().param_bool(EMPTY_PROTECTION_KEY, false));
        let dir = self.build_with(name, protect)?;
        let subscription_url = subscription_url(&dir.inner.consumer);
        let mut sub = registry
            .subscribe(&subscription_url)
            .await
            .map_err(|source| DirectoryError::Subscribe {
                consumer: subscription_url.to_string(),
                registry: registry.url().to_string(),
                source,
            })?;
        let weak: Weak<Inner> = Arc::downgrade(&dir.inner);
        let task = tokio::spawn(async move {
            while let Some(n) = sub.next().await {
                let Some(inner) = weak.upgrade() else { break };
                if inner.destroyed.load(Ordering::Acquire) {
                    break;
                }
                // A rebuild of a large list takes milliseconds of CPU: let the runtime move
                // other tasks off this worker meanwhile (multi-threaded runtimes only).
                let multi_thread = tokio::runtime::Handle::try_current()
                    .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
                if multi_thread {
                    tokio::task::block_in_place(|| inner.notify(&n));
                } else {
                    inner.notify(&n);
                }
            }
            tracing::debug!("directory subscription ended");
        });
        *lock(&dir.inner.task) = Some(task);
        Ok(dir)
    }

    fn build_with(self, registry_name: String, empty_protection: bool) -> Result<RegistryDirectory, DirectoryError> {
        if self.consumer.interface().is_empty() {
            return Err(DirectoryError::NoInterface {
                consumer: self.consumer.to_string(),
            });
        }
        let info = Arc::new(ServiceInfo::new(&self.consumer, &registry_name));
        let core = Core::new(self.consumer.clone(), info.clone(), self.factory, empty_protection);
        let (changes, _) = watch::channel(0u64);
        Ok(RegistryDirectory {
            inner: Arc::new(Inner {
                snapshot: ArcSwap::from_pointee(Snapshot::empty(self.consumer.clone(), info)),
                consumer: self.consumer,
                core: Mutex::new(core),
                task: Mutex::new(None),
                destroyed: AtomicBool::new(false),
                changes,
            }),
        })
    }
}

/// The URL a directory subscribes with: the consumer's, with the three consumer categories
/// if it names none, and `enabled=*` so disabled providers are seen (and reported as such).
pub fn subscription_url(consumer: &Url) -> Url {
    let mut url = consumer.clone();
    if url.param(keys::CATEGORY).is_none_or(str::is_empty) {
        url.set_param(keys::CATEGORY, "providers,configurators,routers");
    }
    url.set_param(keys::ENABLED, keys::ANY_VALUE);
    url
}

/// A directory that follows a registry (ARCHITECTURE: Directory, Snapshots). Cheap to share behind an `Arc`;
/// [`Directory::list`] is lock-free.
pub struct RegistryDirectory {
    inner: Arc<Inner>,
}

struct Inner {
    consumer: Url,
    snapshot: ArcSwap<Snapshot>,
    core: Mutex<Core>,
    task: Mutex<Option<JoinHandle<()>>>,
    destroyed: AtomicBool,
    changes: watch::Sender<u64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state is rebuilt from scratch on each refresh; a panic cannot leave it in
    // a state worse than stale.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RegistryDirectory {
    /// Start building a directory for `consumer` (its interface, group, version, `protocol`
    /// list and other parameters), creating invokers with `factory`.
    pub fn builder(consumer: Url, factory: Arc<dyn InvokerFactory>) -> DirectoryBuilder {
        DirectoryBuilder {
            consumer,
            factory,
            registry_name: None,
            empty_protection: None,
        }
    }

    /// Apply one notification and publish the new snapshot (synchronously; the subscription
    /// task calls this for every notification).
    pub fn notify(&self, n: &Notification) {
        self.inner.notify(n);
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.load_full()
    }

    /// Run `f` on the routed providers for `inv` without taking a reference count: the
    /// cheapest list-and-pick (clone only the chosen member). Lock-free, no allocation
    /// unless a per-call router filtered the list.
    ///
    /// # Errors
    /// [`NoProviderError`] as [`Directory::list`].
    #[inline]
    pub fn with_route<R>(
        &self,
        inv: &Invocation,
        f: impl FnOnce(&crate::snapshot::Route) -> R,
    ) -> Result<R, NoProviderError> {
        self.inner.snapshot.load().with_route(inv, f)
    }

    /// A receiver of the snapshot version, updated after every publish.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Wait until every subscribed category has been received (or `timeout` passes);
    /// returns the snapshot either way.
    pub async fn ready(&self, timeout: std::time::Duration) -> Arc<Snapshot> {
        let mut rx = self.changes();
        let _ = tokio::time::timeout(timeout, async {
            loop {
                if self.inner.snapshot.load().is_complete() {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        self.snapshot()
    }

    /// A serde view of the current state: providers with merged params, rules in force,
    /// per-method lists, version and time of the last change.
    pub fn describe(&self) -> Description {
        Description::of(&self.snapshot())
    }

    /// The groups of a multi-group consumer (`group=a,b` or `*`) that have providers now.
    pub fn groups(&self) -> Vec<String> {
        self.inner
            .snapshot
            .load()
            .groups()
            .iter()
            .map(|(g, _)| g.to_string())
            .collect()
    }

    /// A directory over one group of a multi-group consumer (for the mergeable cluster).
    pub fn group(&self, group: &str) -> GroupDirectory {
        GroupDirectory {
            inner: self.inner.clone(),
            group: group.into(),
        }
    }
}

impl Directory for RegistryDirectory {
    fn list(&self, inv: &Invocation) -> Result<Listed, NoProviderError> {
        self.inner.snapshot.load().list(inv)
    }

    fn is_available(&self) -> bool {
        !self.inner.destroyed.load(Ordering::Acquire)
            && self
                .inner
                .snapshot
                .load()
                .providers()
                .iter()
                .any(|m| m.invoker().is_available())
    }

    fn consumer_url(&self) -> &Url {
        &self.inner.consumer
    }

    fn destroy(&self) {
        if self.inner.destroyed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(task) = lock(&self.inner.task).take() {
            task.abort();
        }
        let mut core = lock(&self.inner.core);
        let snapshot = core.destroyed_snapshot();
        self.inner.snapshot.store(Arc::new(snapshot));
        core.listed = Arc::from(Vec::new());
        for (_, m) in core.members.drain() {
            m.invoker().destroy();
        }
        self.inner.changes.send_replace(core.version);
    }
}

impl Inner {
    fn notify(&self, n: &Notification) {
        let mut core = lock(&self.core);
        if self.destroyed.load(Ordering::Acquire) {
            return;
        }
        if !core.apply(n) {
            return;
        }
        let (snapshot, gone) = core.rebuild(Some(&self.snapshot.load()));
        let version = snapshot.version();
        self.snapshot.store(Arc::new(snapshot));
        drop(core);
        // Calls already holding the old snapshot keep their `Arc`s; the transport is released now.
        for invoker in gone {
            invoker.destroy();
        }
        self.changes.send_replace(version);
    }
}

/// One group of a multi-group [`RegistryDirectory`].
pub struct GroupDirectory {
    inner: Arc<Inner>,
    group: Arc<str>,
}

impl GroupDirectory {
    /// The group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    fn with_group<R>(&self, f: impl FnOnce(&Snapshot) -> R, missing: impl FnOnce(&Snapshot) -> R) -> R {
        let snap = self.inner.snapshot.load();
        match snap.groups().iter().find(|(g, _)| **g == *self.group) {
            Some((_, s)) => f(s),
            None => missing(&snap),
        }
    }
}

impl Directory for GroupDirectory {
    fn list(&self, inv: &Invocation) -> Result<Listed, NoProviderError> {
        self.with_group(
            |s| s.list(inv),
            |snap| {
                let mut e = snap.no_provider(inv, None);
                let mut info = (*e.service).clone();
                info.group = Some(self.group.to_string());
                e.service = Arc::new(info);
                if matches!(e.reason, crate::error::NoProviderReason::RoutedAway { .. }) || snap.is_notified() {
                    e.reason = crate::error::NoProviderReason::NoneRegistered;
                }
                Err(e)
            },
        )
    }

    fn is_available(&self) -> bool {
        !self.inner.destroyed.load(Ordering::Acquire)
            && self.with_group(|s| s.providers().iter().any(|m| m.invoker().is_available()), |_| false)
    }

    fn consumer_url(&self) -> &Url {
        &self.inner.consumer
    }

    /// Destroying one group destroys the whole directory it belongs to.
    fn destroy(&self) {
        RegistryDirectory {
            inner: self.inner.clone(),
        }
        .destroy();
    }
}

/// A parsed provider URL kept between refreshes: the URL as registered, and merged with the
/// consumer's parameters and configured.
struct CacheEntry {
    raw: Url,
    configured: Url,
    disabled: bool,
    identity: Arc<str>,
    generation: u64,
    /// The member this URL was listed as by the last refresh, if it was listed.
    member: Option<Arc<Member>>,
}

/// The cache entries of the last provider list, in its order, and how a new list finds its
/// entries: position by position while the lists agree (a registry hands the unchanged URLs
/// of a list out again in the same order, as clones, so the comparison reads pointers), with
/// one provider inserted or removed or replaced recognised on the way; by an index of the
/// endpoints only when the order changed more than that. A URL not found is merged anew
/// (finding an entry is only a saving: a merge gives the same result).
// Entries are boxed on purpose: a refresh moves every entry from the old list to the new
// one (a pointer each, not ~300 bytes).
#[allow(clippy::vec_box)]
struct UrlCache {
    entries: Vec<Box<CacheEntry>>,
}

impl UrlCache {
    /// Take the entries of `urls` out of the cache (`None` where there is none), leaving it
    /// empty; [`UrlCache::replace`] puts the new list's entries back.
    fn take(&mut self, urls: &[Url]) -> Vec<Option<Box<CacheEntry>>> {
        let mut old: Vec<Option<Box<CacheEntry>>> = std::mem::take(&mut self.entries).into_iter().map(Some).collect();
        let mut out: Vec<Option<Box<CacheEntry>>> = Vec::with_capacity(urls.len());
        let mut index: Option<FastMap<u64, Vec<usize>>> = None;
        let mut left = old.len();
        let mut j = 0;
        let is = |e: &Option<Box<CacheEntry>>, url: &Url| e.as_ref().is_some_and(|e| e.raw == *url);
        for (i, raw) in urls.iter().enumerate() {
            if left == 0 {
                out.push(None);
                continue;
            }
            while j < old.len() && old[j].is_none() {
                j += 1;
            }
            let next = urls.get(i + 1);
            let found = if j < old.len() && is(&old[j], raw) {
                j += 1;
                Some(j - 1)
            } else if j + 1 < old.len() && is(&old[j + 1], raw) {
                // old[j] was removed.
                j += 2;
                Some(j - 1)
            } else if index.is_none() && j < old.len() && next.is_some_and(|n| is(&old[j], n)) {
                // `raw` was inserted before old[j] (or moved there: then merged anew).
                None
            } else if index.is_none() && j + 1 < old.len() && next.is_some_and(|n| is(&old[j + 1], n)) {
                // `raw` replaced old[j] (or moved there).
                j += 1;
                None
            } else {
                // The order changed more than that: the index from now on.
                let index = index.get_or_insert_with(|| {
                    let mut index: FastMap<u64, Vec<usize>> = FastMap::default();
                    for (k, e) in old.iter().enumerate() {
                        if let Some(e) = e {
                            index.entry(endpoint_hash(&e.raw)).or_default().push(k);
                        }
                    }
                    index
                });
                index.get_mut(&endpoint_hash(raw)).and_then(|ks| {
                    let pos = ks.iter().position(|&k| is(&old[k], raw))?;
                    Some(ks.swap_remove(pos))
                })
            };
            out.push(found.and_then(|k| {
                left -= 1;
                old[k].take()
            }));
        }
        out
    }

    /// Keep `entries` (those of the list just processed, in its order).
    #[allow(clippy::vec_box)]
    fn replace(&mut self, entries: Vec<Box<CacheEntry>>) {
        self.entries = entries;
    }
}

/// The index key of a registered URL: a hash of its endpoint only (protocol, host, port,
/// path), not of its parameters; URLs under one key are then compared in full.
fn endpoint_hash(url: &Url) -> u64 {
    use std::hash::BuildHasher;
    std::hash::BuildHasherDefault::<FastHasher>::default().hash_one((
        url.protocol(),
        url.host(),
        url.port(),
        url.path(),
    ))
}

/// The refresh state: latest lists per category and everything re-used between rebuilds.
struct Core {
    consumer: Url,
    consumer_host: String,
    info: Arc<ServiceInfo>,
    factory: Arc<dyn InvokerFactory>,
    empty_protection: bool,
    protocols: Option<Vec<String>>,
    multi_group: bool,
    providers: Option<Arc<[Url]>>,
    configurators: Arc<Configurators>,
    configurator_warnings: Vec<String>,
    generation: u64,
    chain: Arc<RouterChain>,
    router_warnings: Vec<String>,
    /// Parsed and merged provider URLs of the last list.
    cache: UrlCache,
    /// The listed members by identity: updated in place on each refresh, never rebuilt.
    members: FastMap<Arc<str>, Arc<Member>>,
    /// The members the last refresh listed.
    listed: Members,
    refresh: u64,
    version: u64,
    /// Categories received so far, and those subscribed.
    received: Vec<Category>,
    expected: Vec<Category>,
}

impl Core {
    fn new(consumer: Url, info: Arc<ServiceInfo>, factory: Arc<dyn InvokerFactory>, empty_protection: bool) -> Self {
        let protocols = consumer.param(keys::PROTOCOL).filter(|p| !p.is_empty()).map(|p| {
            p.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        });
        let multi_group = consumer
            .group()
            .is_some_and(|g| g == keys::ANY_VALUE || g.contains(','));
        let expected = Category::subscribed_by(&subscription_url(&consumer));
        Core {
            consumer_host: consumer.host().to_owned(),
            consumer,
            info,
            factory,
            empty_protection,
            protocols,
            multi_group,
            providers: None,
            configurators: Arc::new(Configurators::new()),
            configurator_warnings: Vec::new(),
            generation: 0,
            chain: Arc::new(RouterChain::default()),
            router_warnings: Vec::new(),
            cache: UrlCache { entries: Vec::new() },
            members: FastMap::default(),
            listed: Arc::from(Vec::new()),
            refresh: 0,
            version: 0,
            received: Vec::new(),
            expected,
        }
    }

    /// Take in one category's list; whether anything changed.
    fn apply(&mut self, n: &Notification) -> bool {
        if *n.interface != *self.consumer.interface() && self.consumer.interface() != keys::ANY_VALUE {
            tracing::debug!(interface = %n.interface, "ignoring a notification for another interface");
            return false;
        }
        if !self.received.contains(&n.category) {
            self.received.push(n.category);
        }
        match n.category {
            Category::Providers => {
                let urls: Arc<[Url]> = if n.is_empty_marker() {
                    Arc::from(Vec::new())
                } else {
                    n.urls.clone()
                };
                if urls.is_empty() && self.empty_protection && self.providers.as_ref().is_some_and(|p| !p.is_empty()) {
                    tracing::warn!(
                        service = %self.info,
                        "registry reports no provider; empty protection keeps the last {} provider(s)",
                        self.providers.as_ref().map_or(0, |p| p.len())
                    );
                    return false;
                }
                self.providers = Some(urls);
            }
            Category::Configurators => {
                let (configurators, errors) = Configurators::parse(n.non_empty_urls());
                self.configurator_warnings = report(&self.info, errors);
                self.configurators = Arc::new(configurators);
                self.generation += 1;
            }
            Category::Routers => {
                let (chain, errors) = RouterChain::parse(n.non_empty_urls());
                self.router_warnings = report(&self.info, errors);
                self.chain = Arc::new(chain);
            }
            Category::Consumers => return false,
        }
        true
    }

    /// Rebuild the snapshot from the latest lists; also returns invokers of providers that left.
    fn rebuild(&mut self, prev: Option<&Snapshot>) -> (Snapshot, Vec<Arc<dyn Invoker>>) {
        self.refresh += 1;
        self.version += 1;
        let refresh = self.refresh;
        let mut counts = Counts::default();
        let mut excluded: Vec<(Url, Exclusion)> = Vec::new();
        let mut list: Vec<Arc<Member>> = Vec::new();
        let notified = self.providers.is_some();
        let urls = self.providers.clone().unwrap_or_else(|| Arc::from(Vec::new()));
        counts.registered = urls.len();
        list.reserve(urls.len());
        self.members.reserve(urls.len().saturating_sub(self.members.len()));
        let found = self.cache.take(&urls);
        let found = self.merge_and_configure(&urls, found);
        let mut entries: Vec<Box<CacheEntry>> = Vec::with_capacity(urls.len());
        for (raw, entry) in urls.iter().zip(found) {
            entries.push(entry);
            let entry = entries.last_mut().expect("just pushed");
            // The member this URL was listed as last time: while it is listed, it is the
            // member of its identity in `members`, so it can be claimed without a lookup.
            let cached = entry.member.take();
            let url = &entry.configured;
            if entry.disabled {
                counts.disabled += 1;
                excluded.push((raw.clone(), Exclusion::Disabled));
                continue;
            }
            if let Some(protocols) = &self.protocols
                && !protocols.iter().any(|p| p == raw.protocol())
            {
                counts.filtered_by_protocol += 1;
                excluded.push((raw.clone(), Exclusion::Protocol));
                continue;
            }
            let current = match cached {
                Some(m) => Some(m),
                None => self.members.get(&entry.identity).cloned(),
            };
            let member = match current {
                Some(m) if m.claimed_by() == refresh => {
                    counts.duplicates += 1;
                    excluded.push((raw.clone(), Exclusion::DuplicateIdentity));
                    tracing::debug!(url = %raw, "another provider URL with the same identity is already listed");
                    continue;
                }
                Some(m) => {
                    m.claim(refresh);
                    if m.url() == url && m.registered_url() == raw {
                        m
                    } else {
                        let updated = Arc::new(Member::update(&m, url.clone(), raw.clone(), entry.identity.clone()));
                        updated.claim(refresh);
                        self.members.insert(entry.identity.clone(), updated.clone());
                        updated
                    }
                }
                None => match self.factory.create(url) {
                    Ok(invoker) => {
                        let member = Arc::new(Member::new(url.clone(), raw.clone(), entry.identity.clone(), invoker));
                        member.claim(refresh);
                        self.members.insert(entry.identity.clone(), member.clone());
                        member
                    }
                    Err(e) => {
                        tracing::warn!(service = %self.info, provider = %raw, error = %e, "cannot create an invoker");
                        counts.invoker_failed += 1;
                        excluded.push((raw.clone(), Exclusion::InvokerFailed));
                        continue;
                    }
                },
            };
            entry.member = Some(member.clone());
            list.push(member);
        }
        self.cache.replace(entries);
        // Members listed last time whose identity no refresh claimed this time are gone.
        let mut gone: Vec<Arc<dyn Invoker>> = Vec::new();
        for m in self.listed.iter() {
            if m.claimed_by() != refresh {
                gone.push(m.invoker().clone());
                self.members.remove(m.identity());
            }
        }

        let providers: Members = Arc::from(list);
        self.listed = providers.clone();
        let mut snapshot = Snapshot::build(
            SnapshotParts {
                version: self.version,
                consumer: self.consumer.clone(),
                info: self.info.clone(),
                providers: providers.clone(),
                chain: self.chain.clone(),
                configurators: self.configurators.clone(),
                counts,
                notified,
            },
            prev,
        );
        snapshot.excluded = Arc::from(excluded);
        snapshot.complete = self.expected.iter().all(|c| self.received.contains(c));
        snapshot.warnings = self
            .configurator_warnings
            .iter()
            .chain(self.router_warnings.iter())
            .cloned()
            .collect();
        if self.multi_group {
            snapshot.groups = self.group_snapshots(&providers, prev);
        }
        (snapshot, gone)
    }

    /// Complete the cache entries of `urls`: merge and configure the URLs without one,
    /// re-configure those configured under older configurators. (Sequentially: on two
    /// shared cores, two threads made a full rebuild of 10,000 providers slower, 23 -> 30 ms.)
    #[allow(clippy::vec_box)]
    fn merge_and_configure(&self, urls: &[Url], found: Vec<Option<Box<CacheEntry>>>) -> Vec<Box<CacheEntry>> {
        let generation = self.generation;
        let complete = |(raw, found): (&Url, Option<Box<CacheEntry>>)| -> Box<CacheEntry> {
            match found {
                Some(mut e) => {
                    if e.generation != generation {
                        // Merged again rather than kept merged: configuring a map nothing
                        // else shares then copies nothing.
                        let merged = merge_url(&e.raw, self.consumer.params());
                        e.configured = self.configurators.apply(merged, &self.consumer_host);
                        e.disabled = is_disabled(&e.configured);
                        e.generation = generation;
                    }
                    e
                }
                None => {
                    let merged = merge_url(raw, self.consumer.params());
                    let configured = self.configurators.apply(merged, &self.consumer_host);
                    Box::new(CacheEntry {
                        raw: raw.clone(),
                        disabled: is_disabled(&configured),
                        identity: raw.identity().into(),
                        configured,
                        generation,
                        member: None,
                    })
                }
            }
        };
        urls.iter().zip(found).map(complete).collect()
    }

    fn group_snapshots(&self, providers: &Members, prev: Option<&Snapshot>) -> Vec<(Arc<str>, Arc<Snapshot>)> {
        let mut by_group: BTreeMap<&str, Vec<Arc<Member>>> = BTreeMap::new();
        for m in providers.iter() {
            by_group
                .entry(m.registered_url().group().unwrap_or(""))
                .or_default()
                .push(m.clone());
        }
        by_group
            .into_iter()
            .map(|(group, members)| {
                let mut info = (*self.info).clone();
                info.group = Some(group.to_owned()).filter(|g| !g.is_empty());
                let counts = Counts {
                    registered: members.len(),
                    ..Counts::default()
                };
                let prev_group = prev
                    .and_then(|p| p.groups().iter().find(|(g, _)| **g == *group))
                    .map(|(_, s)| &**s);
                let snap = Snapshot::build(
                    SnapshotParts {
                        version: self.version,
                        consumer: self.consumer.clone(),
                        info: Arc::new(info),
                        providers: Arc::from(members),
                        chain: self.chain.clone(),
                        configurators: self.configurators.clone(),
                        counts,
                        notified: true,
                    },
                    prev_group,
                );
                (Arc::from(group), Arc::new(snap))
            })
            .collect()
    }

    fn destroyed_snapshot(&mut self) -> Snapshot {
        self.version += 1;
        let mut s = Snapshot::empty(self.consumer.clone(), self.info.clone());
        s.version = self.version;
        s.destroyed = true;
        s.notified = true;
        s.complete = true;
        s
    }
}

/// Log each bad rule as a warning naming it; return the messages for `describe`.
fn report(info: &ServiceInfo, errors: Vec<RuleError>) -> Vec<String> {
    errors
        .into_iter()
        .map(|e| {
            tracing::warn!(service = %info, "{e}");
            e.to_string()
        })
        .collect()
}

/// `disabled=true` or `enabled=false`.
fn is_disabled(url: &Url) -> bool {
    url.param_bool(keys::DISABLED, false) || !url.param_bool(keys::ENABLED, true)
}

impl std::fmt::Debug for DirectoryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryBuilder")
            .field("consumer", &self.consumer.to_string())
            .field("registry_name", &self.registry_name)
            .field("empty_protection", &self.empty_protection)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RegistryDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryDirectory")
            .field("consumer", &self.consumer_url().to_string())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for GroupDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupDirectory")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(hosts: &[u32]) -> Vec<Url> {
        hosts
            .iter()
            .map(|h| {
                format!("dubbo://10.0.0.{h}:20880/com.foo.Bar?weight={h}")
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    fn entry(raw: &Url) -> CacheEntry {
        CacheEntry {
            raw: raw.clone(),
            configured: raw.clone(),
            disabled: false,
            identity: raw.identity().into(),
            generation: 0,
            member: None,
        }
    }

    /// Every URL of the new list that was in the old one gets its entry (and only its own),
    /// whatever the change of order; new URLs get none.
    #[test]
    fn url_cache_finds_entries_by_position_or_index() {
        let base: Vec<u32> = (0..20).collect();
        let cases: Vec<Vec<u32>> = vec![
            base.clone(),
            (0..21).collect(),
            [vec![99], base.clone()].concat(),
            [&base[..7], &[99], &base[7..]].concat(),
            [&base[..7], &base[8..]].concat(),
            [&base[..7], &[99], &base[8..]].concat(),
            [&base[..7], &base[9..]].concat(),
            base.iter().rev().copied().collect(),
            [&base[10..], &base[..10]].concat(),
            vec![3, 3, 5],
            vec![],
        ];
        for (n, new) in cases.iter().enumerate() {
            let old = urls(&base);
            // Reparsed (equal, nothing shared) and cloned (shared) lists both find their entries.
            for reparse in [false, true] {
                let mut cache = UrlCache {
                    entries: old.iter().map(|u| Box::new(entry(u))).collect(),
                };
                let new_urls: Vec<Url> = if reparse {
                    urls(new)
                } else {
                    new.iter()
                        .map(|h| old.get(*h as usize).cloned().unwrap_or_else(|| urls(&[*h]).remove(0)))
                        .collect()
                };
                let found = cache.take(&new_urls);
                assert_eq!(found.len(), new_urls.len());
                let mut seen = std::collections::HashSet::new();
                for ((h, url), f) in new.iter().zip(&new_urls).zip(&found) {
                    match f {
                        Some(e) => assert_eq!(e.raw, *url, "case {n}"),
                        None => assert!(*h == 99 || !seen.insert(*h) || *h >= 20, "case {n}: {h} not found"),
                    }
                    seen.insert(*h);
                }
                assert!(cache.entries.is_empty());
            }
        }
    }
}
