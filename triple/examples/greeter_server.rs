//! Serve the Dubbo sample Greeter over Triple, without a registry.
//!
//! `cargo run -p zkdubbo-triple --example greeter_server -- [ADDR]` (default `127.0.0.1:50051`);
//! Ctrl-C stops it gracefully.

use zkdubbo_triple::{TripleServer, greeter};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:50051".to_owned());
    let server = TripleServer::builder()
        .service(greeter::INTERFACE, greeter::service())
        .bind(addr.as_str())
        .await?;
    println!("serving {} on tri://{}", greeter::INTERFACE, server.local_addr());
    server
        .serve_with_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
