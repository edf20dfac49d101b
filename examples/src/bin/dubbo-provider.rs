//! Serves Dubbo's sample `org.apache.dubbo.samples.DemoService` (`sayHello(String)`,
//! `add(int,int)`, `echo(Object)`, `getUser(String)` → `com.example.User`) over dubbo:// with
//! Hessian2 and registers it in ZooKeeper as a Java provider would. SIGTERM or Ctrl-C
//! unregisters, tells connected consumers it is read-only, lets calls finish, then stops.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use zkdubbo::dubbo::demo;

/// Serve DemoService over dubbo:// and register it.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    provider: zkdubbo_examples::ProviderArgs,
    /// Port to listen on (0: any free port; Dubbo's default is 20880).
    #[arg(long, default_value_t = 20880)]
    port: u16,
    /// Interface to serve and register.
    #[arg(long, default_value = demo::INTERFACE)]
    interface: String,
    /// Service version.
    #[arg(long)]
    version: Option<String>,
    /// Service group.
    #[arg(long)]
    group: Option<String>,
    /// Application name registered.
    #[arg(long, default_value = "dubbo-provider")]
    application: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let _metrics = args.provider.metrics.start().await?;
    let mut service = args.provider.builder(&args.interface, &args.application)?;
    if let Some(v) = &args.version {
        service = service.version(v);
    }
    if let Some(g) = &args.group {
        service = service.group(g);
    }
    let bind = SocketAddr::from(([0, 0, 0, 0], args.port));
    let running = service
        .serve_dubbo(demo::service(), bind)
        .await
        .with_context(|| format!("cannot serve {} on {bind}", args.interface))?;
    println!(
        "dubbo-provider pid {} serving {} on {} (weight {})",
        std::process::id(),
        args.interface,
        running.local_addr(),
        args.provider.weight
    );
    println!("registered {}", running.url());

    zkdubbo::shutdown_signal().await;
    println!(
        "dubbo-provider {}: unregistering, then stopping",
        running.url().address()
    );
    running.shutdown(Duration::from_millis(500)).await?;
    println!("dubbo-provider stopped");
    Ok(())
}
