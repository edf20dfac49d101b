//! What the console follows beside the lists: the YAML rule nodes (live pages), and the
//! condition routes that leave a service without a provider (a warning on the services page).

use std::sync::Arc;
use std::time::Duration;

use zkdubbo_common::{Invocation, keys};
use zkdubbo_directory::{Directory, InertInvokerFactory, RegistryDirectory};
use zkdubbo_governance::{CONDITION_ROUTER_SUFFIX, rule_path};
use zkdubbo_registry::{ChildrenState, ConfigCenter, Registry};

use super::server::Console;

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
