//! Writing governance rules the way dubbo-admin does: `zkdubbo weight`, `disable`, `enable`,
//! `route`, `tag` and `rule get|put|delete`. Every write is a read-modify-write with the
//! node's version (compare-and-set, retried on a lost race), so two operators editing at
//! once never lose an update; `--dry-run` prints the YAML and what a consumer would get
//! before and after, and writes nothing.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use zkdubbo_common::{Invocation, Url, keys};
use zkdubbo_directory::{ConfigRules, Directory, InertInvokerFactory, RegistryDirectory};
use zkdubbo_governance::{
    CONDITION_ROUTER_SUFFIX, CONFIGURATORS_SUFFIX, ConditionRule, TAG_ROUTER_SUFFIX, TagRule, parse_configurators,
    rule_path, service_rule_key, write,
};
use zkdubbo_registry::{ConfigCenter, Registry, ZookeeperRegistry};

use crate::target::{SessionArgs, Target};

/// How often a read-modify-write is tried again after losing a race.
const ATTEMPTS: usize = 10;

/// The service a rule is about.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServiceArgs {
    /// The service's version.
    #[arg(long)]
    pub version: Option<String>,
    /// The service's group.
    #[arg(long)]
    pub group: Option<String>,
}

impl ServiceArgs {
    fn key(&self, interface: &str) -> String {
        service_rule_key(
            interface,
            self.version.as_deref().filter(|v| !v.is_empty()),
            self.group.as_deref().filter(|g| !g.is_empty()),
        )
    }
}

/// `--dry-run` and the consumer whose view it shows.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DryRunArgs {
    /// Print the rule and its effect without writing anything.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// The consumer's IP for `--dry-run` (rules can target a consumer address); default:
    /// this host.
    #[arg(long = "as-consumer", value_name = "IP")]
    pub as_consumer: Option<String>,
    /// The consumer's application for `--dry-run`.
    #[arg(long = "consumer-application", value_name = "APP", default_value = "zkdubbo-dry-run")]
    pub consumer_application: String,
    /// The method whose providers `--dry-run` shows (default: a method no provider declares).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
}

/// `zkdubbo weight`.
#[derive(clap::Args, Debug)]
pub struct WeightArgs {
    /// The service interface.
    pub interface: String,
    /// The provider, `ip:port`.
    pub address: String,
    /// The weight (Dubbo's default is 100).
    pub weight: u32,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub dry: DryRunArgs,
}

/// `zkdubbo disable` / `zkdubbo enable`.
#[derive(clap::Args, Debug)]
pub struct DisableArgs {
    /// The service interface.
    pub interface: String,
    /// The provider, `ip:port`.
    pub address: String,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub dry: DryRunArgs,
}

/// `zkdubbo route [INTERFACE | --application APP] set|list|delete`.
#[derive(clap::Args, Debug)]
pub struct RouteArgs {
    /// The service interface (or give --application).
    pub interface: Option<String>,
    /// The consumer application whose route this is, instead of a service's.
    #[arg(long)]
    pub application: Option<String>,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(subcommand)]
    pub action: RouteAction,
}

/// What `zkdubbo route` does.
#[derive(clap::Subcommand, Debug)]
pub enum RouteAction {
    /// Set the route's conditions, each `<when> => <then>` (e.g. `method = get => host = 10.0.0.5`).
    Set {
        /// The conditions, run in order.
        #[arg(required = true)]
        conditions: Vec<String>,
        /// Keep an empty result empty instead of falling back to every provider.
        #[arg(long)]
        force: bool,
        /// The rule's priority.
        #[arg(long, default_value_t = 0)]
        priority: i32,
        /// Evaluate the rule on every call.
        #[arg(long)]
        runtime: bool,
        #[command(flatten)]
        dry: DryRunArgs,
    },
    /// Print the route.
    List,
    /// Delete the route.
    Delete,
}

/// `zkdubbo tag APP set|delete`.
#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// The providers' application.
    pub application: String,
    #[command(subcommand)]
    pub action: TagAction,
}

