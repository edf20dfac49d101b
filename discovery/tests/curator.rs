//! The formats against Java: Curator 5.4's x-discovery serializer (Debian's
//! libcurator-discovery-java) writes and reads instance nodes with Dubbo's `ZookeeperInstance`
//! payload (`tests/java`), and Dubbo's revision rule run in Java (its `TreeMap` order and
//! `toString`, MD5 in hex) gives our revisions. Needs `javac` and the jars
//! (`scripts/zk.sh install`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use zkdubbo_common::Url;
use zkdubbo_discovery::{ENDPOINTS_KEY, Endpoint, MetadataInfo, REVISION_KEY, ServiceInstance};

const JARS: [&str; 9] = [
    "curator-x-discovery.jar",
    "curator-framework.jar",
    "curator-client.jar",
    "zookeeper.jar",
    "jackson-databind.jar",
    "jackson-core.jar",
    "jackson-annotations.jar",
    "guava.jar",
    "slf4j-api.jar",
];

/// Compile the peer once; its class path.
fn classpath() -> &'static str {
    static CP: OnceLock<String> = OnceLock::new();
    CP.get_or_init(|| {
        let jars: Vec<PathBuf> = JARS.iter().map(|j| Path::new("/usr/share/java").join(j)).collect();
        for j in &jars {
            assert!(j.exists(), "{} is missing: run scripts/zk.sh install", j.display());
        }
        let java = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java");
        let classes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("discovery-peer");
        std::fs::create_dir_all(&classes).unwrap();
        let jar_path = std::env::join_paths(&jars).unwrap();
        let ok = Command::new("javac")
            .arg("-d")
            .arg(&classes)
            .arg("-cp")
            .arg(&jar_path)
            .arg(java.join("DiscoveryPeer.java"))
            .arg(java.join("org/apache/dubbo/registry/zookeeper/ZookeeperInstance.java"))
            .status()
            .expect("javac is missing: run scripts/zk.sh install");
        assert!(ok.success());
        let mut all = vec![classes];
        all.extend(jars);
        std::env::join_paths(all).unwrap().to_string_lossy().into_owned()
    })
}

