//! Calls the Dubbo sample Greeter found in ZooKeeper and prints each reply and the provider
//! that served it.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::{decode_reply, message_invocation};
use zkdubbo::{Reference, SERVED_BY};

/// Call the Greeter.
#[derive(Parser, Debug)]
struct Args {
    /// ZooKeeper address(es), comma-separated.
    #[arg(long, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    zk: String,
    /// Interface to call.
    #[arg(long, default_value = greeter::INTERFACE)]
    interface: String,
    /// Name to greet.
    #[arg(long, default_value = "world")]
    name: String,
    /// Number of calls.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Cluster strategy (failover, failfast, failsafe, failback, forking, broadcast, available).
    #[arg(long, default_value = "failover")]
    cluster: String,
    /// Load balancing (random, roundrobin, leastactive, consistenthash, shortestresponse, p2c).
    #[arg(long, default_value = "random")]
    loadbalance: String,
    /// Pause between calls, in ms.
    #[arg(long, default_value_t = 0)]
    interval_ms: u64,
    #[command(flatten)]
    metrics: zkdubbo_examples::MetricsArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let _metrics = args.metrics.start().await?;
    let reference = Reference::builder()
        .interface(&args.interface)
        .registry(zkdubbo_examples::registry_url(&args.zk, None)?)
        .application("greeter-consumer")
        .cluster(&args.cluster)
        .loadbalance(&args.loadbalance)
        .build()
        .await
        .context("cannot build the reference")?;
    let mut failed = 0;
    for i in 1..=args.count {
        let inv = message_invocation(
            greeter::SAY_HELLO,
            &GreeterRequest {
                name: args.name.clone(),
            },
        );
        match reference.invoke(&inv).await {
            Ok(response) => {
                let served_by = response
                    .attachments
                    .get(SERVED_BY)
                    .cloned()
                    .unwrap_or_else(|| "?".into());
                match decode_reply::<GreeterReply>(&response) {
                    Ok(reply) => println!("{i:>4} {}  (served by {served_by})", reply.message),
                    Err(e) => {
                        failed += 1;
                        println!("{i:>4} undecodable reply from {served_by}: {e}");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("{i:>4} error: {e}");
            }
        }
        if args.interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
    }
    reference.shutdown().await;
    if failed > 0 {
        anyhow::bail!("{failed} of {} call(s) failed", args.count);
    }
    Ok(())
}