/// What `zkdubbo tag` does.
#[derive(clap::Subcommand, Debug)]
pub enum TagAction {
    /// Put the providers at ADDRESSES (`ip:port`, IP expressions, CIDR blocks) under TAG.
    Set {
        /// The tag.
        tag: String,
        /// The providers.
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Print the rule that would be written, and write nothing.
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
    /// Remove TAG (the whole rule when no TAG is given).
    Delete {
        /// The tag.
        tag: Option<String>,
    },
}

/// `zkdubbo rule`.
#[derive(clap::Subcommand, Debug)]
pub enum RuleCommand {
    /// Print the rule at KEY (e.g. `com.foo.Bar::.configurators`) as stored.
    Get {
        /// The node key under the governance group.
        key: String,
    },
    /// Write the rule at KEY from FILE (or stdin), after checking it parses as that kind of
    /// rule (the consumers' parser).
    Put {
        /// The node key: `<service-key>.configurators`, `.condition-router`, `<app>.tag-router`...
        key: String,
        /// The YAML file (default: stdin).
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Delete the rule at KEY.
    Delete {
        /// The node key.
        key: String,
    },
}

/// What a write did.
enum Outcome {
    Written(String),
    Deleted,
    Unchanged,
}

/// Read-modify-write `path` with `edit` (current text → new text, `None`: delete), retried
/// after a lost race; with `dry_run` only computed.
async fn edit(
    cc: &dyn ConfigCenter,
    path: &str,
    dry_run: bool,
    edit: impl Fn(Option<&str>) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<(Option<String>, Outcome)> {
    for _ in 0..ATTEMPTS {
        let current = cc
            .read_node(path)
            .await
            .with_context(|| format!("cannot read {path}"))?;
        let before = current.as_ref().map(|(t, _)| t.clone());
        let next = edit(before.as_deref()).with_context(|| format!("cannot edit the rule at {path}"))?;
        if let Some(text) = &next {
            let key = path.rsplit('/').next().unwrap_or(path);
            check(key, text).with_context(|| format!("consumers would refuse the rule for {path}; nothing written"))?;
        }
        if dry_run {
            let outcome = match &next {
                Some(t) => Outcome::Written(t.clone()),
                None => Outcome::Deleted,
            };
            return Ok((before, outcome));
        }
        let result = match (&current, &next) {
            (None, None) => return Ok((before, Outcome::Unchanged)),
            (Some((t, _)), Some(n)) if t == n => return Ok((before, Outcome::Unchanged)),
            (None, Some(t)) => cc.write_node(path, t, None).await.map(drop),
            (Some((_, v)), Some(t)) => cc.write_node(path, t, Some(*v)).await.map(drop),
            (Some((_, v)), None) => cc.delete_node(path, Some(*v)).await,
        };
        match result {
            Ok(()) => {
                let outcome = match next {
                    Some(t) => Outcome::Written(t),
                    None => Outcome::Deleted,
                };
                return Ok((before, outcome));
            }
            Err(e) if e.is_conflict() => {
                tracing::info!(%path, "the rule changed meanwhile; reading it again");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot write {path}")),
        }
    }
    bail!("{path} kept changing under {ATTEMPTS} attempts to write it; nothing was written")
}

/// Parse `text` as the kind of rule node `key` names.
fn parse_rules(key: &str, text: Option<&str>) -> anyhow::Result<ConfigRules> {
    Ok(if key.ends_with(CONFIGURATORS_SUFFIX) {
        let rules = text.map(parse_configurators).transpose()?.unwrap_or_default();
        // Which slot does not matter for the effect shown: the node's own rules change.
        ConfigRules::ServiceConfigurators(rules)
    } else if key.ends_with(CONDITION_ROUTER_SUFFIX) {
        ConfigRules::ServiceRoutes(text.map(ConditionRule::parse).transpose()?)
    } else if key.ends_with(TAG_ROUTER_SUFFIX) {
        ConfigRules::Tags(text.map(TagRule::parse).transpose()?)
    } else {
        bail!("{key:?} is not a rule key (it should end in .configurators, .condition-router or .tag-router)")
    })
}

/// Check `text` as consumers would read it at node `key` (YAML, then every condition and
/// configurator), so that a rule they would refuse is never written.
fn check(key: &str, text: &str) -> anyhow::Result<()> {
    let name = [CONFIGURATORS_SUFFIX, CONDITION_ROUTER_SUFFIX, TAG_ROUTER_SUFFIX]
        .iter()
        .find_map(|s| key.strip_suffix(s))
        .unwrap_or(key);
    let interface = name.split(':').next().unwrap_or(name);
    zkdubbo_directory::check_config_rules(interface, key, parse_rules(key, Some(text))?)?;
    Ok(())
}

/// Print what `edit` did at `path`.
fn written(out: &mut (dyn Write + Send), path: &str, outcome: &Outcome) -> anyhow::Result<()> {
    match outcome {
        Outcome::Written(t) => writeln!(out, "# wrote {path}:\n{t}")?,
        Outcome::Deleted => writeln!(out, "# deleted {path}")?,
        Outcome::Unchanged => writeln!(out, "# {path} already says so; nothing written")?,
    }
    Ok(())
}

/// Print what `edit` did (or would do) at `path`, and for a dry run what the consumer of
/// `interface` described by `dry` gets before and after.
async fn report(
    out: &mut (dyn Write + Send),
    registry: &Arc<ZookeeperRegistry>,
    path: &str,
    interface: Option<&str>,
    service: &ServiceArgs,
    dry: &DryRunArgs,
    outcome: Outcome,
) -> anyhow::Result<()> {
    if !dry.dry_run {
        return written(out, path, &outcome);
    }
    match &outcome {
        Outcome::Written(t) => writeln!(out, "# would write {path}:\n{t}")?,
        _ => writeln!(out, "# would delete {path}")?,
    }
    let Some(interface) = interface else {
        return Ok(());
    };
    let host = dry.as_consumer.clone().unwrap_or_else(zkdubbo_common::host::local_ip);
    let mut consumer = Url::new(keys::CONSUMER_PROTOCOL, &host, None, interface).with_params([
        (keys::INTERFACE, interface),
        (keys::SIDE, keys::CONSUMER_SIDE),
        (keys::APPLICATION, dry.consumer_application.as_str()),
    ]);
    if let Some(v) = service.version.as_deref().filter(|v| !v.is_empty()) {
        consumer.set_param(keys::VERSION, v);
    }
    if let Some(g) = service.group.as_deref().filter(|g| !g.is_empty()) {
        consumer.set_param(keys::GROUP, g);
    }
    let dir = RegistryDirectory::builder(consumer, Arc::new(InertInvokerFactory))
        .subscribe(Arc::clone(registry) as Arc<dyn Registry>)
        .await?;
    dir.ready(Duration::from_secs(10)).await;
    let inv = Invocation::new(dry.method.as_deref().unwrap_or(keys::ANY_VALUE));
    let view = |dir: &RegistryDirectory| -> String {
        match dir.list(&inv) {
            Ok(list) => {
                let mut v: Vec<String> = list.iter().map(|m| m.url().address()).collect();
                v.sort();
                v.join(", ")
            }
            Err(e) => format!("(none: {e})"),
        }
    };
    let before = view(&dir);
    let text = match &outcome {
        Outcome::Written(t) => Some(t.as_str()),
        _ => None,
    };
    let key = path.rsplit('/').next().unwrap_or(path);
    if let Err(e) = dir.set_config_rules(path, parse_rules(key, text)?) {
        writeln!(out, "# the consumers would refuse it: {e}")?;
    }
    let after = view(&dir);
    writeln!(
        out,
        "# {} calling {}: before: {before}",
        dir.consumer_url().address(),
        inv.method()
    )?;
    writeln!(
        out,
        "# {} calling {}: after:  {after}",
        dir.consumer_url().address(),
        inv.method()
    )?;
    dir.destroy();
    Ok(())
}

async fn registry(target: &Target) -> anyhow::Result<Arc<ZookeeperRegistry>> {
    target.registry_for_writes(&SessionArgs::default()).await
}

/// `zkdubbo weight`: the weight item in the service's configurators (what consumers of Dubbo
/// 2.7+ read through the provider) and the URL-style override dubbo-admin registers beside it
/// for older consumers.
pub async fn weight(target: &Target, args: &WeightArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let registry = registry(target).await?;
    let key = args.service.key(&args.interface);
    let result = edit_configurators(&registry, &args.interface, &args.service, &args.dry, out, |current| {
        Ok(Some(write::set_weight(current, &key, &args.address, args.weight)?))
    })
    .await;
    let result = match result {
        Ok(()) if !args.dry.dry_run => mirror_weight(&registry, args).await,
        other => other,
    };
    registry.shutdown().await;
    result
}

/// Edit the service's configurators node with `change` and report it.
async fn edit_configurators(
    registry: &Arc<ZookeeperRegistry>,
    interface: &str,
    service: &ServiceArgs,
    dry: &DryRunArgs,
    out: &mut (dyn Write + Send),
    change: impl Fn(Option<&str>) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<()> {
    let key = service.key(interface);
    let path = rule_path(registry.config_root(), &format!("{key}{CONFIGURATORS_SUFFIX}"));
    let (_, outcome) = edit(&**registry, &path, dry.dry_run, change).await?;
    report(out, registry, &path, Some(interface), service, dry, outcome).await
}

/// The URL-style weight override dubbo-admin registers (`override://<address>/<interface>?
/// category=configurators&dynamic=false&enabled=true&weight=N`), replacing an earlier weight
/// override of the same provider.
async fn mirror_weight(registry: &Arc<ZookeeperRegistry>, args: &WeightArgs) -> anyhow::Result<()> {
    let mut rule: Url = format!("{}://{}/{}", keys::OVERRIDE_PROTOCOL, args.address, args.interface)
        .parse()
        .with_context(|| format!("{:?} is not an address", args.address))?;
    rule = rule.with_params([
        (keys::CATEGORY, keys::CONFIGURATORS_CATEGORY),
        (keys::DYNAMIC, "false"),
        (keys::ENABLED, "true"),
    ]);
    if let Some(v) = args.service.version.as_deref().filter(|v| !v.is_empty()) {
        rule.set_param(keys::VERSION, v);
    }
    if let Some(g) = args.service.group.as_deref().filter(|g| !g.is_empty()) {
        rule.set_param(keys::GROUP, g);
    }
    let lookup = Url::new(keys::CONSUMER_PROTOCOL, "0.0.0.0", None, &args.interface)
        .with_params([
            (keys::CATEGORY, keys::CONFIGURATORS_CATEGORY),
            (keys::ENABLED, keys::ANY_VALUE),
        ])
        .with_params(
            rule.params()
                .iter()
                .filter(|(k, _)| *k == keys::VERSION || *k == keys::GROUP),
        );
    for old in registry.lookup(&lookup).await? {
        let only_weight = old.params().iter().all(|(k, _)| {
            matches!(
                k,
                keys::CATEGORY
                    | keys::DYNAMIC
                    | keys::ENABLED
                    | keys::WEIGHT
                    | keys::GROUP
                    | keys::VERSION
                    | keys::INTERFACE
            )
        });
        if old.protocol() == keys::OVERRIDE_PROTOCOL && old.address() == args.address && only_weight {
            registry.unregister(&old).await?;
        }
    }
    registry
        .register(&rule.with_param(keys::WEIGHT, args.weight.to_string()))
        .await?;
    Ok(())
}

/// `zkdubbo disable` (`disabled` true) and `zkdubbo enable`.
pub async fn disable(
    target: &Target,
    args: &DisableArgs,
    disabled: bool,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let registry = registry(target).await?;
    let key = args.service.key(&args.interface);
    let result = edit_configurators(&registry, &args.interface, &args.service, &args.dry, out, |current| {
        Ok(write::set_disabled(current, &key, &args.address, disabled)?)
    })
    .await;
    registry.shutdown().await;
    result
}

/// The node key of a route: the service's, or the application's with `--application`.
fn route_key(
    interface: Option<&str>,
    application: Option<&str>,
    service: &ServiceArgs,
) -> anyhow::Result<(String, String, &'static str)> {
    match (interface, application) {
        (Some(i), None) => Ok((service.key(i), i.to_owned(), "service")),
        (None, Some(a)) => Ok((a.to_owned(), a.to_owned(), "application")),
        (Some(_), Some(_)) => bail!("give either an interface or --application, not both"),
        (None, None) => bail!("give an interface or --application"),
    }
}

/// `zkdubbo route`.
pub async fn route(target: &Target, args: &RouteArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let (node, key, scope) = route_key(args.interface.as_deref(), args.application.as_deref(), &args.service)?;
    let registry = registry(target).await?;
    let path = rule_path(registry.config_root(), &format!("{node}{CONDITION_ROUTER_SUFFIX}"));
    let result = async {
        match &args.action {
            RouteAction::Set {
                conditions,
                force,
                priority,
                runtime,
                dry,
            } => {
                let (_, outcome) = edit(&*registry, &path, dry.dry_run, |current| {
                    Ok(Some(write::set_conditions(
                        current, scope, &key, conditions, *force, *priority, *runtime,
                    )?))
                })
                .await?;
                report(
                    out,
                    &registry,
                    &path,
                    args.interface.as_deref(),
                    &args.service,
                    dry,
                    outcome,
                )
                .await
            }
            RouteAction::List => {
                match registry.read_node(&path).await? {
                    Some((text, _)) => write!(out, "# {path}\n{text}")?,
                    None => writeln!(out, "# no route at {path}")?,
                }
                Ok(())
            }
            RouteAction::Delete => {
                let (_, outcome) = edit(&*registry, &path, false, |_| Ok(None)).await?;
                written(out, &path, &outcome)
            }
        }
    }
    .await;
    registry.shutdown().await;
    result
}

/// `zkdubbo tag`.
pub async fn tag(target: &Target, args: &TagArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let registry = registry(target).await?;
    let path = rule_path(
        registry.config_root(),
        &format!("{}{TAG_ROUTER_SUFFIX}", args.application),
    );
    let result = match &args.action {
        TagAction::Set {
            tag,
            addresses,
            dry_run,
        } => {
            let edited = edit(&*registry, &path, *dry_run, |c| {
                Ok(Some(write::set_tag(c, &args.application, tag, addresses)?))
            })
            .await;
            if *dry_run {
                let printed = match edited {
                    Ok((_, Outcome::Written(text))) => {
                        writeln!(out, "# would write {path}:\n{text}").map_err(Into::into)
                    }
                    Ok(_) => writeln!(out, "# {path} already says so; nothing to write").map_err(Into::into),
                    Err(e) => Err(e),
                };
                registry.shutdown().await;
                return printed;
            }
            edited
        }
        TagAction::Delete { tag: Some(tag) } => {
            edit(&*registry, &path, false, |c| Ok(write::delete_tag(c, tag)?)).await
        }
        TagAction::Delete { tag: None } => edit(&*registry, &path, false, |_| Ok(None)).await,
    };
    let result = match result {
        Ok((_, outcome)) => written(out, &path, &outcome),
        Err(e) => Err(e),
    };
    registry.shutdown().await;
    result
}

/// `zkdubbo rule`.
pub async fn rule(target: &Target, command: &RuleCommand, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let registry = registry(target).await?;
    let root = registry.config_root().to_owned();
    let result = async {
        match command {
            RuleCommand::Get { key } => {
                let path = rule_path(&root, key);
                match registry.read_node(&path).await? {
                    Some((text, _)) => write!(out, "{text}")?,
                    None => bail!("no rule at {path}"),
                }
            }
            RuleCommand::Put { key, file } => {
                let text = match file {
                    Some(f) => std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
                    None => {
                        let mut s = String::new();
                        std::io::stdin().read_to_string(&mut s).context("cannot read stdin")?;
                        s
                    }
                };
                // The consumers' parser first: a rule they would refuse is not written.
                check(key, &text).with_context(|| format!("the rule for {key} does not parse; nothing written"))?;
                let path = rule_path(&root, key);
                let (_, outcome) = edit(&*registry, &path, false, |_| Ok(Some(text.clone()))).await?;
                written(out, &path, &outcome)?;
            }
            RuleCommand::Delete { key } => {
                let path = rule_path(&root, key);
                let (_, outcome) = edit(&*registry, &path, false, |_| Ok(None)).await?;
                written(out, &path, &outcome)?;
            }
        }
        Ok(())
    }
    .await;
    registry.shutdown().await;
    result
}
