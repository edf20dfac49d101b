//! Helpers shared by the example binaries.

use zkdubbo_cluster::Url;

/// Log to stderr, filtered by `ZKDUBBO_LOG` (default `warn`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZKDUBBO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
}

/// The registry URL for a `--zk` comma list: `zookeeper://first?backup=rest&file.cache=false`,
/// plus `session=<ms>` when given.
///
/// # Errors
/// When the list is empty or its first entry is not `host:port`.
pub fn registry_url(zk: &str, session_ms: Option<u64>) -> anyhow::Result<String> {
    let servers: Vec<&str> = zk.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let Some((first, backup)) = servers.split_first() else {
        anyhow::bail!("--zk {zk:?} names no server");
    };
    let mut url: Url = format!("zookeeper://{first}")
        .parse()
        .map_err(|e| anyhow::anyhow!("--zk: {first:?} is not host:port: {e}"))?;
    if !backup.is_empty() {
        url.set_param("backup", backup.join(","));
    }
    url.set_param("file.cache", "false");
    if let Some(ms) = session_ms {
        url.set_param("session", ms.to_string());
    }
    Ok(url.to_string())
}
