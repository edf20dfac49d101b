//! `zkdubbo`: inspect and operate a Dubbo registry on ZooKeeper.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

/// Inspect and operate Dubbo services registered in ZooKeeper.
#[derive(Parser, Debug)]
#[command(name = "zkdubbo", version, about)]
struct Cli {
    /// ZooKeeper address(es), comma-separated.
    #[arg(long, global = true, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    zk: String,
    /// Registry root path (Dubbo's registry `group`).
    #[arg(long, global = true, default_value = "/dubbo")]
    root: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the node name of a URL (offline).
    Encode {
        /// The URL, e.g. `dubbo://10.0.0.5:20880/com.foo.Bar?side=provider`.
        url: String,
    },
    /// Print the URL a node name stands for (offline).
    Decode {
        /// The node name, e.g. `dubbo%3A%2F%2F10.0.0.5%3A20880%2Fcom.foo.Bar`.
        node_name: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZKDUBBO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = run(cli, &mut out);
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zkdubbo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    match cli.command {
        Command::Encode { url } => commands::encode::encode(&url, out),
        Command::Decode { node_name } => commands::encode::decode(&node_name, out),
    }
}
