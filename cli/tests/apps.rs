//! `zkdubbo apps` and `zkdubbo instances` on instance nodes written as Dubbo 3 writes them:
//! the node data below is what Curator 5.4's serializer produced for Dubbo's
//! `ZookeeperInstance` payload (`discovery/tests/curator.rs` checks our writer against it).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use zkdubbo_integration_tests::harness::shared_server;
use zookeeper_client::{Acls, Client, CreateMode};

const FIRST: &str = r#"{"name":"demo-provider","id":"10.0.0.7:20880","address":"10.0.0.7","port":20880,"sslPort":null,"payload":{"@class":"org.apache.dubbo.registry.zookeeper.ZookeeperInstance","id":"10.0.0.7:20880","name":"demo-provider","metadata":{"dubbo.endpoints":"[{\"port\":20880,\"protocol\":\"dubbo\"},{\"port\":50051,\"protocol\":\"tri\"}]","dubbo.metadata.revision":"b7d1c4e2a9f0","dubbo.metadata.storage-type":"remote"}},"registrationTimeUTC":1700000000123,"serviceType":"DYNAMIC","uriSpec":null}"#;
const SECOND: &str = r#"{"name":"demo-provider","id":"10.0.0.8:20880","address":"10.0.0.8","port":20880,"sslPort":null,"payload":{"@class":"org.apache.dubbo.registry.zookeeper.ZookeeperInstance","id":"10.0.0.8:20880","name":"demo-provider","metadata":{"dubbo.metadata.revision":"b7d1c4e2a9f0"}},"registrationTimeUTC":1700000000456,"serviceType":"DYNAMIC","uriSpec":null}"#;

fn services_root() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "/cli-apps-{}-{}/services",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn zkdubbo(args: &[&str]) -> (String, String) {
    let addr = shared_server().expect("a ZooKeeper server for the tests");
    let out = Command::new(env!("CARGO_BIN_EXE_zkdubbo"))
        .env_remove("ZK_ADDR")
        .env("ZKDUBBO_LOG", "warn")
        .args(["--zk", &addr])
        .args(args)
        .output()
        .expect("run zkdubbo");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

async fn write(root: &str) {
    let client = Client::connect(&shared_server().unwrap()).await.unwrap();
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    client
        .mkdir(&format!("{root}/demo-provider"), &persistent)
        .await
        .unwrap();
    client.mkdir(&format!("{root}/other-app"), &persistent).await.unwrap();
    for (node, data) in [
        ("10.0.0.7:20880", FIRST),
        ("10.0.0.8:20880", SECOND),
        ("garbage", "{not json"),
    ] {
        let path = format!("{root}/demo-provider/{node}");
        client.create(&path, data.as_bytes(), &persistent).await.unwrap();
    }
    // (Instance nodes are ephemeral; these outlive the writer's session for the test.)
    client
        .create(&format!("{root}/other-app/10.0.0.9:20880"), b"", &persistent)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_and_their_instances_are_listed_as_dubbo_3_wrote_them() {
    let root = services_root();
    write(&root).await;
    let (apps, _) = zkdubbo(&["apps", "--services-root", &root]);
    assert_eq!(apps, "demo-provider\t3\nother-app\t1\n");
    let (json, _) = zkdubbo(&["apps", "--services-root", &root, "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json[0]["application"], "demo-provider");
    assert_eq!(json[1]["instances"], 1);

    let (listed, warnings) = zkdubbo(&["instances", "demo-provider", "--services-root", &root]);
    assert_eq!(
        listed,
        "10.0.0.7:20880\tendpoints=dubbo:20880,tri:50051\trevision=b7d1c4e2a9f0\tmetadata=remote\n\
         10.0.0.8:20880\tendpoints=-:20880\trevision=b7d1c4e2a9f0\tmetadata=local\n"
    );
    // The node that is not an instance is named, and the others are still listed.
    assert!(
        warnings.contains("skipping node") && warnings.contains("garbage"),
        "{warnings}"
    );
    assert!(warnings.contains("instance node is not valid"), "{warnings}");

    let (json, _) = zkdubbo(&["instances", "demo-provider", "--services-root", &root, "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json[0]["endpoints"][1]["protocol"], "tri");
    assert_eq!(json[0]["endpoints"][1]["port"], 50051);
    assert_eq!(json[1]["metadata_storage"], "local");
    assert_eq!(json[1]["registered_at"], "2023-11-14T22:13:20.456Z");

    // Nothing registered: empty, not an error.
    let (none, _) = zkdubbo(&["instances", "nobody", "--services-root", &root]);
    assert_eq!(none, "");
}
