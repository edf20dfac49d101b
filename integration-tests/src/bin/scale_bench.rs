//! `scale-bench`: zkdubbo at scale on a real ZooKeeper (ARCHITECTURE: Scale).
//!
//! ```text
//! cargo run --release -p zkdubbo-integration-tests --bin scale-bench -- [--quick] [--write | --no-write]
//! ```
//!
//! Starts its own ZooKeeper servers through the harness, runs the five scenarios of
//! [`zkdubbo_integration_tests::scale`], prints a Markdown table and (full runs by default,
//! `--quick` runs only with `--write`) rewrites the `## Scale (real ZooKeeper)` section of
//! `BENCHMARKS.md`. Exits non-zero if a scenario failed its correctness checks (targets missed
//! are reported, not failures). `--only N[,M]` runs some scenarios.
//!
//! `--only 6` runs scenario 6, the watch modes side by side (not part of the table): churn
//! with the consumer on persistent and on one-shot child watches at 1,000 and 10,000
//! providers (200 with `--quick`), and the bytes ZooKeeper sends a consumer per registration
//! at 10, 1,000 and 10,000 providers (10 and 200), printed as
//! `churn cpu ratio (classic/persistent) at N=<n>: <x>` and
//! `egress per change at N=<n>: persistent <b> B, classic <b> B`.
//!
//! `--only 7` times notifications beside Curator (a Java consumer on Debian's Curator 5.4
//! doing what Dubbo 2.7 does) on a server with `forceSync=no`, 10 bursts of 100 events per
//! consumer (2 × 20 with `--quick`). `--only 8` measures a reconnection: 1,000 interfaces × 10
//! providers (50 × 10), ZooKeeper restarted, one provider added per interface meanwhile; time,
//! bytes and server watches per watch mode. `--only 9` compares discovery levels: 1,000
//! interfaces of 10 applications × 10 instances (50 of 5 × 4) at interface level and at
//! application level: ZooKeeper nodes and bytes, and one consumer's server watches, time to
//! ready and peak memory.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use zkdubbo_integration_tests::harness::{ZkOptions, ZkServer, four_letter_word};
use zkdubbo_integration_tests::scale::report::{Machine, Results, load_average, rewrite_section};
use zkdubbo_integration_tests::scale::{self, Env, RAISED_JUTE_MAXBUFFER, Sizes};

fn skipped<T>() -> Result<T, String> {
    Err("not run".to_owned())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    if args.first().map(String::as_str) == Some("child") {
        return runtime.block_on(scale::child::main(&args[1..]));
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut quick = false;
    let mut write = None;
    let mut only: Option<Vec<u32>> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--write" => write = Some(true),
            "--no-write" => write = Some(false),
            "--only" => {
                let list = it.next().context("--only needs a list, e.g. 1,3")?;
                only = Some(list.split(',').map(str::parse).collect::<Result<_, _>>()?);
            }
            other => bail!(
                "unknown argument {other} (expected --quick, --write, --no-write, --only N,M; 6 is the watch modes, 7 Curator, 8 reconnects, 9 discovery levels)"
            ),
        }
    }
    let write = write.unwrap_or(!quick) && only.is_none();
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    let runs = |n: u32| only.as_ref().is_none_or(|o| o.contains(&n));

    let server = ZkServer::start_with(ZkOptions {
        tick_ms: 200,
        jute_maxbuffer: Some(RAISED_JUTE_MAXBUFFER),
        max_session_timeout_ms: None,
        ..ZkOptions::default()
    })
    .context("starting ZooKeeper")?;
    let zk_version = four_letter_word(&server.addr(), "srvr")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Zookeeper version: ")
                    .map(|v| v.split(['-', ',']).next().unwrap_or(v).to_owned())
            })
        })
        .unwrap_or_else(|| "?".to_owned());
    let mut machine = Machine::probe(zk_version);
    let env = Env {
        addr: server.addr(),
        child_exe: std::env::current_exe().context("own executable")?,
    };
    eprintln!(
        "scale-bench{}: ZooKeeper {} at {}, load {}",
        if quick { " --quick" } else { "" },
        machine.zk_version,
        env.addr,
        machine.load_before
    );
    let results = runtime.block_on(async {
        let step = |n: u32, name: &str| eprintln!("[{n}] {name} (load {})", load_average());
        let latency = if runs(1) {
            step(1, "notification latency");
            scale::latency::run(&env, &sizes).await.map_err(|e| format!("{e:#}"))
        } else {
            skipped()
        };
        let throughput = if runs(2) {
            step(2, "registration throughput");
            scale::throughput::run(&env, &sizes).await.map_err(|e| format!("{e:#}"))
        } else {
            skipped()
        };
        let subscribe = if runs(3) {
            step(3, "subscribe at scale");
            scale::subscribe::run(&env, &sizes).await.map_err(|e| format!("{e:#}"))
        } else {
            skipped()
        };
        let churn = if runs(4) {
            step(4, "churn");
            scale::churn::run(&env, &sizes).await.map_err(|e| format!("{e:#}"))
        } else {
            skipped()
        };
        let bigdir = if runs(5) {
            step(5, "big directory");
            scale::bigdir::run(&env, &sizes).await.map_err(|e| format!("{e:#}"))
        } else {
            skipped()
        };
        if only.as_ref().is_some_and(|o| o.contains(&6)) {
            step(6, "watch modes");
            let (churn_sizes, egress_sizes): (&[usize], &[usize]) = if quick {
                (&[200], &[10, 200])
            } else {
                (&[1_000, 10_000], &[10, 1_000, 10_000])
            };
            if let Err(e) = scale::watch_modes::run(&env, &sizes, churn_sizes, egress_sizes).await {
                eprintln!("[6] watch modes failed: {e:#}");
            }
        }
        if only.as_ref().is_some_and(|o| o.contains(&7)) {
            step(7, "latency beside Curator");
            let (rounds, burst) = if quick { (2, 20) } else { (10, 100) };
            let tmp = tempfile::tempdir().map_err(|e| format!("{e}"));
            match tmp {
                Ok(tmp) => {
                    if let Err(e) = scale::curator::run(tmp.path(), rounds, burst).await {
                        eprintln!("[7] latency beside Curator failed: {e:#}");
                    }
                }
                Err(e) => eprintln!("[7] no temporary directory: {e}"),
            }
        }
        if only.as_ref().is_some_and(|o| o.contains(&8)) {
            step(8, "reconnect cost");
            let (interfaces, providers) = if quick { (50, 10) } else { (1_000, 10) };
            if let Err(e) = scale::reconnect::run(interfaces, providers).await {
                eprintln!("[8] reconnect cost failed: {e:#}");
            }
        }
        if only.as_ref().is_some_and(|o| o.contains(&9)) {
            step(9, "interface level vs application level");
            let (apps, instances, interfaces) = if quick { (5, 4, 50) } else { (10, 10, 1_000) };
            if let Err(e) = scale::levels::run(&env, apps, instances, interfaces).await {
                eprintln!("[9] discovery levels failed: {e:#}");
            }
        }
        Results {
            sizes: sizes.clone(),
            quick,
            latency,
            throughput,
            subscribe,
            churn,
            bigdir,
        }
    });
    machine.load_after = load_average();
    println!("{}", results.table());
    if write {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md");
        rewrite_section(&path, &results.section_block(&machine))?;
        eprintln!("BENCHMARKS.md: Scale section rewritten");
    }
    drop(server);
    if only.is_none() && !results.all_ran() {
        bail!("a scenario failed");
    }
    Ok(())
}
