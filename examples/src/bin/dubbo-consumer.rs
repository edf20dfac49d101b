//! Calls Dubbo's sample `DemoService` found in ZooKeeper over dubbo:// (a Java provider or
//! `dubbo-provider`): `sayHello`, `add` and `getUser` typed with serde, then `getUser` again as
//! a generic call, printing each answer and the provider that served it.

use anyhow::Context;
use clap::Parser;
use zkdubbo::Reference;
use zkdubbo::dubbo::demo::{self, User};

/// Call DemoService.
#[derive(Parser, Debug)]
struct Args {
    /// ZooKeeper address(es), comma-separated.
    #[arg(long, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    zk: String,
    /// Interface to call.
    #[arg(long, default_value = demo::INTERFACE)]
    interface: String,
    /// Service version.
    #[arg(long)]
    version: Option<String>,
    /// Service group.
    #[arg(long)]
    group: Option<String>,
    /// Name to greet and look up.
    #[arg(long, default_value = "world")]
    name: String,
    /// Rounds of calls.
    #[arg(long, default_value_t = 1)]
    count: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    zkdubbo_examples::init_logging();
    let args = Args::parse();
    let mut builder = Reference::builder()
        .interface(&args.interface)
        .registry(zkdubbo_examples::registry_url(&args.zk, None)?)
        .application("dubbo-consumer");
    if let Some(v) = &args.version {
        builder = builder.version(v);
    }
    if let Some(g) = &args.group {
        builder = builder.group(g);
    }
    let reference = builder.build().await.context("cannot build the reference")?;
    let mut failed = 0;
    for i in 1..=args.count {
        let hello: Result<String, _> = reference
            .call_dubbo("sayHello", &["java.lang.String"], &(&args.name,))
            .await;
        let sum: Result<i32, _> = reference.call_dubbo("add", &["int", "int"], &(i as i32, 1000)).await;
        let user: Result<User, _> = reference
            .call_dubbo("getUser", &["java.lang.String"], &(&args.name,))
            .await;
        let generic = reference
            .generic_call("getUser", &["java.lang.String"], vec![args.name.as_str().into()])
            .await;
        match (hello, sum, user, generic) {
            (Ok(h), Ok(s), Ok(u), Ok(g)) => {
                println!("{i:>4} {h} | add({i}, 1000) = {s} | {u:?} | generic: {g:?}");
            }
            (h, s, u, g) => {
                failed += 1;
                for e in [h.err(), s.err(), u.err(), g.err()].into_iter().flatten() {
                    println!("{i:>4} error: {e}");
                }
            }
        }
    }
    reference.shutdown().await;
    if failed > 0 {
        anyhow::bail!("{failed} of {} rounds failed", args.count);
    }
    Ok(())
}
