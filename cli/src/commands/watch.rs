//! `zkdubbo watch <interface>`: a line per notification until interrupted.

use std::io::Write;

use zkdubbo_common::text::printable;
use zkdubbo_registry::{Category, Notification, Source};

use zkdubbo_registry::Registry;

use crate::target::{SessionArgs, Target, observer_url};
use zkdubbo::shutdown_signal;

/// Arguments of `zkdubbo watch`.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// The service interface, or `*` for every interface under the root.
    pub interface: String,
    /// Categories to watch (comma list).
    #[arg(long, default_value = "providers,routers,configurators")]
    pub categories: String,
    /// One JSON object per line: `{"interface":..,"category":..,"urls":[..]}`.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub session: SessionArgs,
}

/// Subscribe and print every notification until SIGINT/SIGTERM.
pub async fn run(target: &Target, args: &WatchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    for c in args.categories.split(',').map(str::trim) {
        c.parse::<Category>()
            .map_err(|e| anyhow::anyhow!("--categories: {e}"))?;
    }
    let registry = target.registry(&args.session).await?;
    let mut sub = registry
        .subscribe(&observer_url(&args.interface, &args.categories))
        .await?;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut warned_cache = false;
    loop {
        tokio::select! {
            n = sub.next() => {
                let Some(n) = n else { break };
                if n.source == Source::Cache && !warned_cache {
                    eprintln!("zkdubbo: ZooKeeper at {} is unreachable: serving the cache file's lists", target.zk);
                    warned_cache = true;
                } else if n.source == Source::Live && warned_cache {
                    eprintln!("zkdubbo: ZooKeeper is back: live lists again");
                    warned_cache = false;
                }
                write_notification(&n, args.json, out)?;
                out.flush()?;
            }
            _ = &mut stop => break,
        }
    }
    drop(sub);
    registry.shutdown().await;
    Ok(())
}

fn write_notification(n: &Notification, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let urls: Vec<String> = n.non_empty_urls().iter().map(ToString::to_string).collect();
    if json {
        let line = serde_json::json!({
            "interface": &*n.interface,
            "category": n.category,
            "urls": urls,
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "{} {} ({}): {}",
            n.interface,
            n.category,
            urls.len(),
            printable(&urls.join(" "))
        )?;
    }
    Ok(())
}
