//! The quickstart demo: two providers register the Dubbo way, a consumer discovers them, one
//! goes away and the consumer sees it leave.
//!
//! `scripts/demo.sh` starts a throwaway ZooKeeper (unless `ZK_ADDR` is set) and runs this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use zkdubbo_common::Url;
use zkdubbo_registry::{Category, Registration, Registry, Subscription, ZookeeperRegistry};

const INTERFACE: &str = "org.apache.dubbo.samples.Greeter";

/// Register two providers, discover them, remove one.
#[derive(Parser, Debug)]
struct Args {
    /// ZooKeeper address(es), comma-separated.
    #[arg(long, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    zk: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZKDUBBO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let (first, backup) = args.zk.split_once(',').unwrap_or((&args.zk, ""));
    let mut registry_url: Url = format!("zookeeper://{first}?file.cache=false").parse()?;
    if !backup.is_empty() {
        registry_url.set_param("backup", backup);
    }

    println!("== zkdubbo quickstart — ZooKeeper at {}", args.zk);
    let provider_registry: Arc<dyn Registry> = ZookeeperRegistry::connect(&registry_url)
        .await
        .context("provider side: cannot reach ZooKeeper")?;
    let consumer_registry: Arc<dyn Registry> = ZookeeperRegistry::connect(&registry_url)
        .await
        .context("consumer side: cannot reach ZooKeeper")?;

    let consumer: Url = format!(
        "consumer://127.0.0.1/{INTERFACE}?interface={INTERFACE}&category=providers&side=consumer&application=quickstart-consumer"
    )
    .parse()?;
    let mut sub = consumer_registry.subscribe(&consumer).await?;
    let started = Instant::now();
    expect_providers(&mut sub, 0, started).await?;

    let mut guards = Vec::new();
    for (port, weight) in [(50051u16, 100u32), (50052, 200)] {
        let url = provider_url(port, weight);
        println!("provider registers    {url}");
        println!(
            "  ZooKeeper node      /dubbo/{INTERFACE}/providers/{}",
            url.to_node_name()
        );
        guards.push(Registration::register(provider_registry.clone(), url).await?);
    }
    expect_providers(&mut sub, 2, started).await?;

    let gone = guards.remove(0);
    println!("provider leaves       {}", gone.url().address());
    gone.close().await?;
    expect_providers(&mut sub, 1, started).await?;

    for guard in guards {
        guard.close().await?;
    }
    drop(sub);
    provider_registry.shutdown().await;
    consumer_registry.shutdown().await;
    println!("== done: every node this demo created is gone");
    Ok(())
}

fn provider_url(port: u16, weight: u32) -> Url {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Url::new("tri", "127.0.0.1", Some(port), INTERFACE).with_params([
        ("anyhost", "false".to_string()),
        ("application", "quickstart-provider".to_string()),
        ("interface", INTERFACE.to_string()),
        ("methods", "sayHello".to_string()),
        ("side", "provider".to_string()),
        ("weight", weight.to_string()),
        ("timestamp", now_ms.to_string()),
        ("pid", std::process::id().to_string()),
    ])
}

/// Wait until the consumer's provider list has `want` entries, printing each notification.
async fn expect_providers(sub: &mut Subscription, want: usize, started: Instant) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = tokio::time::timeout_at(deadline, sub.next())
            .await
            .with_context(|| format!("consumer did not see {want} provider(s) within 10 s"))?
            .context("subscription closed")?;
        if n.category != Category::Providers {
            continue;
        }
        let urls = n.non_empty_urls();
        let addrs: Vec<String> = urls
            .iter()
            .map(|u| format!("{} (weight {})", u.address(), u.param_or("weight", "100")))
            .collect();
        println!(
            "consumer notified     +{:>5} ms  {} provider(s){}{}",
            started.elapsed().as_millis(),
            urls.len(),
            if addrs.is_empty() { "" } else { ": " },
            addrs.join(", ")
        );
        if urls.len() == want {
            return Ok(());
        }
    }
}
