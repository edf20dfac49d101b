//! `zkdubbo describe <interface>`: subscribe like a consumer and print what it would see after
//! configurators and routers (providers with merged parameters, rules in force, per-method
//! lists), then exit, or keep printing on every change with `--watch`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use zkdubbo::app_discovery::{MigrationState, MigrationStep, ServiceDiscoveryRegistry, migration};
use zkdubbo_common::{Url, keys};
use zkdubbo_directory::{Description, InertInvokerFactory, RegistryDirectory};
use zkdubbo_registry::Registry;

/// How long to wait for the first full set of lists.
const FIRST_LISTS_TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `zkdubbo describe`.
#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    /// The service interface, e.g. `com.foo.BarService`.
    pub interface: String,
    /// The consumer's group (`a,b` or `*` for several groups).
    #[arg(long)]
    pub group: Option<String>,
    /// The consumer's version.
    #[arg(long)]
    pub version: Option<String>,
    /// Show only this method's providers.
    #[arg(long)]
    pub method: Option<String>,
    /// Print JSON (one object per snapshot, one per line with `--watch`).
    #[arg(long)]
    pub json: bool,
    /// Keep printing on every change until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// The consumer's application (rules can target an application).
    #[arg(long, default_value = "zkdubbo-describe")]
    pub application: String,
    /// The consumer's host (rules can target a consumer IP); default: this host.
    #[arg(long = "consumer-host")]
    pub consumer_host: Option<String>,
    /// Describe as a consumer in this migration step: FORCE_INTERFACE, APPLICATION_FIRST
    /// (Dubbo 3's default, and a zkdubbo reference's) or FORCE_APPLICATION.
    #[arg(long = "migration-step", default_value = "APPLICATION_FIRST")]
    pub migration_step: MigrationStep,
}

impl DescribeArgs {
    /// The consumer URL a consumer with these settings would subscribe with.
    pub fn consumer_url(&self) -> Url {
        let host = self
            .consumer_host
            .clone()
            .unwrap_or_else(zkdubbo_common::host::local_ip);
        let mut url = Url::new(keys::CONSUMER_PROTOCOL, &host, None, &self.interface).with_params([
            (keys::INTERFACE, self.interface.as_str()),
            (keys::SIDE, keys::CONSUMER_SIDE),
            (keys::APPLICATION, self.application.as_str()),
            (keys::CHECK, "false"),
        ]);
        if let Some(g) = self.group.as_deref().filter(|g| !g.is_empty()) {
            url.set_param(keys::GROUP, g);
        }
        if let Some(v) = self.version.as_deref().filter(|v| !v.is_empty()) {
            url.set_param(keys::VERSION, v);
        }
        url.set_param(migration::STEP_KEY, self.migration_step.as_str());
        url
    }
}

/// Subscribe through `registry`, print the consumer's view once (or on every change with
/// `--watch`, until Ctrl-C), and unsubscribe. Nothing is registered and no connection to a
/// provider is opened.
pub async fn run(args: &DescribeArgs, registry: Arc<dyn Registry>, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let consumer = args.consumer_url();
    let view = zkdubbo::app_discovery::consumer_view(&registry);
    let dir = RegistryDirectory::builder(consumer.clone(), Arc::new(InertInvokerFactory))
        .subscribe(view.clone() as Arc<dyn Registry>)
        .await
        .with_context(|| format!("cannot subscribe as {consumer}"))?;
    let mut changes = dir.changes();
    let snapshot = dir.ready(FIRST_LISTS_TIMEOUT).await;
    if !snapshot.is_complete() {
        tracing::warn!("not every list arrived within {FIRST_LISTS_TIMEOUT:?}; printing what is known");
    }
    let mut printed = 0u64;
    print(&dir, &view, &consumer, args, out)?;
    printed = printed.max(snapshot.version());
    if args.watch {
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let version = *changes.borrow_and_update();
                    if version > printed {
                        if !args.json {
                            writeln!(out, "----")?;
                        }
                        print(&dir, &view, &consumer, args, out)?;
                        printed = version;
                    }
                }
                _ = zkdubbo::shutdown_signal() => break,
            }
        }
    }
    zkdubbo_directory::Directory::destroy(&dir);
    Ok(())
}

