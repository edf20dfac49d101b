//! Scenario 8: what a reconnection costs. One consumer per watch mode follows many interfaces
//! through its own proxy; both are cut off, ZooKeeper is restarted and one provider is added
//! to every interface while they are away (events they can only learn by reconciling); then
//! each consumer in turn is let back in. Measured per mode: the time from its session being
//! connected again until every directory holds the added provider (the wait for the
//! connection itself is the ZooKeeper client's retry timing, the same in both modes), the
//! bytes ZooKeeper sent that consumer meanwhile, and the watch entries the server keeps for
//! it (`mntr`'s `zk_watch_count`). Prints
//! `reconnect at <i>x<p>, <mode>: reconciled in <ms> ms (<ms> ms after being let in), <bytes> B, <w> server watch entries`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use zkdubbo_common::Url;
use zkdubbo_directory::{InertInvokerFactory, RegistryDirectory};
use zkdubbo_registry::{Registry, ZookeeperRegistry};

use super::child::subscribe_interface;
use super::{consumer_url, populate, provider_url, raw_client, registry_url, wait_providers};
use crate::harness::{TcpProxy, ZkOptions, ZkServer, four_letter_word, unique_path};

/// One mode's reconnection.
#[derive(Debug, Clone)]
pub struct ReconnectResult {
    /// `persistent` or `children`.
    pub mode: &'static str,
    /// From the consumer's session being connected again until every directory held the
    /// added provider.
    pub reconcile: Duration,
    /// From letting the consumer back in until then.
    pub since_heal: Duration,
    /// Bytes ZooKeeper sent the consumer in that time.
    pub bytes: u64,
    /// Watch-table entries the server held for the consumer before the restart.
    pub server_watches: u64,
}

struct Consumer {
    mode: &'static str,
    proxy: TcpProxy,
    registry: Arc<ZookeeperRegistry>,
    dirs: Vec<RegistryDirectory>,
    root: String,
}

/// Run scenario 8 with `interfaces` × `providers` on a server of its own.
pub async fn run(interfaces: usize, providers: usize) -> Result<Vec<ReconnectResult>> {
    // Sessions outlive the outage (the default 20 ticks would be 4 s): this measures a
    // reconnection, not a new session.
    let mut server = ZkServer::start_with(ZkOptions {
        max_session_timeout_ms: Some(120_000),
        ..ZkOptions::default()
    })
    .context("starting ZooKeeper")?;
    let addr = server.addr();
    let raw = raw_client(&addr).await?;
    let mut consumers = Vec::new();
    for mode in ["persistent", "children"] {
        let root = unique_path("bench-reconnect");
        for k in 0..interfaces {
            let interface = subscribe_interface(k);
            let urls: Vec<Url> = (0..providers).map(|i| provider_url(&interface, i)).collect();
            populate(&raw, &root, &interface, &urls).await?;
        }
        let proxy = TcpProxy::start(addr.clone()).await?;
        let watches_before = total_watches(&addr)?;
        let mut url = registry_url(&proxy.addr(), &root)?;
        url = url.with_param("watch", mode).with_param("session", "60000");
        let registry = ZookeeperRegistry::connect(&url)
            .await
            .with_context(|| format!("connecting the {mode} consumer"))?;
        let dirs = subscribe_all(&registry, interfaces).await?;
        wait_all(&dirs, providers, Duration::from_secs(120)).await?;
        let watches = total_watches(&addr)?.saturating_sub(watches_before);
        consumers.push((
            Consumer {
                mode,
                proxy,
                registry,
                dirs,
                root,
            },
            watches,
        ));
    }

    // Everyone away; the server restarted; one provider more per interface meanwhile.
    for (c, _) in &consumers {
        c.proxy.partition();
    }
    drop(raw);
    server.restart().context("restarting ZooKeeper")?;
    let raw = raw_client(&addr).await?;
    for (c, _) in &consumers {
        for k in 0..interfaces {
            let interface = subscribe_interface(k);
            populate(&raw, &c.root, &interface, &[provider_url(&interface, providers)]).await?;
        }
    }

    let mut out = Vec::new();
    for (c, server_watches) in consumers {
        let before = c.proxy.bytes_to_clients();
        let healed = Instant::now();
        c.proxy.heal();
        tokio::time::timeout(Duration::from_secs(60), async {
            while !c.registry.is_available() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .with_context(|| format!("the {} consumer reconnecting", c.mode))?;
        let connected = Instant::now();
        wait_all(&c.dirs, providers + 1, Duration::from_secs(300))
            .await
            .with_context(|| format!("the {} consumer reconciling", c.mode))?;
        let reconcile = connected.elapsed();
        let since_heal = healed.elapsed();
        let bytes = c.proxy.bytes_to_clients() - before;
        println!(
            "reconnect at {interfaces}x{providers}, {}: reconciled in {:.0} ms ({:.0} ms after being let in), \
             {bytes} B, {server_watches} server watch entries",
            c.mode,
            reconcile.as_secs_f64() * 1e3,
            since_heal.as_secs_f64() * 1e3
        );
        out.push(ReconnectResult {
            mode: c.mode,
            reconcile,
            since_heal,
            bytes,
            server_watches,
        });
        drop(c.dirs);
        c.registry.shutdown().await;
    }
    drop(raw);
    server.stop().context("stopping ZooKeeper")?;
    Ok(out)
}

async fn subscribe_all(registry: &Arc<ZookeeperRegistry>, interfaces: usize) -> Result<Vec<RegistryDirectory>> {
    let shared: Arc<dyn Registry> = registry.clone();
    futures::stream::iter(0..interfaces)
        .map(|k| {
            let registry = shared.clone();
            async move {
                let interface = subscribe_interface(k);
                RegistryDirectory::builder(consumer_url(&interface), Arc::new(InertInvokerFactory))
                    .subscribe(registry)
                    .await
                    .with_context(|| format!("subscribing to {interface}"))
            }
        })
        .buffered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Wait until every directory is complete with `n` providers, within `timeout` in all.
async fn wait_all(dirs: &[RegistryDirectory], n: usize, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    for d in dirs {
        wait_providers(d, n, deadline.saturating_duration_since(Instant::now())).await?;
        let listed = d.snapshot().providers().len();
        ensure!(listed == n, "a directory ended with {listed} providers, expected {n}");
    }
    Ok(())
}

/// `zk_watch_count` from `mntr`: the entries of the server's data and child watch tables
/// (`wchs` counts only the data table; a persistent watch sits in both and counts twice).
fn total_watches(addr: &str) -> Result<u64> {
    let text = four_letter_word(addr, "mntr")?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("zk_watch_count"))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no zk_watch_count in mntr output: {text}"))
}
