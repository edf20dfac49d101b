//! Scenario 4: churn. Providers of one interface, and every tick one provider unregisters and
//! a new one registers (with its registration time in `bench.t`), while a consumer in a child
//! process follows: its CPU time, the lag of every new provider (registration call → in the
//! consumer's snapshot; ZooKeeper orders the preceding removal before it), and its final view
//! against ZooKeeper's list.

use rand::RngExt;
use std::time::{Duration, Instant};
use zkdubbo_loadbalance::SeededRng;

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use zkdubbo_registry::Category;
use zkdubbo_registry::Registry;

use super::child::{ChildProc, TIME_PARAM, field, parse_result};
use super::{Env, Sizes, connect, provider_url, raw_client, unix_micros, zk_addresses};
use crate::harness::unique_path;

/// What scenario 4 measured.
#[derive(Debug, Clone)]
pub struct ChurnResult {
    /// Providers throughout.
    pub providers: usize,
    /// Unregister + register pairs done.
    pub pairs: usize,
    /// How long the churn ran.
    pub elapsed: Duration,
    /// Consumer CPU time (user + system) during the churn, observer excluded.
    pub consumer_cpu: Duration,
    /// Snapshot swaps the consumer saw.
    pub swaps: u64,
    /// New providers whose lag was measured.
    pub appeared: usize,
    /// Lag percentiles, ms.
    pub lag_p50_ms: f64,
    /// 99th percentile lag, ms.
    pub lag_p99_ms: f64,
    /// Largest lag, ms.
    pub lag_max_ms: f64,
    /// Whether the consumer's final view equals ZooKeeper's list.
    pub final_equal: bool,
}

/// Run scenario 4.
pub async fn run(env: &Env, sizes: &Sizes) -> Result<ChurnResult> {
    run_with(env, sizes, None).await
}

/// Run scenario 4 with the consumer following lists in `watch` mode (`persistent`,
/// `children`; `None`: the default).
pub async fn run_with(env: &Env, sizes: &Sizes, watch: Option<&str>) -> Result<ChurnResult> {
    let root = unique_path("bench-churn");
    let interface = "org.bench.ChurnService";
    let n = sizes.churn_providers;
    let provider = connect(&env.addr, &root).await?;
    let mut live: Vec<_> = (0..n).map(|i| provider_url(interface, i)).collect();
    let mut regs = futures::stream::iter(live.iter().map(|u| provider.register(u))).buffer_unordered(256);
    while let Some(r) = regs.next().await {
        r.context("register")?;
    }
    drop(regs);

    let out = tempfile::NamedTempFile::new().context("temp file")?;
    let vars: Vec<(&str, &str)> = watch.map(|w| ("ZKDUBBO_WATCH", w)).into_iter().collect();
    let mut child = ChildProc::spawn_with_env(
        &env.child_exe,
        &[
            "churn".to_owned(),
            env.addr.clone(),
            root.clone(),
            interface.to_owned(),
            n.to_string(),
            out.path().to_string_lossy().into_owned(),
        ],
        &vars,
    )?;
    child.expect("READY", Duration::from_secs(60)).await?;

    let period = Duration::from_secs_f64(1.0 / f64::from(sizes.churn_pairs_per_s.max(1)));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Victims from a fixed seed: every run churns the same providers.
    let mut rng = SeededRng::new(0x9e37_79b9_7f4a_7c15);
    let mut next = n;
    let mut pairs = 0;
    let start = Instant::now();
    while start.elapsed() < sizes.churn_duration {
        ticker.tick().await;
        let victim = live.swap_remove(rng.random_range(0..live.len()));
        provider.unregister(&victim).await.context("unregister")?;
        let url = provider_url(interface, next).with_param(TIME_PARAM, unix_micros().to_string());
        next += 1;
        provider.register(&url).await.context("register")?;
        live.push(url);
        pairs += 1;
    }
    let elapsed = start.elapsed();
    // Let the last change reach the consumer, then stop it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.send("STOP").await?;
    let line = child.expect("RESULT", Duration::from_secs(30)).await?;
    child.finish().await?;
    let fields = parse_result(&line).context("RESULT line")?;

    let raw = raw_client(&env.addr).await?;
    let path = provider.layout().category(interface, Category::Providers);
    let expected = zk_addresses(&raw, &path).await?;
    let seen: Vec<String> = std::fs::read_to_string(out.path())?
        .lines()
        .map(str::to_owned)
        .collect();
    ensure!(
        expected.len() == n,
        "ZooKeeper lists {} providers, expected {n}",
        expected.len()
    );
    let cpu_ms: f64 = field(&fields, "cpu_ms")?;
    let observer_ms: f64 = field(&fields, "observer_ms")?;
    provider.shutdown().await;
    Ok(ChurnResult {
        providers: n,
        pairs,
        elapsed,
        consumer_cpu: Duration::from_secs_f64((cpu_ms - observer_ms).max(0.0) / 1e3),
        swaps: field(&fields, "swaps")?,
        appeared: field(&fields, "appeared")?,
        lag_p50_ms: field(&fields, "lag_p50_ms")?,
        lag_p99_ms: field(&fields, "lag_p99_ms")?,
        lag_max_ms: field(&fields, "lag_max_ms")?,
        final_equal: seen == expected,
    })
}
