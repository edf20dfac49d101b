//! The refresh: from the latest list of each category to a new [`Snapshot`] —
//! configurators → merge → filter → invokers (shared by provider identity) → routers
//! (ARCHITECTURE: Directory, Snapshots).

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use zkdubbo_common::{Invoker, InvokerFactory, Url, keys, limits};
use zkdubbo_registry::{Category, Notification};

use crate::config_rules::{ConfigRules, DynamicRules};
use crate::configurator::Configurators;
use crate::error::{RuleError, ServiceInfo};
use crate::member::Member;
use crate::merge::merge_url;
use crate::registry_directory::subscription_url;
use crate::route::Members;
use crate::router::{ConditionRouter, Router, RouterChain};
use crate::snapshot::{Counts, Exclusion, Snapshot, SnapshotParts};
use crate::url_cache::{CacheEntry, UrlCache};

/// The refresh state: latest lists per category and everything re-used between rebuilds.
pub(crate) struct Core {
    consumer: Url,
    consumer_host: String,
    info: Arc<ServiceInfo>,
    factory: Arc<dyn InvokerFactory>,
    protocols: Option<Vec<String>>,
    multi_group: bool,
    providers: Option<Arc<[Url]>>,
    /// URL-style configurators (`/dubbo/<interface>/configurators`).
    url_configurators: Configurators,
    /// URL-style condition routers (`/dubbo/<interface>/routers`).
    url_routes: Vec<Arc<ConditionRouter>>,
    /// Rules from the config center.
    dynamic: DynamicRules,
    /// Every configurator in force, in Dubbo's precedence (URL-style, application, service).
    configurators: Arc<Configurators>,
    configurator_warnings: Vec<String>,
    generation: u64,
    chain: Arc<RouterChain>,
    router_warnings: Vec<String>,
    /// The rules that left some method with no provider at the last refresh (reported once).
    emptying_rules: Vec<String>,
    /// Parsed and merged provider URLs of the last list.
    cache: UrlCache,
    /// The listed members by identity: updated in place on each refresh, never rebuilt.
    members: FxHashMap<Arc<str>, Arc<Member>>,
    /// The members the last refresh listed.
    listed: Members,
    refresh: u64,
    version: u64,
    /// Categories received so far, and those subscribed.
    received: Vec<Category>,
    expected: Vec<Category>,
}

