//! The soak's orchestrator: start everything, inject faults from the seed, check after each
//! heal, print a summary whose last line is `N passed, M failed`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use zkdubbo_common::Url;
use zookeeper_client::{Client, CreateMode};

use super::INTERFACE;
use super::faults::Fault;
use crate::harness::{PartitionMode, TcpProxy, ZkEnsemble};

/// How long after a heal every consumer's view must equal ZooKeeper's (plus one 250 ms report
/// interval of the consumer).
const VIEW_DEADLINE: Duration = Duration::from_millis(2250);
/// How long after a heal every live provider must be registered.
const REGISTRATION_DEADLINE: Duration = Duration::from_secs(3);

/// What a consumer reported last.
#[derive(Debug, Default)]
struct Seen {
    view: Vec<String>,
    at: Option<Instant>,
    ok: u64,
    failed: u64,
    reasons: BTreeMap<String, u64>,
}

struct Proc {
    child: Child,
    alive: bool,
    paused: bool,
}

/// The soak's settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long to inject faults.
    pub seconds: u64,
    /// The seed of the fault schedule.
    pub seed: u64,
}

/// Run the soak; `Ok(failed checks)`.
pub async fn run(settings: Settings) -> Result<usize> {
    let started = Instant::now();
    let stamp = move || format!("[{:6.1} s]", started.elapsed().as_secs_f64());
    let mut ensemble = tokio::task::block_in_place(|| ZkEnsemble::start(200)).context("a 3-node ensemble")?;
    let connect = ensemble.connect_string();
    let root = format!("/soak-{}", settings.seed);
    let providers_path = format!("{root}/{INTERFACE}/providers");
    let exe = std::env::current_exe()?;

    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_>>()?;
    let mut providers = Vec::new();
    for &port in &ports {
        providers.push(start_provider(&exe, &connect, &root, port).await?);
    }
    // Consumer 0 talks to the ensemble; consumer 1 through a proxy per server (partitions).
    let mut proxies = Vec::new();
    for node in ensemble.nodes() {
        proxies.push(TcpProxy::start(node.addr()).await?);
    }
    let proxied = proxies.iter().map(TcpProxy::addr).collect::<Vec<_>>().join(",");
    let seen: Vec<Arc<Mutex<Seen>>> = (0..2).map(|_| Arc::default()).collect();
    let mut consumers = Vec::new();
    for (zk, seen) in [(&connect, &seen[0]), (&proxied, &seen[1])] {
        consumers.push(start_consumer(&exe, zk, &root, seen.clone()).await?);
    }
    let raw = Client::connect(&connect).await.context("a raw client")?;
    println!(
        "soak: seed {}, {} s of faults, ensemble {connect}, providers on {ports:?}, consumer 1 via {proxied}",
        settings.seed, settings.seconds
    );
    // Everything up before the first fault.
    let mut all: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    all.sort();
    if let Err(e) = converge(&raw, &providers_path, &seen, &all, Duration::from_secs(30)).await {
        anyhow::bail!("the soak's starting state never settled: {e}");
    }

    let mut rng = fastrand::Rng::with_seed(settings.seed);
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut n = 0;
    let faults_from = Instant::now();
    while faults_from.elapsed() < Duration::from_secs(settings.seconds) {
        n += 1;
        let fault = Fault::draw(&mut rng, providers.len());
        println!("{} fault {n}: {fault}", stamp());
        for s in &seen {
            let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
            (s.ok, s.failed) = (0, 0);
            s.reasons.clear();
        }
        apply(
            fault,
            &mut ensemble,
            &mut providers,
            &proxies,
            &raw,
            &root,
            &ports,
            &exe,
            &connect,
        )
        .await?;
        tokio::task::block_in_place(|| ensemble.wait_serving(Duration::from_secs(30)))
            .context("the ensemble serves again")?;
        let healed = Instant::now();

        // Checks: live providers registered, views equal ZooKeeper's, nobody crashed.
        let live: Vec<String> = ports
            .iter()
            .zip(&providers)
            .filter(|(_, p)| p.alive && !p.paused)
            .map(|(port, _)| format!("127.0.0.1:{port}"))
            .collect();
        let registered = registered(&raw, &providers_path, &live, REGISTRATION_DEADLINE).await;
        let views = converge(
            &raw,
            &providers_path,
            &seen,
            &[],
            VIEW_DEADLINE.saturating_sub(healed.elapsed()),
        )
        .await;
        let mut crashed = Vec::new();
        for (i, p) in providers.iter_mut().chain(consumers.iter_mut()).enumerate() {
            if p.alive && p.child.try_wait().ok().flatten().is_some() {
                crashed.push(i);
                p.alive = false;
            }
        }
        let mut line = String::new();
        for (what, ok, detail) in [
            (
                "registrations",
                registered.is_ok(),
                registered.clone().map(ms).unwrap_or_else(|e| e),
            ),
            ("views", views.is_ok(), views.clone().map(ms).unwrap_or_else(|e| e)),
            ("processes", crashed.is_empty(), format!("{} crashed", crashed.len())),
        ] {
            if ok {
                passed += 1;
            } else {
                failed += 1;
            }
            line.push_str(&format!("{what} {} ({detail}); ", if ok { "ok" } else { "FAILED" }));
        }
        let calls: Vec<String> = seen
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(|e| e.into_inner());
                let why: Vec<String> = s.reasons.iter().map(|(r, n)| format!("{n} × {r}")).collect();
                format!(
                    "{} ok / {} failed{}",
                    s.ok,
                    s.failed,
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", why.join("; "))
                    }
                )
            })
            .collect();
        println!("{}   healed: {line}calls {}", stamp(), calls.join(" | "));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for p in providers.iter_mut().chain(consumers.iter_mut()) {
        if let Some(pid) = p.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
        let _ = p.child.start_kill();
    }
    println!("{n} faults in {:.0} s", started.elapsed().as_secs_f64());
    println!("{passed} passed, {failed} failed");
    Ok(failed)
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start_provider(exe: &std::path::Path, zk: &str, root: &str, port: u16) -> Result<Proc> {
    let mut child = Command::new(exe)
        .args(["child", "provider", zk, root, &port.to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await? {
            if l.starts_with("registered") {
                return Ok(());
            }
        }
        anyhow::bail!("provider exited")
    })
    .await
    .context("provider registers")??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Proc {
        child,
        alive: true,
        paused: false,
    })
}

