//! Scenario 2: registration throughput. One process registers many providers of one
//! interface through one `ZookeeperRegistry`, with many `register` futures in flight at once;
//! beside it, the floor: the same number of raw ephemeral creates pipelined on one session.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use zkdubbo_registry::Category;
use zkdubbo_registry::Registry;
use zookeeper_client::{Acls, CreateMode};

use super::{Env, Sizes, connect, provider_url, raw_client};
use crate::harness::unique_path;

/// What scenario 2 measured.
#[derive(Debug, Clone)]
pub struct ThroughputResult {
    /// Providers registered.
    pub providers: usize,
    /// Wall time of all registrations.
    pub elapsed: Duration,
    /// Registrations per second.
    pub per_s: f64,
    /// Raw pipelined ephemeral creates per second (the floor).
    pub floor_per_s: f64,
}

/// Run scenario 2.
pub async fn run(env: &Env, sizes: &Sizes) -> Result<ThroughputResult> {
    let n = sizes.throughput_providers;
    let root = unique_path("bench-throughput");
    let interface = "org.bench.ThroughputService";
    let registry = connect(&env.addr, &root).await?;
    let urls: Vec<_> = (0..n).map(|i| provider_url(interface, i)).collect();
    // The parents exist before timing starts (a real provider process registers one of each).
    registry.register(&provider_url(interface, n)).await?;
    registry.unregister(&provider_url(interface, n)).await?;

    let start = Instant::now();
    let mut results = futures::stream::iter(urls.iter().map(|u| registry.register(u)))
        .buffer_unordered(sizes.throughput_in_flight.max(1));
    while let Some(r) = results.next().await {
        r.context("register")?;
    }
    drop(results);
    let elapsed = start.elapsed();

    let raw = raw_client(&env.addr).await?;
    let path = registry.layout().category(interface, Category::Providers);
    let stat = raw.check_stat(&path).await?.context("providers path missing")?;
    ensure!(
        stat.num_children as usize == n,
        "ZooKeeper holds {} providers, {n} registered",
        stat.num_children
    );
    ensure!(registry.pending_operations().is_empty(), "registrations left pending");
    registry.shutdown().await;

    // Floor: raw pipelined ephemeral creates, same names, same count.
    let floor_path = format!("{root}/floor/providers");
    raw.mkdir(&floor_path, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .context("mkdir floor")?;
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    let leaves: Vec<String> = urls
        .iter()
        .map(|u| format!("{floor_path}/{}", u.to_node_name()))
        .collect();
    let start = Instant::now();
    let mut creates = futures::stream::iter(leaves.iter().map(|p| raw.create(p, &[], &ephemeral)))
        .buffer_unordered(sizes.throughput_in_flight.max(1));
    while let Some(r) = creates.next().await {
        r.context("raw create")?;
    }
    drop(creates);
    let floor = start.elapsed();

    Ok(ThroughputResult {
        providers: n,
        elapsed,
        per_s: n as f64 / elapsed.as_secs_f64(),
        floor_per_s: n as f64 / floor.as_secs_f64(),
    })
}
