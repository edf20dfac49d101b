//! Scenario 6: the two ways of following a category side by side. Churn (scenario 4) with the
//! consumer on persistent watches and on one-shot child watches, at each size, and the bytes
//! ZooKeeper sends a consumer for one registration (counted through the test proxy) with a
//! consumer in each mode. Prints the lines `churn cpu ratio (classic/persistent) at N=<n>: <x>`
//! and `egress per change at N=<n>: persistent <b> B, classic <b> B`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use zkdubbo_registry::{Category, Registry, ZookeeperRegistry};

use super::churn::{ChurnResult, run_with};
use super::{Env, Sizes, connect, consumer_url, provider_url, registry_url};
use crate::harness::{TcpProxy, unique_path};

/// Churn in both modes at one size.
#[derive(Debug, Clone)]
pub struct ChurnPair {
    /// Providers.
    pub providers: usize,
    /// With persistent watches.
    pub persistent: ChurnResult,
    /// With one-shot child watches.
    pub classic: ChurnResult,
}

impl ChurnPair {
    /// Consumer CPU with child watches over CPU with persistent ones.
    pub fn cpu_ratio(&self) -> f64 {
        self.classic.consumer_cpu.as_secs_f64() / self.persistent.consumer_cpu.as_secs_f64().max(1e-6)
    }
}

/// Bytes for one registration at one size.
#[derive(Debug, Clone, Copy)]
pub struct Egress {
    /// Providers registered before the one counted.
    pub providers: usize,
    /// With persistent watches.
    pub persistent: u64,
    /// With one-shot child watches.
    pub classic: u64,
}

/// What scenario 6 measured.
#[derive(Debug, Clone)]
pub struct WatchModes {
    /// Churn per size.
    pub churn: Vec<ChurnPair>,
    /// Egress per size.
    pub egress: Vec<Egress>,
}

/// Run scenario 6 at `churn_sizes` and `egress_sizes`.
pub async fn run(env: &Env, sizes: &Sizes, churn_sizes: &[usize], egress_sizes: &[usize]) -> Result<WatchModes> {
    let mut churn = Vec::new();
    for &n in churn_sizes {
        let sized = Sizes {
            churn_providers: n,
            ..sizes.clone()
        };
        let persistent = run_with(env, &sized, Some("persistent"))
            .await
            .context("churn, persistent")?;
        let classic = run_with(env, &sized, Some("children"))
            .await
            .context("churn, children")?;
        ensure!(
            persistent.final_equal && classic.final_equal,
            "a consumer's final view differs from ZooKeeper's"
        );
        let pair = ChurnPair {
            providers: n,
            persistent,
            classic,
        };
        for (mode, r) in [("persistent", &pair.persistent), ("children", &pair.classic)] {
            println!(
                "churn at N={n}, {mode}: {} pairs in {:.1} s, consumer CPU {:.0} ms, {} snapshots, lag p50 {:.1} ms \
                 p99 {:.1} ms max {:.1} ms, final view = ZooKeeper's: {}",
                r.pairs,
                r.elapsed.as_secs_f64(),
                r.consumer_cpu.as_secs_f64() * 1e3,
                r.swaps,
                r.lag_p50_ms,
                r.lag_p99_ms,
                r.lag_max_ms,
                r.final_equal
            );
        }
        println!("churn cpu ratio (classic/persistent) at N={n}: {:.1}", pair.cpu_ratio());
        churn.push(pair);
    }
    let mut egress = Vec::new();
    for &n in egress_sizes {
        let e = egress_at(env, n).await.with_context(|| format!("egress at {n}"))?;
        println!(
            "egress per change at N={n}: persistent {} B, classic {} B",
            e.persistent, e.classic
        );
        egress.push(e);
    }
    Ok(WatchModes { churn, egress })
}

/// One consumer per mode, each through its own proxy, then one registration.
async fn egress_at(env: &Env, n: usize) -> Result<Egress> {
    let root = unique_path("bench-egress");
    let interface = "org.bench.EgressService";
    let provider = connect(&env.addr, &root).await?;
    let urls: Vec<_> = (0..=n).map(|i| provider_url(interface, i)).collect();
    let mut regs = futures::stream::iter(urls[..n].iter().map(|u| provider.register(u))).buffer_unordered(256);
    while let Some(r) = regs.next().await {
        r.context("register")?;
    }
    drop(regs);
    let mut consumers = Vec::new();
    for mode in ["persistent", "children"] {
        let proxy = TcpProxy::start(env.addr.clone()).await?;
        let url = registry_url(&proxy.addr(), &root)?.with_param("watch", mode);
        let registry = ZookeeperRegistry::connect(&url).await?;
        let mut sub = registry
            .subscribe(&consumer_url(interface).with_param("category", "providers"))
            .await?;
        wait_len(&mut sub, n).await?;
        consumers.push((proxy, registry, sub));
    }
    let before: Vec<u64> = consumers.iter().map(|(p, _, _)| p.bytes_to_clients()).collect();
    provider.register(&urls[n]).await?;
    for (_, _, sub) in &mut consumers {
        wait_len(sub, n + 1).await?;
    }
    let bytes: Vec<u64> = consumers
        .iter()
        .zip(before)
        .map(|((p, _, _), b)| p.bytes_to_clients() - b)
        .collect();
    for (_, registry, _) in consumers {
        registry.shutdown().await;
    }
    provider.shutdown().await;
    Ok(Egress {
        providers: n,
        persistent: bytes[0],
        classic: bytes[1],
    })
}

async fn wait_len(sub: &mut zkdubbo_registry::Subscription, n: usize) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let next = tokio::time::timeout_at(deadline, sub.next())
            .await
            .context("the consumer's list did not arrive in time")?
            .context("subscription ended")?;
        if next.category == Category::Providers && !next.is_empty_marker() && next.urls.len() == n {
            return Ok(());
        }
    }
}
