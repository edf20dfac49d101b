//! Scenario 9: the same estate discovered at interface level and at application level. The
//! estate: `apps` applications of `instances` instances each, every application providing
//! `interfaces / apps` interfaces. Interface level is Dubbo 2's layout (one provider node per
//! interface and instance); application level is Dubbo 3's (one node per instance, one
//! metadata report per application and revision, one mapping node per interface). Measured
//! per level, in one run on one server: what ZooKeeper holds for it (`mntr`'s node count and
//! data size), and for one consumer of every interface (in a child process, through the
//! discovery a zkdubbo `Reference` uses, `FORCE_INTERFACE` or `FORCE_APPLICATION`) the server
//! watch entries it needs, its time until every directory is complete and its peak memory.
//! Prints `levels <level> at <i> interfaces, <a>x<n> instances: ...`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use zkdubbo::app_discovery::{MetadataInfo, ServiceInstance};
use zkdubbo_common::Url;
use zkdubbo_directory::{InertInvokerFactory, RegistryDirectory};
use zkdubbo_registry::Registry;
use zookeeper_client::{Acls, Client, CreateMode};

use super::child::{ChildProc, field, parse_result, subscribe_interface};
use super::{Env, connect, consumer_url, dir_addresses, populate, proc_status_kb, raw_client, wait_providers};
use crate::harness::{four_letter_word, unique_path};

/// One level's figures.
#[derive(Debug, Clone)]
pub struct LevelResult {
    /// `interface` or `application`.
    pub level: &'static str,
    /// Nodes ZooKeeper holds for the estate at this level.
    pub nodes: u64,
    /// Their data and paths, as `zk_approximate_data_size` counts them.
    pub bytes: u64,
    /// Server watch entries (`zk_watch_count`) of the consumer.
    pub watches: u64,
    /// Until every directory was complete.
    pub ready: Duration,
    /// The consumer's peak RSS, kB.
    pub hwm_kb: u64,
}

/// The provider URL of `interface` on instance `i` of application `app`.
fn provider(interface: &str, app: usize, i: usize) -> Url {
    let text = format!(
        "dubbo://10.{app}.0.{i}:20880/{interface}?anyhost=true&application=bench-app{app}&deprecated=false&dubbo=2.0.2\
         &dynamic=true&generic=false&interface={interface}&methods=get,put,delete,list,scan&pid=4242\
         &release=3.2.10&side=provider&timestamp=1700000000000"
    );
    Url::parse(&text).unwrap_or_else(|e| panic!("bench provider URL {text}: {e}"))
}

/// `(node count, data size)` of the server.
fn server_size(addr: &str) -> Result<(u64, u64)> {
    Ok((mntr(addr, "zk_znode_count")?, mntr(addr, "zk_approximate_data_size")?))
}

fn mntr(addr: &str, key: &str) -> Result<u64> {
    let text = four_letter_word(addr, "mntr")?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no {key} in mntr output"))
}

async fn create(raw: &Client, path: &str, data: &[u8]) -> Result<()> {
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    if let Some((parent, _)) = path.rsplit_once('/')
        && !parent.is_empty()
    {
        match raw.mkdir(parent, &persistent).await {
            Ok(()) | Err(zookeeper_client::Error::NodeExists) => {}
            Err(e) => return Err(e).with_context(|| format!("mkdir {parent}")),
        }
    }
    match raw.create(path, data, &persistent).await {
        Ok(_) | Err(zookeeper_client::Error::NodeExists) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("create {path}")),
    }
}

/// Write the estate at interface level below `root`.
async fn populate_interface(raw: &Client, root: &str, apps: usize, instances: usize, interfaces: usize) -> Result<()> {
    for k in 0..interfaces {
        let interface = subscribe_interface(k);
        let urls: Vec<Url> = (0..instances).map(|i| provider(&interface, k % apps, i)).collect();
        populate(raw, root, &interface, &urls).await?;
    }
    Ok(())
}

/// Write the estate at application level below `root`, as Dubbo 3 providers with `remote`
/// metadata write it.
async fn populate_application(
    raw: &Client,
    root: &str,
    apps: usize,
    instances: usize,
    interfaces: usize,
) -> Result<()> {
    for app in 0..apps {
        let name = format!("bench-app{app}");
        let provided: Vec<String> = (0..interfaces)
            .filter(|k| k % apps == app)
            .map(subscribe_interface)
            .collect();
        // The host is not part of the metadata: every instance has the same revision.
        let urls: Vec<Url> = provided.iter().map(|i| provider(i, app, 0)).collect();
        let metadata = MetadataInfo::of(&name, &urls);
        create(
            raw,
            &format!("{root}/metadata/{name}/{}", metadata.revision),
            metadata.to_json().as_bytes(),
        )
        .await?;
        for i in 0..instances {
            let mut md = BTreeMap::new();
            md.insert(
                "dubbo.endpoints".to_owned(),
                "[{\"port\":20880,\"protocol\":\"dubbo\"}]".to_owned(),
            );
            md.insert("dubbo.metadata.revision".to_owned(), metadata.revision.clone());
            md.insert("dubbo.metadata.storage-type".to_owned(), "remote".to_owned());
            let instance = ServiceInstance::new(&name, &format!("10.{app}.0.{i}"), 20880, md);
            create(
                raw,
                &format!("{root}/{name}/{}", instance.id),
                instance.to_json().as_bytes(),
            )
            .await?;
        }
        for interface in &provided {
            create(raw, &format!("{root}/mapping/{interface}"), name.as_bytes()).await?;
        }
    }
    Ok(())
}

