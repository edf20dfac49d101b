//! `zkdubbo`: inspect and operate a Dubbo registry on ZooKeeper.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod console;
mod json;
mod target;

use commands::{
    call::CallArgs, describe::DescribeArgs, hessian::HessianCommand, pick::PickArgs, providers::ProvidersArgs,
    register::RegisterArgs, register::UnregisterArgs, rules::DisableArgs, rules::RouteArgs, rules::RuleCommand,
    rules::TagArgs, rules::WeightArgs, status::StatusArgs, watch::WatchArgs,
};
use target::Target;

/// Inspect and operate Dubbo services registered in ZooKeeper.
///
/// Errors go to stderr with a non-zero exit status; logs go to stderr too (set ZKDUBBO_LOG,
/// e.g. ZKDUBBO_LOG=debug), so stdout stays machine-readable.
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
    /// List the interfaces under the root, one per line.
    Services,
    /// Serve a web page over the registry: services, providers and consumers, live, with
    /// weight and disable/enable actions (until interrupted).
    Console(console::ConsoleArgs),
    /// List the Dubbo 3 applications registered instance by instance (`/services`), with
    /// their instance counts.
    Apps(commands::apps::AppsArgs),
    /// Print an application's instances: endpoints, metadata revision, where the metadata is.
    Instances(commands::apps::InstancesArgs),
    /// Print the URLs currently registered for an interface.
    Providers(ProvidersArgs),
    /// Print a line per notification until interrupted.
    Watch(WatchArgs),
    /// Register a URL and hold it until SIGINT/SIGTERM (then unregister).
    Register(RegisterArgs),
    /// Remove a registered URL.
    Unregister(UnregisterArgs),
    /// Connect once and print the session (id, negotiated timeout, server).
    Status(StatusArgs),
    /// Print the node name of a URL (offline).
    Encode {
        /// The URL, e.g. `dubbo://10.0.0.5:20880/com.foo.Bar?side=provider`.
        url: String,
    },
    /// Print what a consumer sees after configurators and routers.
    Describe(DescribeArgs),
    /// Print the provider each key or call would be balanced to (offline).
    Pick(PickArgs),
    /// Call a method of a dubbo:// service found in ZooKeeper (a generic call) and print the
    /// result as JSON.
    Call(CallArgs),
    /// Hessian2 tools (offline).
    #[command(subcommand)]
    Hessian(HessianCommand),
    /// Set a provider's weight the way dubbo-admin does (a `type: weight` configurator, and
    /// the URL-style override older consumers read).
    Weight(WeightArgs),
    /// Disable a provider for every consumer (a `disabled: true` configurator).
    Disable(DisableArgs),
    /// Enable a provider disabled with `zkdubbo disable`.
    Enable(DisableArgs),
    /// Condition routes of a service or a consumer application:
    /// `route <interface> set '<when> => <then>'`, `route --application app list`...
    Route(RouteArgs),
    /// Tag routes of a provider application: `tag <app> set <tag> <ip:port>...`, `tag <app> delete`.
    Tag(TagArgs),
    /// Any rule of the config center as raw YAML (`put` checks it parses first).
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Print the URL a node name stands for (offline).
    Decode {
        /// The node name, e.g. `dubbo%3A%2F%2F10.0.0.5%3A20880%2Fcom.foo.Bar`.
        node_name: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZKDUBBO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli, &mut out)));
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zkdubbo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let target = Target {
        zk: cli.zk,
        root: cli.root,
    };
    match cli.command {
        Command::Services => commands::services::run(&target, out).await,
        Command::Console(args) => console::run(&target, &args, &mut std::io::stdout()).await,
        Command::Apps(args) => commands::apps::apps(&target, &args, out).await,
        Command::Instances(args) => commands::apps::instances(&target, &args, out).await,
        Command::Providers(args) => commands::providers::run(&target, &args, out).await,
        Command::Watch(args) => commands::watch::run(&target, &args, out).await,
        Command::Register(args) => commands::register::register(&target, &args, out).await,
        Command::Unregister(args) => commands::register::unregister(&target, &args, out).await,
        Command::Status(args) => commands::status::run(&target, &args, out).await,
        Command::Encode { url } => commands::encode::encode(&url, out),
        Command::Decode { node_name } => commands::encode::decode(&node_name, out),
        Command::Pick(args) => commands::pick::run(&args, out),
        Command::Call(args) => commands::call::run(&target, &args, out).await,
        Command::Hessian(HessianCommand::Decode(args)) => commands::hessian::decode(&args, out),
        // Rule writes take a `Send` writer (the console runs them too); stdout's handle is one.
        Command::Weight(args) => commands::rules::weight(&target, &args, &mut std::io::stdout()).await,
        Command::Disable(args) => commands::rules::disable(&target, &args, true, &mut std::io::stdout()).await,
        Command::Enable(args) => commands::rules::disable(&target, &args, false, &mut std::io::stdout()).await,
        Command::Route(args) => commands::rules::route(&target, &args, &mut std::io::stdout()).await,
        Command::Tag(args) => commands::rules::tag(&target, &args, &mut std::io::stdout()).await,
        Command::Rule(command) => commands::rules::rule(&target, &command, &mut std::io::stdout()).await,
        Command::Describe(args) => {
            let registry = target.registry(&target::SessionArgs::default()).await?;
            // `describe` takes a `Send` writer; stdout's handle is one (the lock is re-entrant).
            let mut stdout = std::io::stdout();
            let result = commands::describe::run(&args, registry.clone(), &mut stdout).await;
            zkdubbo_registry::Registry::shutdown(&*registry).await;
            result
        }
    }
}
