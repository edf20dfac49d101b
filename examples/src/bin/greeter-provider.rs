//! Serves the Dubbo sample Greeter (`sayHello`) over Triple and registers it in ZooKeeper as
//! `tri://<ip>:<port>/<interface>?...`. SIGTERM or Ctrl-C unregisters, waits briefly for
//! consumers to notice, then stops the server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use zkdubbo::triple::greeter;

/// Serve the Greeter and register it.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    provider: zkdubbo_examples::ProviderArgs,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// Interface to serve and register.
    #[arg(long, default_value = greeter::INTERFACE)]
    interface: String,
    /// Application name registered.
    #[arg(long, default_value = "greeter-provider")]
    application: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let _metrics = args.provider.metrics.start().await?;
    let service = args
        .provider
        .builder(&args.interface, &args.application)?
        .method(greeter::SAY_HELLO);
    let bind = SocketAddr::from(([0, 0, 0, 0], args.port));
    let running = service
        .serve_triple(greeter::service(), bind)
        .await
        .with_context(|| format!("cannot serve {} on {bind}", args.interface))?;
    println!(
        "greeter-provider pid {} serving {} on {} (weight {})",
        std::process::id(),
        args.interface,
        running.local_addr(),
        args.provider.weight
    );
    println!("registered {}", running.url());

    zkdubbo::shutdown_signal().await;
    println!(
        "greeter-provider {}: unregistering, then stopping",
        running.url().address()
    );
    running.shutdown(Duration::from_millis(500)).await?;
    println!("greeter-provider stopped");
    Ok(())
}
