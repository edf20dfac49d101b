//! Call a Triple Greeter provider once, without a registry.
//!
//! `cargo run -p zkdubbo-triple --example greeter_client -- [URL] [NAME]`, URL defaulting to
//! `tri://127.0.0.1:50051/org.apache.dubbo.samples.Greeter`.

use std::process::ExitCode;

use zkdubbo_common::Url;
use zkdubbo_triple::TripleInvokerFactory;
use zkdubbo_triple::greeter::{self, GreeterReply, GreeterRequest};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| format!("tri://127.0.0.1:50051/{}", greeter::INTERFACE));
    let name = args.next().unwrap_or_else(|| "world".to_owned());
    let url: Url = match url.parse() {
        Ok(url) => url,
        Err(e) => {
            eprintln!("bad URL {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let factory = TripleInvokerFactory::new();
    let result = match factory.create_triple(&url) {
        Ok(invoker) => {
            invoker
                .call::<_, GreeterReply>(greeter::SAY_HELLO, &GreeterRequest { name })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(reply) => {
            println!("{}", reply.message);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
