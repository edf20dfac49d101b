//! Scenario 5: a big directory. First the limit: on a server with the default
//! `jute.maxbuffer`, providers are added to one interface step by step until ZooKeeper refuses
//! to list them; a `ZookeeperRegistry` subscribed there must then report an error naming
//! `jute.maxbuffer`. Then, on the main server (limit raised), one interface with many
//! providers: time to the first complete snapshot and the refresh time of one more provider.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use zkdubbo_registry::Category;
use zkdubbo_registry::Registry;

use super::{
    Env, Percentiles, Sizes, connect, dir_addresses, directory, populate, provider_url, raw_client, wait_providers,
    zk_addresses,
};
use crate::harness::{ZkOptions, ZkServer, unique_path};

/// What scenario 5 measured.
#[derive(Debug, Clone)]
pub struct BigDirResult {
    /// `jute.maxbuffer` of the server the limit was searched on (bytes).
    pub limit_maxbuffer: u32,
    /// Most providers that could still be listed.
    pub limit_ok: usize,
    /// Fewest providers that could not.
    pub limit_refused: usize,
    /// Bytes of the refused child list (names + 4-byte length prefixes).
    pub refused_bytes: usize,
    /// Average node name length, bytes.
    pub name_len: usize,
    /// What ZooKeeper's Java client said about the refused list.
    pub java_error: String,
    /// How long zkdubbo took to read the list of `zkdubbo_read` providers (past the limit).
    pub over_read_time: Duration,
    /// Providers zkdubbo read from the same default server.
    pub zkdubbo_read: usize,
    /// Providers of the big directory.
    pub providers: usize,
    /// Subscribe → first complete snapshot.
    pub first_ready: Duration,
    /// One more provider registered → snapshot swapped.
    pub refresh: Percentiles,
    /// Raw re-list of the same children (the floor of a refresh).
    pub relist: Percentiles,
}

/// Run scenario 5.
pub async fn run(env: &Env, sizes: &Sizes) -> Result<BigDirResult> {
    let limit = find_limit(sizes).await?;
    let (providers, first_ready, refresh, relist) = big(env, sizes).await?;
    Ok(BigDirResult {
        providers,
        first_ready,
        refresh,
        relist,
        ..limit
    })
}

/// The size of a `getChildren` reply listing `names`: reply header (xid, zxid, err), vector
/// length, and each name with its length prefix. A Java client refuses a reply whose size is
/// over its `jute.maxbuffer` ("Packet len ... is out of range").
pub fn children_reply_bytes<'a>(names: impl IntoIterator<Item = &'a str>) -> usize {
    16 + 4 + names.into_iter().map(|n| 4 + n.len()).sum::<usize>()
}

/// `ls` of `path` with ZooKeeper's own Java client (`ZooKeeperMain`) using `maxbuffer` as its
/// `jute.maxbuffer`: the number of children listed, or the client's complaint.
fn java_ls(addr: &str, path: &str, maxbuffer: u32) -> Result<Result<usize, String>> {
    let classpath = [
        "zookeeper.jar",
        "zookeeper-jute.jar",
        "slf4j-api.jar",
        "slf4j-simple.jar",
        "commons-cli.jar",
    ]
    .map(|j| format!("/usr/share/java/{j}"))
    .join(":");
    let out = std::process::Command::new("timeout")
        .args(["20", "java", "-Xmx128m", "-XX:TieredStopAtLevel=1"])
        .arg(format!("-Djute.maxbuffer={maxbuffer}"))
        .args([
            "-cp",
            &classpath,
            "org.apache.zookeeper.ZooKeeperMain",
            "-server",
            addr,
            "ls",
            path,
        ])
        .output()
        .context("running ZooKeeper's Java client")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(list) = stdout.lines().find(|l| l.starts_with('[') && l.ends_with(']')) {
        return Ok(Ok(list.matches(", ").count() + usize::from(list.len() > 2)));
    }
    let complaint = stderr
        .lines()
        .chain(stdout.lines())
        .find(|l| l.contains("out of range") || l.contains("Unreasonable length") || l.contains("ConnectionLoss"))
        .unwrap_or("no list printed")
        .trim()
        .to_owned();
    Ok(Err(complaint))
}

