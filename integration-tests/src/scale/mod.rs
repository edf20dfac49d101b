//! The scale benchmark (`scale-bench`): the whole stack on a real ZooKeeper, each figure beside
//! what ZooKeeper itself allows (ARCHITECTURE: Scale).
//!
//! Five scenarios, each in its own module: notification latency against the raw-client floor
//! ([`latency`]), registration throughput ([`throughput`]), one consumer subscribing to many
//! interfaces ([`subscribe`], in a child process so its memory is its own), churn under a
//! subscribed consumer ([`churn`], also in a child process for its CPU time), and a big
//! directory beyond ZooKeeper's default `jute.maxbuffer` ([`bigdir`]).
//!
//! Every scenario checks what it measured: the consumer's final view is compared with the
//! children ZooKeeper lists, so the smoke test (`tests/scale_quick.rs`) asserts correctness
//! while the timings are only reported.

pub mod bigdir;
pub mod child;
pub mod churn;
pub mod curator;
pub mod latency;
pub mod levels;
pub mod reconnect;
pub mod report;
pub mod subscribe;
pub mod throughput;
pub mod watch_modes;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use zkdubbo_common::Url;
use zkdubbo_directory::{InertInvokerFactory, RegistryDirectory};
use zkdubbo_registry::Registry;
use zkdubbo_registry::ZookeeperRegistry;
use zookeeper_client::{Acls, Client, CreateMode};

/// The `jute.maxbuffer` of the benchmark's main server: room for a provider list of 10,000
/// Dubbo URLs (about 4 MB) with margin.
pub const RAISED_JUTE_MAXBUFFER: u32 = 16 * 1024 * 1024;

/// ZooKeeper's default `jute.maxbuffer` (`0xfffff`, one byte short of 1 MiB).
pub const DEFAULT_JUTE_MAXBUFFER: u32 = 0xfffff;

/// The sizes of one run.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Scenario 1: provider registrations timed (and as many raw floor events).
    pub latency_events: usize,
    /// Scenario 2: providers registered by one process.
    pub throughput_providers: usize,
    /// Scenario 2: register futures in flight at once.
    pub throughput_in_flight: usize,
    /// Scenario 3: interfaces one consumer subscribes to.
    pub subscribe_interfaces: usize,
    /// Scenario 3: providers per interface.
    pub subscribe_providers: usize,
    /// Scenario 4: providers registered before the churn starts.
    pub churn_providers: usize,
    /// Scenario 4: unregister + register pairs per second.
    pub churn_pairs_per_s: u32,
    /// Scenario 4: how long the churn lasts.
    pub churn_duration: Duration,
    /// Scenario 5: `jute.maxbuffer` of the server the limit is searched on (`None`: the
    /// default).
    pub limit_server_maxbuffer: Option<u32>,
    /// Scenario 5: providers added per step of the limit search.
    pub limit_step: usize,
    /// Scenario 5: providers of the big directory (on the raised server).
    pub big_providers: usize,
    /// Scenario 5: refreshes timed once the big directory is complete.
    pub big_refreshes: usize,
}

impl Sizes {
    /// The full run: the sizes BENCHMARKS.md reports.
    pub fn full() -> Sizes {
        Sizes {
            latency_events: 1_000,
            throughput_providers: 10_000,
            throughput_in_flight: 512,
            subscribe_interfaces: 1_000,
            subscribe_providers: 10,
            churn_providers: 1_000,
            churn_pairs_per_s: 100,
            churn_duration: Duration::from_secs(30),
            limit_server_maxbuffer: None,
            limit_step: 100,
            big_providers: 10_000,
            big_refreshes: 50,
        }
    }

    /// `--quick`: under a minute, for CI smoke runs.
    pub fn quick() -> Sizes {
        Sizes {
            latency_events: 200,
            throughput_providers: 2_000,
            throughput_in_flight: 512,
            subscribe_interfaces: 100,
            subscribe_providers: 10,
            churn_providers: 200,
            churn_pairs_per_s: 100,
            churn_duration: Duration::from_secs(3),
            limit_server_maxbuffer: None,
            limit_step: 250,
            big_providers: 4_000,
            big_refreshes: 10,
        }
    }

    /// The smallest sizes, for the test that runs every code path (seconds).
    pub fn smoke() -> Sizes {
        Sizes {
            latency_events: 20,
            throughput_providers: 200,
            throughput_in_flight: 64,
            subscribe_interfaces: 10,
            subscribe_providers: 3,
            churn_providers: 50,
            churn_pairs_per_s: 50,
            churn_duration: Duration::from_secs(1),
            limit_server_maxbuffer: Some(64 * 1024),
            limit_step: 20,
            big_providers: 300,
            big_refreshes: 3,
        }
    }
}

/// Where the run's servers are and how to start the child processes.
#[derive(Debug, Clone)]
pub struct Env {
    /// Address of the main server (`jute.maxbuffer` raised).
    pub addr: String,
    /// The executable that runs [`child`] modes (the `scale-bench` binary).
    pub child_exe: PathBuf,
}

