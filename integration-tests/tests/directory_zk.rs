//! The directory (`zkdubbo-directory`) on a real ZooKeeper (the shared test server, or
//! `ZK_ADDR`): rules written as persistent nodes by an admin change what consumers get.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zkdubbo_common::{Invocation, Url, encoding::encode};
use zkdubbo_directory::{Directory, InertInvokerFactory, Member, NoProviderReason, RegistryDirectory};
use zkdubbo_integration_tests::harness::{shared_server, unique_path};
use zkdubbo_registry::Registry;
use zkdubbo_registry::ZookeeperRegistry;

const IFACE: &str = "com.foo.DirectoryService";

fn url(s: &str) -> Url {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

async fn registry(root: &str) -> Arc<ZookeeperRegistry> {
    let addr = shared_server().expect("a ZooKeeper server for the tests");
    ZookeeperRegistry::connect_str(&format!(
        "zookeeper://{addr}?group={root}&session=4000&timeout=3000&file.cache=false"
    ))
    .await
    .expect("registry connects")
}

fn provider(host: &str, extra: &str) -> Url {
    url(&format!(
        "dubbo://{host}:20880/{IFACE}?application=bar&interface={IFACE}&methods=get,put&side=provider&weight=100{extra}"
    ))
}

fn hosts(list: &[Arc<Member>]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|m| m.url().host().to_owned()).collect();
    v.sort();
    v
}

/// Wait until `check` holds for the directory (polling its snapshot changes).
async fn eventually(dir: &RegistryDirectory, what: &str, check: impl Fn(&RegistryDirectory) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut changes = dir.changes();
    while !check(dir) {
        assert!(
            Instant::now() < deadline,
            "{what}: not within 10 s; now {:#?}",
            dir.describe()
        );
        let _ = tokio::time::timeout(Duration::from_millis(200), changes.changed()).await;
    }
}

struct Setup {
    admin: Arc<ZookeeperRegistry>,
    consumer_side: Arc<ZookeeperRegistry>,
    dir: RegistryDirectory,
}

async fn setup(prefix: &str, consumer_params: &str) -> Setup {
    let root = unique_path(prefix);
    let admin = registry(&root).await;
    let consumer_side = registry(&root).await;
    for p in [
        provider("10.0.0.5", ""),
        provider("10.0.0.6", ""),
        provider("10.0.0.7", "&dubbo.tag=gray"),
    ] {
        admin.register(&p).await.expect("provider registers");
    }
    let consumer = url(&format!(
        "consumer://10.0.0.1/{IFACE}?application=shop&interface={IFACE}{consumer_params}"
    ));
    let dir = RegistryDirectory::builder(consumer, Arc::new(InertInvokerFactory))
        .subscribe(consumer_side.clone() as Arc<dyn Registry>)
        .await
        .expect("directory subscribes");
    eventually(&dir, "providers listed", |d| d.snapshot().counts().registered == 3).await;
    Setup {
        admin,
        consumer_side,
        dir,
    }
}

impl Setup {
    async fn teardown(self) {
        self.dir.destroy();
        self.consumer_side.shutdown().await;
        self.admin.shutdown().await;
    }
}

