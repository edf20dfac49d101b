//! The soak's child processes: a provider (serves the Greeter over Triple on a fixed port and
//! registers it) and a consumer (calls it every 20 ms and prints what it sees).
//!
//! A consumer prints, every 250 ms, `VIEW <sorted provider addresses>` (its directory's
//! providers) and `CALLS <ok> <failed> <last error>` (since the previous line).

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use zkdubbo::ServiceBuilder;
use zkdubbo::triple::greeter::{self, GreeterRequest};
use zkdubbo::triple::message_invocation;

use super::{INTERFACE, registry_url};

/// `soak provider ZK ROOT PORT` or `soak consumer ZK ROOT`.
pub async fn main(args: &[String]) -> Result<()> {
    match args {
        [role, zk, root, port] if role == "provider" => provider(zk, root, port.parse()?).await,
        [role, zk, root] if role == "consumer" => consumer(zk, root).await,
        _ => bail!("usage: soak provider ZK ROOT PORT | soak consumer ZK ROOT"),
    }
}

async fn provider(zk: &str, root: &str, port: u16) -> Result<()> {
    let service = ServiceBuilder::new(INTERFACE)
        .registry(registry_url(zk, root)?)
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .param("warmup", "0")
        .application("soak-provider")
        .serve_triple(greeter::service(), format!("127.0.0.1:{port}").parse()?)
        .await
        .context("serve and register")?;
    println!("registered {}", service.url().address());
    std::io::stdout().flush()?;
    zkdubbo::shutdown_signal().await;
    service.shutdown(Duration::from_millis(200)).await?;
    Ok(())
}

async fn consumer(zk: &str, root: &str) -> Result<()> {
    let reference = zkdubbo::ReferenceBuilder::from_url(&format!("{INTERFACE}?retries=2&timeout=500"))?
        .registry(registry_url(zk, root)?)
        .application("soak-consumer")
        .check(false)
        .build()
        .await?;
    println!("ready");
    let inv = message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: "soak".into() });
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut call = tokio::time::interval(Duration::from_millis(20));
    let (mut ok, mut failed, mut last) = (0u64, 0u64, String::new());
    loop {
        tokio::select! {
            _ = call.tick() => match reference.invoke(&inv).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    failed += 1;
                    last = e.to_string().replace('\n', " ");
                }
            },
            _ = tick.tick() => {
                let mut view: Vec<String> = reference.directories()[0]
                    .snapshot()
                    .providers()
                    .iter()
                    .map(|m| m.url().address())
                    .collect();
                view.sort();
                println!("VIEW {}", view.join(","));
                println!("CALLS {ok} {failed} {last}");
                std::io::stdout().flush()?;
                (ok, failed, last) = (0, 0, String::new());
            }
            _ = zkdubbo::shutdown_signal() => break,
        }
    }
    reference.shutdown().await;
    Ok(())
}
