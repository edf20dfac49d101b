//! Scenario 1: notification latency. A provider registers; how long until the consumer's
//! directory has swapped in a snapshot holding it. Beside it, in the same run and alternating
//! with it event by event, the floor: a raw `zookeeper-client` create, the child watch firing
//! in another session, and that session's re-list.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::sync::mpsc;
use zkdubbo_registry::Category;
use zkdubbo_registry::Registry;
use zookeeper_client::{Acls, CreateMode};

use super::{Env, Percentiles, Sizes, connect, dir_addresses, directory, provider_url, raw_client, zk_addresses};
use crate::harness::unique_path as unique;

/// What scenario 1 measured.
#[derive(Debug, Clone)]
pub struct LatencyResult {
    /// Register → snapshot swapped.
    pub ours: Percentiles,
    /// Raw create → child event → re-list done.
    pub floor: Percentiles,
    /// Providers in the directory at the end (= events).
    pub final_providers: usize,
}

/// Run scenario 1.
pub async fn run(env: &Env, sizes: &Sizes) -> Result<LatencyResult> {
    let n = sizes.latency_events;
    let root = unique("bench-latency");
    let interface = "org.bench.LatencyService";

    // Ours: one registry for the provider, another (its own session) for the consumer.
    let provider = connect(&env.addr, &root).await?;
    let consumer = connect(&env.addr, &root).await?;
    let dir = directory(&consumer, interface).await?;
    super::wait_providers(&dir, 0, Duration::from_secs(10)).await?;
    let mut changes = dir.changes();

    // The floor: a writer and a watcher session on a path of its own.
    let writer = raw_client(&env.addr).await?;
    let watcher = raw_client(&env.addr).await?;
    let floor_path = format!("{root}/floor/providers");
    writer
        .mkdir(&floor_path, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .context("mkdir floor")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
    let watch_path = floor_path.clone();
    let watch_task = tokio::spawn(async move {
        loop {
            let Ok((children, _, w)) = watcher.get_and_watch_children(&watch_path).await else {
                return;
            };
            if tx.send(children.len()).is_err() {
                return;
            }
            w.changed().await;
        }
    });
    // The initial (empty) list.
    rx.recv().await.context("floor watcher ended")?;

    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    let mut ours = Vec::with_capacity(n);
    let mut floor = Vec::with_capacity(n);
    for i in 0..n {
        // Floor sample.
        let leaf = format!("{floor_path}/{}", provider_url("org.bench.Floor", i).to_node_name());
        let start = Instant::now();
        writer.create(&leaf, &[], &ephemeral).await.context("floor create")?;
        loop {
            let seen = rx.recv().await.context("floor watcher ended")?;
            if seen == i + 1 {
                break;
            }
        }
        floor.push(start.elapsed());

        // Our sample.
        let url = provider_url(interface, i);
        changes.borrow_and_update();
        let start = Instant::now();
        provider.register(&url).await.context("register")?;
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if dir.snapshot().providers().len() == i + 1 {
                    return Ok::<(), tokio::sync::watch::error::RecvError>(());
                }
                changes.changed().await?;
            }
        })
        .await;
        match waited {
            Ok(Ok(())) => ours.push(start.elapsed()),
            Ok(Err(e)) => bail!("directory ended: {e}"),
            Err(_) => bail!("provider {i} not seen by the consumer within 10 s"),
        }
    }
    watch_task.abort();

    // Correctness: the consumer's view is ZooKeeper's.
    let path = provider.layout().category(interface, Category::Providers);
    let expected = zk_addresses(&writer, &path).await?;
    let seen = dir_addresses(&dir);
    ensure!(
        seen.len() == n,
        "consumer sees {} providers, {n} registered",
        seen.len()
    );
    ensure!(seen == expected, "consumer's view differs from ZooKeeper's list");

    provider.shutdown().await;
    consumer.shutdown().await;
    Ok(LatencyResult {
        ours: Percentiles::of(&mut ours),
        floor: Percentiles::of(&mut floor),
        final_providers: seen.len(),
    })
}
