//! `zkdubbo pick`: preview load balancing offline. Reads provider URLs from a file and
//! prints the provider each key (or each of N calls) would go to.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use zkdubbo_common::CallStats;
use zkdubbo_common::{Invocation, Url};
use zkdubbo_loadbalance::SeededRng;
use zkdubbo_loadbalance::{PreparedSet, by_name, wall_clock_ms};

/// Arguments of `zkdubbo pick`.
#[derive(clap::Args, Debug)]
pub struct PickArgs {
    /// File with one provider URL per line (`weight`, `timestamp`, `warmup`, `hash.nodes`,
    /// `hash.arguments` honoured); blank lines and lines starting with `#` are skipped.
    #[arg(long, value_name = "FILE")]
    pub providers: PathBuf,
    /// Strategy: random, roundrobin, leastactive, consistenthash, shortestresponse or p2c.
    #[arg(long, value_name = "NAME", default_value = "random")]
    pub strategy: String,
    /// File with one request key per line; each is the call's first argument (what
    /// consistenthash hashes with the default `hash.arguments=0`). One pick per key.
    #[arg(long, value_name = "FILE", conflicts_with = "count")]
    pub keys: Option<PathBuf>,
    /// Number of picks when no keys are given.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub count: usize,
    /// Method name (selects method-level parameters such as `<method>.weight`).
    #[arg(long, value_name = "M", default_value = "invoke")]
    pub method: String,
    /// Seed for reproducible random picks.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
}

/// Parse a providers file: one URL per line, blank lines and `#` comments skipped.
pub fn parse_providers(text: &str) -> anyhow::Result<Vec<Url>> {
    let mut urls = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let url = Url::parse(line).with_context(|| format!("line {}: not a provider URL: {line:?}", n + 1))?;
        if url.host().is_empty() {
            bail!("line {}: provider URL without a host: {line:?}", n + 1);
        }
        urls.push(url);
    }
    Ok(urls)
}

/// Run `zkdubbo pick`, printing one `host:port` per key or pick.
pub fn run(args: &PickArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.providers)
        .with_context(|| format!("cannot read providers file {}", args.providers.display()))?;
    let urls = parse_providers(&text).with_context(|| format!("in {}", args.providers.display()))?;
    if urls.is_empty() {
        bail!("no providers in {}", args.providers.display());
    }
    let lb = by_name(&args.strategy)?;
    let set = PreparedSet::with_options(urls, &args.method, wall_clock_ms(), Arc::new(CallStats::new()));
    let mut rng = SeededRng::new(args.seed.unwrap_or_else(|| wall_clock_ms() as u64));
    let mut pick = |inv: &Invocation, out: &mut dyn Write| -> anyhow::Result<()> {
        let chosen = lb
            .select_with_rng(&set, inv, &mut rng)
            .and_then(|i| set.providers().get(i))
            .context("no provider chosen")?;
        writeln!(out, "{}", chosen.address())?;
        Ok(())
    };
    match &args.keys {
        Some(path) => {
            let keys =
                std::fs::read_to_string(path).with_context(|| format!("cannot read keys file {}", path.display()))?;
            for key in keys.lines() {
                pick(&Invocation::new(args.method.as_str()).with_argument(key), out)?;
            }
        }
        None => {
            let inv = Invocation::new(args.method.as_str());
            for _ in 0..args.count {
                pick(&inv, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_bad_lines() {
        let urls = parse_providers("# providers\n\ndubbo://10.0.0.1:20880/S?weight=3\n  \n").unwrap();
        assert_eq!(urls.len(), 1);
        let err = parse_providers("dubbo://10.0.0.1:20880/S\n\nnot a url\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
    }
}
