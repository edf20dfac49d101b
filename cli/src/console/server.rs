//! The console's HTTP side: the page, the JSON API, the event stream and the actions.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
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

use super::model::{Model, RuleView};
use crate::commands::describe::DescribeArgs;
use crate::commands::rules::{
    DisableArgs, DryRunArgs, RouteAction, RouteArgs, ServiceArgs, TagAction, TagArgs, WeightArgs, disable, route, tag,
    weight,
};
use crate::target::{SessionArgs, Target, observer_url};
use zkdubbo::app_discovery::MigrationStep;
use zkdubbo_common::{Invocation, keys};
use zkdubbo_directory::{Directory, InertInvokerFactory, RegistryDirectory};
use zkdubbo_governance::{
    CONDITION_ROUTER_SUFFIX, CONFIGURATORS_SUFFIX, TAG_ROUTER_SUFFIX, rule_path, service_rule_key,
};
use zkdubbo_registry::{ChildrenState, ConfigCenter};

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

struct Console {
    target: Target,
    registry: Arc<zkdubbo_registry::ZookeeperRegistry>,
    model: RwLock<Model>,
    /// Bumped on every change the page shows: lists, and the YAML rules' nodes.
    version: watch::Sender<u64>,
    read_only: bool,
    token: Option<String>,
    /// Until every list has been read once (the page says the counts are still coming).
    counting: std::sync::atomic::AtomicBool,
    /// The YAML rule nodes there are, by name (kept by [`follow_rules`]).
    rule_nodes: RwLock<Vec<String>>,
    /// What the condition routes of a service leave without a provider, for a consumer of
    /// this host (kept by [`check_routes`]).
    route_warnings: RwLock<std::collections::BTreeMap<String, Vec<String>>>,
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
        route_warnings: RwLock::new(std::collections::BTreeMap::new()),
    });
    // Every list in one pipelined read first (the counts are complete as soon as it is), then
    // the subscription, which reads them again one by one as it sets its watches and follows
    // them from then on. The services page needs providers and consumers of every service; a
    // service's rules are read when its page is asked for.
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
                let changed = {
                    let mut model = console.model.write().unwrap_or_else(|e| e.into_inner());
                    model.apply(&n)
                };
                if changed {
                    console.version.send_modify(|v| *v += 1);
                }
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
    registry.shutdown().await;
    result.map_err(Into::into)
}

/// Follow the YAML rule nodes (`<config root>/dubbo/*`): a node added, removed or changed is a
/// change of the page (a service's page reads its rules when it loads).
async fn follow_rules(console: Arc<Console>) {
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
                        console.version.send_modify(|v| *v += 1);
                    }
                }),
            );
        }
        console.version.send_modify(|v| *v += 1);
        if children.changed().await.is_err() {
            break;
        }
    }
    for task in nodes.into_values() {
        task.abort();
    }
}

