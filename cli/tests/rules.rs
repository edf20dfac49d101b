//! `zkdubbo weight|disable|enable|route|tag|rule` against a real ZooKeeper: each command's
//! YAML is what dubbo-admin writes (compared field for field after parsing), writes are
//! compare-and-set (two processes writing weights at once both land), a rule that does not
//! parse is refused, and `--dry-run` writes nothing and shows the effect on a consumer.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_yaml_ng::Value;
use zkdubbo_integration_tests::harness::shared_server;

const IFACE: &str = "org.apache.dubbo.demo.DemoService";

struct Cli {
    addr: String,
    root: String,
}

impl Cli {
    fn new() -> Cli {
        static N: AtomicU32 = AtomicU32::new(0);
        Cli {
            addr: shared_server().expect("a ZooKeeper server for the tests"),
            root: format!(
                "/cli-rules-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkdubbo"));
        cmd.env_remove("ZK_ADDR")
            .env("ZKDUBBO_LOG", "warn")
            .args(["--zk", &self.addr, "--root", &self.root])
            .args(args);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run zkdubbo");
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn fails(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().expect("run zkdubbo");
        assert!(!out.status.success(), "{args:?} should fail");
        out
    }

    /// The rule at `key`, parsed (`None`: no node).
    fn rule(&self, key: &str) -> Option<Value> {
        let out = self.cmd(&["rule", "get", key]).output().expect("run zkdubbo");
        out.status
            .success()
            .then(|| serde_yaml_ng::from_slice(&out.stdout).expect("the stored rule is YAML"))
    }
}

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap()
}

#[test]
fn weight_writes_what_dubbo_admin_writes_and_mirrors_the_url_rule() {
    let cli = Cli::new();
    cli.ok(&[
        "weight",
        IFACE,
        "192.168.1.10:20880",
        "100",
        "--version",
        "1.0.0",
        "--group",
        "g1",
    ]);
    cli.ok(&[
        "weight",
        IFACE,
        "192.168.1.10:20880",
        "200",
        "--version",
        "1.0.0",
        "--group",
        "g1",
    ]);
    // The reference's example of admin's weight rule, field for field.
    let admin = "configs:\n- addresses: [192.168.1.10:20880]\n  enabled: true\n  parameters: {weight: 200}\n  side: provider\n  \
                 type: weight\nenabled: false\nkey: org.apache.dubbo.demo.DemoService:1.0.0:g1\nscope: service\n";
    assert_eq!(cli.rule(&format!("{IFACE}:1.0.0:g1.configurators")), Some(yaml(admin)));
    // The URL-style override beside it, replaced rather than added to.
    let urls = cli.ok(&["providers", IFACE, "--category", "configurators"]);
    let overrides: Vec<&str> = urls.lines().filter(|l| l.starts_with("override://")).collect();
    assert_eq!(overrides.len(), 1, "{urls}");
    assert!(overrides[0].starts_with("override://192.168.1.10:20880/"), "{urls}");
    for part in [
        "dynamic=false",
        "enabled=true",
        "weight=200",
        "version=1.0.0",
        "group=g1",
    ] {
        assert!(overrides[0].contains(part), "{part} missing: {urls}");
    }
}

#[test]
fn two_processes_setting_weights_at_once_both_land() {
    let cli = Cli::new();
    let spawn = |args: &[&str]| cli.cmd(args).stdout(std::process::Stdio::null()).spawn().unwrap();
    let a = spawn(&["weight", IFACE, "10.0.0.1:20880", "11"]);
    let b = spawn(&["weight", IFACE, "10.0.0.2:20880", "22"]);
    for mut child in [a, b] {
        assert!(child.wait().unwrap().success());
    }
    let rule = cli.rule(&format!("{IFACE}::.configurators")).expect("the rule exists");
    let mut weights: Vec<(String, String)> = rule["configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["addresses"][0].as_str().unwrap().to_owned(),
                serde_yaml_ng::to_string(&c["parameters"]["weight"])
                    .unwrap()
                    .trim()
                    .to_owned(),
            )
        })
        .collect();
    weights.sort();
    assert_eq!(
        weights,
        [
            ("10.0.0.1:20880".into(), "11".into()),
            ("10.0.0.2:20880".into(), "22".into())
        ]
    );
}