/// A realistic provider URL (the parameters Java Dubbo 3 writes), number `i` of `interface`.
pub fn provider_url(interface: &str, i: usize) -> Url {
    let host = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    let text = format!(
        "dubbo://{host}:20880/{interface}?anyhost=true&application=bench-provider&deprecated=false&dubbo=2.0.2\
         &dynamic=true&generic=false&interface={interface}&methods=get,put,delete,list,scan&pid=4242\
         &release=3.2.10&service-name-mapping=true&side=provider&timestamp=1700000000000"
    );
    // Built from our own format string: cannot fail for valid interface names.
    Url::parse(&text).unwrap_or_else(|e| panic!("bench provider URL {text}: {e}"))
}

/// The registry URL of a bench client under `root` (no cache file).
pub fn registry_url(addr: &str, root: &str) -> Result<Url> {
    let text = format!("zookeeper://{addr}?group={root}&file.cache=false&timeout=15000&session=30000");
    Url::parse(&text).with_context(|| format!("registry URL {text}"))
}

/// Connect a registry under `root`.
pub async fn connect(addr: &str, root: &str) -> Result<Arc<ZookeeperRegistry>> {
    let url = registry_url(addr, root)?;
    ZookeeperRegistry::connect(&url)
        .await
        .with_context(|| format!("connecting to ZooKeeper at {addr}"))
}

/// The consumer URL of `interface`.
pub fn consumer_url(interface: &str) -> Url {
    let text =
        format!("consumer://10.1.1.1/{interface}?application=bench-consumer&interface={interface}&side=consumer");
    Url::parse(&text).unwrap_or_else(|e| panic!("bench consumer URL {text}: {e}"))
}

/// A directory of `interface` following `registry`, with inert invokers.
pub async fn directory(registry: &Arc<ZookeeperRegistry>, interface: &str) -> Result<RegistryDirectory> {
    let registry: Arc<dyn Registry> = registry.clone();
    RegistryDirectory::builder(consumer_url(interface), Arc::new(InertInvokerFactory))
        .subscribe(registry)
        .await
        .with_context(|| format!("subscribing to {interface}"))
}

/// Wait until `dir` is complete and holds exactly `n` providers.
pub async fn wait_providers(dir: &RegistryDirectory, n: usize, timeout: Duration) -> Result<Duration> {
    let start = Instant::now();
    let mut rx = dir.changes();
    let done = tokio::time::timeout(timeout, async {
        loop {
            let s = dir.snapshot();
            if s.is_complete() && s.providers().len() == n {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    if done.is_err() {
        let s = dir.snapshot();
        bail!(
            "{}: {} providers after {:?} (complete: {}), expected {n}",
            dir.snapshot().consumer().interface(),
            s.providers().len(),
            timeout,
            s.is_complete()
        );
    }
    Ok(start.elapsed())
}

/// A raw client (the floor and the checks use ZooKeeper directly).
pub async fn raw_client(addr: &str) -> Result<Client> {
    Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .connect(addr)
        .await
        .with_context(|| format!("raw client to {addr}"))
}

/// The providers path of `interface` under `root`.
pub fn providers_path(root: &str, interface: &str) -> String {
    format!("{root}/{interface}/providers")
}

/// Create persistent provider nodes `urls` under `<root>/<interface>/providers`, pipelined in
/// batches (fast set-up that needs no session to stay alive).
pub async fn populate(client: &Client, root: &str, interface: &str, urls: &[Url]) -> Result<()> {
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let parent = providers_path(root, interface);
    match client.mkdir(&parent, &persistent).await {
        Ok(()) | Err(zookeeper_client::Error::NodeExists) => {}
        Err(e) => return Err(e).with_context(|| format!("mkdir {parent}")),
    }
    let paths: Vec<String> = urls.iter().map(|u| format!("{parent}/{}", u.to_node_name())).collect();
    for chunk in paths.chunks(1_000) {
        let calls: Vec<_> = chunk.iter().map(|p| client.create(p, &[], &persistent)).collect();
        for (p, call) in chunk.iter().zip(calls) {
            match call.await {
                Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
                Err(e) => return Err(e).with_context(|| format!("create {p}")),
            }
        }
    }
    Ok(())
}

/// The provider addresses ZooKeeper lists under `path`, sorted.
pub async fn zk_addresses(client: &Client, path: &str) -> Result<Vec<String>> {
    let children = client
        .list_children(path)
        .await
        .with_context(|| format!("listing {path}"))?;
    let mut out = Vec::with_capacity(children.len());
    for name in children {
        let url = Url::from_node_name(&name).with_context(|| format!("node {name}"))?;
        out.push(url.address());
    }
    out.sort();
    Ok(out)
}

/// The provider addresses of a directory's current snapshot, sorted.
pub fn dir_addresses(dir: &RegistryDirectory) -> Vec<String> {
    let mut out: Vec<String> = dir.snapshot().providers().iter().map(|m| m.url().address()).collect();
    out.sort();
    out
}

/// Latency percentiles of a sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
}

impl Percentiles {
    /// Percentiles of `samples` (sorted here).
    pub fn of(samples: &mut [Duration]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_unstable();
        let rank = |q: f64| {
            let i = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[i - 1]
        };
        Percentiles {
            n: samples.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: samples[samples.len() - 1],
        }
    }
}

/// A `/proc/self/status` field in kB (`VmHWM`, `VmRSS`).
pub fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1_000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Microseconds since the Unix epoch (comparable between processes on one machine).
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or_default()
}

/// Milliseconds with three decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}
