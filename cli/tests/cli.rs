//! End-to-end tests of the `zkdubbo` binary against a real ZooKeeper (the harness's shared
//! server, or `ZK_ADDR`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use zkdubbo_integration_tests::harness::shared_server;

const JAVA_NODE: &str = "dubbo%3A%2F%2F10.0.0.5%3A20880%2Fcom.foo.BarService%3Fanyhost%3Dtrue%26application%3Dbar-provider%26dubbo%3D2.0.2%26dynamic%3Dtrue%26generic%3Dfalse%26interface%3Dcom.foo.BarService%26methods%3Dget%2Cput%26pid%3D4242%26release%3D2.7.23%26side%3Dprovider%26timestamp%3D1700000000000";

fn zkdubbo() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkdubbo"));
    cmd.env_remove("ZK_ADDR").env("ZKDUBBO_LOG", "warn");
    cmd
}

/// `zkdubbo --zk <shared server> --root <fresh root> ...`
fn zk_cmd(root: &str) -> Command {
    let addr = shared_server().expect("a ZooKeeper server for the tests");
    let mut cmd = zkdubbo();
    cmd.args(["--zk", &addr, "--root", root]);
    cmd
}

fn fresh_root() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("/cli-test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run zkdubbo");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn run_err(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run zkdubbo");
    assert!(!out.status.success(), "{cmd:?} should have failed");
    out
}

/// Lines of a running child's stdout, read on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn terminate(child: &Child) {
    // SAFETY: sending SIGTERM to a child process we spawned and still own.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}

/// A decoded node name with control characters (here an ANSI colour escape and a newline) is
/// printed escaped, not sent raw to the terminal.
#[test]
fn decode_escapes_control_characters() {
    let out = run_ok(zkdubbo().args(["decode", "dubbo%3A%2F%2Fh%3A1%2Fx%3Fa%3D%1B%5B31mred%0Ab"]));
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert_eq!(out, "dubbo://h:1/x?a=\\u{1b}[31mred\\nb\n");
}

#[test]
fn encode_and_decode_are_inverse_and_java_identical() {
    let url = run_ok(zkdubbo().args(["decode", JAVA_NODE]));
    assert!(
        url.starts_with("dubbo://10.0.0.5:20880/com.foo.BarService?anyhost=true&"),
        "{url}"
    );
    let node = run_ok(zkdubbo().args(["encode", url.trim()]));
    assert_eq!(node.trim(), JAVA_NODE);
}

