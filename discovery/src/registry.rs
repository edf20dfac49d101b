//! [`ServiceDiscoveryRegistry`]: a [`Registry`] whose provider lists come from interface-level
//! nodes, application instances, or both, per the consumer's migration step.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::watch;
use zkdubbo_common::sync::lock;
use zkdubbo_common::{Url, keys};
use zkdubbo_registry::{
    Category, ConfigCenter, ListVersion, NodeState, NodeWatch, Notification, Registry, RegistryError, Source,
    Subscription, SubscriptionSink, matching_list, subscription_channel,
};

use crate::application::{AppInstances, Applications, MetadataFetcher, Paths, valid_application};
use crate::mapping;
use crate::migration::{Level, Migration, MigrationRule, MigrationStep, prefer_application};
use crate::urls::provider_urls;

/// How long APPLICATION_FIRST waits for the application-level list before it starts with the
/// interface-level one (so that a consumer does not start on one level to switch at once).
const FIRST_LIST_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The consumer parameter naming the provider applications, which bypasses the mapping.
pub const PROVIDED_BY_KEY: &str = "provided-by";

/// Where a consumer's migration stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MigrationState {
    /// The step in force (the consumer's, or its migration rule's).
    #[serde(serialize_with = "crate::migration::display")]
    pub step: MigrationStep,
    /// The threshold in force.
    pub threshold: f32,
    /// The level whose providers the consumer uses now (`None` before either list is known).
    #[serde(serialize_with = "crate::migration::display_opt")]
    pub level: Option<Level>,
    /// The provider applications (mapping or `provided-by`).
    pub applications: Vec<String>,
    /// Application-level providers found (`None`: not followed, or not known yet).
    pub application_count: Option<usize>,
    /// Interface-level providers found (`None`: not followed, or not known yet).
    pub interface_count: Option<usize>,
}

/// A [`Registry`] over another (ZooKeeper's) that adds Dubbo 3's application-level discovery
/// to subscriptions, as Java's `MigrationInvoker` over its two directories does:
///
/// - routers and configurators come from the registry below as they always did;
/// - providers come from `/dubbo/<interface>/providers`, from the instances of the
///   applications that provide the interface (`/dubbo/mapping/<interface>` or the consumer's
///   `provided-by`) with their metadata, or from the one of the two that the consumer's
///   [`MigrationStep`] picks, re-decided whenever either list, the mapping or the migration
///   rule (`<application>.migration`) changes. A switch is one new provider list: calls in
///   flight finish on the providers they have;
/// - registering, looking up and shutting down are the registry below's.
///
/// Application-level URLs carry [`LEVEL_KEY`](crate::LEVEL_KEY)`=application`.
pub struct ServiceDiscoveryRegistry {
    below: Arc<dyn Registry>,
    apps: Arc<Applications>,
    states: Arc<Mutex<HashMap<u64, (String, MigrationState)>>>,
    next: std::sync::atomic::AtomicU64,
}

impl ServiceDiscoveryRegistry {
    /// Application-level discovery over `below`, instances under `paths.services_root`,
    /// metadata and mappings under `paths.metadata_root`; instances whose metadata is local
    /// are fetched with `fetcher` (skipped without one).
    pub fn new(below: Arc<dyn Registry>, paths: Paths, fetcher: Option<Arc<dyn MetadataFetcher>>) -> Self {
        ServiceDiscoveryRegistry {
            apps: Applications::new(below.clone(), paths, fetcher),
            below,
            states: Default::default(),
            next: Default::default(),
        }
    }

    /// The registry below.
    pub fn below(&self) -> &Arc<dyn Registry> {
        &self.below
    }

    /// Metadata documents read or fetched so far (each revision of each application once,
    /// however many instances and subscriptions share it).
    pub fn metadata_fetches(&self) -> u64 {
        self.apps.fetches()
    }

    /// The migration state of the live subscriptions of `service_key` (`[group/]interface[:version]`).
    pub fn migration(&self, service_key: &str) -> Vec<MigrationState> {
        lock(&self.states)
            .values()
            .filter(|(key, _)| key == service_key)
            .map(|(_, s)| s.clone())
            .collect()
    }
}

