//! The consumer side of scenarios 3 and 4, run in a child process (`scale-bench child ...`) so
//! that its peak memory and CPU time are the consumer's alone.
//!
//! Protocol: the child prints `READY` when it has subscribed (churn only), reads `STOP` on
//! stdin (churn only), and ends with one line `RESULT key=value ...`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use super::{
    Percentiles, connect, cpu_time, dir_addresses, directory, proc_status_kb, provider_url, unix_micros, wait_providers,
};

/// The URL param carrying a churned provider's registration time (µs since the epoch).
pub const TIME_PARAM: &str = "bench.t";

/// The name of interface `k` of scenario 3.
pub fn subscribe_interface(k: usize) -> String {
    format!("org.bench.sub.Service{k:04}")
}

/// `RESULT` fields.
pub type Fields = HashMap<String, String>;

/// Parse a `RESULT a=1 b=2` line.
pub fn parse_result(line: &str) -> Option<Fields> {
    let rest = line.strip_prefix("RESULT")?;
    Some(
        rest.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// A field as a number.
pub fn field<T: std::str::FromStr>(fields: &Fields, key: &str) -> Result<T> {
    fields
        .get(key)
        .with_context(|| format!("RESULT has no {key}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("RESULT field {key} is not a number"))
}

/// Run a child mode from the command line (`args` after `child`).
pub async fn main(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("subscribe") => {
            let [_, addr, root, interfaces, providers] = args else {
                bail!("usage: child subscribe ADDR ROOT INTERFACES PROVIDERS")
            };
            subscribe(addr, root, interfaces.parse()?, providers.parse()?).await
        }
        Some("churn") => {
            let [_, addr, root, interface, providers, out] = args else {
                bail!("usage: child churn ADDR ROOT INTERFACE PROVIDERS OUT_FILE")
            };
            churn(addr, root, interface, providers.parse()?, PathBuf::from(out)).await
        }
        Some("levels") => {
            let [_, addr, root, interfaces, providers, step] = args else {
                bail!("usage: child levels ADDR ROOT INTERFACES PROVIDERS STEP")
            };
            super::levels::consumer(addr, root, interfaces.parse()?, providers.parse()?, step).await
        }
        _ => bail!("unknown child mode {args:?}"),
    }
}

/// Scenario 3's consumer: subscribe to `interfaces` interfaces with `providers` each; report
/// the time until every snapshot is complete and the peak RSS.
async fn subscribe(addr: &str, root: &str, interfaces: usize, providers: usize) -> Result<()> {
    let rss_start = proc_status_kb("VmRSS").unwrap_or(0);
    let start = Instant::now();
    let registry = connect(addr, root).await?;
    let connected = start.elapsed();
    let mut dirs = Vec::with_capacity(interfaces);
    for k in 0..interfaces {
        dirs.push(directory(&registry, &subscribe_interface(k)).await?);
    }
    for dir in &dirs {
        wait_providers(dir, providers, Duration::from_secs(120)).await?;
    }
    let ready = start.elapsed();
    let hwm = proc_status_kb("VmHWM").unwrap_or(0);
    let rss = proc_status_kb("VmRSS").unwrap_or(0);
    // Correctness (after the memory reading): every view is exactly what was registered.
    for (k, dir) in dirs.iter().enumerate() {
        let interface = subscribe_interface(k);
        let mut expected: Vec<String> = (0..providers).map(|i| provider_url(&interface, i).address()).collect();
        expected.sort();
        ensure!(
            dir_addresses(dir) == expected,
            "{interface}: view differs from ZooKeeper"
        );
    }
    println!(
        "RESULT ready_ms={:.3} connect_ms={:.3} hwm_kb={hwm} rss_kb={rss} rss_start_kb={rss_start} directories={} providers={}",
        ready.as_secs_f64() * 1e3,
        connected.as_secs_f64() * 1e3,
        dirs.len(),
        dirs.iter().map(|d| d.snapshot().providers().len()).sum::<usize>()
    );
    Ok(())
}

/// Scenario 4's consumer: follow `interface` until `STOP`; report CPU time, the lag of every
/// provider that appeared (from its `bench.t`), and write the final view to `out`.
async fn churn(addr: &str, root: &str, interface: &str, providers: usize, out: PathBuf) -> Result<()> {
    let registry = connect(addr, root).await?;
    let dir = directory(&registry, interface).await?;
    wait_providers(&dir, providers, Duration::from_secs(60)).await?;
    let mut changes = dir.changes();
    changes.borrow_and_update();
    let mut latest: u64 = dir
        .snapshot()
        .providers()
        .iter()
        .filter_map(|m| m.url().param(TIME_PARAM)?.parse().ok())
        .max()
        .unwrap_or(0);
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    println!("READY");
    let cpu_start = cpu_time();
    let mut observer = Duration::ZERO;
    let mut swaps = 0u64;
    let mut lags = Vec::new();
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    bail!("directory ended");
                }
                // Not the consumer's work: timed and subtracted from its CPU time.
                let t0 = Instant::now();
                swaps += 1;
                let now = unix_micros();
                let snapshot = dir.snapshot();
                let mut newest = latest;
                for m in snapshot.providers().iter() {
                    if let Some(t) = m.url().param(TIME_PARAM).and_then(|t| t.parse::<u64>().ok())
                        && t > latest
                    {
                        lags.push(Duration::from_micros(now.saturating_sub(t)));
                        newest = newest.max(t);
                    }
                }
                latest = newest;
                observer += t0.elapsed();
            }
            line = stdin.next_line() => {
                match line? {
                    Some(l) if l.trim() == "STOP" => break,
                    Some(_) => {}
                    None => bail!("parent went away"),
                }
            }
        }
    }
    let cpu = cpu_time().saturating_sub(cpu_start);
    let lag = Percentiles::of(&mut lags);
    let view = dir_addresses(&dir);
    std::fs::write(&out, view.join("\n")).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "RESULT cpu_ms={:.3} observer_ms={:.3} swaps={swaps} appeared={} lag_p50_ms={:.3} lag_p99_ms={:.3} lag_max_ms={:.3} providers={} hwm_kb={}",
        cpu.as_secs_f64() * 1e3,
        observer.as_secs_f64() * 1e3,
        lag.n,
        lag.p50.as_secs_f64() * 1e3,
        lag.p99.as_secs_f64() * 1e3,
        lag.max.as_secs_f64() * 1e3,
        view.len(),
        proc_status_kb("VmHWM").unwrap_or(0),
    );
    Ok(())
}

