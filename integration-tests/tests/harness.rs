//! Tests of the ZooKeeper harness itself, against real servers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zkdubbo_integration_tests::harness::{
    HarnessError, PartitionMode, TcpProxy, ZkEnsemble, ZkOptions, ZkServer, four_letter_word, shared_server,
    unique_path,
};
use zookeeper_client::{Acls, Client, CreateMode, SessionState};

const TICK_MS: u32 = 200;

async fn connect(addr: &str, session_timeout: Duration) -> Client {
    tokio::time::timeout(
        Duration::from_secs(20),
        Client::connector().with_session_timeout(session_timeout).connect(addr),
    )
    .await
    .unwrap_or_else(|_| panic!("connecting to {addr} timed out"))
    .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"))
}

/// Runs a ZooKeeper call with a timeout (calls wait while disconnected).
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} timed out"))
}

/// Waits until the client's session reaches `want`.
async fn wait_state(client: &Client, want: SessionState, timeout: Duration) {
    let mut watcher = client.state_watcher();
    let deadline = Instant::now() + timeout;
    let mut state = watcher.peek_state();
    while state != want {
        let left = deadline.saturating_duration_since(Instant::now());
        state = tokio::time::timeout(left, watcher.changed())
            .await
            .unwrap_or_else(|_| panic!("session still {state:?} after {timeout:?}, want {want:?}"));
    }
}