impl std::fmt::Debug for ServiceDiscoveryRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDiscoveryRegistry")
            .field("below", &self.below.url().to_string())
            .field("paths", self.apps.paths())
            .finish()
    }
}

#[async_trait]
impl Registry for ServiceDiscoveryRegistry {
    fn url(&self) -> &Url {
        self.below.url()
    }

    fn config_center(&self) -> Option<&dyn ConfigCenter> {
        self.below.config_center()
    }

    async fn register(&self, url: &Url) -> Result<(), RegistryError> {
        self.below.register(url).await
    }

    async fn unregister(&self, url: &Url) -> Result<(), RegistryError> {
        self.below.unregister(url).await
    }

    async fn subscribe(&self, consumer: &Url) -> Result<Subscription, RegistryError> {
        let categories = Category::subscribed_by(consumer);
        if consumer.interface() == keys::ANY_VALUE || !categories.contains(&Category::Providers) {
            return self.below.subscribe(consumer).await;
        }
        let mut task = Combiner::new(self, consumer, &categories);
        // What the consumer's own step needs is subscribed now, so that its errors are the
        // caller's; a migration rule read later may change it.
        if Migration::of_consumer(consumer).step.uses_interface() {
            if let Some(rules) = &task.rules_consumer {
                task.rules = Some(self.below.subscribe(rules).await?);
            }
            task.interface = Some(self.below.subscribe(&task.providers_consumer).await?);
        }
        let subscription = task.subscription.take();
        task.update().await;
        tokio::spawn(task.run());
        subscription.ok_or_else(|| RegistryError::Unavailable {
            registry: self.below.url().to_string(),
            reason: "subscription channel".into(),
        })
    }

    async fn lookup(&self, consumer: &Url) -> Result<Vec<Url>, RegistryError> {
        self.below.lookup(consumer).await
    }

    fn is_available(&self) -> bool {
        self.below.is_available()
    }

    async fn shutdown(&self) {
        self.below.shutdown().await;
    }
}

/// One subscription's task: forwards routers and configurators, and decides its providers.
struct Combiner {
    below: Arc<dyn Registry>,
    apps: Arc<Applications>,
    states: Arc<Mutex<HashMap<u64, (String, MigrationState)>>>,
    id: u64,
    consumer: Url,
    /// The consumer restricted to providers (what the interface-level subscription uses).
    providers_consumer: Url,
    base: Migration,
    sink: SubscriptionSink,
    /// The subscriber's end, until `subscribe` hands it out.
    subscription: Option<Subscription>,
    /// The consumer restricted to the other categories it wants (routers, configurators), if
    /// any: URL-style rules, followed while the step uses interface-level discovery (Java's
    /// application-level directory does not read them).
    rules_consumer: Option<Url>,
    rule_categories: Vec<Category>,
    rules: Option<Subscription>,
    /// Interface-level providers, while the step uses them; and their last list.
    interface: Option<Subscription>,
    interface_list: Option<(Arc<[Url]>, Source)>,
    /// The mapping node, while needed (application-level discovery or a migration rule per
    /// provider application) and unless `provided-by` names the applications.
    mapping: Option<NodeWatch>,
    mapping_path: String,
    provided_by: Option<Vec<String>>,
    /// The consumer application's migration rule.
    rule: Option<NodeWatch>,
    parsed_rule: Option<(Arc<str>, Option<MigrationRule>)>,
    /// The followed applications, while the step uses them.
    followed: BTreeMap<String, watch::Receiver<Arc<AppInstances>>>,
    /// What was delivered last.
    delivered: Option<(Level, Arc<[Url]>)>,
    /// Every list delivered gets the next version of its category: lists come from two
    /// sources (and markers of our own), whose versions cannot be compared.
    versions: HashMap<Category, i32>,
    /// Until then, nothing is delivered in APPLICATION_FIRST while the application-level list
    /// is unknown.
    hold_until: Option<tokio::time::Instant>,
}