#[test]
fn offline_errors_name_the_culprit() {
    let out = run_err(zkdubbo().args(["decode", "dubbo%3A%2F%2Fh%3"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated") && err.contains("dubbo%3A%2F%2Fh%3"), "{err}");
    assert!(out.stdout.is_empty());

    let out = run_err(zkdubbo().args(["encode", "10.0.0.5:20880/com.foo.Bar"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no protocol"));
}

#[test]
fn register_is_listed_watched_and_removed_on_sigterm() {
    let root = fresh_root();
    let iface = "com.example.CliService";
    let url = format!("dubbo://10.0.0.9:20880/{iface}?side=provider&methods=a,b&application=cli-test");

    let mut watch = zk_cmd(&root)
        .args(["watch", iface, "--categories", "providers", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let watched = lines_of(&mut watch);
    let first = watched
        .recv_timeout(Duration::from_secs(10))
        .expect("initial notification");
    let first: serde_json::Value = serde_json::from_str(&first).expect("JSON line");
    assert_eq!(first["category"], "providers");
    assert_eq!(first["urls"].as_array().map(Vec::len), Some(0));

    let mut register = zk_cmd(&root)
        .args(["register", &url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn register");
    let registered = lines_of(&mut register);
    let line = registered
        .recv_timeout(Duration::from_secs(10))
        .expect("registered line");
    assert!(line.starts_with("registered dubbo://10.0.0.9:20880/"), "{line}");

    let seen = watched
        .recv_timeout(Duration::from_secs(5))
        .expect("watch sees the provider");
    let seen: serde_json::Value = serde_json::from_str(&seen).expect("JSON line");
    assert_eq!(
        seen["urls"][0],
        format!("dubbo://10.0.0.9:20880/{iface}?application=cli-test&methods=a,b&side=provider")
    );

    let services = run_ok(zk_cmd(&root).arg("services"));
    assert_eq!(services.lines().collect::<Vec<_>>(), vec![iface]);
    let listed = run_ok(zk_cmd(&root).args(["providers", iface, "--json"]));
    let listed: Vec<String> = serde_json::from_str(&listed).expect("JSON array");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].contains("methods=a,b"));

    terminate(&register);
    let status = register.wait().expect("register exits");
    assert!(status.success(), "register exit status {status:?}");

    let gone = watched
        .recv_timeout(Duration::from_secs(5))
        .expect("watch sees the removal");
    let gone: serde_json::Value = serde_json::from_str(&gone).expect("JSON line");
    assert_eq!(gone["urls"].as_array().map(Vec::len), Some(0));
    assert!(run_ok(zk_cmd(&root).args(["providers", iface])).trim().is_empty());

    terminate(&watch);
    assert!(watch.wait().expect("watch exits").success());
}

#[test]
fn persistent_rules_stay_until_unregistered() {
    let root = fresh_root();
    let rule = "override://0.0.0.0/com.example.Rules?category=configurators&weight=50";
    run_ok(zk_cmd(&root).args(["register", "--persistent", "--detach", rule]));
    let listed = run_ok(zk_cmd(&root).args(["providers", "com.example.Rules", "--category", "configurators"]));
    assert_eq!(
        listed.trim(),
        "override://0.0.0.0/com.example.Rules?category=configurators&dynamic=false&weight=50"
    );
    run_ok(zk_cmd(&root).args(["unregister", listed.trim()]));
    let listed = run_ok(zk_cmd(&root).args(["providers", "com.example.Rules", "--category", "configurators"]));
    assert!(listed.trim().is_empty(), "{listed}");
}

/// Following the README: `register --persistent --detach URL`, then `unregister URL` with the
/// same URL removes the node (register adds `dynamic=false`; unregister finds that node). A
/// second `unregister` says there is no such node and fails, unless `--if-exists`.
#[test]
fn unregister_finds_the_persistent_node_and_fails_when_there_is_none() {
    let root = fresh_root();
    let url = "dubbo://10.0.0.9:20880/com.example.Detached?side=provider";
    run_ok(zk_cmd(&root).args(["register", "--persistent", "--detach", url]));
    let listed = run_ok(zk_cmd(&root).args(["providers", "com.example.Detached"]));
    assert!(listed.contains("dynamic=false"), "{listed}");
    let out = run_ok(zk_cmd(&root).args(["unregister", url]));
    assert!(out.starts_with("unregistered "), "{out}");
    let listed = run_ok(zk_cmd(&root).args(["providers", "com.example.Detached"]));
    assert!(listed.trim().is_empty(), "the node is gone: {listed}");

    let out = run_err(zk_cmd(&root).args(["unregister", url]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no node for"), "{stderr}");
    let out = run_ok(zk_cmd(&root).args(["unregister", "--if-exists", url]));
    assert!(out.starts_with("not registered"), "{out}");
}

/// A write that cannot reach ZooKeeper exits non-zero and says so; it used to print
/// "registered"/"unregistered" and exit 0 (the write was only queued for a retry).
#[test]
fn writes_to_an_unreachable_zookeeper_fail() {
    let url = "dubbo://10.0.0.9:20880/com.example.Nowhere?side=provider";
    for args in [
        vec!["register", "--persistent", "--detach", url],
        vec!["unregister", url],
    ] {
        let out = run_err(zkdubbo().args(["--zk", "127.0.0.1:1"]).args(&args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot reach ZooKeeper at zookeeper://127.0.0.1:1"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing claimed on stdout");
    }
}

#[test]
fn persistent_registration_is_held_then_removed_on_sigterm() {
    let root = fresh_root();
    let rule = "condition://0.0.0.0/com.example.Held?category=routers&rule=host%3D1.2.3.4";
    let mut register = zk_cmd(&root)
        .args(["register", "--persistent", rule])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn register");
    let lines = lines_of(&mut register);
    let line = lines.recv_timeout(Duration::from_secs(10)).expect("registered line");
    assert!(line.contains("dynamic=false"), "{line}");
    let listed = run_ok(zk_cmd(&root).args(["providers", "com.example.Held", "--category", "routers"]));
    assert!(listed.contains("dynamic=false"), "{listed}");
    assert!(register.try_wait().expect("status").is_none(), "held until a signal");

    terminate(&register);
    assert!(register.wait().expect("register exits").success());
    let listed = run_ok(zk_cmd(&root).args(["providers", "com.example.Held", "--category", "routers"]));
    assert!(listed.trim().is_empty(), "unregistered on SIGTERM: {listed}");
}

#[test]
fn detach_needs_persistent() {
    let out = run_err(zkdubbo().args(["register", "--detach", "dubbo://h:1/x"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--persistent"));
}

#[test]
fn status_reports_the_session_and_server() {
    let out = run_ok(zk_cmd("/dubbo").args(["status", "--session-timeout", "3000"]));
    assert!(out.contains("session:     0x"), "{out}");
    assert!(out.contains("timeout:     3000 ms"), "{out}");
    let addr = shared_server().expect("server");
    assert!(out.contains(&format!("server:      {addr}")), "{out}");
}

#[test]
fn unreachable_zookeeper_is_a_clear_error() {
    let out = run_err(zkdubbo().args(["--zk", "127.0.0.1:1", "services"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(out.stdout.is_empty());
}

/// `--zk host:port/chroot` is refused by every command, not silently read without its chroot.
#[test]
fn a_chroot_in_zk_is_refused_clearly() {
    for args in [
        vec!["services"],
        vec!["watch", "com.foo.Bar"],
        vec!["providers", "com.foo.Bar"],
    ] {
        let out = run_err(zkdubbo().args(["--zk", "127.0.0.1:1/apps"]).args(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("chroot (\"/apps\") is not supported"), "{args:?}: {err}");
        assert!(err.contains("--root"), "{args:?}: {err}");
    }
}

/// `--zk user:password@host` authenticates every command (the registry commands did, the
/// plain-client ones passed the credentials on as part of the host name), and the password
/// shows nowhere in their output or logs.
#[test]
fn credentials_in_zk_authenticate_every_command_and_never_show() {
    const SECRET: &str = "s3cr3tPW";
    let addr = shared_server().expect("a ZooKeeper server for the tests");
    let zk = format!("alice:{SECRET}@{addr}");
    let root = fresh_root();
    let url = "dubbo://10.0.0.9:20880/com.example.Guarded?side=provider";
    let with = |args: &[&str]| {
        let mut cmd = zkdubbo();
        cmd.env("ZKDUBBO_LOG", "debug")
            .args(["--zk", &zk, "--root", &root])
            .args(args);
        cmd
    };
    let mut outputs = Vec::new();
    for args in [
        vec!["register", "--persistent", "--detach", url],
        vec!["providers", "com.example.Guarded"],
        vec!["status"],
        vec!["describe", "com.example.Guarded"],
        vec!["describe", "com.example.Guarded", "--json"],
    ] {
        let out = with(&args).output().expect("run zkdubbo");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        outputs.push(text);
    }
    assert!(
        outputs[1].contains("com.example.Guarded"),
        "listed with the credentials: {}",
        outputs[1]
    );
    // The nodes carry creator-only ACLs: without the credentials the list is refused.
    let out = run_err(zkdubbo().args(["--zk", &addr, "--root", &root, "providers", "com.example.Guarded"]));
    outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    let out = with(&["unregister", url]).output().expect("run zkdubbo");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    outputs.push(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    for text in &outputs {
        assert!(!text.contains(SECRET), "the password shows: {text}");
    }
}

#[test]
fn bad_category_is_rejected_before_connecting() {
    let out = run_err(zkdubbo().args(["--zk", "127.0.0.1:1", "providers", "x", "--category", "bogus"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown category \"bogus\""));
}

#[test]
fn zk_takes_a_registry_url_with_its_parameters() {
    let addr = shared_server().expect("a ZooKeeper server for the tests");
    let root = fresh_root();
    // A parameter of the URL is used: an unknown watch mode is refused by name.
    let out = run_err(zkdubbo().args([
        "--zk",
        &format!("zookeeper://{addr}?watch=sometimes"),
        "--root",
        &root,
        "services",
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("watch=\"sometimes\""), "{err}");
    // And a valid one works, here the classic child watches.
    let listed = run_ok(zkdubbo().args([
        "--zk",
        &format!("zookeeper://{addr}?watch=children"),
        "--root",
        &root,
        "providers",
        "com.foo.Nothing",
    ]));
    assert!(listed.trim().is_empty(), "{listed}");
}