/// A running child: its stdin, and its stdout lines.
pub struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl ChildProc {
    /// Start `exe child <args>`.
    pub fn spawn(exe: &std::path::Path, args: &[String]) -> Result<ChildProc> {
        Self::spawn_with_env(exe, args, &[])
    }

    /// [`ChildProc::spawn`] with environment variables set for the child. With
    /// `SCALE_BENCH_CHILD_WRAPPER` set (e.g. `heaptrack` or `perf record -g --`), the child
    /// runs under that command, to profile a consumer on its own.
    pub fn spawn_with_env(exe: &std::path::Path, args: &[String], vars: &[(&str, &str)]) -> Result<ChildProc> {
        let wrapper = std::env::var("SCALE_BENCH_CHILD_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut child = command
            .arg("child")
            .args(args)
            .envs(vars.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("child stdout")?;
        Ok(ChildProc {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// Wait for a line starting with `prefix` (other lines are echoed).
    pub async fn expect(&mut self, prefix: &str, timeout: Duration) -> Result<String> {
        let read = async {
            while let Some(line) = self.lines.next_line().await? {
                if line.starts_with(prefix) {
                    return Ok(line);
                }
                println!("child: {line}");
            }
            bail!("child ended before printing {prefix}")
        };
        match tokio::time::timeout(timeout, read).await {
            Ok(r) => r,
            Err(_) => bail!("child printed no {prefix} within {timeout:?}"),
        }
    }

    /// Send one line.
    pub async fn send(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("child stdin closed")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Wait for the child to exit successfully.
    pub async fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .context("child did not exit")??;
        ensure!(status.success(), "child failed: {status}");
        Ok(())
    }
}