/// Run scenario 9.
pub async fn run(env: &Env, apps: usize, instances: usize, interfaces: usize) -> Result<Vec<LevelResult>> {
    ensure!(
        apps > 0 && interfaces.is_multiple_of(apps),
        "interfaces must divide among the applications"
    );
    let raw = raw_client(&env.addr).await?;
    let mut out = Vec::new();
    for (level, step) in [("interface", "FORCE_INTERFACE"), ("application", "FORCE_APPLICATION")] {
        let root = unique_path("bench-levels");
        let (nodes_before, bytes_before) = server_size(&env.addr)?;
        if level == "interface" {
            populate_interface(&raw, &root, apps, instances, interfaces).await?;
        } else {
            populate_application(&raw, &root, apps, instances, interfaces).await?;
        }
        let (nodes_after, bytes_after) = server_size(&env.addr)?;
        let watches_before = mntr(&env.addr, "zk_watch_count")?;
        let mut child = ChildProc::spawn(
            &env.child_exe,
            &[
                "levels".to_owned(),
                env.addr.clone(),
                root,
                interfaces.to_string(),
                instances.to_string(),
                step.to_owned(),
            ],
        )?;
        let line = child.expect("READY", Duration::from_secs(300)).await?;
        let watches = mntr(&env.addr, "zk_watch_count")?.saturating_sub(watches_before);
        child.send("STOP").await?;
        child.finish().await?;
        let fields = parse_result(line.replacen("READY", "RESULT", 1).as_str()).context("READY line")?;
        let result = LevelResult {
            level,
            nodes: nodes_after.saturating_sub(nodes_before),
            bytes: bytes_after.saturating_sub(bytes_before),
            watches,
            ready: Duration::from_secs_f64(field::<f64>(&fields, "ready_ms")? / 1e3),
            hwm_kb: field(&fields, "hwm_kb")?,
        };
        println!(
            "levels {level} at {interfaces} interfaces, {apps}x{instances} instances: {} nodes, {} B, \
             {} server watch entries, ready in {:.0} ms, consumer peak RSS {} kB",
            result.nodes,
            result.bytes,
            result.watches,
            result.ready.as_secs_f64() * 1e3,
            result.hwm_kb
        );
        out.push(result);
    }
    Ok(out)
}

/// The consumer of scenario 9 (`child levels ADDR ROOT INTERFACES PROVIDERS STEP`): subscribe
/// to every interface through application-level discovery in `step`, check each directory
/// holds `providers`, print `READY ready_ms=… hwm_kb=…` and wait for `STOP`.
pub async fn consumer(addr: &str, root: &str, interfaces: usize, providers: usize, step: &str) -> Result<()> {
    use tokio::io::AsyncBufReadExt;
    let start = std::time::Instant::now();
    let registry: Arc<dyn Registry> = connect(addr, root).await?;
    let view = zkdubbo::app_discovery::consumer_view(&registry) as Arc<dyn Registry>;
    let mut dirs = Vec::with_capacity(interfaces);
    for k in 0..interfaces {
        let interface = subscribe_interface(k);
        let url = consumer_url(&interface).with_param("migration.step", step);
        dirs.push(
            RegistryDirectory::builder(url, Arc::new(InertInvokerFactory))
                .subscribe(view.clone())
                .await
                .with_context(|| format!("subscribing to {interface}"))?,
        );
    }
    for dir in &dirs {
        wait_providers(dir, providers, Duration::from_secs(120)).await?;
    }
    let ready = start.elapsed();
    let hwm = proc_status_kb("VmHWM").unwrap_or(0);
    for dir in &dirs {
        ensure!(
            dir_addresses(dir).len() == providers,
            "a directory differs from ZooKeeper"
        );
    }
    println!(
        "READY ready_ms={:.3} hwm_kb={hwm} directories={}",
        ready.as_secs_f64() * 1e3,
        dirs.len()
    );
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = stdin.next_line().await? {
        if line.trim() == "STOP" {
            break;
        }
    }
    Ok(())
}