/// Retries a ZooKeeper call until it succeeds: requests in flight when the connection drops
/// (e.g. the server the client talks to loses its leader) fail with a connection error.
async fn retry<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, zookeeper_client::Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout(Duration::from_secs(5), call()).await {
            Ok(Ok(value)) => return value,
            Ok(Err(e)) if Instant::now() < deadline => eprintln!("{what}: {e}; retrying"),
            Err(_) if Instant::now() < deadline => eprintln!("{what}: timed out; retrying"),
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(_) => panic!("{what}: timed out"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn persistent() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn ephemeral() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Ephemeral.with_acls(Acls::anyone_all())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_create_and_read() {
    let zk = ZkServer::start(TICK_MS).expect("start ZooKeeper");
    assert_eq!(zk.mode().unwrap(), "standalone");
    assert_eq!(zk.addr(), format!("127.0.0.1:{}", zk.port()));
    assert!(zk.pid().is_some());
    assert!(zk.is_running());
    assert_eq!(zk.max_session_timeout(), Duration::from_secs(4));

    let client = connect(&zk.addr(), Duration::from_secs(4)).await;
    // The server clamps the session timeout to [2, 20] x tickTime.
    assert!(client.session_timeout() <= zk.max_session_timeout());
    within("create", client.create("/svc", b"hello", &persistent()))
        .await
        .unwrap();
    within("create child", client.create("/svc/leaf", b"", &ephemeral()))
        .await
        .unwrap();
    let (data, _) = within("get", client.get_data("/svc")).await.unwrap();
    assert_eq!(data, b"hello");
    let children = within("list", client.list_children("/svc")).await.unwrap();
    assert_eq!(children, vec!["leaf".to_owned()]);

    let cons = four_letter_word(&zk.addr(), "cons").unwrap();
    assert!(cons.contains("127.0.0.1"), "cons: {cons}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() {
    let zk = ZkServer::start(TICK_MS).expect("start ZooKeeper");
    let client = connect(&zk.addr(), Duration::from_secs(4)).await;
    within("create", client.create("/p", b"1", &persistent()))
        .await
        .unwrap();

    zk.pause().unwrap();
    assert!(zk.node().is_paused());
    // Nothing answers while paused: neither four-letter words nor requests.
    assert!(zk.mode().is_err());
    let stalled = tokio::time::timeout(Duration::from_millis(500), client.get_data("/p")).await;
    assert!(stalled.is_err(), "a paused server answered: {stalled:?}");

    zk.resume().unwrap();
    assert!(!zk.node().is_paused());
    assert_eq!(zk.mode().unwrap(), "standalone");
    let (data, _) = within("get after resume", client.get_data("/p")).await.unwrap();
    assert_eq!(data, b"1");
    // The pause was shorter than the session timeout: same session, still usable.
    assert_eq!(client.state(), SessionState::SyncConnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_keeps_persistent_nodes() {
    let mut zk = ZkServer::start(TICK_MS).expect("start ZooKeeper");
    let port = zk.port();
    let old_pid = zk.pid().unwrap();
    {
        let client = connect(&zk.addr(), Duration::from_secs(4)).await;
        within("create", client.create("/keep", b"data", &persistent()))
            .await
            .unwrap();
    }

    zk.kill().unwrap();
    assert!(zk.pid().is_none());
    assert!(!zk.is_running());
    assert!(zk.mode().is_err());
    assert!(TcpStream::connect(zk.addr()).is_err(), "port still open");

    zk.restart().unwrap();
    assert_eq!(zk.port(), port);
    assert_ne!(zk.pid(), Some(old_pid));
    assert_eq!(zk.mode().unwrap(), "standalone");
    let client = connect(&zk.addr(), Duration::from_secs(4)).await;
    let (data, _) = within("get after restart", client.get_data("/keep")).await.unwrap();
    assert_eq!(data, b"data");

    // Restarting a running server works too.
    zk.restart().unwrap();
    assert_eq!(zk.mode().unwrap(), "standalone");

    let dir = zk.dir().to_path_buf();
    zk.stop().unwrap();
    assert!(!dir.exists());
}

#[test]
fn drop_kills_the_server_and_removes_its_dir() {
    let zk = ZkServer::start(TICK_MS).expect("start ZooKeeper");
    let pid = zk.pid().unwrap();
    let dir = zk.dir().to_path_buf();
    let addr = zk.addr();
    drop(zk);
    let gone = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z"))
        .unwrap_or(true);
    assert!(gone, "pid {pid} still alive");
    assert!(!dir.exists());
    // The port is free again.
    assert!(std::net::TcpListener::bind(addr).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensemble_survives_losing_its_leader() {
    let mut ensemble = ZkEnsemble::start(TICK_MS).expect("start ensemble");
    let modes: Vec<String> = ensemble.nodes().iter().map(|n| n.mode().unwrap()).collect();
    assert_eq!(modes.iter().filter(|m| *m == "leader").count(), 1, "{modes:?}");
    assert_eq!(modes.iter().filter(|m| *m == "follower").count(), 2, "{modes:?}");
    let connect_string = ensemble.connect_string();
    assert_eq!(connect_string.split(',').count(), 3);

    let leader = ensemble.leader_index().expect("a leader");
    let client = connect(&connect_string, Duration::from_secs(4)).await;
    within("create", client.create("/quorum", b"q", &persistent()))
        .await
        .unwrap();

    ensemble.kill(leader).unwrap();
    let new_leader = ensemble.wait_for_leader(Duration::from_secs(20)).expect("a new leader");
    assert_ne!(new_leader, leader);

    // The client reconnects to a surviving node; the data is there and writes work.
    let (data, _) = retry("get after leader loss", || client.get_data("/quorum")).await;
    assert_eq!(data, b"q");
    retry("create after leader loss", || async {
        match client.create("/quorum/after", b"", &persistent()).await {
            Err(zookeeper_client::Error::NodeExists) => Ok(()),
            other => other.map(|_| ()),
        }
    })
    .await;

    ensemble.restart(leader).unwrap();
    assert_eq!(ensemble.node(leader).mode().unwrap(), "follower");
    ensemble.wait_serving(Duration::from_secs(20)).unwrap();

    // A paused follower does not stop the quorum (checked through the leader alone).
    let leader_now = ensemble.wait_for_leader(Duration::from_secs(20)).unwrap();
    let follower = (0..3).find(|i| *i != leader_now).unwrap();
    ensemble.pause(follower).unwrap();
    assert!(ensemble.node(follower).is_paused());
    assert_eq!(ensemble.leader_index(), Some(leader_now));
    let via_leader = connect(&ensemble.node(leader_now).addr(), Duration::from_secs(4)).await;
    within(
        "create with a paused follower",
        via_leader.create("/quorum/paused", b"", &persistent()),
    )
    .await
    .unwrap();
    ensemble.resume(follower).unwrap();
    ensemble.wait_serving(Duration::from_secs(20)).unwrap();
    let children = retry("list", || via_leader.list_children("/quorum")).await;
    assert_eq!(children.len(), 2, "{children:?}");
}

/// Sends `srvr` through `addr` and returns the answer (`Ok("")` when closed at once), or
/// `Err(())` when nothing arrives within `wait`.
fn srvr_through(addr: &str, wait: Duration) -> Result<String, ()> {
    let mut stream = TcpStream::connect(addr).expect("connect to proxy");
    stream.set_read_timeout(Some(wait)).unwrap();
    let _ = stream.write_all(b"srvr");
    let mut answer = String::new();
    match stream.read_to_string(&mut answer) {
        Ok(_) => Ok(answer),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => Err(()),
        Err(_) => Ok(answer),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_forwards_and_partitions() {
    let addr = shared_server().expect("shared ZooKeeper");
    let proxy = TcpProxy::start(addr.clone()).await.unwrap();
    assert_eq!(proxy.target(), addr);
    let through = proxy.addr();

    let answer = tokio::task::spawn_blocking({
        let through = through.clone();
        move || srvr_through(&through, Duration::from_secs(5))
    })
    .await
    .unwrap()
    .expect("answer through the proxy");
    assert!(answer.contains("Mode:"), "{answer}");

    // Refuse: accepted and closed at once.
    proxy.partition();
    assert!(proxy.is_partitioned());
    let answer = tokio::task::spawn_blocking({
        let through = through.clone();
        move || srvr_through(&through, Duration::from_secs(5))
    })
    .await
    .unwrap();
    assert_eq!(answer, Ok(String::new()));

    // Blackhole: accepted and held silently; forwarded once healed.
    proxy.partition_with(PartitionMode::Blackhole);
    let held = tokio::task::spawn_blocking({
        let through = through.clone();
        move || {
            let mut stream = TcpStream::connect(&through).unwrap();
            stream.write_all(b"srvr").unwrap();
            stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let mut byte = [0u8; 1];
            let silent = matches!(stream.read(&mut byte), Err(ref e)
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
            (stream, silent)
        }
    })
    .await
    .unwrap();
    let (mut held_stream, silent) = held;
    assert!(silent, "a black-holed connection answered");
    assert_eq!(proxy.active(), 1);

    proxy.heal();
    assert!(!proxy.is_partitioned());
    let answer = tokio::task::spawn_blocking(move || {
        held_stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = String::new();
        held_stream.read_to_string(&mut answer).map(|_| answer)
    })
    .await
    .unwrap()
    .expect("held connection forwarded after heal");
    assert!(answer.contains("Mode:"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_partition_expires_one_clients_session() {
    let addr = shared_server().expect("shared ZooKeeper");
    let root = unique_path("harness-proxy");
    let direct = connect(&addr, Duration::from_secs(4)).await;
    within("create root", direct.create(&root, b"", &persistent()))
        .await
        .unwrap();

    let proxy = TcpProxy::start(addr.clone()).await.unwrap();
    let session_timeout = Duration::from_millis(1600);
    let cut = connect(&proxy.addr(), session_timeout).await;
    let leaf = format!("{root}/leaf");
    within("create ephemeral", cut.create(&leaf, b"", &ephemeral()))
        .await
        .unwrap();
    assert_eq!(proxy.active(), 1);

    // Freeze: nothing closes, the client only notices the silence; a short freeze heals.
    proxy.partition_with(PartitionMode::Freeze);
    let stalled = tokio::time::timeout(Duration::from_millis(300), cut.get_data(&leaf)).await;
    assert!(stalled.is_err(), "a frozen connection answered");
    proxy.heal();
    within("get after freeze", cut.get_data(&leaf)).await.unwrap();

    // Refuse: the client is cut off while the server keeps running; its session expires
    // and the server deletes its ephemeral node.
    proxy.partition();
    wait_state(&cut, SessionState::Disconnected, Duration::from_secs(5)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let children = within("list", direct.list_children(&root)).await.unwrap();
        if children.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "ephemeral survived the partition");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.heal();
    wait_state(&cut, SessionState::Expired, Duration::from_secs(15)).await;
    assert!(proxy.accepted() >= 2, "the client never tried to reconnect");
}

#[test]
fn shared_server_is_shared() {
    let a = shared_server().expect("shared ZooKeeper");
    let b = shared_server().expect("shared ZooKeeper");
    assert_eq!(a, b);
    let p = unique_path("x");
    let q = unique_path("/x/");
    assert!(p.starts_with("/x-") && q.starts_with("/x-"), "{p} {q}");
    assert_ne!(p, q);
}

#[test]
fn errors_instead_of_panics() {
    let err = four_letter_word("127.0.0.1:1", "srvr").unwrap_err();
    assert!(matches!(err, HarnessError::Io { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_restart_keeps_sessions_and_ephemerals() {
    let mut zk = ZkServer::start(TICK_MS).expect("start ZooKeeper");
    let client = connect(&zk.addr(), Duration::from_secs(4)).await;
    let session = client.session_id();
    within("create", client.create("/eph", b"", &ephemeral()))
        .await
        .unwrap();

    // ZooKeeper restores open sessions from its log and gives them a fresh timeout.
    zk.kill().unwrap();
    wait_state(&client, SessionState::Disconnected, Duration::from_secs(5)).await;
    zk.restart().unwrap();
    wait_state(&client, SessionState::SyncConnected, Duration::from_secs(10)).await;
    assert_eq!(client.session_id(), session);
    let exists = retry("check", || client.check_stat("/eph")).await;
    assert!(exists.is_some(), "ephemeral lost across a quick restart");
}

#[test]
fn options_reach_the_server() {
    let zk = ZkServer::start_with(ZkOptions {
        tick_ms: 100,
        jute_maxbuffer: Some(4 << 20),
        max_session_timeout_ms: Some(3000),
        ..ZkOptions::default()
    })
    .expect("start ZooKeeper");
    let conf = four_letter_word(&zk.addr(), "conf").unwrap();
    assert!(conf.contains("tickTime=100"), "{conf}");
    assert!(conf.contains("maxSessionTimeout=3000"), "{conf}");
    assert_eq!(zk.max_session_timeout(), Duration::from_secs(3));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", zk.pid().unwrap())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(cmdline.contains("-Djute.maxbuffer=4194304"), "{cmdline}");
}