impl Combiner {
    fn new(registry: &ServiceDiscoveryRegistry, consumer: &Url, categories: &[Category]) -> Combiner {
        let center = registry.below.config_center();
        let provided_by = consumer
            .param(PROVIDED_BY_KEY)
            .filter(|p| !p.trim().is_empty())
            .map(mapping::applications);
        let rule = match (consumer.param(keys::APPLICATION), center) {
            (Some(app), Some(c)) if valid_application(app) => {
                Some(c.watch_node(&MigrationRule::path(c.config_root(), app)))
            }
            _ => None,
        };
        let rule_categories: Vec<Category> = categories
            .iter()
            .copied()
            .filter(|c| *c != Category::Providers)
            .collect();
        let rules_consumer = (!rule_categories.is_empty()).then(|| {
            let names: Vec<&str> = rule_categories.iter().map(|c| c.as_str()).collect();
            consumer.clone().with_param(keys::CATEGORY, names.join(","))
        });
        let (sink, subscription) = subscription_channel(consumer.clone());
        Combiner {
            below: registry.below.clone(),
            apps: registry.apps.clone(),
            states: registry.states.clone(),
            id: registry.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            providers_consumer: consumer.clone().with_param(keys::CATEGORY, keys::PROVIDERS_CATEGORY),
            consumer: consumer.clone(),
            base: Migration::of_consumer(consumer),
            sink,
            subscription: Some(subscription),
            rules_consumer,
            rule_categories,
            rules: None,
            interface: None,
            interface_list: None,
            mapping: None,
            mapping_path: registry.apps.paths().mapping(consumer.interface()),
            provided_by,
            rule,
            parsed_rule: None,
            followed: BTreeMap::new(),
            delivered: None,
            versions: HashMap::new(),
            hold_until: Some(tokio::time::Instant::now() + FIRST_LIST_WAIT),
        }
    }

    /// Deliver `n` under the next version of its category.
    fn push(&mut self, mut n: Notification) {
        let version = self.versions.entry(n.category).or_insert(0);
        *version += 1;
        n.version = Some(ListVersion {
            czxid: 0,
            cversion: *version,
        });
        self.sink.push(n);
    }

    /// Follow what `step` (and `rule`) need, and drop what they do not.
    async fn follow(&mut self, step: MigrationStep, rule: Option<&MigrationRule>) {
        if step.uses_interface() {
            if let (None, Some(consumer)) = (&self.rules, &self.rules_consumer) {
                match self.below.subscribe(consumer).await {
                    Ok(sub) => self.rules = Some(sub),
                    Err(e) => {
                        tracing::warn!(consumer = %self.consumer.service_key(), error = %e, "cannot subscribe to routers and configurators")
                    }
                }
            }
            if self.interface.is_none() {
                match self.below.subscribe(&self.providers_consumer).await {
                    Ok(sub) => self.interface = Some(sub),
                    Err(e) => {
                        tracing::warn!(consumer = %self.consumer.service_key(), error = %e, "cannot subscribe to interface-level providers")
                    }
                }
            }
        } else {
            self.interface = None;
            self.interface_list = None;
            if self.rules.take().is_some() || self.versions.is_empty() {
                // No URL-style rules at application level: the lists say so.
                for category in self.rule_categories.clone() {
                    let urls = matching_list(&self.consumer, category, std::iter::empty());
                    self.push(Notification {
                        interface: Arc::from(self.consumer.interface()),
                        category,
                        urls,
                        version: None,
                        source: Source::Live,
                    });
                }
            }
        }
        let per_application = rule.is_some_and(|r| !r.applications.is_empty());
        let needs_mapping = self.provided_by.is_none() && (step.uses_application() || per_application);
        match (needs_mapping, self.mapping.is_some(), self.below.config_center()) {
            (true, false, Some(center)) => self.mapping = Some(center.watch_node(&self.mapping_path)),
            (false, true, _) => self.mapping = None,
            _ => {}
        }
    }

