//! A proto-defined service served and registered by zkdubbo: `proto/counter.proto`'s
//! server-streaming Counter, implemented on the server trait tonic-prost-build generated and
//! registered through the bindings zkdubbo-build generated (`methods=Count`).
//!
//! ```sh
//! cargo run -p zkdubbo-examples --bin counter-provider -- --zk 127.0.0.1:2181 --port 50061
//! ```

use std::pin::Pin;

use clap::Parser;
use tonic::{Request, Response, Status};
use zkdubbo_examples::ProviderArgs;
use zkdubbo_examples::proto::counter::counter_server::Counter;
use zkdubbo_examples::proto::counter::{CountReply, CountRequest, counter_zkdubbo};

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

/// Count(n): the numbers 0..n, one message each.
struct Numbers;

#[tonic::async_trait]
impl Counter for Numbers {
    type CountStream = Pin<Box<dyn futures::Stream<Item = Result<CountReply, Status>> + Send>>;

    async fn count(&self, request: Request<CountRequest>) -> Result<Response<Self::CountStream>, Status> {
        let n = request.into_inner().n.min(10_000);
        Ok(Response::new(Box::pin(futures::stream::iter(
            (0..n).map(|i| Ok(CountReply { i })),
        ))))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
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
