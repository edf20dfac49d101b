//! Helpers shared by the example binaries.

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

/// The registry URL for a `--zk` comma list (read by
/// [`registry_address`](zkdubbo::registry::registry_address)), with `file.cache=false` and
/// `session=<ms>` when given.
///
/// # Errors
/// When the list names no server or is not a ZooKeeper address.
pub fn registry_url(zk: &str, session_ms: Option<u64>) -> anyhow::Result<String> {
    let mut url = zkdubbo::registry::registry_address(zk).map_err(|e| anyhow::anyhow!("--zk: {e}"))?;
    url.set_param("file.cache", "false");
    if let Some(ms) = session_ms {
        url.set_param("session", ms.to_string());
    }
    Ok(url.to_string())
}
