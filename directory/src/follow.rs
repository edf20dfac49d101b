//! Following the config center's rule nodes for one directory (ARCHITECTURE: Governance
//! rules): one task for all its nodes, parsing each new text and putting it in force, or keeping the
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
use zkdubbo_registry::{ConfigCenter, NodeState, NodeWatch, Registry};

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
/// has one): one task for all of them (a directory follows up to six nodes, and a consumer
/// of a thousand services has a thousand directories); it ends with the directory.
pub(crate) fn start(inner: &Arc<Inner>, registry: &Arc<dyn Registry>) -> Vec<JoinHandle<()>> {
    let Some(cc) = registry.config_center() else {
        return Vec::new();
    };
    let consumer = &inner.consumer;
    let root = cc.config_root().to_owned();
    let service = service_rule_key(consumer.interface(), consumer.version(), consumer.group());
    let mut keys = vec![
        (Slot::ServiceConfigurators, format!("{service}{CONFIGURATORS_SUFFIX}")),
        (Slot::ServiceRoutes, format!("{service}{CONDITION_ROUTER_SUFFIX}")),
    ];
    if let Some(app) = consumer.param(keys::APPLICATION).filter(|a| !a.is_empty()) {
        keys.push((Slot::AppConfigurators, format!("{app}{CONFIGURATORS_SUFFIX}")));
        keys.push((Slot::AppRoutes, format!("{app}{CONDITION_ROUTER_SUFFIX}")));
    }
    let nodes = keys
        .into_iter()
        .map(|(slot, key)| Followed::new(inner, cc, slot, rule_path(&root, &key), false))
        .collect();
    vec![tokio::spawn(follow(
        Arc::downgrade(inner),
        Arc::clone(registry),
        root,
        nodes,
    ))]
}

/// One followed node.
struct Followed {
    slot: Slot,
    path: String,
    watch: NodeWatch,
    /// Counted in `rules_pending` until its state is first known.
    pending: bool,
    /// A node of the provider application (switched when it changes).
    provider_app: bool,
    /// Its watch reported a change not applied yet (`changed()` marks it seen).
    dirty: bool,
}

impl Followed {
    fn new(inner: &Inner, cc: &dyn ConfigCenter, slot: Slot, path: String, provider_app: bool) -> Followed {
        inner.rules_pending.fetch_add(1, Ordering::AcqRel);
        Followed {
            slot,
            watch: cc.watch_node(&path),
            path,
            pending: true,
            provider_app,
            dirty: true,
        }
    }

    /// Put the node's current state in force (if known), once per change.
    fn apply(&mut self, inner: &Inner) {
        self.dirty = false;
        let state = self.watch.borrow_and_update().clone();
        match state {
            NodeState::Unknown => return,
            NodeState::Absent => {
                if let Err(e) = inner.set_config_rules(&self.path, self.slot.cleared()) {
                    tracing::warn!(service = %inner.consumer.interface(), "{e}");
                }
            }
            NodeState::Present { text, .. } => {
                let result = match self.slot.parse(&text) {
                    Ok(rules) => inner.set_config_rules(&self.path, rules),
                    Err(e) => Err(inner.refuse_config_node(&self.path, e.to_string())),
                };
                match result {
                    Ok(()) => tracing::info!(node = %self.path, "rule in force"),
                    Err(e) => tracing::warn!(service = %inner.consumer.interface(), "{e}"),
                }
            }
        }
        if self.pending {
            self.settle(inner);
            // `ready()` waits for every node's first state.
            inner.changes.send_modify(|_| {});
        }
    }

    /// No longer counted as pending (its state is known, or it is no longer followed).
    fn settle(&mut self, inner: &Inner) {
        if std::mem::take(&mut self.pending) {
            inner.rules_pending.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

async fn follow(inner: Weak<Inner>, registry: Arc<dyn Registry>, root: String, mut nodes: Vec<Followed>) {
    let Some(mut changes) = inner.upgrade().map(|i| i.changes.subscribe()) else {
        return;
    };
    let mut current_app: Option<String> = None;
    loop {
        {
            let Some(strong) = inner.upgrade() else { return };
            if strong.destroyed.load(Ordering::Acquire) {
                return;
            }
            for node in &mut nodes {
                if node.dirty || node.watch.has_changed().unwrap_or(false) {
                    node.apply(&strong);
                }
            }
            let app = provider_app(&strong);
            if app.is_some() && app != current_app {
                if let (Some(app), Some(cc)) = (&app, registry.config_center()) {
                    tracing::debug!(application = %app, "following the provider application's rules");
                    for node in nodes.iter_mut().filter(|n| n.provider_app) {
                        node.settle(&strong);
                    }
                    nodes.retain(|n| !n.provider_app);
                    for (slot, key) in [
                        (Slot::Tags, format!("{app}{TAG_ROUTER_SUFFIX}")),
                        (Slot::ProviderAppRoutes, format!("{app}{CONDITION_ROUTER_SUFFIX}")),
                    ] {
                        let mut node = Followed::new(&strong, cc, slot, rule_path(&root, &key), true);
                        node.apply(&strong);
                        nodes.push(node);
                    }
                }
                current_app = app;
            }
        }
        // The next change of a node, or of the snapshot (the providers may name another
        // application). A node whose registry is gone is no longer followed.
        let woke = if nodes.is_empty() {
            Woke::Snapshot(changes.changed().await.is_err())
        } else {
            let node_changes = nodes.iter_mut().map(|n| Box::pin(n.watch.changed()));
            tokio::select! {
                (changed, i, _) = futures::future::select_all(node_changes) => Woke::Node(i, changed.is_err()),
                changed = changes.changed() => Woke::Snapshot(changed.is_err()),
            }
        };
        match woke {
            Woke::Snapshot(true) => return,
            Woke::Node(i, true) => {
                let mut gone = nodes.swap_remove(i);
                if let Some(strong) = inner.upgrade() {
                    gone.settle(&strong);
                }
            }
            Woke::Node(i, false) => nodes[i].dirty = true,
            Woke::Snapshot(false) => {}
        }
    }
}

/// What ended a wait of [`follow`]: a node changed (or its registry is gone: `true`), or
/// the snapshot did (or the directory is gone: `true`).
enum Woke {
    Node(usize, bool),
    Snapshot(bool),
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
