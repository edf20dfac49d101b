//! `zkdubbo register <url>` / `zkdubbo unregister <url>`.

use std::io::Write;

use anyhow::Context;
use zkdubbo_common::Url;

use zkdubbo_registry::Registry;

use crate::target::{SessionArgs, Target};
use zkdubbo::shutdown_signal;

/// Arguments of `zkdubbo register`.
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// The URL to register, e.g. `dubbo://10.0.0.5:20880/com.foo.Bar?side=provider`.
    pub url: String,
    /// Write a persistent node (`dynamic=false`, as admin tools write rules) instead of an
    /// ephemeral one: it survives this process's session (a crash, a lost connection).
    #[arg(long)]
    pub persistent: bool,
    /// With `--persistent`: exit as soon as the node is written and leave it in place (remove
    /// it later with `zkdubbo unregister`), instead of holding it until SIGINT/SIGTERM.
    #[arg(long, requires = "persistent")]
    pub detach: bool,
    #[command(flatten)]
    pub session: SessionArgs,
}

/// Register and hold the registration until SIGINT/SIGTERM, then remove it and return; with
/// `--persistent --detach`, return as soon as the persistent node is written.
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
    if args.detach {
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