async fn start_consumer(exe: &std::path::Path, zk: &str, root: &str, seen: Arc<Mutex<Seen>>) -> Result<Proc> {
    let mut child = Command::new(exe)
        .args(["child", "consumer", zk, root])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(v) = l.strip_prefix("VIEW ") {
                s.view = v.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect();
                s.at = Some(Instant::now());
            } else if let Some(c) = l.strip_prefix("CALLS ") {
                let mut parts = c.splitn(3, ' ');
                let ok: u64 = parts.next().and_then(|x| x.parse().ok()).unwrap_or(0);
                let bad: u64 = parts.next().and_then(|x| x.parse().ok()).unwrap_or(0);
                s.ok += ok;
                s.failed += bad;
                if bad > 0 {
                    let why = parts.next().unwrap_or("").chars().take(100).collect::<String>();
                    *s.reasons.entry(why).or_default() += bad;
                }
            }
        }
    });
    Ok(Proc {
        child,
        alive: true,
        paused: false,
    })
}

fn signal(p: &Proc, sig: &str) {
    if let Some(pid) = p.child.id() {
        let _ = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status();
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    fault: Fault,
    ensemble: &mut ZkEnsemble,
    providers: &mut [Proc],
    proxies: &[TcpProxy],
    raw: &Client,
    root: &str,
    ports: &[u16],
    exe: &std::path::Path,
    connect: &str,
) -> Result<()> {
    let sleep = |ms: u64| tokio::time::sleep(Duration::from_millis(ms));
    match fault {
        Fault::KillServer { i, ms } => {
            tokio::task::block_in_place(|| ensemble.kill(i))?;
            sleep(ms).await;
            tokio::task::block_in_place(|| ensemble.restart(i))?;
        }
        Fault::PauseServer { i, ms } => {
            ensemble.pause(i)?;
            sleep(ms).await;
            ensemble.resume(i)?;
        }
        Fault::WipeServer { i } => {
            tokio::task::block_in_place(|| ensemble.kill(i))?;
            let data = ensemble.node(i).dir().join("data").join("version-2");
            let _ = std::fs::remove_dir_all(&data);
            tokio::task::block_in_place(|| ensemble.restart(i))?;
        }
        Fault::PauseProvider { p, ms } => {
            signal(&providers[p], "-STOP");
            providers[p].paused = true;
            sleep(ms).await;
            signal(&providers[p], "-CONT");
            providers[p].paused = false;
        }
        Fault::KillProvider { p, ms } => {
            let _ = providers[p].child.kill().await;
            providers[p].alive = false;
            sleep(ms).await;
            providers[p] = start_provider(exe, connect, root, ports[p]).await?;
        }
        Fault::PartitionConsumer { ms, mode } => {
            let mode = [PartitionMode::Refuse, PartitionMode::Blackhole, PartitionMode::Freeze][usize::from(mode % 3)];
            for proxy in proxies {
                proxy.partition_with(mode);
            }
            sleep(ms).await;
            for proxy in proxies {
                proxy.heal();
            }
        }
        Fault::DeleteProviderNode { p } => {
            let path = format!("{root}/{INTERFACE}/providers");
            let want = format!("127.0.0.1:{}", ports[p]);
            if let Ok(children) = raw.list_children(&path).await {
                for c in children {
                    if Url::from_node_name(&c).is_ok_and(|u| u.address() == want) {
                        let _ = raw.delete(&format!("{path}/{c}"), None).await;
                    }
                }
            }
        }
        Fault::HostileRules { ms } => {
            let rules = [
                (
                    format!("{root}/{INTERFACE}/configurators"),
                    format!(
                        "override://0.0.0.0/{INTERFACE}?category=configurators&dynamic=false&retries=2147483647&hash.nodes=4294967295"
                    ),
                ),
                (
                    format!("{root}/{INTERFACE}/routers"),
                    format!("condition://0.0.0.0/{INTERFACE}?category=routers&dynamic=false&rule="),
                ),
            ];
            let mut written = Vec::new();
            for (dir, rule) in &rules {
                let node = format!("{dir}/{}", rule.parse::<Url>()?.to_node_name());
                let mode = CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
                if raw.create(&node, b"", &mode).await.is_ok() {
                    written.push(node);
                }
            }
            sleep(ms).await;
            for node in written {
                let _ = raw.delete(&node, None).await;
            }
        }
    }
    Ok(())
}

/// ZooKeeper's provider addresses, sorted.
async fn zk_list(raw: &Client, path: &str) -> Option<Vec<String>> {
    let children = tokio::time::timeout(Duration::from_secs(1), raw.list_children(path))
        .await
        .ok()?
        .ok()?;
    let mut v: Vec<String> = children
        .iter()
        .filter_map(|c| Url::from_node_name(c).ok())
        .map(|u| u.address())
        .collect();
    v.sort();
    v.dedup();
    Some(v)
}

/// Wait until every live provider is in ZooKeeper.
async fn registered(raw: &Client, path: &str, live: &[String], within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let have = zk_list(raw, path).await.unwrap_or_default();
        let missing: Vec<&String> = live.iter().filter(|a| !have.contains(a)).collect();
        if missing.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            return Err(format!("{missing:?} not registered after {} ms", within.as_millis()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until every consumer's view equals ZooKeeper's list (and, when `want` is not empty,
/// that list is `want`).
async fn converge(
    raw: &Client,
    path: &str,
    seen: &[Arc<Mutex<Seen>>],
    want: &[String],
    within: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let zk = zk_list(raw, path).await;
        let views: Vec<Vec<String>> = seen
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).view.clone())
            .collect();
        if let Some(zk) = &zk
            && (want.is_empty() || zk == want)
            && views.iter().all(|v| v == zk)
        {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            return Err(format!("ZooKeeper has {zk:?}, consumers see {views:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
