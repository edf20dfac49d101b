//! The console's HTTP side: the page, the read API, the event stream; the writes are in
//! `writes.rs`, what follows ZooKeeper beyond the lists in `follow.rs`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;
use zkdubbo_registry::Registry;

use super::follow::{Followed, check_routes, follow_rules, follow_url_rules};
use super::model::{Model, RuleView};
use super::writes::{delete_route, delete_tag, set_disabled, set_route, set_tag, set_weight};
use crate::commands::describe::DescribeArgs;
use crate::target::{SessionArgs, Target, observer_url};
use zkdubbo::app_discovery::MigrationStep;
use zkdubbo_governance::{
    CONDITION_ROUTER_SUFFIX, CONFIGURATORS_SUFFIX, TAG_ROUTER_SUFFIX, rule_path, service_rule_key,
};
use zkdubbo_registry::ConfigCenter;

const PAGE: &str = include_str!("page.html");

/// Children of the root that are Dubbo's own, not services: the config center's group, Dubbo
/// 3's metadata reports and service-name mapping.
const NOT_SERVICES: &[&str] = &["config", "metadata", "mapping"];

/// Arguments of `zkdubbo console`.
#[derive(clap::Args, Debug)]
pub struct ConsoleArgs {
    /// Address to serve the page on (keep it on loopback unless others must reach it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Show, never write: no actions on the page, and the API refuses them.
    #[arg(long)]
    pub read_only: bool,
    /// Writes need this token (the page asks for it), sent as `Authorization: Bearer <T>`.
    #[arg(long, env = "ZKDUBBO_CONSOLE_TOKEN")]
    pub token: Option<String>,
}

pub(super) struct Console {
    pub(super) target: Target,
    pub(super) registry: Arc<zkdubbo_registry::ZookeeperRegistry>,
    pub(super) model: RwLock<Model>,
    /// Bumped on every change the page shows: lists, and the YAML rules' nodes.
    pub(super) version: watch::Sender<u64>,
    pub(super) read_only: bool,
    pub(super) token: Option<String>,
    /// Bumped on every change of a YAML rule node (with `version`).
    pub(super) rules_version: std::sync::atomic::AtomicU64,
    /// The consumer view last computed per service, with the versions it was computed at
    /// (a service's lists, the rules): a page reloaded for a change elsewhere reuses it.
    pub(super) described: std::sync::Mutex<std::collections::HashMap<String, (u64, u64, serde_json::Value)>>,
    /// Until every list has been read once (the page says the counts are still coming).
    pub(super) counting: std::sync::atomic::AtomicBool,
    /// The YAML rule nodes there are, by name (kept by [`follow_rules`]).
    pub(super) rule_nodes: RwLock<Vec<String>>,
    /// What the condition routes of a service leave without a provider, for a consumer of
    /// this host (kept by [`check_routes`]).
    pub(super) route_warnings: RwLock<std::collections::BTreeMap<String, Vec<String>>>,
    /// The services whose URL-style rules are followed (kept by [`follow_url_rules`]).
    pub(super) followed: tokio::sync::Mutex<Followed>,
}

