//! A plain tonic-generated `GreeterClient` (from `proto/greeter.proto`, built by
//! tonic-prost-build) calling the Greeter providers ZooKeeper lists — zkdubbo's, Java's,
//! Go's, Python's — through zkdubbo's discovery: `GreeterClient::new(reference.grpc_channel())`.
//!
//! ```sh
//! cargo run -p zkdubbo-examples --bin tonic-greeter-consumer -- --zk 127.0.0.1:2181 --name Bob --count 3
//! ```

use clap::Parser;
use zkdubbo::Reference;

use zkdubbo_examples::proto::greeter::GreeterRequest;
use zkdubbo_examples::proto::greeter::greeter_client::GreeterClient;

/// Call the Greeter through a tonic-generated client over zkdubbo discovery.
#[derive(Parser, Debug)]
struct Args {
    /// ZooKeeper address(es), comma-separated.
    #[arg(long, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    zk: String,
    /// The name to greet.
    #[arg(long, default_value = "tonic")]
    name: String,
    /// How many calls.
    #[arg(long, default_value_t = 3)]
    count: u32,
    /// The Dubbo interface (the proto's full service name).
    #[arg(long, default_value = "org.apache.dubbo.samples.Greeter")]
    interface: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let reference = Reference::builder()
        .interface(&args.interface)
        .registry(zkdubbo_examples::registry_url(&args.zk, None)?)
        .application("tonic-greeter-consumer")
        .param("protocol", "tri")
        .build()
        .await?;
    let mut client = GreeterClient::new(reference.grpc_channel());
    for i in 0..args.count {
        let name = format!("{} #{i}", args.name);
        match client.say_hello(GreeterRequest { name }).await {
            Ok(reply) => println!("{}", reply.into_inner().message),
            Err(status) => println!("failed: {:?}: {}", status.code(), status.message()),
        }
    }
    reference.shutdown().await;
    Ok(())
}
