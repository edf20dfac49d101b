//! Which ZooKeeper and root the command talks to, from the global `--zk` / `--root` flags.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use zkdubbo_common::Url;
use zkdubbo_registry::{ZookeeperConfig, ZookeeperRegistry};

/// The registry a command works on.
#[derive(Debug, Clone)]
pub struct Target {
    /// Comma-separated `host:port` list.
    pub zk: String,
    /// Root path, e.g. `/dubbo`.
    pub root: String,
}

/// Registry settings some commands accept.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SessionArgs {
    /// ZooKeeper session timeout in milliseconds (the server clamps it to 2–20 × tickTime).
    #[arg(long = "session-timeout", value_name = "MS")]
    pub session_timeout: Option<u64>,
    /// Registry cache file: served when ZooKeeper is unreachable, updated on every change.
    #[arg(long = "cache-file", value_name = "PATH")]
    pub cache_file: Option<String>,
}

impl Target {
    /// The registry URL: `zookeeper://first?backup=rest&group=<root>` plus `session`/`file`.
    pub fn registry_url(&self, session: &SessionArgs) -> anyhow::Result<Url> {
        let mut url = zkdubbo_registry::registry_address(&self.zk).with_context(|| format!("--zk {:?}", self.zk))?;
        url.set_param("group", self.root.as_str());
        if let Some(ms) = session.session_timeout {
            url.set_param("session", ms.to_string());
        }
        match &session.cache_file {
            Some(path) => url.set_param("file", path.as_str()),
            // An operator's command should not write a cache file unless asked to.
            None => url.set_param("file.cache", "false"),
        }
        Ok(url)
    }

    /// Connect a registry (see [`ZookeeperRegistry::connect`]).
    pub async fn registry(&self, session: &SessionArgs) -> anyhow::Result<Arc<ZookeeperRegistry>> {
        let url = self.registry_url(session)?;
        let registry = ZookeeperRegistry::connect(&url)
            .await
            .with_context(|| format!("cannot open registry {}", url.redacted()))?;
        Ok(registry)
    }

    /// A registry for a command that writes: it fails at once when no session can be
    /// established (`check=true`) instead of queueing the write for a retry this short-lived
    /// process would drop at exit.
    pub async fn registry_for_writes(&self, session: &SessionArgs) -> anyhow::Result<Arc<ZookeeperRegistry>> {
        let url = self.registry_url(session)?.with_param("check", "true");
        ZookeeperRegistry::connect(&url)
            .await
            .with_context(|| format!("cannot reach ZooKeeper at {}", url.redacted()))
    }

    /// A plain ZooKeeper client, for what the registry abstraction does not cover.
    pub async fn raw_client(&self) -> anyhow::Result<zookeeper_client::Client> {
        self.raw_client_with(Duration::from_secs(10)).await
    }

    /// A plain ZooKeeper client with `session_timeout`, authenticated with the digest
    /// credentials of `--zk` (`user:password@host:port` or a registry URL's) like the registry.
    pub async fn raw_client_with(&self, session_timeout: Duration) -> anyhow::Result<zookeeper_client::Client> {
        let config = self.config()?;
        let servers = config.connect_string();
        let mut connector = zookeeper_client::Client::connector();
        connector = connector
            .with_session_timeout(session_timeout)
            .with_connection_timeout(Duration::from_secs(5));
        if let Some(digest) = config.digest() {
            connector = connector.with_auth("digest", digest.as_bytes());
        }
        let connect = connector.connect(&servers);
        tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .map_err(|_| anyhow::anyhow!("no ZooKeeper answered at {servers} within 10 s"))?
            .with_context(|| format!("cannot connect to ZooKeeper at {servers}"))
    }

    /// The registry settings `--zk` names (the same reading as every other command: it
    /// refuses a chroot and an empty list).
    pub fn config(&self) -> anyhow::Result<ZookeeperConfig> {
        let url = self.registry_url(&SessionArgs::default())?;
        ZookeeperConfig::from_url(&url).with_context(|| format!("--zk {}", url.redacted()))
    }

    /// The root path without a trailing `/` (but `/` itself stays).
    pub fn root_path(&self) -> String {
        let root = if self.root.starts_with('/') {
            self.root.clone()
        } else {
            format!("/{}", self.root)
        };
        match root.trim_end_matches('/') {
            "" => "/".to_owned(),
            r => r.to_owned(),
        }
    }

    /// `<root>/<interface>/<category>`.
    pub fn category_path(&self, interface: &str, category: &str) -> String {
        let root = self.root_path();
        let sep = if root == "/" { "" } else { "/" };
        format!("{root}{sep}{interface}/{category}")
    }
}

/// The children of `path` (none when it does not exist), read within 10 s.
pub async fn list_children(client: &zookeeper_client::Client, path: &str) -> anyhow::Result<Vec<String>> {
    tokio::time::timeout(Duration::from_secs(10), client.list_children(path))
        .await
        .map_err(|_| anyhow::anyhow!("listing {path} timed out"))?
        .or_else(|e| match e {
            zookeeper_client::Error::NoNode => Ok(Vec::new()),
            e => Err(e),
        })
        .with_context(|| format!("cannot list {path}"))
}

/// A consumer URL that sees everything registered for `interface` in `categories`: every
/// group and version, disabled providers too.
pub fn observer_url(interface: &str, categories: &str) -> Url {
    Url::new("consumer", &local_host(), None, interface).with_params([
        ("interface", interface),
        ("category", categories),
        ("group", "*"),
        ("version", "*"),
        ("enabled", "*"),
        ("side", "consumer"),
        ("application", "zkdubbo-cli"),
    ])
}

/// This host's name for consumer URLs (not resolved: nothing is registered with it).
pub fn local_host() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "127.0.0.1".to_owned())
}