/// Keep [`Console::route_warnings`]: after each change (settled for half a second), describe
/// every service that has a condition route as a consumer of this host and note the methods
/// left without a provider. Only services with routes are described, so a registry of 10,000
/// services with a handful of routes costs a handful of descriptions.
async fn check_routes(console: Arc<Console>) {
    let mut changes = console.version.subscribe();
    loop {
        if changes.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
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
    let view = {
        let model = console.model.read().unwrap_or_else(|e| e.into_inner());
        model.service(&name)
    };
    let Some(mut view) = view else {
        return (StatusCode::NOT_FOUND, format!("no service {name}")).into_response();
    };
    // Its URL-style rules, as they are now.
    match console
        .registry
        .lookup(&observer_url(&name, "routers,configurators"))
        .await
    {
        Ok(urls) => {
            for url in urls.iter().filter(|u| u.protocol() != "empty") {
                match url.param("category") {
                    Some("routers") => view.routers.push(url.to_string()),
                    _ => view.configurators.push(url.to_string()),
                }
            }
        }
        Err(e) => tracing::warn!(service = %name, error = %e, "cannot read the service's rules"),
    }
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
    let described = describe_as(&console, AsConsumer::default(), view.name.clone()).await;
    let mut body = serde_json::to_value(&view).unwrap_or_default();
    if let (Some(object), Ok(described)) = (body.as_object_mut(), described) {
        object.insert("described".to_owned(), described);
    }
    Json(body).into_response()
}

/// Who the service is described for (`/api/describe/{name}?host=&application=&method=`).
#[derive(Debug, Default, Deserialize)]
struct AsConsumer {
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
async fn describe_as(console: &Console, who: AsConsumer, name: String) -> anyhow::Result<serde_json::Value> {
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

/// A write's body: the service, the provider and what to set.
#[derive(Debug, Deserialize)]
struct Change {
    service: String,
    address: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    weight: Option<u32>,
    #[serde(default)]
    disabled: Option<bool>,
}

impl Change {
    fn service_args(&self) -> ServiceArgs {
        ServiceArgs {
            group: self.group.clone(),
            version: self.version.clone(),
        }
    }
}

/// Whether a write may go ahead: `Err` is the refusal's status and reason.
fn allowed(console: &Console, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    if console.read_only {
        return Err((StatusCode::FORBIDDEN, "the console is read-only"));
    }
    if let Some(token) = &console.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return Err((StatusCode::UNAUTHORIZED, "a valid token is needed to write"));
        }
    }
    Ok(())
}

/// The text of the rule node `node` (a key with its suffix) now: what a write changes, for
/// its log line.
async fn rule_before(console: &Console, node: &str) -> String {
    let path = rule_path(console.registry.config_root(), node);
    match console.registry.read_node(&path).await {
        Ok(Some((text, _))) => text,
        Ok(None) => format!("({path} absent)"),
        Err(e) => format!("({path} unreadable: {e})"),
    }
}

/// The node key of a service's rules (`interface:version:group`).
fn service_key(service: &str, version: Option<&str>, group: Option<&str>) -> String {
    service_rule_key(
        service,
        version.filter(|v| !v.is_empty()),
        group.filter(|g| !g.is_empty()),
    )
}

/// The outcome of a write, logged with who asked, what, and the rule before and after (the
/// report holds the text written).
fn answer(who: SocketAddr, what: &str, before: &str, result: anyhow::Result<()>, report: Vec<u8>) -> Response {
    let report = String::from_utf8_lossy(&report).into_owned();
    match result {
        Ok(()) => {
            tracing::info!(%who, what, before, after = %report, "console write");
            (StatusCode::OK, report).into_response()
        }
        Err(e) => {
            tracing::warn!(%who, what, error = %e, "console write refused");
            (StatusCode::BAD_REQUEST, format!("{e:#}")).into_response()
        }
    }
}

async fn set_weight(
    State(console): State<Arc<Console>>,
    ConnectInfo(who): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(change): Json<Change>,
) -> Response {
    if let Err(refused) = allowed(&console, &headers) {
        return refused.into_response();
    }
    let Some(w) = change.weight else {
        return (StatusCode::BAD_REQUEST, "weight is missing").into_response();
    };
    let args = WeightArgs {
        interface: change.service.clone(),
        address: change.address.clone(),
        weight: w,
        service: change.service_args(),
        dry: DryRunArgs::default(),
    };
    let key = service_key(&change.service, change.version.as_deref(), change.group.as_deref());
    let before = rule_before(&console, &format!("{key}{CONFIGURATORS_SUFFIX}")).await;
    let mut report = Vec::new();
    let result = weight(&console.target, &args, &mut report).await;
    let what = format!("weight {} {} = {w}", change.service, change.address);
    answer(who, &what, &before, result, report)
}

async fn set_disabled(
    State(console): State<Arc<Console>>,
    ConnectInfo(who): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(change): Json<Change>,
) -> Response {
    if let Err(refused) = allowed(&console, &headers) {
        return refused.into_response();
    }
    let disabled = change.disabled.unwrap_or(true);
    let args = DisableArgs {
        interface: change.service.clone(),
        address: change.address.clone(),
        service: change.service_args(),
        dry: DryRunArgs::default(),
    };
    let key = service_key(&change.service, change.version.as_deref(), change.group.as_deref());
    let before = rule_before(&console, &format!("{key}{CONFIGURATORS_SUFFIX}")).await;
    let mut report = Vec::new();
    let result = disable(&console.target, &args, disabled, &mut report).await;
    let what = format!(
        "{} {} {}",
        if disabled { "disable" } else { "enable" },
        change.service,
        change.address
    );
    answer(who, &what, &before, result, report)
}

/// A condition route of a service, as `zkdubbo route set` takes it; `preview` writes nothing
/// and answers the rule and what a consumer (`host`, `application`, `method`) would get before
/// and after it.
#[derive(Debug, Deserialize)]
struct RouteChange {
    service: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    conditions: Vec<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    runtime: bool,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    preview: bool,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    application: Option<String>,
    #[serde(default)]
    method: Option<String>,
}

impl RouteChange {
    fn args(&self, action: RouteAction) -> RouteArgs {
        RouteArgs {
            interface: Some(self.service.clone()),
            application: None,
            service: ServiceArgs {
                group: self.group.clone(),
                version: self.version.clone(),
            },
            action,
        }
    }
}

async fn set_route(
    State(console): State<Arc<Console>>,
    ConnectInfo(who): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(change): Json<RouteChange>,
) -> Response {
    // A preview writes nothing: anyone who can see the page may ask for one.
    if !change.preview
        && let Err(refused) = allowed(&console, &headers)
    {
        return refused.into_response();
    }
    let conditions: Vec<String> = change
        .conditions
        .iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    if conditions.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "a route needs at least one condition (`<when> => <then>`)",
        )
            .into_response();
    }
    let dry = DryRunArgs {
        dry_run: change.preview,
        as_consumer: change.host.clone().filter(|h| !h.is_empty()),
        consumer_application: change
            .application
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "zkdubbo-console".to_owned()),
        method: change.method.clone().filter(|m| !m.is_empty()),
    };
    let args = change.args(RouteAction::Set {
        conditions: conditions.clone(),
        force: change.force,
        priority: change.priority,
        runtime: change.runtime,
        dry,
    });
    let key = service_key(&change.service, change.version.as_deref(), change.group.as_deref());
    let before = if change.preview {
        String::new()
    } else {
        rule_before(&console, &format!("{key}{CONDITION_ROUTER_SUFFIX}")).await
    };
    let mut report = Vec::new();
    let result = route(&console.target, &args, &mut report).await;
    if change.preview {
        let report = String::from_utf8_lossy(&report).into_owned();
        return match result {
            Ok(()) => (StatusCode::OK, report).into_response(),
            Err(e) => (StatusCode::BAD_REQUEST, format!("{e:#}")).into_response(),
        };
    }
    let what = format!("route {} {conditions:?}", change.service);
    answer(who, &what, &before, result, report)
}