    async fn run(mut self) {
        loop {
            if !self.wait().await {
                break;
            }
            self.update().await;
        }
        lock(&self.states).remove(&self.id);
        self.sink.close();
    }

    /// The provider applications: `provided-by`, else the mapping (`None` until read).
    fn applications(&mut self) -> Option<Vec<String>> {
        if let Some(apps) = &self.provided_by {
            return Some(apps.clone());
        }
        let watch = self.mapping.as_mut()?;
        match &*watch.borrow_and_update() {
            NodeState::Unknown => None,
            NodeState::Absent => Some(Vec::new()),
            NodeState::Present { text, .. } => {
                let mut apps = mapping::applications(text);
                apps.retain(|a| {
                    let ok = valid_application(a);
                    if !ok {
                        tracing::warn!(interface = %self.consumer.interface(), application = ?a, "mapping names an application that cannot be one; skipped");
                    }
                    ok
                });
                Some(apps)
            }
        }
    }

    /// The migration rule in force, parsed once per text; a rule that does not parse is a
    /// warning and the last good one stays.
    fn rule(&mut self) -> Option<MigrationRule> {
        let watch = self.rule.as_mut()?;
        let state = watch.borrow_and_update().clone();
        match state {
            NodeState::Unknown => self.parsed_rule.as_ref().and_then(|(_, r)| r.clone()),
            NodeState::Absent => {
                self.parsed_rule = None;
                None
            }
            NodeState::Present { text, .. } => {
                if self.parsed_rule.as_ref().is_none_or(|(t, _)| *t != text) {
                    let parsed = match MigrationRule::parse(&text) {
                        Ok(r) => Some(r),
                        Err(e) => {
                            tracing::warn!(consumer = %self.consumer.service_key(), error = %e, "migration rule ignored; the last good one stays");
                            self.parsed_rule.as_ref().and_then(|(_, r)| r.clone())
                        }
                    };
                    self.parsed_rule = Some((text, parsed));
                }
                self.parsed_rule.as_ref().and_then(|(_, r)| r.clone())
            }
        }
    }

    /// Re-decide and deliver what changed.
    async fn update(&mut self) {
        let rule = self.rule();
        let known = self.applications();
        let first = self
            .base
            .under(rule.as_ref(), &self.consumer, known.as_deref().unwrap_or(&[]));
        self.follow(first.step, rule.as_ref()).await;
        let applications = self.applications();
        let migration = self
            .base
            .under(rule.as_ref(), &self.consumer, applications.as_deref().unwrap_or(&[]));
        let step = migration.step;
        if step != first.step {
            self.follow(step, rule.as_ref()).await;
        }
        if step.uses_application() {
            let apps = applications.clone().unwrap_or_default();
            self.followed.retain(|a, _| apps.contains(a));
            for app in apps {
                if !self.followed.contains_key(&app) {
                    let rx = self.apps.watch(&app);
                    self.followed.insert(app, rx);
                }
            }
        } else {
            self.followed.clear();
        }

        // Application-level providers: known once the applications and each one's instances are.
        let app_list: Option<Vec<Url>> = match &applications {
            Some(_) if step.uses_application() => {
                let snapshots: Vec<Arc<AppInstances>> = self
                    .followed
                    .values_mut()
                    .map(|rx| rx.borrow_and_update().clone())
                    .collect();
                snapshots.iter().all(|s| s.known).then(|| {
                    let instances: Vec<_> = snapshots.iter().flat_map(|s| s.instances.iter().cloned()).collect();
                    provider_urls(&self.consumer, &instances)
                })
            }
            _ => None,
        };
        let interface_count = self
            .interface_list
            .as_ref()
            .map(|(l, _)| l.iter().filter(|u| u.protocol() != keys::EMPTY_PROTOCOL).count());
        let application_count = app_list.as_ref().map(Vec::len);
        let level = match step {
            MigrationStep::ForceInterface => interface_count.map(|_| Level::Interface),
            MigrationStep::ForceApplication => application_count.map(|_| Level::Application),
            MigrationStep::ApplicationFirst => match (application_count, interface_count) {
                (None, None) => None,
                // Wait for the application-level list only while there is nothing else.
                (a, i) => Some(
                    if prefer_application(a.unwrap_or(0), i.unwrap_or(0), migration.threshold) {
                        Level::Application
                    } else {
                        Level::Interface
                    },
                ),
            },
        };
        lock(&self.states).insert(
            self.id,
            (
                self.consumer.service_key(),
                MigrationState {
                    step,
                    threshold: migration.threshold,
                    level,
                    applications: applications.unwrap_or_default(),
                    application_count,
                    interface_count,
                },
            ),
        );
        // The first list of APPLICATION_FIRST waits a moment for the application level.
        if step == MigrationStep::ApplicationFirst
            && application_count.is_none()
            && self.delivered.is_none()
            && self.hold_until.is_some_and(|t| tokio::time::Instant::now() < t)
        {
            return;
        }
        self.hold_until = None;
        let chosen = match level {
            Some(Level::Application) => {
                app_list.map(|l| (matching_list(&self.consumer, Category::Providers, l), Source::Live))
            }
            Some(Level::Interface) => self.interface_list.clone(),
            None => None,
        };
        let (Some(level), Some((urls, source))) = (level, chosen) else {
            return;
        };
        if self
            .delivered
            .as_ref()
            .is_some_and(|(l, u)| *l == level && **u == *urls)
        {
            return;
        }
        if self.delivered.as_ref().is_some_and(|(l, _)| *l != level) {
            tracing::info!(
                consumer = %self.consumer.service_key(),
                %step,
                from = %self.delivered.as_ref().map_or("none", |(l, _)| l.as_str()),
                to = %level,
                application_count = ?application_count,
                interface_count = ?interface_count,
                "providers now come from another discovery level"
            );
        }
        self.push(Notification {
            interface: Arc::from(self.consumer.interface()),
            category: Category::Providers,
            urls: urls.clone(),
            version: None,
            source,
        });
        self.delivered = Some((level, urls));
    }

