//! A serde view of a directory snapshot, for operators (`zkdubbo describe`) and logs.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use zkdubbo_common::{Invocation, Url, keys};

use crate::merge::merge_url;
use crate::route::MethodRoute;
use crate::router::{Router, RouterScope};
use crate::snapshot::{Counts, Exclusion, Snapshot};

/// What a consumer sees: providers after configurators and routers, the rules in force, the
/// per-method lists, version and time of the last change.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Description {
    /// The interface.
    pub service: String,
    /// The consumer's group.
    pub group: Option<String>,
    /// The consumer's version.
    pub version: Option<String>,
    /// The registry.
    pub registry: String,
    /// The consumer URL.
    pub consumer: String,
    /// The snapshot version (increases on every change).
    pub snapshot_version: u64,
    /// When the snapshot was built, in ms since the epoch.
    pub changed_at_ms: u64,
    /// Whether the provider list was received.
    pub notified: bool,
    /// Registered and excluded counts.
    pub counts: Counts,
    /// Usable providers (before routing) with their merged, configured URL.
    pub providers: Vec<ProviderView>,
    /// Registered providers left out, and why.
    pub excluded: Vec<ExcludedView>,
    /// Configurator rules in force, in application order.
    pub configurators: Vec<String>,
    /// Routers in force, in order.
    pub routers: Vec<RouterView>,
    /// Per method (`*` for methods no provider declares): the providers a call gets.
    pub methods: BTreeMap<String, MethodView>,
    /// Groups of a multi-group consumer.
    pub groups: Vec<String>,
    /// Rules that were ignored, with the reason.
    pub warnings: Vec<String>,
}

/// One usable provider.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderView {
    /// `host:port`.
    pub address: String,
    /// The URL after merge and configurators.
    pub url: String,
    /// The URL as registered.
    pub registered: String,
    /// Whether its invoker reports itself available.
    pub available: bool,
    /// The discovery level it came from: `interface` (`/dubbo/<interface>/providers`) or
    /// `application` (a Dubbo 3 application instance).
    pub level: &'static str,
    /// What the configurators changed, and where each rule came from
    /// (`weight=200 from /dubbo/config/dubbo/com.foo.Bar::.configurators`).
    pub changed_by: Vec<String>,
}

/// One excluded provider.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExcludedView {
    /// The URL as registered.
    pub url: String,
    /// Why it is left out.
    pub reason: Exclusion,
}

/// One router.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouterView {
    /// The rule URL, or `tag router`.
    pub name: String,
    /// The decoded condition, for condition routers.
    pub rule: Option<String>,
    /// Priority.
    pub priority: i64,
    /// `force`.
    pub force: bool,
    /// When it is evaluated.
    pub scope: RouterScope,
}

/// What a call of one method gets.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MethodView {
    /// Addresses of the providers a call without arguments, attachments or a call tag gets
    /// (the consumer's own `dubbo.tag` applies).
    pub providers: Vec<String>,
    /// Set when further routing happens per call, naming what it depends on.
    pub per_call: Option<String>,
    /// Why a call gets no provider, when it gets none.
    pub no_provider: Option<String>,
}

impl Description {
    /// Describe `snap`.
    pub fn of(snap: &Snapshot) -> Description {
        let info = snap.info();
        let mut methods = BTreeMap::new();
        let mut names: Vec<&str> = snap.methods().map(|(m, _)| m).collect();
        names.sort_unstable();
        for name in names.into_iter().chain(std::iter::once("*")) {
            methods.insert(name.to_owned(), method_view(snap, name));
        }
        Description {
            service: info.service.clone(),
            group: info.group.clone(),
            version: info.version.clone(),
            registry: info.registry.clone(),
            consumer: snap.consumer().to_string(),
            snapshot_version: snap.version(),
            changed_at_ms: snap
                .changed_at()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            notified: snap.is_notified(),
            counts: snap.counts().clone(),
            providers: snap
                .providers()
                .iter()
                .map(|m| ProviderView {
                    address: m.url().address(),
                    url: m.url().to_string(),
                    registered: m.registered_url().to_string(),
                    available: m.invoker().is_available(),
                    level: match m.registered_url().param(keys::DISCOVERY_LEVEL) {
                        Some("application") => "application",
                        _ => "interface",
                    },
                    changed_by: changed_by(snap, m.registered_url()),
                })
                .collect(),
            excluded: snap
                .excluded()
                .iter()
                .map(|(u, r)| ExcludedView {
                    url: u.to_string(),
                    reason: *r,
                })
                .collect(),
            configurators: snap
                .configurators()
                .rules()
                .iter()
                .map(|c| match c.source() {
                    Some(node) => format!("{} (from {node})", c.url()),
                    None => c.url().to_string(),
                })
                .collect(),
            routers: snap
                .routers()
                .routers()
                .iter()
                .map(|r| RouterView {
                    name: r.name(),
                    rule: match r {
                        Router::Condition(c) => Some(c.expression().to_owned()),
                        Router::Weighted(_) | Router::Tag(_) => None,
                    },
                    priority: r.priority(),
                    force: match r {
                        Router::Condition(c) => c.force(),
                        Router::Weighted(w) => w.force(),
                        Router::Tag(t) => t.as_ref().is_some_and(|t| t.rule.base.force),
                    },
                    scope: r.scope(),
                })
                .collect(),
            methods,
            groups: snap.groups().iter().map(|(g, _)| g.to_string()).collect(),
            warnings: snap.warnings().to_vec(),
        }
    }

