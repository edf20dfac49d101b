//! What the console follows beside the lists: the YAML rule nodes (live pages), the URL-style
//! rules of the services whose pages were asked for, and the condition routes that leave a
//! service without a provider (a warning on the services page).

use std::sync::Arc;
use std::time::Duration;

use zkdubbo_common::{Invocation, keys};
use zkdubbo_directory::{Directory, InertInvokerFactory, RegistryDirectory};
use zkdubbo_governance::{CONDITION_ROUTER_SUFFIX, rule_path};
use zkdubbo_registry::{ChildrenState, ConfigCenter, Registry};

use super::server::Console;

/// Services whose URL-style rules are followed at once; the one asked for least recently is
/// let go first.
const FOLLOWED_SERVICES: usize = 64;

/// The services whose URL-style rules are followed, least recently asked for first.
#[derive(Default)]
pub(super) struct Followed {
    services: std::collections::VecDeque<(String, tokio::task::JoinHandle<()>)>,
}

impl Followed {
    /// Stop following (the console is shutting down; the tasks hold the console).
    pub(super) fn stop(&mut self) {
        for (_, task) in self.services.drain(..) {
            task.abort();
        }
    }
}

/// Follow the URL-style rules (routers, configurators) of `service` from now on, in the model;
/// the first time, wait for them to be read, so its page shows them. Following them for every
/// service at once would double the `*` subscription's reads and watches, and a page opened
/// meanwhile would wait behind them (on 10,000 services, seconds).
pub(super) async fn follow_url_rules(console: &Arc<Console>, service: &str) {
    let mut followed = console.followed.lock().await;
    if let Some(at) = followed.services.iter().position(|(name, _)| name == service) {
        if let Some(entry) = followed.services.remove(at) {
            followed.services.push_back(entry);
        }
        return;
    }
    let mut subscription = match console
        .registry
        .subscribe(&crate::target::observer_url(service, "routers,configurators"))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%service, error = %e, "cannot follow the service's URL-style rules");
            return;
        }
    };
    // Both lists once (or as long as a registry read may take).
    let mut read = Vec::new();
    let first = tokio::time::timeout(console.registry.config().timeout, async {
        while read.len() < 2 {
            let Some(n) = subscription.next().await else { break };
            console.apply(&n);
            if !read.contains(&n.category) {
                read.push(n.category);
            }
        }
    });
    if first.await.is_err() {
        tracing::warn!(%service, "the service's URL-style rules are not read yet; they follow");
    }
    let task = {
        let console = Arc::clone(console);
        tokio::spawn(async move {
            while let Some(n) = subscription.next().await {
                console.apply(&n);
            }
        })
    };
    followed.services.push_back((service.to_owned(), task));
    while followed.services.len() > FOLLOWED_SERVICES {
        if let Some((name, task)) = followed.services.pop_front() {
            task.abort();
            console
                .model
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .forget_rules(&name);
        }
    }
}

/// The least time between two checks of the routes.
const ROUTE_CHECK_SPACING: Duration = Duration::from_secs(3);

/// Follow the YAML rule nodes (`<config root>/dubbo/*`): a node added, removed or changed is a
/// change of the page (a service's page reads its rules when it loads).
pub(super) async fn follow_rules(console: Arc<Console>) {
    let group = rule_path(console.registry.config_root(), "");
    let group = group.trim_end_matches('/').to_owned();
    let mut children = console.registry.watch_children(&group);
    let mut nodes: std::collections::HashMap<String, tokio::task::JoinHandle<()>> = std::collections::HashMap::new();
    loop {
        let names = match &*children.borrow_and_update() {
            ChildrenState::Present(names) => names.to_vec(),
            _ => Vec::new(),
        };
        *console.rule_nodes.write().unwrap_or_else(|e| e.into_inner()) = names.clone();
        nodes.retain(|name, task| {
            let keep = names.contains(name);
            if !keep {
                task.abort();
            }
            keep
        });
        for name in names {
            if nodes.contains_key(&name) {
                continue;
            }
            let mut node = console.registry.watch_node(&format!("{group}/{name}"));
            let console = Arc::clone(&console);
            nodes.insert(
                name,
                tokio::spawn(async move {
                    while node.changed().await.is_ok() {
                        console.rules_changed();
                    }
                }),
            );
        }
        console.rules_changed();
        if children.changed().await.is_err() {
            break;
        }
    }
    for task in nodes.into_values() {
        task.abort();
    }
}

/// Keep [`Console::route_warnings`]: after each change (settled for half a second, and at
/// least [`ROUTE_CHECK_SPACING`] after the last check), describe
/// every service that has a condition route as a consumer of this host and note the methods
/// left without a provider. Only services with routes are described, so a registry of 10,000
/// services with a handful of routes costs a handful of descriptions.
pub(super) async fn check_routes(console: Arc<Console>) {
    let mut changes = console.version.subscribe();
    let mut last: Option<tokio::time::Instant> = None;
    loop {
        if changes.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // A busy registry changes all the time: each check subscribes once per routed
        // service, so checks are spaced.
        if let Some(last) = last {
            tokio::time::sleep_until(last + ROUTE_CHECK_SPACING).await;
        }
        last = Some(tokio::time::Instant::now());
        changes.borrow_and_update();
        let routed: Vec<String> = {
            let nodes = console.rule_nodes.read().unwrap_or_else(|e| e.into_inner());
            let mut services: Vec<String> = nodes
                .iter()
                .filter_map(|n| n.strip_suffix(CONDITION_ROUTER_SUFFIX))
                .filter_map(|key| key.split(':').next())
                .map(str::to_owned)
                .collect();
            services.sort();
            services.dedup();
            services
        };
        let mut warnings = std::collections::BTreeMap::new();
        for service in routed {
            if let Some(why) = routes_leave_nothing(&console, &service).await {
                warnings.insert(
                    service,
                    vec![format!("routes leave every method without a provider ({why})")],
                );
            }
        }
        let changed = {
            let mut current = console.route_warnings.write().unwrap_or_else(|e| e.into_inner());
            let changed = *current != warnings;
            *current = warnings;
            changed
        };
        if changed {
            console.version.send_modify(|v| *v += 1);
        }
    }
}

/// Why a call of a consumer of this host (no arguments, no tag) gets no provider of `service`,
/// when the service has providers and the routes leave it none: the list a call gets, routers
/// and all, as `zkdubbo route --dry-run` computes it.
async fn routes_leave_nothing(console: &Console, service: &str) -> Option<String> {
    let host = zkdubbo_common::host::local_ip();
    let consumer = zkdubbo_common::Url::new(keys::CONSUMER_PROTOCOL, &host, None, service).with_params([
        (keys::INTERFACE, service),
        (keys::SIDE, keys::CONSUMER_SIDE),
        (keys::APPLICATION, "zkdubbo-console"),
        (keys::CHECK, "false"),
    ]);
    let registry: Arc<dyn Registry> = console.registry.clone();
    let directory = RegistryDirectory::builder(consumer, Arc::new(InertInvokerFactory))
        .subscribe(registry)
        .await
        .ok()?;
    directory.ready(Duration::from_secs(10)).await;
    let registered = directory.snapshot().counts().registered;
    let result = directory.list(&Invocation::new(keys::ANY_VALUE));
    directory.destroy();
    match result {
        Err(e) if registered > 0 => Some(e.to_string()),
        _ => None,
    }
}
