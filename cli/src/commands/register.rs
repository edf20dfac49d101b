//! `zkdubbo register <url>` / `zkdubbo unregister <url>`.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use zkdubbo_common::{Url, keys};
use zkdubbo_registry::{Registry, ZookeeperRegistry};

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
    let registry = target.registry_for_writes(&args.session).await?;
    registry.register(&url).await.context("ZooKeeper refused it")?;
    if let Err(e) = written(&registry).await {
        registry.shutdown().await;
        return Err(e.context(format!("cannot register {url}")));
    }
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

/// Arguments of `zkdubbo unregister`.
#[derive(clap::Args, Debug)]
pub struct UnregisterArgs {
    /// The URL as registered (parameter order does not matter). A node written by
    /// `register --persistent` (which adds `dynamic=false`) is found from the same URL.
    pub url: String,
    /// Exit 0 when no such node exists (it still says so).
    #[arg(long)]
    pub if_exists: bool,
}

/// Remove the node of `url` (the identical URL, any parameter order, or the same URL with
/// `dynamic=false` as `register --persistent` writes it). A node that does not exist is an
/// error unless `--if-exists`; success means ZooKeeper no longer has the node.
pub async fn unregister(target: &Target, args: &UnregisterArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let url = Url::parse(&args.url).with_context(|| format!("cannot read URL {:?}", args.url))?;
    let registry = target.registry_for_writes(&SessionArgs::default()).await?;
    let result = unregister_on(target, &registry, &url, args.if_exists, out).await;
    registry.shutdown().await;
    result
}

async fn unregister_on(
    target: &Target,
    registry: &ZookeeperRegistry,
    url: &Url,
    if_exists: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let raw = target.raw_client().await?;
    let category = url.param_or(keys::CATEGORY, keys::DEFAULT_CATEGORY);
    let dir = target.category_path(url.interface(), category);
    let mut candidates = vec![url.clone()];
    if url.param(keys::DYNAMIC) != Some("false") {
        candidates.push(url.clone().with_param(keys::DYNAMIC, "false"));
    }
    let mut found = None;
    for candidate in &candidates {
        let path = format!("{dir}/{}", candidate.to_node_name());
        let stat = raw
            .check_stat(&path)
            .await
            .with_context(|| format!("cannot read {dir}"))?;
        if stat.is_some() {
            found = Some((candidate, path));
            break;
        }
    }
    let Some((node, path)) = found else {
        writeln!(out, "not registered: {url} (no such node under {dir})")?;
        if if_exists {
            return Ok(());
        }
        anyhow::bail!("no node for {url} under {dir} (with or without dynamic=false); --if-exists to accept that");
    };
    registry.unregister(node).await.context("ZooKeeper refused it")?;
    written(registry)
        .await
        .with_context(|| format!("cannot unregister {node}"))?;
    if raw.check_stat(&path).await.ok().flatten().is_some() {
        anyhow::bail!("cannot unregister {node}: the node is still there");
    }
    writeln!(out, "unregistered {node}")?;
    Ok(())
}

/// How long a write may take to reach ZooKeeper before the command gives up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Wait until no write of `registry` is waiting for a retry: the registry keeps a failed
/// write and retries it, which a long-lived process wants and a command must not report as
/// done.
async fn written(registry: &ZookeeperRegistry) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WRITE_TIMEOUT;
    loop {
        let pending = registry.pending_operations();
        if pending.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "the write did not reach ZooKeeper within {} s (still pending: {pending:?})",
                WRITE_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