fn get() -> Invocation {
    Invocation::new("get")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn override_node_changes_weight_and_disables() {
    let s = setup("dir-override", "").await;
    let weight_of = |d: &RegistryDirectory, host: &str| -> Option<String> {
        d.list(&get())
            .ok()?
            .iter()
            .find(|m| m.url().host() == host)
            .and_then(|m| m.url().param("weight").map(str::to_owned))
    };
    let weight = url(&format!(
        "override://10.0.0.5:20880/{IFACE}?category=configurators&dynamic=false&enabled=true&weight=7"
    ));
    s.admin.register(&weight).await.expect("override written");
    eventually(&s.dir, "weight override", |d| {
        weight_of(d, "10.0.0.5").as_deref() == Some("7")
    })
    .await;
    assert_eq!(weight_of(&s.dir, "10.0.0.6").as_deref(), Some("100"));

    let disable = url(&format!(
        "override://10.0.0.6:20880/{IFACE}?category=configurators&disabled=true&dynamic=false&enabled=true"
    ));
    s.admin.register(&disable).await.expect("override written");
    eventually(&s.dir, "provider disabled", |d| d.snapshot().counts().disabled == 1).await;
    assert_eq!(
        hosts(&s.dir.list(&get()).unwrap()),
        ["10.0.0.5"],
        "untagged and enabled only"
    );

    s.admin.unregister(&weight).await.expect("override deleted");
    s.admin.unregister(&disable).await.expect("override deleted");
    eventually(&s.dir, "overrides gone", |d| {
        d.snapshot().counts().disabled == 0 && weight_of(d, "10.0.0.5").as_deref() == Some("100")
    })
    .await;
    s.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condition_route_node_restricts_and_its_deletion_restores() {
    let s = setup("dir-route", "").await;
    assert_eq!(hosts(&s.dir.list(&get()).unwrap()), ["10.0.0.5", "10.0.0.6"]);
    let rule = url(&format!(
        "condition://0.0.0.0/{IFACE}?category=routers&dynamic=false&enabled=true&force=true&priority=1&rule={}",
        encode("host = 10.0.0.1 => host = 10.0.0.6")
    ));
    s.admin.register(&rule).await.expect("route written");
    eventually(&s.dir, "route applied", |d| {
        d.list(&get()).map(|l| hosts(&l) == ["10.0.0.6"]).unwrap_or(false)
    })
    .await;
    let blacklist = url(&format!(
        "condition://0.0.0.0/{IFACE}?category=routers&dynamic=false&enabled=true&force=true&priority=2&rule={}",
        encode("host = 10.0.0.1 => false")
    ));
    s.admin.register(&blacklist).await.expect("route written");
    eventually(&s.dir, "blacklisted", |d| d.list(&get()).is_err()).await;
    let err = s.dir.list(&get()).unwrap_err();
    assert!(
        matches!(&err.reason, NoProviderReason::RoutedAway { rule, .. } if rule.contains("condition://")),
        "{err}"
    );

    s.admin.unregister(&blacklist).await.expect("route deleted");
    s.admin.unregister(&rule).await.expect("route deleted");
    eventually(&s.dir, "routes gone", |d| {
        d.list(&get())
            .map(|l| hosts(&l) == ["10.0.0.5", "10.0.0.6"])
            .unwrap_or(false)
    })
    .await;
    s.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_routes_calls() {
    let s = setup("dir-tag", "").await;
    let gray = get().with_attachment("dubbo.tag", "gray");
    assert_eq!(hosts(&s.dir.list(&gray).unwrap()), ["10.0.0.7"]);
    assert_eq!(hosts(&s.dir.list(&get()).unwrap()), ["10.0.0.5", "10.0.0.6"]);
    let blue = get().with_attachment("dubbo.tag", "blue");
    assert_eq!(hosts(&s.dir.list(&blue).unwrap()), ["10.0.0.5", "10.0.0.6"]);
    s.teardown().await;

    // A consumer tagged by its own URL.
    let s = setup("dir-tag-consumer", "&dubbo.tag=gray").await;
    assert_eq!(hosts(&s.dir.list(&get()).unwrap()), ["10.0.0.7"]);
    s.admin
        .unregister(&provider("10.0.0.7", "&dubbo.tag=gray"))
        .await
        .expect("provider leaves");
    eventually(&s.dir, "tagged provider gone", |d| {
        d.snapshot().counts().registered == 2
    })
    .await;
    assert_eq!(
        hosts(&s.dir.list(&get()).unwrap()),
        ["10.0.0.5", "10.0.0.6"],
        "falls back to untagged"
    );
    s.teardown().await;
}
