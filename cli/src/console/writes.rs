//! The console's writes: weights, disable/enable, condition routes and tags, each through the
//! code of the `zkdubbo` command that writes it, checked against `--read-only` and `--token`,
//! and logged with the rule before and after.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zkdubbo_governance::{
    CONDITION_ROUTER_SUFFIX, CONFIGURATORS_SUFFIX, TAG_ROUTER_SUFFIX, rule_path, service_rule_key,
};
use zkdubbo_registry::ConfigCenter;

use super::server::Console;
use crate::commands::rules::{
    DisableArgs, DryRunArgs, RouteAction, RouteArgs, ServiceArgs, TagAction, TagArgs, WeightArgs, disable, route, tag,
    weight,
};

/// A write's body: the service, the provider and what to set.
#[derive(Debug, Deserialize)]
pub(super) struct Change {
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
    /// The service's rule node with `suffix`.
    fn node(&self, suffix: &str) -> String {
        rule_node(&self.service, self.version.as_deref(), self.group.as_deref(), suffix)
    }

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

/// The non-empty items of a list the page sent, trimmed.
fn trimmed(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .collect()
}

/// A preview's answer: the report (nothing was written, nothing to log).
fn previewed(result: anyhow::Result<()>, report: Vec<u8>) -> Response {
    match result {
        Ok(()) => (StatusCode::OK, String::from_utf8_lossy(&report).into_owned()).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e:#}")).into_response(),
    }
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

/// The node of a service's rule: its key (`interface:version:group`) and `suffix`.
fn rule_node(service: &str, version: Option<&str>, group: Option<&str>, suffix: &str) -> String {
    let key = service_rule_key(
        service,
        version.filter(|v| !v.is_empty()),
        group.filter(|g| !g.is_empty()),
    );
    format!("{key}{suffix}")
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

/// A write carried out by `run` (one of the command's writers, writing its report into the
/// buffer it is given) on the rule node `node` (a key with its suffix): a preview answers the
/// report and logs nothing; a write is answered and logged with who asked, `what`, and the
/// node's text before and after.
async fn carry_out(
    console: &Console,
    who: SocketAddr,
    preview: bool,
    node: &str,
    what: &str,
    run: impl AsyncFnOnce(&mut Vec<u8>) -> anyhow::Result<()>,
) -> Response {
    let before = if preview {
        String::new()
    } else {
        rule_before(console, node).await
    };
    let mut report = Vec::new();
    let result = run(&mut report).await;
    if preview {
        return previewed(result, report);
    }
    answer(who, what, &before, result, report)
}

pub(super) async fn set_weight(
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
    let what = format!("weight {} {} = {w}", change.service, change.address);
    carry_out(
        &console,
        who,
        false,
        &change.node(CONFIGURATORS_SUFFIX),
        &what,
        async |report| weight(&console.target, &args, report).await,
    )
    .await
}

pub(super) async fn set_disabled(
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
    let what = format!(
        "{} {} {}",
        if disabled { "disable" } else { "enable" },
        change.service,
        change.address
    );
    carry_out(
        &console,
        who,
        false,
        &change.node(CONFIGURATORS_SUFFIX),
        &what,
        async |report| disable(&console.target, &args, disabled, report).await,
    )
    .await
}

/// A condition route of a service, as `zkdubbo route set` takes it; `preview` writes nothing
/// and answers the rule and what a consumer (`host`, `application`, `method`) would get before
/// and after it.
#[derive(Debug, Deserialize)]
pub(super) struct RouteChange {
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
    /// The service's rule node with `suffix`.
    fn node(&self, suffix: &str) -> String {
        rule_node(&self.service, self.version.as_deref(), self.group.as_deref(), suffix)
    }

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

pub(super) async fn set_route(
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
    let conditions = trimmed(&change.conditions);
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
    let what = format!("route {} {conditions:?}", change.service);
    let node = change.node(CONDITION_ROUTER_SUFFIX);
    carry_out(&console, who, change.preview, &node, &what, async |report| {
        route(&console.target, &args, report).await
    })
    .await
}

pub(super) async fn delete_route(
    State(console): State<Arc<Console>>,
    ConnectInfo(who): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(change): Json<RouteChange>,
) -> Response {
    if let Err(refused) = allowed(&console, &headers) {
        return refused.into_response();
    }
    let what = format!("delete route {}", change.service);
    let args = change.args(RouteAction::Delete);
    carry_out(
        &console,
        who,
        false,
        &change.node(CONDITION_ROUTER_SUFFIX),
        &what,
        async |report| route(&console.target, &args, report).await,
    )
    .await
}

/// A tag of a providers' application (Dubbo's tag router), as `zkdubbo tag` takes it;
/// `preview` answers the rule that would be written and writes nothing.
#[derive(Debug, Deserialize)]
pub(super) struct TagChange {
    application: String,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    preview: bool,
}

pub(super) async fn set_tag(
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
    let addresses = trimmed(&change.addresses);
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
    let what = format!("tag {} {name} = {addresses:?}", change.application);
    let node = format!("{}{TAG_ROUTER_SUFFIX}", change.application);
    carry_out(&console, who, change.preview, &node, &what, async |report| {
        tag(&console.target, &args, report).await
    })
    .await
}

pub(super) async fn delete_tag(
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
    let what = format!("delete tag {} {:?}", change.application, change.tag);
    let node = format!("{}{TAG_ROUTER_SUFFIX}", change.application);
    carry_out(&console, who, false, &node, &what, async |report| {
        tag(&console.target, &args, report).await
    })
    .await
}
