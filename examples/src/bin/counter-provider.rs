//! A proto-defined service served and registered by zkdubbo: `proto/counter.proto`'s Counter
//! (one method of each of gRPC's four kinds), implemented on the server trait
//! tonic-prost-build generated (`zkdubbo_examples::counter::Numbers`) and registered through
//! the bindings zkdubbo-build generated (`methods=Count,Double,Sum,Running`).
//!
//! ```sh
//! cargo run -p zkdubbo-examples --bin counter-provider -- --zk 127.0.0.1:2181 --port 50061
//! ```

use clap::Parser;
use zkdubbo_examples::ProviderArgs;
use zkdubbo_examples::counter::Numbers;
use zkdubbo_examples::proto::counter::counter_zkdubbo;

/// Serve the Counter and register it until interrupted.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    provider: ProviderArgs,
    /// Port to serve on.
    #[arg(long, default_value_t = 50061)]
    port: u16,
    /// The application name.
    #[arg(long, default_value = "counter-provider")]
    application: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let _metrics = args.provider.metrics.start().await?;
    // The bindings' builder has the interface and methods= from the proto.
    let builder = args
        .provider
        .configure(counter_zkdubbo::service_builder(), &args.application)?;
    let service = counter_zkdubbo::serve(builder, Numbers, ([0, 0, 0, 0], args.port).into()).await?;
    println!(
        "counter-provider serving {} as {}",
        counter_zkdubbo::INTERFACE,
        service.url()
    );
    zkdubbo::shutdown_signal().await;
    service.shutdown(std::time::Duration::from_secs(1)).await?;
    Ok(())
}
