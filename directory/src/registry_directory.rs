//! The [`RegistryDirectory`]: registry notifications in, atomically swapped [`Snapshot`]s
//! out.
//!
//! Each notification (the full list of one category) updates the latest list of that
//! category; then, off the call path, the directory rebuilds (see `refresh.rs`) and publishes
//! the new snapshot with `ArcSwap`. A call ([`Directory::list`]) loads the snapshot and
//! returns a shared route: no lock, no allocation, unless a per-call router filtered the list.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zkdubbo_common::sync::lock;
use zkdubbo_common::{Invocation, InvokerFactory, Url, keys};
use zkdubbo_registry::{Category, Notification, Registry};

use crate::Directory;
use crate::config_rules::ConfigRules;
use crate::describe::Description;
use crate::error::{DirectoryError, NoProviderError, RuleError, ServiceInfo};
use crate::group_view::GroupView;
use crate::refresh::Core;
use crate::route::{Listed, Route};
use crate::snapshot::Snapshot;

/// Options of a [`RegistryDirectory`].
pub struct DirectoryBuilder {
    consumer: Url,
    factory: Arc<dyn InvokerFactory>,
    registry_name: Option<String>,
    delay_notification: Option<Duration>,
}

/// Registry URL parameter (Dubbo 3's `delay-notification`, in ms): provider lists arriving
/// within this time of the last one applied are held and coalesced, then applied together.
pub const DELAY_NOTIFICATION_KEY: &str = "delay-notification";

impl DirectoryBuilder {
    /// Apply provider lists at most once per `delay` (Dubbo 3's `delay-notification`; by
    /// default the registry URL's `delay-notification` in ms, else 0: every list at once).
    /// Lists arriving meanwhile are coalesced, configurators and routers are never held,
    /// and nothing waits on the registry's event handling.
    pub fn delay_notification(mut self, delay: Duration) -> Self {
        self.delay_notification = Some(delay);
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
        self.build_with(name)
    }