fn print(
    dir: &RegistryDirectory,
    view: &ServiceDiscoveryRegistry,
    consumer: &Url,
    args: &DescribeArgs,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let mut d: Description = dir.describe();
    if let Some(m) = &args.method {
        d = d.only_method(m);
    }
    let migration = view.migration(&consumer.service_key()).into_iter().next();
    if args.json {
        let mut v = serde_json::to_value(&d)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("migration".into(), serde_json::to_value(&migration)?);
        }
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
    } else {
        write!(out, "{}", d.to_text())?;
        if let Some(m) = migration {
            writeln!(out, "{}", migration_text(&m))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One line: the step, the level chosen and the counts it was chosen on.
fn migration_text(m: &MigrationState) -> String {
    let count = |c: Option<usize>| c.map_or_else(|| "-".to_owned(), |c| c.to_string());
    format!(
        "migration: {} (threshold {}): {} level; application-level {}, interface-level {}; applications [{}]",
        m.step,
        m.threshold,
        m.level.map_or("no", |l| l.as_str()),
        count(m.application_count),
        count(m.interface_count),
        m.applications.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkdubbo_registry::MemoryRegistry;

    fn args(extra: &[&str]) -> DescribeArgs {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: DescribeArgs,
        }
        let mut argv = vec!["describe", "com.foo.Bar", "--consumer-host", "10.0.0.1"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).args
    }

    #[tokio::test]
    async fn prints_what_a_consumer_sees() {
        let registry = Arc::new(MemoryRegistry::new());
        for u in [
            "dubbo://10.0.0.5:20880/com.foo.Bar?methods=get,put&weight=100",
            "dubbo://10.0.0.6:20880/com.foo.Bar?methods=get",
            "override://10.0.0.5:20880/com.foo.Bar?category=configurators&weight=7",
        ] {
            registry.register(&u.parse().unwrap()).await.unwrap();
        }
        let mut out = Vec::new();
        run(&args(&[]), registry.clone(), &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("10.0.0.5:20880"), "{text}");
        assert!(text.contains("weight=7"), "{text}");
        assert!(text.contains("put: 10.0.0.5:20880"), "{text}");

        let mut out = Vec::new();
        run(&args(&["--json", "--method", "put"]), registry, &mut out)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["methods"]["put"]["providers"][0], "10.0.0.5:20880");
        assert_eq!(v["methods"].as_object().unwrap().len(), 1);
        assert_eq!(v["service"], "com.foo.Bar");
    }

    #[tokio::test]
    async fn shows_each_providers_level_and_the_migration_decision() {
        use zkdubbo::app_discovery::{InstancePublisher, Paths};
        let registry = Arc::new(MemoryRegistry::new());
        registry
            .register(
                &"dubbo://10.0.0.5:20880/com.foo.Bar?interface=com.foo.Bar"
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        let paths = Paths {
            services_root: "/services".into(),
            metadata_root: "/dubbo".into(),
        };
        let shop = InstancePublisher::new(registry.clone(), paths, "shop").unwrap();
        shop.add(
            &"dubbo://10.0.0.7:20880/com.foo.Bar?interface=com.foo.Bar&side=provider"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
        let describe = |extra: &'static [&'static str]| {
            let registry = registry.clone();
            async move {
                let mut out = Vec::new();
                run(&args(extra), registry, &mut out).await.unwrap();
                serde_json::from_slice::<serde_json::Value>(&out).unwrap()
            }
        };
        let v = describe(&["--json"]).await;
        assert_eq!(v["providers"][0]["address"], "10.0.0.7:20880", "{v}");
        assert_eq!(v["providers"][0]["level"], "application");
        assert_eq!(v["migration"]["step"], "APPLICATION_FIRST");
        assert_eq!(v["migration"]["level"], "application");
        assert_eq!(v["migration"]["applications"][0], "shop");
        let v = describe(&["--json", "--migration-step", "FORCE_INTERFACE"]).await;
        assert_eq!(v["providers"][0]["address"], "10.0.0.5:20880", "{v}");
        assert_eq!(v["providers"][0]["level"], "interface");
        assert_eq!(v["migration"]["level"], "interface");

        let mut out = Vec::new();
        run(
            &args(&["--migration-step", "force_application"]),
            registry.clone(),
            &mut out,
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("10.0.0.7:20880  [application]"), "{text}");
        assert!(
            text.contains("migration: FORCE_APPLICATION (threshold 0): application level"),
            "{text}"
        );
    }
}