    /// A plain-text rendering for terminals.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "service {} (group {}, version {}) on {}",
            self.service,
            self.group.as_deref().unwrap_or("-"),
            self.version.as_deref().unwrap_or("-"),
            self.registry
        );
        let _ = writeln!(
            s,
            "snapshot v{} (changed at {} ms since the epoch): {} registered, {} usable, {} disabled, {} filtered by \
             protocol, {} invoker failures",
            self.snapshot_version,
            self.changed_at_ms,
            self.counts.registered,
            self.providers.len(),
            self.counts.disabled,
            self.counts.filtered_by_protocol,
            self.counts.invoker_failed
        );
        if !self.notified {
            let _ = writeln!(s, "(the registry has not delivered the provider list)");
        }
        let _ = writeln!(s, "providers:");
        for p in &self.providers {
            let _ = writeln!(s, "  {}  [{}]  {}", p.address, p.level, p.url);
            for c in &p.changed_by {
                let _ = writeln!(s, "    {c}");
            }
        }
        if !self.excluded.is_empty() {
            let _ = writeln!(s, "excluded:");
            for e in &self.excluded {
                let _ = writeln!(s, "  {:?}  {}", e.reason, e.url);
            }
        }
        if !self.configurators.is_empty() {
            let _ = writeln!(s, "configurators:");
            for c in &self.configurators {
                let _ = writeln!(s, "  {c}");
            }
        }
        let _ = writeln!(s, "routers:");
        for r in &self.routers {
            let _ = writeln!(
                s,
                "  [{}] {:?}{} {}{}",
                r.priority,
                r.scope,
                if r.force { " force" } else { "" },
                r.name,
                r.rule.as_ref().map(|x| format!("  ({x})")).unwrap_or_default()
            );
        }
        let _ = writeln!(s, "methods:");
        for (m, v) in &self.methods {
            let list = if v.providers.is_empty() {
                "(none)".to_owned()
            } else {
                v.providers.join(", ")
            };
            let _ = writeln!(s, "  {m}: {list}");
            if let Some(p) = &v.per_call {
                let _ = writeln!(s, "    then per call: {p}");
            }
            if let Some(p) = &v.no_provider {
                let _ = writeln!(s, "    no provider: {p}");
            }
        }
        if !self.groups.is_empty() {
            let _ = writeln!(s, "groups: {}", self.groups.join(", "));
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }

    /// Keep only `method` (and not the other per-method lists).
    pub fn only_method(mut self, method: &str) -> Self {
        let view = self
            .methods
            .remove(method)
            .or_else(|| self.methods.remove("*"))
            .map(|v| (method.to_owned(), v));
        self.methods = view.into_iter().collect();
        self
    }
}

fn method_view(snap: &Snapshot, method: &str) -> MethodView {
    let route = snap.method_route(method);
    let per_call = match &**route {
        MethodRoute::Fixed(_) => None,
        MethodRoute::Tagged { groups, .. } => groups
            .has_tags()
            .then(|| format!("tag router (tags: {})", groups.tags().collect::<Vec<_>>().join(", "))),
        MethodRoute::PerCall { from, .. } => Some(
            snap.routers().routers()[*from..]
                .iter()
                .map(Router::name)
                .collect::<Vec<_>>()
                .join(" then "),
        ),
    };
    let inv = Invocation::new(method);
    let (providers, no_provider) = match &**route {
        MethodRoute::PerCall { base, .. } => (
            base.providers().iter().map(|m| m.url().address()).collect(),
            base.providers()
                .is_empty()
                .then(|| snap.no_provider(&inv, base.emptied_by()).reason.to_string()),
        ),
        _ => match snap.list(&inv) {
            Ok(l) => (l.iter().map(|m| m.url().address()).collect(), None),
            Err(e) => (Vec::new(), Some(e.reason.to_string())),
        },
    };
    MethodView {
        providers,
        per_call,
        no_provider,
    }
}

/// Replay the configurators over `registered` (merged with the consumer's parameters, as a
/// refresh does) and say which rule set which parameter: computed when described, so the
/// refresh does not pay for it.
fn changed_by(snap: &Snapshot, registered: &Url) -> Vec<String> {
    let consumer = snap.consumer();
    let host = consumer.host();
    let mut current = merge_url(registered, consumer.params());
    let mut out = Vec::new();
    for rule in snap.configurators().rules() {
        if !rule.matches(&current, host) {
            continue;
        }
        let next = rule.configure(current.clone(), host);
        for (k, v) in rule.parameters() {
            if current.param(k) != next.param(k) {
                let from = rule.source().map_or_else(|| rule.url().to_string(), str::to_owned);
                out.push(format!("{k}={v} from {from}"));
            }
        }
        current = next;
    }
    out
}
