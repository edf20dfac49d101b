//! The consumer of `counter-provider`: the client tonic-prost-build generated from
//! `proto/counter.proto`, over zkdubbo's discovery through the bindings zkdubbo-build generated.
//! Calls each of its methods: a server-streaming `Count`, a unary `Double`, a client-streaming
//! `Sum` and a bidirectional `Running`, printing what comes back.
//!
//! ```sh
//! cargo run -p zkdubbo-examples --bin counter-consumer -- --zk 127.0.0.1:2181 --n 5
//! ```

use clap::Parser;
use zkdubbo_examples::proto::counter::{CountRequest, Number, counter_zkdubbo};

/// Count through whichever Counter provider ZooKeeper lists.
#[derive(Parser, Debug)]
struct Args {
    /// ZooKeeper address(es), comma-separated.
    #[arg(long, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    zk: String,
    /// How many numbers to ask for.
    #[arg(long, default_value_t = 5)]
    n: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let reference = counter_zkdubbo::reference()
        .registry(zkdubbo_examples::registry_url(&args.zk, None)?)
        .application("counter-consumer")
        .build()
        .await?;
    let mut client = counter_zkdubbo::client(&reference);
    let mut numbers = client.count(CountRequest { n: args.n }).await?.into_inner();
    let mut counted = Vec::new();
    while let Some(reply) = numbers.message().await? {
        println!("count: {}", reply.i);
        counted.push(i64::from(reply.i));
    }
    let doubled = client
        .double(Number {
            value: i64::from(args.n),
        })
        .await?
        .into_inner();
    println!("double: {}", doubled.value);
    let as_numbers = || futures::stream::iter(counted.clone().into_iter().map(|value| Number { value }));
    let sum = client.sum(as_numbers()).await?.into_inner();
    println!("sum: {}", sum.value);
    let mut totals = client.running(as_numbers()).await?.into_inner();
    while let Some(total) = totals.message().await? {
        println!("running: {}", total.value);
    }
    reference.shutdown().await;
    Ok(())
}