fn java(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new("java")
        .args(["-cp", classpath(), "DiscoveryPeer"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("java");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "DiscoveryPeer {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn instance() -> ServiceInstance {
    let endpoints = ServiceInstance::endpoints_value(&[
        Endpoint {
            port: 20880,
            protocol: "dubbo".into(),
        },
        Endpoint {
            port: 50051,
            protocol: "tri".into(),
        },
    ]);
    let metadata: BTreeMap<String, String> = [
        (ENDPOINTS_KEY, endpoints.as_str()),
        (REVISION_KEY, "3f6e1c5d0e4b9a8b7c6d5e4f3a2b1c0d"),
        ("dubbo.metadata.storage-type", "remote"),
        (
            "dubbo.metadata-service.url-params",
            r#"{"connections":"1","version":"1.0.0","dubbo":"2.0.2","release":"3.3.1","side":"provider","port":"20880","protocol":"dubbo"}"#,
        ),
        ("ünïcode ключ", "значение 😀"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut i = ServiceInstance::new("demo-provider", "10.0.0.7", 20880, metadata);
    i.registration_time_utc = 1_700_000_000_123;
    i
}

#[test]
fn our_instance_node_is_byte_for_byte_what_curator_writes() {
    let ours = instance();
    let mut args: Vec<String> = vec![
        "write".into(),
        ours.name.clone(),
        ours.address.clone(),
        ours.port.to_string(),
        ours.registration_time_utc.to_string(),
    ];
    args.extend(ours.metadata.iter().map(|(k, v)| format!("{k}={v}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let theirs = java(&args, "");
    assert_eq!(ours.to_json(), theirs);
    // And we read Curator's back as it was.
    assert_eq!(ServiceInstance::from_json(theirs.as_bytes()).unwrap(), ours);
}

#[test]
fn curator_reads_our_instance_node() {
    let ours = instance();
    let read = java(&["read"], &ours.to_json());
    let mut expected = format!("{}\n{}\n{}\n{}\n", ours.name, ours.id, ours.address, ours.port);
    // Java's TreeMap order (UTF-16) equals byte order for these keys.
    for (k, v) in &ours.metadata {
        expected.push_str(&format!("{k}={v}\n"));
    }
    assert_eq!(read, expected);
    assert_eq!(ours.port_of("tri"), 50051);
    assert_eq!(ours.port_of("rest"), 20880);
}

fn provider(text: &str) -> Url {
    text.parse().unwrap()
}

#[test]
fn revisions_are_what_dubbos_rule_gives_in_java() {
    let urls = [
        provider(
            "dubbo://10.0.0.7:20880/org.apache.dubbo.demo.DemoService?anyhost=true&application=demo-provider\
             &deprecated=false&dubbo=2.0.2&dynamic=true&generic=false&interface=org.apache.dubbo.demo.DemoService\
             &methods=sayHello,sayHelloAsync&pid=4242&release=3.3.1&side=provider&timestamp=1700000000000\
             &qos.port=22222&bind.ip=10.0.0.7&bind.port=20880",
        ),
        provider(
            "tri://10.0.0.7:50051/org.apache.dubbo.demo.GreeterService?application=demo-provider&group=g1\
             &version=2.0.0&interface=org.apache.dubbo.demo.GreeterService&methods=greet&side=provider\
             &sayHello.timeout=300&%F0%9F%98%80key=1&%EF%BD%A1key=2&Zkey=3",
        ),
        provider("dubbo://10.0.0.7:20880/com.foo.Bare"),
    ];
    let info = MetadataInfo::of("demo-provider", &urls);
    assert!(!info.services.values().any(|s| s.params.contains_key("pid")
        || s.params.contains_key("timestamp")
        || s.params.contains_key("qos.port")
        || s.params.contains_key("bind.ip")));
    let mut spec = format!("app\t{}\n", info.app);
    for s in info.services.values() {
        spec.push_str(&format!("service\t{}\t{}\t{}\n", s.match_key(), s.port, s.path));
        for (k, v) in &s.params {
            spec.push_str(&format!("param\t{k}\t{v}\n"));
        }
    }
    assert_eq!(java(&["revision"], &spec), info.revision);
    assert_eq!(info.revision.len(), 32);

    // The revision follows the services, not the process.
    let restarted: Vec<Url> = urls
        .iter()
        .map(|u| u.clone().with_param("pid", "1").with_param("timestamp", "1"))
        .collect();
    assert_eq!(MetadataInfo::of("demo-provider", &restarted).revision, info.revision);
    let changed: Vec<Url> = urls.iter().map(|u| u.clone().with_param("weight", "50")).collect();
    assert_ne!(MetadataInfo::of("demo-provider", &changed).revision, info.revision);
    assert_eq!(MetadataInfo::of("demo-provider", &[]).revision, "0");
}

#[test]
fn metadata_json_round_trips_and_names_its_keys_as_java() {
    let url =
        provider("tri://10.0.0.7:50051/com.foo.Greeter?group=g&version=1.0&interface=com.foo.Greeter&methods=greet");
    let info = MetadataInfo::of("app", &[url]);
    let json = info.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let service = &value["services"]["g/com.foo.Greeter:1.0:tri"];
    assert_eq!(service["name"], "com.foo.Greeter");
    assert_eq!(service["group"], "g");
    assert_eq!(service["version"], "1.0");
    assert_eq!(service["protocol"], "tri");
    assert_eq!(service["port"], 50051);
    assert_eq!(service["path"], "com.foo.Greeter");
    assert_eq!(service["params"]["methods"], "greet");
    assert_eq!(MetadataInfo::from_json(json.as_bytes()).unwrap(), info);
}
