//! Scenario 7: notification latency beside Curator. On one ZooKeeper started with
//! `forceSync=no` (so disk flushes do not dominate), in bursts of `burst` events taken in
//! turn: a Java process on Debian's Curator 5.4 following a path as Dubbo 2.7's
//! `CuratorZookeeperClient` does (`integration-tests/java/CuratorWatch.java`: a re-armed
//! `getChildren` watch, a re-list on each event), fed by raw creates; and zkdubbo's
//! `register` → directory snapshot, with the consumer on persistent watches and on child
//! watches. Each sample is one node created and waited for before the next.
//! Needs `javac` and `libcurator-framework-java` (`scripts/zk.sh install`).
//! Prints `latency beside curator, <mode>: p50 <ms> ms, p99 <ms> ms` per mode.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use zkdubbo_directory::{InertInvokerFactory, RegistryDirectory};
use zkdubbo_registry::{Registry, ZookeeperRegistry};
use zookeeper_client::{Acls, CreateMode};

use super::{Percentiles, consumer_url, provider_url, raw_client, registry_url, unix_micros};
use crate::harness::{ZkOptions, ZkServer, unique_path};

/// The jars `CuratorWatch` runs on, as Debian installs them.
const JARS: [&str; 6] = [
    "curator-framework.jar",
    "curator-client.jar",
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "guava.jar",
    "slf4j-api.jar",
];

/// One consumer's latencies.
#[derive(Debug, Clone)]
pub struct Sample {
    /// `curator`, `zkdubbo persistent` or `zkdubbo children`.
    pub mode: &'static str,
    /// Create (or `register`) → the consumer holds the new list.
    pub latency: Percentiles,
}

/// Run scenario 7: `rounds` × `burst` events per consumer.
pub async fn run(child_tmp: &Path, rounds: usize, burst: usize) -> Result<Vec<Sample>> {
    let classpath = compile(child_tmp)?;
    let server = ZkServer::start_with(ZkOptions {
        extra_cfg: vec!["forceSync=no".to_owned()],
        ..ZkOptions::default()
    })
    .context("starting ZooKeeper")?;
    let addr = server.addr();
    let root = unique_path("bench-curator");
    let writer = raw_client(&addr).await?;
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let curator_path = format!("{root}/curator/providers");
    writer
        .mkdir(&curator_path, &persistent)
        .await
        .context("mkdir for Curator")?;
    let mut curator = Curator::start(&classpath, &addr, &curator_path).await?;

    let provider = ZookeeperRegistry::connect(&registry_url(&addr, &root)?)
        .await
        .context("provider registry")?;
    let mut ours = Vec::new();
    for mode in ["persistent", "children"] {
        let url = registry_url(&addr, &root)?.with_param("watch", mode);
        let registry = ZookeeperRegistry::connect(&url).await.context("consumer registry")?;
        let interface = format!("org.bench.Latency{}", if mode == "persistent" { "P" } else { "C" });
        let shared: Arc<dyn Registry> = registry.clone();
        let dir = RegistryDirectory::builder(consumer_url(&interface), Arc::new(InertInvokerFactory))
            .subscribe(shared)
            .await
            .with_context(|| format!("subscribing to {interface}"))?;
        super::wait_providers(&dir, 0, Duration::from_secs(10)).await?;
        ours.push((mode, registry, interface, dir, Vec::new()));
    }

    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    let mut curator_lags = Vec::new();
    let mut i = 0;
    for _ in 0..rounds {
        for _ in 0..burst {
            let leaf = format!("{curator_path}/{}", provider_url("org.bench.Curator", i).to_node_name());
            let start = unix_micros();
            writer
                .create(&leaf, &[], &ephemeral)
                .await
                .context("create for Curator")?;
            let seen_at = curator.wait_for(i + 1).await?;
            curator_lags.push(Duration::from_micros(seen_at.saturating_sub(start)));
            i += 1;
        }
        for (_, _, interface, dir, lags) in &mut ours {
            let base = dir.snapshot().providers().len();
            let mut changes = dir.changes();
            for k in 0..burst {
                changes.borrow_and_update();
                let start = Instant::now();
                provider
                    .register(&provider_url(interface, base + k))
                    .await
                    .context("register")?;
                let waited = tokio::time::timeout(Duration::from_secs(10), async {
                    while dir.snapshot().providers().len() != base + k + 1 {
                        changes.changed().await?;
                    }
                    Ok::<(), tokio::sync::watch::error::RecvError>(())
                })
                .await;
                match waited {
                    Ok(Ok(())) => lags.push(start.elapsed()),
                    Ok(Err(e)) => bail!("directory ended: {e}"),
                    Err(_) => bail!("provider {} of {interface} not seen within 10 s", base + k),
                }
            }
        }
    }
    curator.stop().await;
    let mut out = vec![Sample {
        mode: "curator",
        latency: Percentiles::of(&mut curator_lags),
    }];
    for (mode, registry, _, dir, mut lags) in ours {
        ensure!(
            dir.snapshot().providers().len() == rounds * burst,
            "the {mode} consumer ended with {} providers",
            dir.snapshot().providers().len()
        );
        out.push(Sample {
            mode: if mode == "persistent" {
                "zkdubbo persistent"
            } else {
                "zkdubbo children"
            },
            latency: Percentiles::of(&mut lags),
        });
        drop(dir);
        registry.shutdown().await;
    }
    provider.shutdown().await;
    for s in &out {
        println!(
            "latency beside curator, {}: p50 {:.3} ms, p99 {:.3} ms ({} events)",
            s.mode,
            s.latency.p50.as_secs_f64() * 1e3,
            s.latency.p99.as_secs_f64() * 1e3,
            s.latency.n
        );
    }
    server.stop().context("stopping ZooKeeper")?;
    Ok(out)
}

