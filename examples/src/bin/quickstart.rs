//! The quickstart demo, driven end to end on a real ZooKeeper:
//!
//! 1. three `greeter-provider` processes register with weights 100, 200 and 300;
//! 2. a consumer ([`Reference`]) makes 600 calls and shows the distribution per provider;
//! 3. one provider is killed (SIGKILL): calls keep succeeding (failover);
//! 4. ZooKeeper is stopped: calls keep working from the last snapshot;
//! 5. ZooKeeper is restarted and a new provider is picked up: a `dubbo-provider` of the same
//!    interface, serving dubbo:// with Hessian2, called through the same [`Reference`] as
//!    the Triple ones (each call carries a body for each protocol).
//!
//! `scripts/demo.sh` starts a throwaway ZooKeeper (unless `ZK_ADDR` is set) and runs this
//! with `--zk-dir` so it can stop and restart it; without `--zk-dir` steps 4 and 5 only
//! start the new provider. Every process started here is stopped on exit.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use zkdubbo::triple::greeter::{self, GreeterRequest};
use zkdubbo::triple::message_invocation;
use zkdubbo::{Reference, SERVED_BY, Url};

/// How far (in percentage points) a provider's share of the calls may be from its share of
/// the weights (600 calls: about 3.5 standard deviations).
const TOLERANCE_POINTS: f64 = 7.0;

/// Run the quickstart demo.
#[derive(Parser, Debug)]
struct Args {
    /// ZooKeeper address.
    #[arg(long, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    zk: String,
    /// Directory of a server started with `scripts/zk.sh start` (lets the demo stop and
    /// restart ZooKeeper).
    #[arg(long)]
    zk_dir: Option<PathBuf>,
    /// Path of `scripts/zk.sh`.
    #[arg(long, default_value = "scripts/zk.sh")]
    zk_script: PathBuf,
    /// Calls in the distribution step.
    #[arg(long, default_value_t = 600)]
    calls: usize,
    /// Write each provider's pid to `<dir>/provider-<pid>.pid` (so a wrapper script can
    /// clean up even if this process is killed).
    #[arg(long)]
    pid_dir: Option<PathBuf>,
}

/// A provider process.
struct Provider {
    child: Child,
    address: String,
    weight: u32,
}

impl Provider {
    async fn start(args: &Args, weight: u32) -> anyhow::Result<Provider> {
        Self::start_bin(args, "greeter-provider", weight).await
    }

    /// Start the example binary `name` (`greeter-provider` or `dubbo-provider`).
    async fn start_bin(args: &Args, name: &str, weight: u32) -> anyhow::Result<Provider> {
        let zk = args.zk.as_str();
        let exe = std::env::current_exe()?;
        let bin = exe.with_file_name(name);
        let mut child = Command::new(&bin)
            .args(["--zk", zk, "--port", "0", "--weight", &weight.to_string()])
            .args(["--interface", greeter::INTERFACE])
            .args([
                "--host",
                "127.0.0.1",
                "--session-timeout-ms",
                "4000",
                "--warmup-ms",
                "0",
            ])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        if let (Some(dir), Some(pid)) = (&args.pid_dir, child.id()) {
            std::fs::write(dir.join(format!("provider-{pid}.pid")), pid.to_string())?;
        }
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("registered ") {
                    let url: Url = url.parse().map_err(|e| anyhow::anyhow!("bad URL {url}: {e}"))?;
                    return Ok(format!("{}://{}", url.protocol(), url.address()));
                }
            }
            anyhow::bail!("{name} exited before registering")
        })
        .await
        .with_context(|| format!("{name} did not register within 20 s"))??;
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Provider { child, address, weight })
    }

    /// SIGTERM: the provider unregisters, then stops.
    async fn stop(mut self) {
        // Our own child is not reaped before `wait`, so its pid cannot have been reused.
        if let Some(pid) = self.child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let started = Instant::now();
    let mut providers: Vec<Provider> = Vec::new();
    let result = tokio::select! {
        r = run(&args, &mut providers, started) => r,
        _ = zkdubbo::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
    };
    for p in providers {
        p.stop().await;
    }
    if result.is_ok() {
        println!(
            "\n== done in {:.1} s: providers stopped (they unregistered themselves)",
            started.elapsed().as_secs_f64()
        );
    }
    result
}