async fn delete_route(
    State(console): State<Arc<Console>>,
    ConnectInfo(who): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(change): Json<RouteChange>,
) -> Response {
    if let Err(refused) = allowed(&console, &headers) {
        return refused.into_response();
    }
    let key = service_key(&change.service, change.version.as_deref(), change.group.as_deref());
    let before = rule_before(&console, &format!("{key}{CONDITION_ROUTER_SUFFIX}")).await;
    let mut report = Vec::new();
    let result = route(&console.target, &change.args(RouteAction::Delete), &mut report).await;
    answer(
        who,
        &format!("delete route {}", change.service),
        &before,
        result,
        report,
    )
}

/// A tag of a providers' application (Dubbo's tag router), as `zkdubbo tag` takes it;
/// `preview` answers the rule that would be written and writes nothing.
#[derive(Debug, Deserialize)]
struct TagChange {
    application: String,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    preview: bool,
}

async fn set_tag(
    State(console): State<Arc<Console>>,
    ConnectInfo(who): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(change): Json<TagChange>,
) -> Response {
    if !change.preview
        && let Err(refused) = allowed(&console, &headers)
    {
        return refused.into_response();
    }
    let addresses: Vec<String> = change
        .addresses
        .iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    let Some(name) = change.tag.clone().filter(|t| !t.trim().is_empty()) else {
        return (StatusCode::BAD_REQUEST, "a tag needs a name").into_response();
    };
    if addresses.is_empty() {
        return (StatusCode::BAD_REQUEST, "a tag needs at least one provider address").into_response();
    }
    let args = TagArgs {
        application: change.application.clone(),
        action: TagAction::Set {
            tag: name.clone(),
            addresses: addresses.clone(),
            dry_run: change.preview,
        },
    };
    let before = if change.preview {
        String::new()
    } else {
        rule_before(&console, &format!("{}{TAG_ROUTER_SUFFIX}", change.application)).await
    };
    let mut report = Vec::new();
    let result = tag(&console.target, &args, &mut report).await;
    if change.preview {
        return match result {
            Ok(()) => (StatusCode::OK, String::from_utf8_lossy(&report).into_owned()).into_response(),
            Err(e) => (StatusCode::BAD_REQUEST, format!("{e:#}")).into_response(),
        };
    }
    let what = format!("tag {} {name} = {addresses:?}", change.application);
    answer(who, &what, &before, result, report)
}

async fn delete_tag(
    State(console): State<Arc<Console>>,
    ConnectInfo(who): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(change): Json<TagChange>,
) -> Response {
    if let Err(refused) = allowed(&console, &headers) {
        return refused.into_response();
    }
    let args = TagArgs {
        application: change.application.clone(),
        action: TagAction::Delete {
            tag: change.tag.clone().filter(|t| !t.trim().is_empty()),
        },
    };
    let before = rule_before(&console, &format!("{}{TAG_ROUTER_SUFFIX}", change.application)).await;
    let mut report = Vec::new();
    let result = tag(&console.target, &args, &mut report).await;
    answer(
        who,
        &format!("delete tag {} {:?}", change.application, change.tag),
        &before,
        result,
        report,
    )
}