    /// Subscribe through `registry` and follow its notifications on a background task
    /// (needs a Tokio runtime). Returns at once; the first lists follow as soon as the
    /// registry delivers them (see [`RegistryDirectory::changes`]).
    ///
    /// # Errors
    /// [`DirectoryError::Subscribe`] when the registry refuses the subscription.
    pub async fn subscribe(self, registry: Arc<dyn Registry>) -> Result<RegistryDirectory, DirectoryError> {
        let name = self.registry_name.clone().unwrap_or_else(|| registry.url().to_string());
        let delay = self
            .delay_notification
            .unwrap_or_else(|| Duration::from_millis(registry.url().param_as(DELAY_NOTIFICATION_KEY, 0u64)));
        let dir = self.build_with(name)?;
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
            let apply = |n: &Notification| -> bool {
                let Some(inner) = weak.upgrade() else { return false };
                if inner.destroyed.load(Ordering::Acquire) {
                    return false;
                }
                // A rebuild of a large list takes milliseconds of CPU: let the runtime move
                // other tasks off this worker meanwhile (multi-threaded runtimes only).
                let multi_thread = tokio::runtime::Handle::try_current()
                    .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
                if multi_thread {
                    tokio::task::block_in_place(|| inner.notify(n));
                } else {
                    inner.notify(n);
                }
                true
            };
            // Provider lists held by `delay-notification` (the latest only), and when the
            // last one was applied.
            let mut held: Option<Notification> = None;
            let mut last_providers: Option<tokio::time::Instant> = None;
            loop {
                let release = held.as_ref().and(last_providers).map(|t| t + delay);
                let n = tokio::select! {
                    n = sub.next() => match n {
                        Some(n) => n,
                        None => break,
                    },
                    () = async { tokio::time::sleep_until(release.unwrap_or_else(tokio::time::Instant::now)).await },
                        if release.is_some() =>
                    {
                        last_providers = Some(tokio::time::Instant::now());
                        match held.take() {
                            Some(n) if !apply(&n) => break,
                            _ => continue,
                        }
                    }
                };
                if n.category == Category::Providers && !delay.is_zero() {
                    if last_providers.is_some_and(|t| t.elapsed() < delay) {
                        held = Some(n);
                        continue;
                    }
                    held = None;
                    last_providers = Some(tokio::time::Instant::now());
                }
                if !apply(&n) {
                    break;
                }
            }
            tracing::debug!("directory subscription ended");
        });
        *lock(&dir.inner.task) = Some(task);
        *lock(&dir.inner.rule_tasks) = crate::follow::start(&dir.inner, &registry);
        Ok(dir)
    }

    fn build_with(self, registry_name: String) -> Result<RegistryDirectory, DirectoryError> {
        if self.consumer.interface().is_empty() {
            return Err(DirectoryError::NoInterface {
                consumer: self.consumer.to_string(),
            });
        }
        let info = Arc::new(ServiceInfo::new(&self.consumer, &registry_name));
        let core = Core::new(self.consumer.clone(), info.clone(), self.factory);
        let (changes, _) = watch::channel(0u64);
        Ok(RegistryDirectory {
            inner: Arc::new(Inner {
                snapshot: ArcSwap::from_pointee(Snapshot::empty(self.consumer.clone(), info)),
                consumer: self.consumer,
                core: Mutex::new(core),
                task: Mutex::new(None),
                rule_tasks: Mutex::new(Vec::new()),
                rules_pending: AtomicUsize::new(0),
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
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) consumer: Url,
    pub(crate) snapshot: ArcSwap<Snapshot>,
    core: Mutex<Core>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// The tasks following config-center rule nodes.
    rule_tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Rule nodes whose first state has not been read yet ([`RegistryDirectory::ready`]
    /// waits for them).
    pub(crate) rules_pending: AtomicUsize,
    pub(crate) destroyed: AtomicBool,
    pub(crate) changes: watch::Sender<u64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
        for task in lock(&self.rule_tasks).drain(..) {
            task.abort();
        }
    }
}

impl RegistryDirectory {
    /// Start building a directory for `consumer` (its interface, group, version, `protocol`
    /// list and other parameters), creating invokers with `factory`.
    pub fn builder(consumer: Url, factory: Arc<dyn InvokerFactory>) -> DirectoryBuilder {
        DirectoryBuilder {
            consumer,
            factory,
            registry_name: None,
            delay_notification: None,
        }
    }

    /// Apply one notification and publish the new snapshot (synchronously; the subscription
    /// task calls this for every notification).
    pub fn notify(&self, n: &Notification) {
        self.inner.notify(n);
    }

    /// Put the parsed rules of config-center node `source` (its path) in force and publish
    /// the new snapshot. Rules are composed with the URL-style ones in Dubbo's precedence
    /// (configurators: URL-style, then the application's, then the service's; routers by
    /// kind). A subscribed directory follows its nodes itself; this is for directories fed
    /// by hand.
    ///
    /// # Errors
    /// [`RuleError::ConfigNode`] when the rules cannot be used (a condition that does not
    /// parse, a rule with nothing to apply): the node's previous rules stay in force.
    pub fn set_config_rules(&self, source: &str, rules: ConfigRules) -> Result<(), RuleError> {
        self.inner.set_config_rules(source, rules)
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
    pub fn with_route<R>(&self, inv: &Invocation, f: impl FnOnce(&Route) -> R) -> Result<R, NoProviderError> {
        self.inner.snapshot.load().with_route(inv, f)
    }

    /// A receiver of the snapshot version, updated after every publish.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Wait until every subscribed category and every followed config-center rule node has
    /// been read (or `timeout` passes); returns the snapshot either way.
    pub async fn ready(&self, timeout: std::time::Duration) -> Arc<Snapshot> {
        let mut rx = self.changes();
        let _ = tokio::time::timeout(timeout, async {
            loop {
                if self.inner.snapshot.load().is_complete() && self.inner.rules_pending.load(Ordering::Acquire) == 0 {
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
    pub fn group(&self, group: &str) -> GroupView {
        GroupView::new(self.inner.clone(), group)
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
        for task in lock(&self.inner.rule_tasks).drain(..) {
            task.abort();
        }
        let snapshot = lock(&self.inner.core).destroy();
        let version = snapshot.version();
        self.inner.snapshot.store(Arc::new(snapshot));
        self.inner.changes.send_replace(version);
    }
}

impl Inner {
    fn notify(&self, n: &Notification) {
        self.update(|core| core.apply(n));
    }

    pub(crate) fn set_config_rules(&self, source: &str, rules: ConfigRules) -> Result<(), RuleError> {
        let mut result = Ok(());
        self.update(|core| match core.set_config_rules(source, rules) {
            Ok(changed) => changed,
            Err(e) => {
                result = Err(e);
                // Rebuilt: a refused rule is shown in the snapshot's warnings.
                true
            }
        });
        result
    }

    /// Record that node `source` holds text that does not parse (shown by `describe`);
    /// returns the error to log.
    pub(crate) fn refuse_config_node(&self, source: &str, message: String) -> RuleError {
        let mut error = None;
        self.update(|core| {
            error = Some(core.refuse_config_node(source, message.clone()));
            true
        });
        error.unwrap_or(RuleError::ConfigNode {
            node: source.to_owned(),
            message,
        })
    }

    /// Change the refresh state with `change`; when it reports a change, rebuild and publish.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Core) -> bool) {
        let mut core = lock(&self.core);
        if self.destroyed.load(Ordering::Acquire) {
            return;
        }
        if !change(&mut core) {
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

impl std::fmt::Debug for DirectoryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryBuilder")
            .field("consumer", &self.consumer.to_string())
            .field("registry_name", &self.registry_name)
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