/// Follow the registry and serve the console until interrupted.
pub async fn run(target: &Target, args: &ConsoleArgs, out: &mut (dyn std::io::Write + Send)) -> anyhow::Result<()> {
    let registry = target.registry(&SessionArgs::default()).await?;
    let mut model = Model::default();
    // The services by name in one read, so the page shows them at once; their lists follow.
    match registry.services().await {
        Ok(names) => model.seed_names(names.into_iter().filter(|n| !NOT_SERVICES.contains(&n.as_str()))),
        Err(e) => tracing::warn!(error = %e, "cannot list the services at start; following them as they come"),
    }
    let console = Arc::new(Console {
        target: target.clone(),
        registry: Arc::clone(&registry),
        model: RwLock::new(model),
        version: watch::channel(0).0,
        read_only: args.read_only,
        token: args.token.clone().filter(|t| !t.is_empty()),
        rule_nodes: RwLock::new(Vec::new()),
        counting: std::sync::atomic::AtomicBool::new(true),
        rules_version: std::sync::atomic::AtomicU64::new(0),
        described: std::sync::Mutex::new(std::collections::HashMap::new()),
        route_warnings: RwLock::new(std::collections::BTreeMap::new()),
        followed: tokio::sync::Mutex::new(Followed::default()),
    });
    // Every list in one pipelined read first (the counts are complete as soon as it is), then
    // the subscription, which reads them again one by one as it sets its watches and follows
    // them from then on. The services page needs providers and consumers of every service; a
    // service's URL-style rules are followed from the first time its page is asked for.
    let follower = {
        let console = Arc::clone(&console);
        tokio::spawn(async move {
            match console.registry.lookup(&observer_url("*", "providers,consumers")).await {
                Ok(urls) => console.model.write().unwrap_or_else(|e| e.into_inner()).seed(urls),
                Err(e) => tracing::warn!(error = %e, "cannot read the lists at start; following them as they come"),
            }
            console.counting.store(false, std::sync::atomic::Ordering::Release);
            console.version.send_modify(|v| *v += 1);
            let mut subscription = match console
                .registry
                .subscribe(&observer_url("*", "providers,consumers"))
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot follow the registry: the page will not change by itself");
                    return;
                }
            };
            while let Some(n) = subscription.next().await {
                console.apply(&n);
            }
        })
    };
    let rules = tokio::spawn(follow_rules(Arc::clone(&console)));
    let routes = tokio::spawn(check_routes(Arc::clone(&console)));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr()?;
    writeln!(
        out,
        "zkdubbo console at http://{local}/ for ZooKeeper {}{}",
        target.zk, target.root
    )?;
    out.flush()?;
    if !local.ip().is_loopback() && console.token.is_none() && !console.read_only {
        tracing::warn!(%local, "the console accepts writes from the network without a token: pass --token or --read-only");
    }
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/config", get(config))
        .route("/api/services", get(services))
        .route("/api/services/{name}", get(service))
        .route("/api/describe/{name}", get(describe))
        .route("/api/events", get(events))
        .route("/api/weight", post(set_weight))
        .route("/api/disable", post(set_disabled))
        .route("/api/route", post(set_route))
        .route("/api/route/delete", post(delete_route))
        .route("/api/tag", post(set_tag))
        .route("/api/tag/delete", post(delete_tag))
        .with_state(Arc::clone(&console));
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(zkdubbo::shutdown_signal());
    let result = served.await;
    follower.abort();
    rules.abort();
    routes.abort();
    console.followed.lock().await.stop();
    registry.shutdown().await;
    result.map_err(Into::into)
}

async fn config(State(console): State<Arc<Console>>) -> Response {
    Json(serde_json::json!({
        "read_only": console.read_only,
        "token_required": console.token.is_some(),
        "registry": format!("{}{}", console.target.zk, console.target.root),
    }))
    .into_response()
}

async fn services(State(console): State<Arc<Console>>) -> Response {
    let (version, mut rows) = {
        let model = console.model.read().unwrap_or_else(|e| e.into_inner());
        (model.version, model.rows())
    };
    let routes = console.route_warnings.read().unwrap_or_else(|e| e.into_inner());
    for row in &mut rows {
        if let Some(w) = routes.get(&row.name) {
            row.warnings.extend(w.iter().cloned());
        }
    }
    drop(routes);
    let counting = console.counting.load(std::sync::atomic::Ordering::Acquire);
    Json(serde_json::json!({ "version": version, "counting": counting, "services": rows })).into_response()
}

