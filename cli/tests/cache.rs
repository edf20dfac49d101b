//! `zkdubbo watch --cache-file` end to end: the cache written while ZooKeeper is up is served,
//! and said to be, when ZooKeeper is down; live lists take over when it is back.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zkdubbo_integration_tests::harness::ZkServer;

const IFACE: &str = "com.example.Cached";

fn zkdubbo(addr: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkdubbo"));
    cmd.env_remove("ZK_ADDR")
        .env("ZKDUBBO_LOG", "warn")
        .args(["--zk", addr, "--root", "/cli-cache"]);
    cmd
}

/// Lines of a child's stream, read on a thread.
fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `zkdubbo watch IFACE --json --cache-file PATH --session-timeout 2000`, stdout and stderr
/// piped.
fn watch(addr: &str, cache: &std::path::Path) -> (Child, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let mut child = zkdubbo(addr)
        .args([
            "watch",
            IFACE,
            "--categories",
            "providers",
            "--json",
            "--session-timeout",
            "2000",
        ])
        .arg("--cache-file")
        .arg(cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let out = lines_of(child.stdout.take().expect("piped stdout"));
    let err = lines_of(child.stderr.take().expect("piped stderr"));
    (child, out, err)
}

/// The next JSON line whose `urls` satisfy `pred`, within `d`.
fn next_urls(lines: &mpsc::Receiver<String>, d: Duration, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no matching notification within {d:?}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let urls: Vec<String> = v["urls"]
            .as_array()
            .expect("urls")
            .iter()
            .map(|u| u.as_str().expect("a URL string").to_owned())
            .collect();
        if pred(&urls) {
            return urls;
        }
    }
}

/// The first stderr line containing `needle`, within `d`.
fn stderr_line(lines: &mpsc::Receiver<String>, needle: &str, d: Duration) -> String {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no stderr line with {needle:?} within {d:?}: {e}"),
        }
    }
}

fn terminate(child: &mut Child) {
    // SAFETY: sending SIGTERM to a child process we spawned and still own.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().expect("child exits");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn watch_serves_the_cache_file_while_zookeeper_is_down() {
    let mut server = ZkServer::start(200).expect("a ZooKeeper server");
    let addr = server.addr();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cache = dir.path().join("watch.cache");
    let provider = format!("dubbo://10.0.0.9:20880/{IFACE}?application=cache-test&side=provider");

    let mut register = zkdubbo(&addr)
        .args(["register", &provider, "--session-timeout", "2000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn register");
    let registered = lines_of(register.stdout.take().expect("piped stdout"));
    let line = registered
        .recv_timeout(Duration::from_secs(10))
        .expect("registered line");
    assert!(line.starts_with("registered "), "{line}");

    // Live: the provider is printed, and the cache file written (debounced).
    let (mut live, out, _err) = watch(&addr, &cache);
    let urls = next_urls(&out, Duration::from_secs(10), |u| u.len() == 1);
    assert_eq!(urls, std::slice::from_ref(&provider));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&cache).is_ok_and(|t| t.contains("10.0.0.9")) {
        assert!(Instant::now() < deadline, "cache file not written");
        std::thread::sleep(Duration::from_millis(20));
    }
    terminate(&mut live);

    // ZooKeeper down: the cached provider is printed, and stderr says where it comes from.
    server.kill().expect("kill ZooKeeper");
    let started = Instant::now();
    let (mut cold, out, err) = watch(&addr, &cache);
    let urls = next_urls(&out, Duration::from_secs(10), |u| !u.is_empty());
    let served = started.elapsed();
    assert_eq!(urls, std::slice::from_ref(&provider));
    let said = stderr_line(&err, "cache file", Duration::from_secs(2));
    assert!(said.contains("unreachable") && said.contains(&addr), "{said}");

    // ZooKeeper back: live again (the provider's session is still valid or re-created).
    server.restart().expect("restart ZooKeeper");
    stderr_line(&err, "ZooKeeper is back", Duration::from_secs(15));
    let urls = next_urls(&out, Duration::from_secs(10), |u| u.len() == 1);
    assert_eq!(urls, [provider]);
    terminate(&mut cold);
    terminate(&mut register);
    println!(
        "RELIABILITY| CLI watch --cache-file, ZooKeeper down | cached provider printed after start | {} ms",
        served.as_millis()
    );
}
