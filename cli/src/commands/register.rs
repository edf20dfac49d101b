//! `zkdubbo register <url>` / `zkdubbo unregister <url>`.

use std::io::Write;

use anyhow::Context;
use zkdubbo_common::Url;

use zkdubbo_registry::Registry;

use crate::shutdown::shutdown_signal;
use crate::target::{SessionArgs, Target};

/// Arguments of `zkdubbo register`.
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// The URL to register, e.g. `dubbo://10.0.0.5:20880/com.foo.Bar?side=provider`.
    pub url: String,
    /// Write a persistent node (`dynamic=false`, as admin tools write rules) and exit at once;
    /// it stays until `zkdubbo unregister`.
    #[arg(long)]
    pub persistent: bool,
    #[command(flatten)]
    pub session: SessionArgs,
}

/// Register; without `--persistent` hold the registration until SIGINT/SIGTERM, then remove
/// it and return.
pub async fn register(target: &Target, args: &RegisterArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut url = Url::parse(&args.url).with_context(|| format!("cannot read URL {:?}", args.url))?;
    if args.persistent {
        url.set_param("dynamic", "false");
    }
    let registry = target.registry(&args.session).await?;
    registry
        .register(&url)
        .await
        .with_context(|| format!("cannot register {url}"))?;
    writeln!(out, "registered {url}")?;
    out.flush()?;
    if args.persistent {
        registry.shutdown().await;
        return Ok(());
    }
    shutdown_signal().await;
    registry
        .unregister(&url)
        .await
        .with_context(|| format!("cannot unregister {url}"))?;
    registry.shutdown().await;
    writeln!(out, "unregistered {url}")?;
    Ok(())
}

/// Remove the node of `url` (the identical URL, any parameter order).
pub async fn unregister(target: &Target, url: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let url = Url::parse(url).with_context(|| format!("cannot read URL {url:?}"))?;
    let registry = target.registry(&SessionArgs::default()).await?;
    let result = registry.unregister(&url).await;
    registry.shutdown().await;
    result.with_context(|| format!("cannot unregister {url}"))?;
    writeln!(out, "unregistered {url}")?;
    Ok(())
}