async fn service(State(console): State<Arc<Console>>, Path(name): Path<String>) -> Response {
    let model = || console.model.read().unwrap_or_else(|e| e.into_inner());
    // Only a service the registry lists is followed (a page cannot make up subscriptions).
    if model().changed(&name).is_some() {
        follow_url_rules(&console, &name).await;
    }
    let view = model().service(&name);
    let Some(mut view) = view else {
        return (StatusCode::NOT_FOUND, format!("no service {name}")).into_response();
    };
    // The YAML rules of the service (dubbo-admin's), for each group and version it is
    // provided in.
    let mut keys: Vec<String> = view
        .providers
        .iter()
        .map(|p| service_rule_key(&name, non_empty(&p.version), non_empty(&p.group)))
        .collect();
    keys.push(service_rule_key(&name, None, None));
    keys.sort();
    keys.dedup();
    let mut nodes: Vec<String> = keys
        .iter()
        .flat_map(|key| [CONFIGURATORS_SUFFIX, CONDITION_ROUTER_SUFFIX].map(|suffix| format!("{key}{suffix}")))
        .collect();
    // Tag routes belong to the providers' applications.
    let mut applications: Vec<&str> = view
        .providers
        .iter()
        .map(|p| p.application.as_str())
        .filter(|a| !a.is_empty())
        .collect();
    applications.sort_unstable();
    applications.dedup();
    nodes.extend(applications.iter().map(|a| format!("{a}{TAG_ROUTER_SUFFIX}")));
    for node in nodes {
        let path = rule_path(console.registry.config_root(), &node);
        match console.registry.read_node(&path).await {
            Ok(Some((text, _))) => view.rules.push(RuleView { path, text }),
            Ok(None) => {}
            Err(e) => tracing::warn!(%path, error = %e, "cannot read a rule"),
        }
    }
    // What a consumer of this host gets: each provider's URL after the configurators and what
    // changed it, and the methods the routes leave without a provider.
    let described = console.described_now(&view.name).await;
    let mut body = serde_json::to_value(&view).unwrap_or_default();
    if let (Some(object), Some(described)) = (body.as_object_mut(), described) {
        object.insert("described".to_owned(), described);
    }
    Json(body).into_response()
}

impl Console {
    /// Take a notification into the model; a change of it is a change of the page.
    pub(super) fn apply(&self, n: &zkdubbo_registry::Notification) {
        let changed = self.model.write().unwrap_or_else(|e| e.into_inner()).apply(n);
        if changed {
            self.version.send_modify(|v| *v += 1);
        }
    }

    /// A YAML rule node changed.
    pub(super) fn rules_changed(&self) {
        self.rules_version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.version.send_modify(|v| *v += 1);
    }

    /// The consumer view of `name` as a consumer of this host, computed again only when the
    /// service's lists or the rules changed since the last time.
    async fn described_now(&self, name: &str) -> Option<serde_json::Value> {
        let lists = self.model.read().unwrap_or_else(|e| e.into_inner()).changed(name)?;
        let rules = self.rules_version.load(std::sync::atomic::Ordering::Acquire);
        if let Some((l, r, view)) = zkdubbo_common::sync::lock(&self.described).get(name)
            && (*l, *r) == (lists, rules)
        {
            return Some(view.clone());
        }
        let view = describe_as(self, AsConsumer::default(), name.to_owned()).await.ok()?;
        zkdubbo_common::sync::lock(&self.described).insert(name.to_owned(), (lists, rules, view.clone()));
        Some(view)
    }
}

/// Who the service is described for (`/api/describe/{name}?host=&application=&method=`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct AsConsumer {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    application: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

/// What a consumer from a host, of an application, calling a method would get: the providers
/// after configurators and routers, and why each other one is left out — `zkdubbo describe
/// --json`, run on the console's session.
async fn describe(
    State(console): State<Arc<Console>>,
    Path(name): Path<String>,
    Query(who): Query<AsConsumer>,
) -> Response {
    match describe_as(&console, who, name).await {
        Ok(view) => Json(view).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e:#}")).into_response(),
    }
}

/// `zkdubbo describe --json` of `name` as `who`.
pub(super) async fn describe_as(console: &Console, who: AsConsumer, name: String) -> anyhow::Result<serde_json::Value> {
    let args = DescribeArgs {
        interface: name,
        group: who.group.filter(|g| !g.is_empty()),
        version: who.version.filter(|v| !v.is_empty()),
        method: who.method.filter(|m| !m.is_empty()),
        json: true,
        watch: false,
        application: who
            .application
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "zkdubbo-console".to_owned()),
        consumer_host: who.host.filter(|h| !h.is_empty()),
        migration_step: MigrationStep::default(),
    };
    let registry: Arc<dyn Registry> = console.registry.clone();
    let mut out = Vec::new();
    crate::commands::describe::run(&args, registry, &mut out).await?;
    Ok(serde_json::from_slice(&out)?)
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The model's version at each change (at most one event per 200 ms: a burst of registrations
/// is one reload of the page's data).
async fn events(State(console): State<Arc<Console>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let versions = WatchStream::new(console.version.subscribe())
        .throttle(Duration::from_millis(200))
        .map(|v| Ok(Event::default().event("change").data(v.to_string())));
    Sse::new(versions).keep_alive(KeepAlive::default())
}
