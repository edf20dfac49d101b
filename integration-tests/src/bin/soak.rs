//! `soak`: the randomized fault soak (see `scripts/soak.sh`).
//!
//! ```text
//! cargo run --release -p zkdubbo-integration-tests --bin soak -- [--seconds N] [--seed S]
//! ```

use anyhow::{Context, Result};
use zkdubbo_integration_tests::soak::{child, run};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    if args.first().map(String::as_str) == Some("child") {
        return runtime.block_on(child::main(&args[1..]));
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    let settings = run::Settings {
        seconds: value("--seconds").unwrap_or(60),
        seed: value("--seed").unwrap_or(1),
    };
    let failed = runtime.block_on(run::run(settings))?;
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
