//! A frozen dubbo:// provider (a Java process stopped with SIGSTOP) on a real ZooKeeper: the
//! consumer's heartbeat notices the silence and fails its calls over long before their
//! timeout; after SIGCONT the provider is called again.
//!
//! The provider is `DubboPeer` (dubbo/tests/java), a Java process whose Hessian bytes are
//! Caucho's. Needs `javac` and Debian's libhessian-java (`scripts/zk.sh install`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zkdubbo::dubbo::demo;
use zkdubbo::{Reference, ServiceBuilder};
use zkdubbo_integration_tests::harness::{shared_server, unique_path};

const JAR: &str = "/usr/share/java/hessian.jar";

struct Java(std::process::Child);
impl Drop for Java {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
    assert!(ok.success());
}

/// Wait until every thread of `pid` is stopped. `kill -STOP` returns once the signal is sent;
/// the JVM's threads stop as each takes it, and a reply written meanwhile would still arrive.
fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let state = |stat: &str| stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        let stopped = tasks.flatten().all(|task| {
            std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| matches!(state(&stat), Some('T' | 't')))
        });
        if stopped {
            return;
        }
        assert!(Instant::now() < deadline, "the Java provider never stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn start_java_provider() -> (Java, u16) {
    assert!(Path::new(JAR).exists(), "{JAR} is missing: run scripts/zk.sh install");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let classes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dubbo-peer-it");
    std::fs::create_dir_all(&classes).unwrap();
    let ok = Command::new("javac")
        .args(["-d", classes.to_str().unwrap(), "-cp", JAR])
        .arg(root.join("dubbo/tests/java/DubboPeer.java"))
        .arg(root.join("hessian/tests/java/com/example/User.java"))
        .status()
        .expect("javac is missing: run scripts/zk.sh install");
    assert!(ok.success());
    let mut child = Command::new("java")
        .args([
            "--add-opens",
            "java.base/java.lang=ALL-UNNAMED",
            "--add-opens",
            "java.base/java.util=ALL-UNNAMED",
        ])
        .args(["-cp", &format!("{}:{JAR}", classes.display()), "DubboPeer", "serve"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("java");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().strip_prefix("port ").expect("port line").parse().unwrap();
    (Java(child), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_provider_is_detected_by_heartbeat_and_called_again_after_it_thaws() {
    let zk = shared_server().expect("ZooKeeper");
    let registry = format!(
        "zookeeper://{zk}?group={}&session=4000&timeout=1000&retry.period=500&file.cache=false",
        unique_path("dubbo-frozen")
    );
    let (java, java_port) = start_java_provider();
    // The Java provider, registered as Java Dubbo would (heartbeat 200 ms: silence is noticed
    // after 600 ms).
    let java_reg = ServiceBuilder::new(demo::INTERFACE)
        .registry(&registry)
        .protocol("dubbo")
        .host("127.0.0.1")
        .port(java_port)
        .param("heartbeat", "200")
        .param("serialization", "hessian2")
        .register()
        .await
        .unwrap();
    let rust = ServiceBuilder::new(demo::INTERFACE)
        .registry(&registry)
        .host("127.0.0.1")
        .serve_dubbo(demo::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // A 60 s timeout: only the heartbeat can end a call to a frozen provider sooner.
    let demo_ref: Reference = zkdubbo::ReferenceBuilder::from_url(&format!(
        "{}?retries=1&loadbalance=roundrobin&timeout=60000",
        demo::INTERFACE
    ))
    .unwrap()
    .registry(&registry)
    .build()
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while demo_ref.directories()[0].snapshot().providers().len() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let call = || async {
        let inv = zkdubbo::dubbo::invocation("sayHello", &["java.lang.String"], &("x",)).unwrap();
        demo_ref.invoke(&inv).await
    };
    let served_by_java = |r: &zkdubbo::Response| r.attachments.get("server").map(String::as_str) == Some("java");
    let mut java_answered = false;
    for _ in 0..4 {
        java_answered |= served_by_java(&call().await.unwrap());
    }
    assert!(java_answered, "round robin never reached the Java provider");

    signal(java.0.id(), "-STOP");
    wait_stopped(java.0.id());
    // Every call succeeds: those sent to the frozen provider fail over once its connection is
    // closed for silence, within a small multiple of 3 × 200 ms, not after 60 s.
    let calls = tokio::time::timeout(Duration::from_secs(20), async {
        for _ in 0..4 {
            let r = call().await.expect("failover to the live provider");
            assert!(!served_by_java(&r));
        }
    })
    .await;
    assert!(
        calls.is_ok(),
        "calls to the frozen provider waited for their 60 s timeout"
    );

    signal(java.0.id(), "-CONT");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if call().await.is_ok_and(|r| served_by_java(&r)) {
            break;
        }
        assert!(Instant::now() < deadline, "the thawed provider is not called again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    demo_ref.shutdown().await;
    rust.shutdown(Duration::ZERO).await.unwrap();
    drop(java_reg);
}