async fn find_limit(sizes: &Sizes) -> Result<BigDirResult> {
    let maxbuffer = sizes.limit_server_maxbuffer.unwrap_or(super::DEFAULT_JUTE_MAXBUFFER);
    let options = ZkOptions {
        tick_ms: 200,
        jute_maxbuffer: sizes.limit_server_maxbuffer,
        max_session_timeout_ms: None,
        ..ZkOptions::default()
    };
    let server = ZkServer::start_with(options).context("starting the default-limit server")?;
    let addr = server.addr();
    let root = unique_path("bench-limit");
    let interface = "org.bench.BigService";
    let path = super::providers_path(&root, interface);
    let raw = raw_client(&addr).await?;

    // The largest list a client with this jute.maxbuffer accepts, from the reply's size.
    let names: Vec<String> = (0..)
        .map(|i| provider_url(interface, i).to_node_name())
        .scan(20usize, |size, name| {
            *size += 4 + name.len();
            Some((name, *size))
        })
        .take_while(|(_, size)| *size <= maxbuffer as usize)
        .map(|(name, _)| name)
        .collect();
    let limit = names.len();
    let urls: Vec<_> = (0..limit).map(|i| provider_url(interface, i)).collect();
    populate(&raw, &root, interface, &urls).await?;
    let java_at_limit = tokio::task::block_in_place(|| java_ls(&addr, &path, maxbuffer))?;
    ensure!(
        java_at_limit == Ok(limit),
        "the Java client should list {limit} providers: {java_at_limit:?}"
    );
    populate(&raw, &root, interface, &[provider_url(interface, limit)]).await?;
    let java_over = tokio::task::block_in_place(|| java_ls(&addr, &path, maxbuffer))?;
    let java_error = match java_over {
        Ok(n) => bail!("the Java client listed {n} providers past its jute.maxbuffer"),
        Err(e) => e,
    };
    let refused_bytes = children_reply_bytes(names.iter().map(String::as_str))
        + 4
        + provider_url(interface, limit).to_node_name().len();

    // The server itself sends the list; zkdubbo reads it (and twice as many) and says it is
    // beyond Java clients.
    let over = 2 * limit;
    let more: Vec<_> = (limit + 1..over).map(|i| provider_url(interface, i)).collect();
    populate(&raw, &root, interface, &more).await?;
    let registry = connect(&addr, &root).await?;
    let started = Instant::now();
    let dir = directory(&registry, interface).await?;
    wait_providers(&dir, over, Duration::from_secs(30)).await?;
    let over_read_time = started.elapsed();
    let expected = zk_addresses(&raw, &path).await?;
    ensure!(
        dir_addresses(&dir) == expected,
        "the consumer's view differs from ZooKeeper's"
    );
    registry.shutdown().await;
    drop(raw);
    drop(server);
    Ok(BigDirResult {
        limit_maxbuffer: maxbuffer,
        limit_ok: limit,
        limit_refused: limit + 1,
        refused_bytes,
        name_len: names.first().map_or(0, String::len),
        java_error,
        over_read_time,
        zkdubbo_read: over,
        providers: 0,
        first_ready: Duration::ZERO,
        refresh: Percentiles::default(),
        relist: Percentiles::default(),
    })
}

async fn big(env: &Env, sizes: &Sizes) -> Result<(usize, Duration, Percentiles, Percentiles)> {
    let root = unique_path("bench-big");
    let interface = "org.bench.BigService";
    let n = sizes.big_providers;
    let raw = raw_client(&env.addr).await?;
    let urls: Vec<_> = (0..n).map(|i| provider_url(interface, i)).collect();
    populate(&raw, &root, interface, &urls).await?;

    let consumer = connect(&env.addr, &root).await?;
    let start = Instant::now();
    let dir = directory(&consumer, interface).await?;
    wait_providers(&dir, n, Duration::from_secs(60)).await?;
    let first_ready = start.elapsed();

    let provider = connect(&env.addr, &root).await?;
    let path = provider.layout().category(interface, Category::Providers);
    let mut changes = dir.changes();
    let mut refresh = Vec::new();
    let mut relist = Vec::new();
    for k in 0..sizes.big_refreshes {
        let t = Instant::now();
        raw.list_children(&path).await.context("re-list")?;
        relist.push(t.elapsed());
        changes.borrow_and_update();
        let url = provider_url(interface, n + k);
        let t = Instant::now();
        provider.register(&url).await?;
        let seen = tokio::time::timeout(Duration::from_secs(10), async {
            while dir.snapshot().providers().len() != n + k + 1 {
                if changes.changed().await.is_err() {
                    return false;
                }
            }
            true
        })
        .await;
        ensure!(matches!(seen, Ok(true)), "refresh {k} not seen within 10 s");
        refresh.push(t.elapsed());
    }
    let expected = zk_addresses(&raw, &path).await?;
    ensure!(
        dir_addresses(&dir) == expected,
        "big directory differs from ZooKeeper's list"
    );
    provider.shutdown().await;
    consumer.shutdown().await;
    Ok((
        n,
        first_ready,
        Percentiles::of(&mut refresh),
        Percentiles::of(&mut relist),
    ))
}
