//! Following the config center's rule nodes for one directory (ARCHITECTURE: Governance
//! rules): one task per node, parsing each new text and putting it in force, or keeping the
//! previous rules with one warning naming the node when it does not parse. The provider
//! application's nodes (tag rule, provider-application routes) are followed once the
//! providers name their application, and switched when it changes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use tokio::task::JoinHandle;
use zkdubbo_common::{Url, keys};
use zkdubbo_governance::{
    CONDITION_ROUTER_SUFFIX, CONFIGURATORS_SUFFIX, ConditionRule, RuleParseError, TAG_ROUTER_SUFFIX, TagRule,
    parse_configurators, rule_path, service_rule_key,
};
use zkdubbo_registry::{NodeState, NodeWatch, Registry};

use crate::config_rules::ConfigRules;
use crate::registry_directory::Inner;

/// Which slot a node feeds, and how its text is read.
#[derive(Debug, Clone, Copy)]
enum Slot {
    AppConfigurators,
    ServiceConfigurators,
    ServiceRoutes,
    ProviderAppRoutes,
    AppRoutes,
    Tags,
}

impl Slot {
    fn parse(self, text: &str) -> Result<ConfigRules, RuleParseError> {
        Ok(match self {
            Slot::AppConfigurators => ConfigRules::AppConfigurators(parse_configurators(text)?),
            Slot::ServiceConfigurators => ConfigRules::ServiceConfigurators(parse_configurators(text)?),
            Slot::ServiceRoutes => ConfigRules::ServiceRoutes(Some(ConditionRule::parse(text)?)),
            Slot::ProviderAppRoutes => ConfigRules::ProviderAppRoutes(Some(ConditionRule::parse(text)?)),
            Slot::AppRoutes => ConfigRules::AppRoutes(Some(ConditionRule::parse(text)?)),
            Slot::Tags => ConfigRules::Tags(Some(TagRule::parse(text)?)),
        })
    }

    fn cleared(self) -> ConfigRules {
        match self {
            Slot::AppConfigurators => ConfigRules::AppConfigurators(Vec::new()),
            Slot::ServiceConfigurators => ConfigRules::ServiceConfigurators(Vec::new()),
            Slot::ServiceRoutes => ConfigRules::ServiceRoutes(None),
            Slot::ProviderAppRoutes => ConfigRules::ProviderAppRoutes(None),
            Slot::AppRoutes => ConfigRules::AppRoutes(None),
            Slot::Tags => ConfigRules::Tags(None),
        }
    }
}

/// Start following the rule nodes of `inner`'s consumer in `registry`'s config center (if it
/// has one); the tasks end with the directory.
pub(crate) fn start(inner: &Arc<Inner>, registry: &Arc<dyn Registry>) -> Vec<JoinHandle<()>> {
    let Some(cc) = registry.config_center() else {
        return Vec::new();
    };
    let consumer = &inner.consumer;
    let root = cc.config_root().to_owned();
    let service = service_rule_key(consumer.interface(), consumer.version(), consumer.group());
    let mut nodes = vec![
        (Slot::ServiceConfigurators, format!("{service}{CONFIGURATORS_SUFFIX}")),
        (Slot::ServiceRoutes, format!("{service}{CONDITION_ROUTER_SUFFIX}")),
    ];
    if let Some(app) = consumer.param(keys::APPLICATION).filter(|a| !a.is_empty()) {
        nodes.push((Slot::AppConfigurators, format!("{app}{CONFIGURATORS_SUFFIX}")));
        nodes.push((Slot::AppRoutes, format!("{app}{CONDITION_ROUTER_SUFFIX}")));
    }
    let mut tasks: Vec<JoinHandle<()>> = nodes
        .into_iter()
        .map(|(slot, key)| {
            let path = rule_path(&root, &key);
            spawn_node(inner, slot, cc.watch_node(&path), path)
        })
        .collect();
    tasks.push(tokio::spawn(follow_provider_app(
        Arc::downgrade(inner),
        Arc::clone(registry),
        root,
    )));
    tasks
}

fn spawn_node(inner: &Arc<Inner>, slot: Slot, watch: NodeWatch, path: String) -> JoinHandle<()> {
    inner.rules_pending.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(follow_node(Arc::downgrade(inner), slot, watch, path))
}

async fn follow_node(inner: Weak<Inner>, slot: Slot, mut watch: NodeWatch, path: String) {
    let mut first = true;
    loop {
        let state = watch.borrow_and_update().clone();
        let Some(inner) = inner.upgrade() else { return };
        if inner.destroyed.load(Ordering::Acquire) {
            return;
        }
        let known = state != NodeState::Unknown;
        match state {
            NodeState::Unknown => {}
            NodeState::Absent => {
                if let Err(e) = inner.set_config_rules(&path, slot.cleared()) {
                    tracing::warn!(service = %inner.consumer.interface(), "{e}");
                }
            }
            NodeState::Present { text, .. } => {
                let result = match slot.parse(&text) {
                    Ok(rules) => inner.set_config_rules(&path, rules),
                    Err(e) => Err(inner.refuse_config_node(&path, e.to_string())),
                };
                match result {
                    Ok(()) => tracing::info!(node = %path, "rule in force"),
                    Err(e) => tracing::warn!(service = %inner.consumer.interface(), "{e}"),
                }
            }
        }
        if first && known {
            first = false;
            inner.rules_pending.fetch_sub(1, Ordering::AcqRel);
            inner.changes.send_modify(|_| {});
        }
        drop(inner);
        if watch.changed().await.is_err() {
            return;
        }
    }
}

/// The application of the providers (Dubbo takes the first invoker's `remote.application`).
fn provider_app(inner: &Inner) -> Option<String> {
    let snapshot = inner.snapshot.load();
    let listed = snapshot.providers().iter().map(|m| m.registered_url());
    let excluded = snapshot.excluded().iter().map(|(u, _)| u);
    listed
        .chain(excluded)
        .find_map(|u: &Url| u.param(keys::APPLICATION).filter(|a| !a.is_empty()))
        .map(str::to_owned)
}

async fn follow_provider_app(inner: Weak<Inner>, registry: Arc<dyn Registry>, root: String) {
    let Some(mut changes) = inner.upgrade().map(|i| i.changes.subscribe()) else {
        return;
    };
    let mut current: Option<String> = None;
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    loop {
        {
            let Some(strong) = inner.upgrade() else { break };
            let app = provider_app(&strong);
            if app.is_some() && app != current {
                for t in tasks.drain(..) {
                    t.abort();
                }
                if let (Some(app), Some(cc)) = (&app, registry.config_center()) {
                    tracing::debug!(application = %app, "following the provider application's rules");
                    for (slot, key) in [
                        (Slot::Tags, format!("{app}{TAG_ROUTER_SUFFIX}")),
                        (Slot::ProviderAppRoutes, format!("{app}{CONDITION_ROUTER_SUFFIX}")),
                    ] {
                        let path = rule_path(&root, &key);
                        tasks.push(spawn_node(&strong, slot, cc.watch_node(&path), path));
                    }
                }
                current = app;
            }
        }
        if changes.changed().await.is_err() {
            break;
        }
    }
    for t in tasks {
        t.abort();
    }
}