async fn run(args: &Args, providers: &mut Vec<Provider>, started: Instant) -> anyhow::Result<()> {
    println!("== zkdubbo quickstart — ZooKeeper at {}", args.zk);
    println!("\n-- 1. three providers register (weights 100, 200, 300)");
    for weight in [100, 200, 300] {
        let p = Provider::start(args, weight).await?;
        println!("   provider {} weight {weight}", p.address);
        providers.push(p);
    }

    let reference = Reference::builder()
        .interface(greeter::INTERFACE)
        .registry(zkdubbo_examples::registry_url(&args.zk, None)?)
        .application("quickstart-consumer")
        .retries(2)
        .timeout(Duration::from_secs(2))
        .build()
        .await
        .context("the consumer cannot start")?;
    wait_for_providers(&reference, 3, Duration::from_secs(20)).await?;
    let node = reference.directories()[0]
        .snapshot()
        .providers()
        .first()
        .map(|m| m.registered_url().to_node_name())
        .unwrap_or_default();
    println!(
        "   consumer sees 3 providers, e.g. ZooKeeper node /dubbo/{}/providers/{node}",
        greeter::INTERFACE
    );

    println!(
        "\n-- 2. {} calls, weighted random (warm-up disabled: Dubbo ramps a new provider's weight up over 10 min)",
        args.calls
    );
    let counts = calls(&reference, args.calls).await;
    let total_weight: u32 = providers.iter().map(|p| p.weight).sum();
    let mut within = true;
    for p in providers.iter() {
        let n = counts.served.get(&p.address).copied().unwrap_or(0);
        let share = 100.0 * n as f64 / args.calls as f64;
        let expected = 100.0 * f64::from(p.weight) / f64::from(total_weight);
        within &= (share - expected).abs() <= TOLERANCE_POINTS;
        println!(
            "   {:<22} weight {:>3}  {:>4} calls  {:>5.1}%  (expected {:>4.1}%)",
            p.address, p.weight, n, share, expected
        );
    }
    println!("   {} ok, {} failed", counts.ok, counts.failed);
    let distribution_ok = counts.failed == 0 && within;

    println!("\n-- 3. kill -9 the weight-300 provider; calls keep succeeding (failover)");
    let victim = providers.remove(2);
    let victim_address = victim.address.clone();
    let mut child = victim.child;
    child.kill().await?;
    println!("   killed {victim_address}; its node stays in ZooKeeper until its session expires");
    let after_kill = calls(&reference, 200).await;
    println!(
        "   200 calls: {} ok, {} failed; served by {:?}",
        after_kill.ok, after_kill.failed, after_kill.served
    );
    let t = Instant::now();
    wait_for_providers(&reference, 2, Duration::from_secs(30)).await?;
    println!(
        "   ZooKeeper removed its node {:.1} s later (session expiry)",
        t.elapsed().as_secs_f64()
    );

    let mut outage = None;
    if let Some(dir) = &args.zk_dir {
        println!("\n-- 4. stop ZooKeeper; calls keep working from the snapshot");
        zk(&args.zk_script, &["stop", &dir.to_string_lossy()]).await?;
        println!("   ZooKeeper stopped");
        let during = calls(&reference, 200).await;
        println!(
            "   200 calls: {} ok, {} failed; served by {:?}",
            during.ok, during.failed, during.served
        );
        zk(&args.zk_script, &["restart", &dir.to_string_lossy()]).await?;
        println!("   ZooKeeper restarted");
        outage = Some(during);
    } else {
        println!("\n-- 4. skipped: ZooKeeper is not ours to stop (no --zk-dir)");
    }

    println!("\n-- 5. a new dubbo:// provider (weight 100) of the same interface is picked up");
    let newcomer = Provider::start_bin(args, "dubbo-provider", 100).await?;
    let new_address = newcomer.address.clone();
    providers.push(newcomer);
    let t = Instant::now();
    wait_for_providers(&reference, 3, Duration::from_secs(30)).await?;
    println!("   consumer saw {new_address} after {:.1} s", t.elapsed().as_secs_f64());
    let after = calls(&reference, 200).await;
    println!(
        "   200 calls: {} ok, {} failed; served by {:?}",
        after.ok, after.failed, after.served
    );
    reference.shutdown().await;

    println!("\n== report ({:.1} s)", started.elapsed().as_secs_f64());
    let line = |ok: bool, what: String| println!("   [{}] {what}", if ok { "ok" } else { "FAILED" });
    line(
        distribution_ok,
        format!(
            "{} calls spread by weight 100/200/300 (each share within {TOLERANCE_POINTS} points of its weight's)",
            args.calls
        ),
    );
    line(
        after_kill.failed == 0 && !after_kill.served.contains_key(&victim_address),
        format!("failover: {}/200 calls succeeded with a provider killed", after_kill.ok),
    );
    if let Some(during) = &outage {
        line(
            during.failed == 0,
            format!("ZooKeeper down: {}/200 calls succeeded from the snapshot", during.ok),
        );
    }
    line(
        after.failed == 0 && after.served.contains_key(&new_address),
        format!(
            "new provider {new_address} picked up and called {} times",
            after.served.get(&new_address).copied().unwrap_or(0)
        ),
    );
    let all_ok = distribution_ok
        && after_kill.failed == 0
        && outage.as_ref().is_none_or(|o| o.failed == 0)
        && after.failed == 0
        && after.served.contains_key(&new_address);
    if !all_ok {
        anyhow::bail!("some step failed (see the report)");
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Counts {
    ok: usize,
    failed: usize,
    served: BTreeMap<String, usize>,
}

async fn calls(reference: &Reference, n: usize) -> Counts {
    let mut counts = Counts::default();
    for i in 0..n {
        let name = format!("call-{i}");
        // One body per protocol: protobuf for the Triple providers, Hessian2 for dubbo://.
        let tri = message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: name.clone() });
        let inv = match zkdubbo::dubbo::invocation(greeter::SAY_HELLO, &["java.lang.String"], &(&name,)) {
            Ok(inv) => inv.with_encoding("tri", tri.payload().clone()),
            Err(_) => tri,
        };
        match reference.invoke(&inv).await {
            Ok(r) => {
                counts.ok += 1;
                let by = r.attachments.get(SERVED_BY).cloned().unwrap_or_default();
                let by = format!("{}://{by}", r.protocol.unwrap_or("?"));
                *counts.served.entry(by).or_default() += 1;
            }
            Err(e) => {
                counts.failed += 1;
                if counts.failed <= 3 {
                    println!("   call {i} failed: {e}");
                }
            }
        }
    }
    counts
}

async fn wait_for_providers(reference: &Reference, want: usize, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let have = reference.directories()[0].snapshot().providers().len();
        if have == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("the consumer sees {have} provider(s), not {want}, after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn zk(script: &PathBuf, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(script)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .await
        .with_context(|| format!("cannot run {}", script.display()))?;
    anyhow::ensure!(
        status.success(),
        "{} {} failed: {status}",
        script.display(),
        args.join(" ")
    );
    Ok(())
}