    /// Wait for something to change, forwarding rule lists meanwhile; false when the
    /// subscription ends.
    async fn wait(&mut self) -> bool {
        loop {
            match self.next_event().await {
                Event::Ended => return false,
                Event::Rules(n) => self.push(n),
                Event::Interface(n) => {
                    if n.category == Category::Providers {
                        self.interface_list = Some((n.urls, n.source));
                        return true;
                    }
                }
                Event::Changed => return true,
            }
        }
    }

    async fn next_event(&mut self) -> Event {
        let rules = async {
            match self.rules.as_mut() {
                Some(s) => s.next().await.map_or(Event::Ended, Event::Rules),
                None => std::future::pending().await,
            }
        };
        let interface = async {
            match self.interface.as_mut() {
                Some(s) => s.next().await.map_or(Event::Ended, Event::Interface),
                None => std::future::pending().await,
            }
        };
        let apps = futures::future::select_all(
            self.followed
                .values_mut()
                .map(|rx| {
                    async move {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    .boxed()
                })
                .chain(std::iter::once(std::future::pending().boxed())),
        );
        let hold = async {
            match self.hold_until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.sink.cancelled() => Event::Ended,
            _ = hold => Event::Changed,
            e = rules => e,
            e = interface => e,
            _ = node_changed(self.mapping.as_mut()) => Event::Changed,
            _ = node_changed(self.rule.as_mut()) => Event::Changed,
            _ = apps => Event::Changed,
        }
    }
}

/// Resolves when the followed node changes; never without one (or once its follower is gone).
async fn node_changed(watch: Option<&mut NodeWatch>) {
    if let Some(w) = watch
        && w.changed().await.is_ok()
    {
        return;
    }
    std::future::pending::<()>().await
}

/// What woke a [`Combiner`].
enum Event {
    /// The subscriber or the registry below is gone.
    Ended,
    /// A list of routers or configurators, forwarded as it is.
    Rules(Notification),
    /// A list of interface-level providers.
    Interface(Notification),
    /// The mapping, the migration rule or an application's instances.
    Changed,
}
