//! Serves the Dubbo sample Greeter (`sayHello`) over Triple and registers it in ZooKeeper as
//! `tri://<ip>:<port>/<interface>?...`. SIGTERM or Ctrl-C unregisters, waits briefly for
//! consumers to notice, then stops the server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use zkdubbo::ServiceBuilder;
use zkdubbo::triple::greeter;

/// Serve the Greeter and register it.
#[derive(Parser, Debug)]
struct Args {
    /// ZooKeeper address(es), comma-separated.
    #[arg(long, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    zk: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// Weight registered for load balancing.
    #[arg(long, default_value_t = 100)]
    weight: u32,
    /// Interface to serve and register.
    #[arg(long, default_value = greeter::INTERFACE)]
    interface: String,
    /// Host to register (default: DUBBO_IP_TO_REGISTRY, else this host's outbound IP).
    #[arg(long)]
    host: Option<String>,
    /// ZooKeeper session timeout in ms (how long a killed provider stays listed).
    #[arg(long, default_value_t = 60_000)]
    session_timeout_ms: u64,
    /// Warm-up in ms: consumers ramp the weight up over this time after start (Dubbo's
    /// default, 10 minutes; 0 disables it).
    #[arg(long, default_value_t = 600_000)]
    warmup_ms: u64,
    /// Application name registered.
    #[arg(long, default_value = "greeter-provider")]
    application: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let registry = zkdubbo_examples::registry_url(&args.zk, Some(args.session_timeout_ms))?;
    let mut service = ServiceBuilder::new(&args.interface)
        .registry(registry)
        .method(greeter::SAY_HELLO)
        .weight(args.weight)
        .param("warmup", args.warmup_ms.to_string())
        .application(&args.application);
    if let Some(host) = &args.host {
        service = service.host(host);
    }
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
        args.weight
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