/// Compile `CuratorWatch.java` into `tmp`; the class path to run it with.
fn compile(tmp: &Path) -> Result<String> {
    let java_dir = Path::new("/usr/share/java");
    let mut jars: Vec<PathBuf> = Vec::new();
    for jar in JARS {
        let path = java_dir.join(jar);
        ensure!(
            path.exists(),
            "{} is missing: run scripts/zk.sh install (it installs libcurator-framework-java)",
            path.display()
        );
        jars.push(path);
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("java/CuratorWatch.java");
    let classes = tmp.join("curator-watch");
    std::fs::create_dir_all(&classes).with_context(|| format!("creating {}", classes.display()))?;
    let jar_path = std::env::join_paths(&jars).context("class path")?;
    let status = std::process::Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg("-cp")
        .arg(&jar_path)
        .arg(&source)
        .status()
        .context("running javac (run scripts/zk.sh install)")?;
    ensure!(status.success(), "javac failed on {}", source.display());
    let mut all = vec![classes];
    all.extend(jars);
    Ok(std::env::join_paths(all)
        .context("class path")?
        .to_string_lossy()
        .into_owned())
}

struct Curator {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Curator {
    async fn start(classpath: &str, addr: &str, path: &str) -> Result<Curator> {
        let mut child = Command::new("java")
            .args(["-cp", classpath, "CuratorWatch", addr, path])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting java")?;
        let stdout = child.stdout.take().context("java's stdout")?;
        let mut curator = Curator {
            child,
            lines: BufReader::new(stdout).lines(),
        };
        curator.wait_for(0).await.context("Curator's first list")?;
        Ok(curator)
    }

    /// Wait for a list of `n` children; when it was seen (epoch µs).
    async fn wait_for(&mut self, n: usize) -> Result<u64> {
        let deadline = Duration::from_secs(30);
        loop {
            let line = tokio::time::timeout(deadline, self.lines.next_line())
                .await
                .with_context(|| format!("Curator did not list {n} children within {deadline:?}"))?
                .context("reading Curator's output")?
                .context("Curator's process ended")?;
            let mut parts = line.split_whitespace();
            if parts.next() != Some("seen") {
                continue;
            }
            let count: usize = parts.next().and_then(|c| c.parse().ok()).context("count")?;
            let at: u64 = parts.next().and_then(|t| t.parse().ok()).context("time")?;
            if count == n {
                return Ok(at);
            }
        }
    }

    async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}