#[test]
fn disable_enable_route_and_tag() {
    let cli = Cli::new();
    let key = format!("{IFACE}::.configurators");
    cli.ok(&["disable", IFACE, "10.0.0.5:20880"]);
    let want = format!(
        "configVersion: v2.7\nscope: service\nkey: '{IFACE}::'\nenabled: true\nconfigs:\n- addresses: [0.0.0.0]\n  \
         providerAddresses: [10.0.0.5:20880]\n  side: consumer\n  parameters: {{disabled: true}}\n"
    );
    assert_eq!(cli.rule(&key), Some(yaml(&want)));
    cli.ok(&["enable", IFACE, "10.0.0.5:20880"]);
    assert_eq!(cli.rule(&key), None, "nothing left: the node is deleted");

    cli.ok(&["route", IFACE, "set", "=> host != 172.22.3.91", "--force"]);
    let admin = format!(
        "conditions: ['=> host != 172.22.3.91']\nenabled: true\nforce: true\nkey: {IFACE}\npriority: 0\nruntime: false\nscope: service\n"
    );
    assert_eq!(cli.rule(&format!("{IFACE}::.condition-router")), Some(yaml(&admin)));
    assert!(cli.ok(&["route", IFACE, "list"]).contains("172.22.3.91"));
    cli.ok(&["route", "--application", "shop", "set", "host = 1.1.1.1 =>"]);
    let app = cli.rule("shop.condition-router").expect("the application's route");
    assert_eq!(app["scope"], Value::from("application"));
    assert_eq!(app["key"], Value::from("shop"));
    cli.ok(&["route", IFACE, "delete"]);
    assert_eq!(cli.rule(&format!("{IFACE}::.condition-router")), None);
    // A condition that does not parse is refused before anything is written.
    let out = cli.fails(&["route", IFACE, "set", "host = => ="]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("condition"), "{out:?}");

    cli.ok(&["tag", "demo-provider", "set", "tag1", "192.168.0.1:20881"]);
    let admin = "enabled: true\nforce: false\nkey: demo-provider\npriority: 0\nruntime: false\ntags:\n- addresses: [192.168.0.1:20881]\n  \
                 name: tag1\n";
    assert_eq!(cli.rule("demo-provider.tag-router"), Some(yaml(admin)));
    cli.ok(&["tag", "demo-provider", "delete", "tag1"]);
    assert_eq!(cli.rule("demo-provider.tag-router"), None);
}

#[test]
fn rule_put_checks_the_rule_and_dry_run_writes_nothing() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "configs:\n- addresses: 10.0.0.5:20880\n  parameters: {weight: 1}\nkey: x\n",
    )
    .unwrap();
    let out = cli.fails(&[
        "rule",
        "put",
        &format!("{IFACE}::.configurators"),
        "--file",
        bad.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("addresses") && err.contains("nothing written"), "{err}");
    assert_eq!(cli.rule(&format!("{IFACE}::.configurators")), None);
    let out = cli.fails(&["rule", "put", "no-suffix", "--file", bad.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a rule key"));

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "conditions: ['method = get => host = 10.0.0.5']\n").unwrap();
    cli.ok(&[
        "rule",
        "put",
        &format!("{IFACE}::.condition-router"),
        "--file",
        good.to_str().unwrap(),
    ]);
    assert_eq!(
        cli.rule(&format!("{IFACE}::.condition-router")),
        Some(yaml("conditions: ['method = get => host = 10.0.0.5']\n"))
    );

    // Two providers; a dry run of disabling one shows the consumer's list before and after.
    let (a, b) = (
        "dubbo://10.0.0.5:20880/org.apache.dubbo.demo.DemoService?interface=org.apache.dubbo.demo.DemoService&methods=put&side=provider",
        "dubbo://10.0.0.6:20880/org.apache.dubbo.demo.DemoService?interface=org.apache.dubbo.demo.DemoService&methods=put&side=provider",
    );
    for p in [a, b] {
        cli.ok(&["register", p, "--persistent", "--detach"]);
    }
    let out = cli.ok(&["disable", IFACE, "10.0.0.6:20880", "--dry-run", "--method", "put"]);
    assert!(out.contains("would write"), "{out}");
    assert!(out.contains("before: 10.0.0.5:20880, 10.0.0.6:20880"), "{out}");
    assert!(out.contains("after:  10.0.0.5:20880"), "{out}");
    assert_eq!(
        cli.rule(&format!("{IFACE}::.configurators")),
        None,
        "a dry run writes nothing"
    );
}