impl Core {
    pub(crate) fn new(consumer: Url, info: Arc<ServiceInfo>, factory: Arc<dyn InvokerFactory>) -> Self {
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
            protocols,
            multi_group,
            providers: None,
            url_configurators: Configurators::new(),
            url_routes: Vec::new(),
            dynamic: DynamicRules::default(),
            configurators: Arc::new(Configurators::new()),
            configurator_warnings: Vec::new(),
            generation: 0,
            chain: Arc::new(RouterChain::default()),
            router_warnings: Vec::new(),
            emptying_rules: Vec::new(),
            cache: UrlCache::default(),
            members: FxHashMap::default(),
            listed: Arc::from(Vec::new()),
            refresh: 0,
            version: 0,
            received: Vec::new(),
            expected,
        }
    }

    /// Take in one category's list; whether anything changed.
    pub(crate) fn apply(&mut self, n: &Notification) -> bool {
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
                self.providers = Some(urls);
            }
            Category::Configurators => {
                let (configurators, errors) = Configurators::parse(n.non_empty_urls());
                self.configurator_warnings = report(&self.info, errors);
                self.url_configurators = configurators;
                self.compose();
            }
            Category::Routers => {
                let (chain, errors) = RouterChain::parse(n.non_empty_urls());
                self.router_warnings = report(&self.info, errors);
                self.url_routes = chain.conditions().cloned().collect();
                self.compose();
            }
            Category::Consumers => return false,
        }
        true
    }

    /// Put the rules of config-center node `source` in force; whether anything changed (on
    /// error, logged by the caller, the node's previous rules stay).
    pub(crate) fn set_config_rules(&mut self, source: &str, rules: ConfigRules) -> Result<bool, RuleError> {
        if self.dynamic.unchanged_by(&rules, source) {
            return Ok(false);
        }
        let interface = self.consumer.interface().to_owned();
        self.dynamic.set(&interface, source, rules)?;
        self.compose();
        Ok(true)
    }

    /// Record that node `source` holds a rule that does not parse; returns the error to log.
    pub(crate) fn refuse_config_node(&mut self, source: &str, message: String) -> RuleError {
        self.dynamic.refuse(source, message)
    }

    /// Configurators and routers from the URL-style rules and the config center's, in
    /// Dubbo's precedence and order.
    fn compose(&mut self) {
        self.configurators = Arc::new(Configurators::chain([
            &self.url_configurators,
            &self.dynamic.app_configurators,
            &self.dynamic.service_configurators,
        ]));
        self.generation += 1;
        let routers: Vec<Router> = self
            .url_routes
            .iter()
            .cloned()
            .map(Router::Condition)
            .chain(self.dynamic.routes.iter().flatten().cloned())
            .collect();
        self.chain = Arc::new(RouterChain::with_routers(routers, self.dynamic.tags.clone()));
    }

    /// Rebuild the snapshot from the latest lists; also returns invokers of providers that left.
    pub(crate) fn rebuild(&mut self, prev: Option<&Snapshot>) -> (Snapshot, Vec<Arc<dyn Invoker>>) {
        let started = std::time::Instant::now();
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
            // Nothing to call: `describe` (whose invokers connect nowhere) would count it as
            // usable, and a call would pick it only to fail.
            if raw.host().is_empty() || raw.protocol() == keys::EMPTY_PROTOCOL {
                counts.no_address += 1;
                excluded.push((raw.clone(), Exclusion::NoAddress));
                continue;
            }
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
                        // A transport reads a call's parameters (timeout, headers) from its
                        // invoker's URL: new parameters, a new invoker. Transports share
                        // connections by address, so the connection stays.
                        let invoker = if m.url() == url {
                            m.invoker().clone()
                        } else {
                            match self.factory.create(url) {
                                Ok(invoker) => {
                                    m.retire();
                                    invoker
                                }
                                Err(e) => {
                                    tracing::warn!(provider = %raw, error = %e, "cannot make an invoker for the provider's new parameters; calls keep the old ones");
                                    m.invoker().clone()
                                }
                            }
                        };
                        let updated = Arc::new(Member::update(
                            &m,
                            url.clone(),
                            raw.clone(),
                            entry.identity.clone(),
                            invoker,
                        ));
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
        let groups = if self.multi_group {
            self.group_snapshots(&providers, prev)
        } else {
            Vec::new()
        };
        let snapshot = Snapshot::build(
            SnapshotParts {
                version: self.version,
                consumer: self.consumer.clone(),
                info: self.info.clone(),
                providers,
                chain: self.chain.clone(),
                configurators: self.configurators.clone(),
                counts,
                notified,
                complete: self.expected.iter().all(|c| self.received.contains(c)),
                excluded: Arc::from(excluded),
                warnings: self
                    .configurator_warnings
                    .iter()
                    .chain(self.router_warnings.iter())
                    .chain(self.dynamic.refused.values())
                    .cloned()
                    .collect(),
                groups,
            },
            prev,
        );
        self.report_emptying_rules(&snapshot);
        crate::metrics::refreshed(
            &self.consumer.service_key(),
            &snapshot,
            started.elapsed(),
            self.chain.routers().len(),
            self.configurators.rules().len(),
        );
        (snapshot, gone)
    }

    /// A rule that leaves a method with no provider is the operator's intent and stays in
    /// force, but it is logged, naming the rule and the methods, once each time the set of
    /// such rules changes (not on every refresh).
    fn report_emptying_rules(&mut self, snapshot: &Snapshot) {
        let mut emptied: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        if !snapshot.providers().is_empty() {
            let any = std::iter::once((keys::ANY_VALUE, snapshot.method_route(keys::ANY_VALUE)));
            for (method, route) in snapshot.methods().chain(any) {
                let base = route.base();
                if base.providers().is_empty()
                    && let Some(rule) = base.emptied_by()
                {
                    emptied.entry(rule).or_default().push(method);
                }
            }
        }
        let now: Vec<String> = emptied.keys().map(|r| (*r).to_owned()).collect();
        if now == self.emptying_rules {
            return;
        }
        for (rule, methods) in &emptied {
            if !self.emptying_rules.iter().any(|r| r == rule) {
                tracing::warn!(
                    service = %self.info,
                    %rule,
                    ?methods,
                    "a routing rule leaves no provider for these methods (calls fail until it changes)"
                );
            }
        }
        self.emptying_rules = now;
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
                        complete: true,
                        excluded: Arc::from(Vec::new()),
                        warnings: Arc::from(Vec::new()),
                        groups: Vec::new(),
                    },
                    prev_group,
                );
                (Arc::from(group), Arc::new(snap))
            })
            .collect()
    }

    /// Release every member's invoker and return the directory's final snapshot.
    pub(crate) fn destroy(&mut self) -> Snapshot {
        self.version += 1;
        self.listed = Arc::from(Vec::new());
        for (_, m) in self.members.drain() {
            m.invoker().destroy();
        }
        Snapshot::destroyed(self.consumer.clone(), self.info.clone(), self.version)
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
    limits::read_bool(url, keys::DISABLED, false) || !limits::read_bool(url, keys::ENABLED, true)
}
