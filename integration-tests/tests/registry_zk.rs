//! `ZookeeperRegistry` against a real ZooKeeper (the shared test server, or `ZK_ADDR`).
//!
//! Every test works below its own root (`group=/<unique>`), so tests can share one server and
//! use the exact interface names of Java examples.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zkdubbo_common::Url;
use zkdubbo_integration_tests::harness::{
    PartitionMode, TcpProxy, ZkServer, shared_server, unique_path, zk_addr_from_env,
};
use zkdubbo_registry::{Category, Registration, Registry, RegistryError};
use zkdubbo_registry::{PendingOperation, ZookeeperRegistry};
use zookeeper_client::{Acls, Client, CreateMode};

/// The example node name of ARCHITECTURE: ZooKeeper layout, exactly as Java Dubbo writes it.
const JAVA_NODE: &str = "dubbo%3A%2F%2F10.0.0.5%3A20880%2Fcom.foo.BarService%3Fanyhost%3Dtrue%26application%3Dbar-provider%26dubbo%3D2.0.2%26dynamic%3Dtrue%26generic%3Dfalse%26interface%3Dcom.foo.BarService%26methods%3Dget%2Cput%26pid%3D4242%26release%3D2.7.23%26side%3Dprovider%26timestamp%3D1700000000000";

// ---------------------------------------------------------------------------------------------
// helpers

use zkdubbo_integration_tests::log_capture::{capture as logs, text as log_text};

struct Env {
    addr: String,
    root: String,
}

fn env(prefix: &str) -> Env {
    logs();
    Env {
        addr: shared_server().expect("a ZooKeeper server for the tests"),
        root: unique_path(prefix),
    }
}

fn url(s: &str) -> Url {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

impl Env {
    fn registry_url(&self, addr: &str, extra: &str) -> String {
        format!(
            "zookeeper://{addr}?group={}&session=4000&timeout=3000&file.cache=false{extra}",
            self.root
        )
    }

    async fn registry(&self, extra: &str) -> Arc<ZookeeperRegistry> {
        let reg = ZookeeperRegistry::connect_str(&self.registry_url(&self.addr, extra))
            .await
            .expect("registry connects");
        assert!(reg.is_available());
        reg
    }

    async fn raw(&self) -> Client {
        Client::connect(&self.addr).await.expect("raw client connects")
    }

    fn path(&self, interface: &str, category: &str) -> String {
        format!("{}/{interface}/{category}", self.root)
    }
}

use zkdubbo_integration_tests::wait::{hosts, wait_for, within};

async fn children(raw: &Client, path: &str) -> Vec<String> {
    match raw.list_children(path).await {
        Ok(mut c) => {
            c.sort();
            c
        }
        Err(zookeeper_client::Error::NoNode) => Vec::new(),
        Err(e) => panic!("list {path}: {e}"),
    }
}

/// Poll until `path` has `want` children count, within `d`; returns the time it took.
async fn wait_children(raw: &Client, path: &str, want: usize, d: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let n = children(raw, path).await.len();
        if n == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < d, "{path} has {n} children, want {want} within {d:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn mkdirs(raw: &Client, path: &str) {
    raw.mkdir(path, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .unwrap_or_else(|e| panic!("mkdir {path}: {e}"));
}

/// One figure of a fault-injection scenario, in the grep-able form `scripts/reliability.sh`
/// collects into RELIABILITY.md.
fn figure(scenario: &str, name: &str, value: impl std::fmt::Display) {
    println!("RELIABILITY| {scenario} | {name} | {value}");
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

async fn create(raw: &Client, path: &str, mode: CreateMode) {
    raw.create(path, &[], &mode.with_acls(Acls::anyone_all()))
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

// ---------------------------------------------------------------------------------------------
// registration and subscription

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_and_unregister_are_seen_by_a_subscriber_within_a_second() {
    let env = env("reg-basic");
    let provider_side = env.registry("").await;
    let consumer_side = env.registry("").await;
    let raw = env.raw().await;
    let mut sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    let first = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |_| true).await;
    assert!(first.is_empty_marker(), "{first:?}");
    assert_eq!(first.urls[0].param("category"), Some("providers"));

    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc&methods=a,b&side=provider");
    let start = Instant::now();
    provider_side.register(&provider).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(1), |n| {
        !n.is_empty_marker()
    })
    .await;
    let seen = start.elapsed();
    assert_eq!(&*n.urls, std::slice::from_ref(&provider));
    assert!(n.version.is_some());
    assert!(seen < Duration::from_secs(1), "seen after {seen:?}");

    // Exactly one ephemeral node, owned by the provider's session.
    let path = env.path("com.foo.Svc", "providers");
    assert_eq!(children(&raw, &path).await, [provider.to_node_name()]);
    let (_, stat) = raw
        .get_data(&format!("{path}/{}", provider.to_node_name()))
        .await
        .unwrap();
    assert_eq!(Some(stat.ephemeral_owner), provider_side.session_id());
    // Registering again is not an error and changes nothing.
    provider_side.register(&provider).await.unwrap();
    assert_eq!(children(&raw, &path).await.len(), 1);

    let start = Instant::now();
    provider_side.unregister(&provider).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(1), |n| {
        n.is_empty_marker()
    })
    .await;
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(n.urls[0].protocol(), "empty");
    assert!(children(&raw, &path).await.is_empty());
    // Unregistering an absent node is not an error.
    provider_side.unregister(&provider).await.unwrap();
    assert!(provider_side.pending_operations().is_empty());

    // The lookup sees what the subscriber sees, without empty markers.
    let lookup_consumer = url("consumer://10.0.0.1/com.foo.Svc");
    assert!(consumer_side.lookup(&lookup_consumer).await.unwrap().is_empty());
    provider_side.register(&provider).await.unwrap();
    assert_eq!(
        consumer_side.lookup(&lookup_consumer).await.unwrap(),
        std::slice::from_ref(&provider)
    );
    println!("register → notification: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_nodes_go_with_the_session() {
    let env = env("reg-ephemeral");
    let raw = env.raw().await;
    let path = env.path("com.foo.Svc", "providers");

    // Graceful shutdown deletes own nodes at once and ends subscriptions.
    let reg = env.registry("").await;
    let mut sub = reg.subscribe(&url("consumer://10.0.0.1/com.foo.Svc")).await.unwrap();
    reg.register(&url("dubbo://10.0.0.5:20880/com.foo.Svc")).await.unwrap();
    reg.register(&url("dubbo://10.0.0.6:20880/com.foo.Svc")).await.unwrap();
    assert_eq!(children(&raw, &path).await.len(), 2);
    reg.shutdown().await;
    assert!(
        children(&raw, &path).await.is_empty(),
        "deleted before shutdown returned"
    );
    assert!(!reg.is_available());
    assert!(matches!(
        reg.register(&url("dubbo://10.0.0.5:20880/com.foo.Svc")).await,
        Err(RegistryError::Shutdown { .. })
    ));
    within("subscription end", Duration::from_secs(2), async {
        while sub.next().await.is_some() {}
    })
    .await;

    // Dropping the registry closes the session: ZooKeeper removes the node long before the
    // 4 s session timeout would.
    let reg = env.registry("").await;
    reg.register(&url("dubbo://10.0.0.7:20880/com.foo.Svc")).await.unwrap();
    assert_eq!(children(&raw, &path).await.len(), 1);
    drop(reg);
    let gone = wait_children(&raw, &path, 0, Duration::from_millis(2500)).await;
    println!("node gone {gone:?} after the registry was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_registration_guard_unregisters() {
    let env = env("reg-guard");
    let raw = env.raw().await;
    let reg: Arc<dyn Registry> = env.registry("").await;
    let guard = Registration::register(reg.clone(), url("dubbo://10.0.0.5:20880/com.foo.Svc"))
        .await
        .unwrap();
    let path = env.path("com.foo.Svc", "providers");
    assert_eq!(children(&raw, &path).await.len(), 1);
    drop(guard);
    wait_children(&raw, &path, 0, Duration::from_secs(1)).await;

    let guard = Registration::register(reg.clone(), url("dubbo://10.0.0.5:20880/com.foo.Svc"))
        .await
        .unwrap();
    assert_eq!(children(&raw, &path).await.len(), 1);
    guard.close().await.unwrap();
    assert!(children(&raw, &path).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_false_registrations_are_persistent() {
    let env = env("reg-persistent");
    let raw = env.raw().await;
    let reg = env.registry("").await;
    let rule = url("override://0.0.0.0/com.foo.Svc?category=configurators&dynamic=false&timeout=500");
    reg.register(&rule).await.unwrap();
    let path = env.path("com.foo.Svc", "configurators");
    let leaf = format!("{path}/{}", rule.to_node_name());
    let (_, stat) = raw.get_data(&leaf).await.unwrap();
    assert_eq!(stat.ephemeral_owner, 0, "persistent");
    // Parents are persistent too.
    for p in [env.root.clone(), format!("{}/com.foo.Svc", env.root), path.clone()] {
        assert_eq!(raw.get_data(&p).await.unwrap().1.ephemeral_owner, 0, "{p}");
    }
    reg.shutdown().await;
    drop(reg);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        children(&raw, &path).await,
        [rule.to_node_name()],
        "survives its session"
    );

    // Another registry sees it, and can remove it.
    let other = env.registry("").await;
    let found = other
        .lookup(&url("consumer://10.0.0.1/com.foo.Svc?category=configurators"))
        .await
        .unwrap();
    assert_eq!(found, std::slice::from_ref(&rule));
    other.unregister(&rule).await.unwrap();
    assert!(children(&raw, &path).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routers_and_configurators_are_delivered_per_category_with_empty_markers() {
    let env = env("reg-categories");
    let admin = env.registry("").await;
    let consumer_side = env.registry("").await;
    let consumer = url("consumer://10.0.0.1/com.foo.Svc?application=app&side=consumer");
    let mut sub = consumer_side.subscribe(&consumer).await.unwrap();

    // One empty marker per subscribed category, built from the consumer URL.
    let mut initial = Vec::new();
    within("initial lists", Duration::from_secs(5), async {
        while initial.len() < 3 {
            let n = sub.next().await.unwrap();
            assert!(n.is_empty_marker(), "{n:?}");
            assert_eq!(n.urls[0].param("category"), Some(n.category.as_str()));
            assert_eq!(n.urls[0].param("application"), Some("app"));
            assert_eq!(n.urls[0].host(), "10.0.0.1");
            initial.push(n.category);
        }
    })
    .await;
    initial.sort();
    assert_eq!(
        initial,
        [Category::Providers, Category::Routers, Category::Configurators]
    );
    // The category paths were created by the subscription.
    let raw = env.raw().await;
    for c in ["providers", "routers", "configurators"] {
        assert!(
            raw.check_stat(&env.path("com.foo.Svc", c)).await.unwrap().is_some(),
            "{c}"
        );
    }

    let router = url(
        "condition://0.0.0.0/com.foo.Svc?category=routers&dynamic=false&force=false&rule=host%3D10.0.0.1+%3D%3E+host%3D10.0.0.5",
    );
    admin.register(&router).await.unwrap();
    let n = wait_for(&mut sub, Category::Routers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    assert_eq!(&*n.urls, std::slice::from_ref(&router));

    let configurator = url("override://0.0.0.0/com.foo.Svc?category=configurators&dynamic=false&weight=200");
    admin.register(&configurator).await.unwrap();
    let n = wait_for(&mut sub, Category::Configurators, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    assert_eq!(&*n.urls, std::slice::from_ref(&configurator));

    admin.unregister(&router).await.unwrap();
    let n = wait_for(&mut sub, Category::Routers, Duration::from_secs(2), |_| true).await;
    assert!(n.is_empty_marker(), "{n:?}");
    assert_eq!(
        n.urls[0].to_string(),
        "empty://10.0.0.1/com.foo.Svc?application=app&category=routers&side=consumer"
    );

    // Rule changes never produced a providers notification.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Some(n) = sub.try_next() {
        assert_ne!(n.category, Category::Providers, "{n:?}");
    }
    admin.unregister(&configurator).await.unwrap();
    let n = wait_for(&mut sub, Category::Configurators, Duration::from_secs(2), |_| true).await;
    assert!(n.is_empty_marker());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_register_under_consumers_unless_register_false() {
    let env = env("reg-consumer");
    let raw = env.raw().await;
    let reg: Arc<dyn Registry> = env.registry("").await;
    let consumer = url(
        "consumer://10.0.0.1/com.foo.Svc?application=app&category=providers,configurators,routers&interface=com.foo.Svc&side=consumer",
    );
    let guard = Registration::register_consumer(reg.clone(), &consumer)
        .await
        .unwrap()
        .expect("registered");
    let path = env.path("com.foo.Svc", "consumers");
    let registered = url(
        "consumer://10.0.0.1/com.foo.Svc?application=app&category=consumers&check=false&interface=com.foo.Svc&side=consumer",
    );
    assert_eq!(guard.url(), &registered);
    assert_eq!(children(&raw, &path).await, [registered.to_node_name()]);
    let (_, stat) = raw
        .get_data(&format!("{path}/{}", registered.to_node_name()))
        .await
        .unwrap();
    assert_ne!(stat.ephemeral_owner, 0);
    // A subscription with the same consumer URL does not register anything more.
    let _sub = reg.subscribe(&consumer).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(children(&raw, &path).await.len(), 1);
    guard.close().await.unwrap();
    assert!(children(&raw, &path).await.is_empty());

    let quiet = consumer.clone().with_param("register", "false");
    assert!(
        Registration::register_consumer(reg.clone(), &quiet)
            .await
            .unwrap()
            .is_none()
    );
    assert!(children(&raw, &path).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn star_subscription_picks_up_new_interfaces() {
    let env = env("reg-star");
    let reg = env.registry("").await;
    let monitor = env.registry("").await;
    let a = url("dubbo://10.0.0.5:20880/com.foo.A");
    reg.register(&a).await.unwrap();
    let mut sub = monitor
        .subscribe(&url("consumer://10.0.0.1/*?category=providers&group=*&version=*"))
        .await
        .unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |n| {
        &*n.interface == "com.foo.A" && !n.is_empty_marker()
    })
    .await;
    assert_eq!(&*n.urls, std::slice::from_ref(&a));

    let start = Instant::now();
    let b = url("dubbo://10.0.0.6:20880/com.foo.B?version=1.0");
    reg.register(&b).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        &*n.interface == "com.foo.B" && !n.is_empty_marker()
    })
    .await;
    assert_eq!(&*n.urls, std::slice::from_ref(&b));
    println!("new interface seen after {:?}", start.elapsed());

    // Later changes of the new interface are followed too.
    let b2 = url("dubbo://10.0.0.7:20880/com.foo.B?version=2.0");
    reg.register(&b2).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        &*n.interface == "com.foo.B" && n.urls.len() == 2
    })
    .await;
    assert_eq!(hosts(&n), ["10.0.0.6:20880", "10.0.0.7:20880"]);

    // A `*` lookup reads every interface.
    let mut all = monitor
        .lookup(&url("consumer://10.0.0.1/*?category=providers&group=*&version=*"))
        .await
        .unwrap();
    all.sort_by_key(|u| u.address());
    assert_eq!(all, [a, b, b2]);
    assert_eq!(monitor.services().await.unwrap(), ["com.foo.A", "com.foo.B"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_written_by_java_is_read_back_with_every_param() {
    let env = env("reg-java");
    let raw = env.raw().await;
    let path = env.path("com.foo.BarService", "providers");
    mkdirs(&raw, &path).await;
    create(&raw, &format!("{path}/{JAVA_NODE}"), CreateMode::Ephemeral).await;

    let reg = env.registry("").await;
    let mut sub = reg
        .subscribe(&url("consumer://10.0.0.1/com.foo.BarService?category=providers"))
        .await
        .unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |_| true).await;
    assert_eq!(n.urls.len(), 1, "{n:?}");
    let u = &n.urls[0];
    assert_eq!(
        (u.protocol(), u.host(), u.port(), u.path()),
        ("dubbo", "10.0.0.5", Some(20880), "com.foo.BarService")
    );
    let want = [
        ("anyhost", "true"),
        ("application", "bar-provider"),
        ("dubbo", "2.0.2"),
        ("dynamic", "true"),
        ("generic", "false"),
        ("interface", "com.foo.BarService"),
        ("methods", "get,put"),
        ("pid", "4242"),
        ("release", "2.7.23"),
        ("side", "provider"),
        ("timestamp", "1700000000000"),
    ];
    let got: Vec<(&str, &str)> = u.params().iter().collect();
    assert_eq!(got, want);
    assert_eq!(u.to_node_name(), JAVA_NODE);
    assert_eq!(
        reg.lookup(&url("consumer://10.0.0.1/com.foo.BarService"))
            .await
            .unwrap(),
        std::slice::from_ref(u)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_zkdubbo_writes_is_the_java_form_byte_for_byte() {
    let env = env("reg-java-write");
    let raw = env.raw().await;
    let reg = env.registry("").await;
    // The params in another order than Java writes them: the node name sorts them.
    let provider = url(
        "dubbo://10.0.0.5:20880/com.foo.BarService?timestamp=1700000000000&side=provider&release=2.7.23&pid=4242&methods=get,put&interface=com.foo.BarService&generic=false&dynamic=true&dubbo=2.0.2&application=bar-provider&anyhost=true",
    );
    reg.register(&provider).await.unwrap();
    let names = children(&raw, &env.path("com.foo.BarService", "providers")).await;
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].as_bytes(), JAVA_NODE.as_bytes());
    // And unregistering rebuilds the identical name.
    reg.unregister(&provider).await.unwrap();
    assert!(
        children(&raw, &env.path("com.foo.BarService", "providers"))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_children_are_skipped_with_a_warning_and_never_block_valid_ones() {
    let env = env("reg-garbage");
    let raw = env.raw().await;
    let path = env.path("com.foo.Svc", "providers");
    mkdirs(&raw, &path).await;
    let garbage = [
        "not-a-url-ZKDUBBO-GARBAGE-1".to_owned(),
        "dubbo%3A%2F%2Fh%3Aport%2Fx".to_owned(),    // bad port
        "dubbo%3A%2F%2Fh%3A1%2Fx%E0%A4".to_owned(), // invalid UTF-8 after decoding
        "%".to_owned(),                             // truncated escape
    ];
    for g in &garbage {
        create(&raw, &format!("{path}/{g}"), CreateMode::Ephemeral).await;
    }
    let valid = url("dubbo://10.0.0.5:20880/com.foo.Svc?side=provider");
    create(&raw, &format!("{path}/{}", valid.to_node_name()), CreateMode::Ephemeral).await;

    let reg = env.registry("").await;
    let mut sub = reg
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |_| true).await;
    assert_eq!(&*n.urls, std::slice::from_ref(&valid));

    // Changes keep flowing with the garbage still there.
    let other = url("dubbo://10.0.0.6:20880/com.foo.Svc?side=provider&interface=com.foo.Svc");
    reg.register(&other).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        n.urls.len() == 2
    })
    .await;
    assert_eq!(hosts(&n), ["10.0.0.5:20880", "10.0.0.6:20880"]);

    let logs = log_text();
    for g in &garbage {
        assert!(
            logs.lines()
                .any(|l| l.contains("WARN") && l.contains(&format!("node={g} "))),
            "no warning naming {g:?} in:\n{logs}"
        );
    }
    // Warned once per node, not on every re-read.
    assert_eq!(logs.matches("node=not-a-url-ZKDUBBO-GARBAGE-1 ").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimal_third_party_url_gets_its_interface_from_the_path() {
    let env = env("reg-minimal");
    let raw = env.raw().await;
    let path = env.path("com.foo.Bar", "providers");
    mkdirs(&raw, &path).await;
    let minimal = url("tri://10.0.0.7:50051?service=com.foo.Bar");
    create(
        &raw,
        &format!("{path}/{}", minimal.to_node_name()),
        CreateMode::Ephemeral,
    )
    .await;
    assert_eq!(
        minimal.to_node_name(),
        "tri%3A%2F%2F10.0.0.7%3A50051%3Fservice%3Dcom.foo.Bar"
    );

    let reg = env.registry("").await;
    let mut sub = reg
        .subscribe(&url("consumer://10.0.0.1/com.foo.Bar?category=providers"))
        .await
        .unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |_| true).await;
    assert!(!n.is_empty_marker(), "{n:?}");
    let u = &n.urls[0];
    assert_eq!(u.protocol(), "tri");
    assert_eq!(u.address(), "10.0.0.7:50051");
    assert_eq!(u.param("interface"), Some("com.foo.Bar"));
    assert_eq!(u.param("service"), Some("com.foo.Bar"));
    assert_eq!(u.interface(), "com.foo.Bar");
    let found = reg.lookup(&url("consumer://10.0.0.1/com.foo.Bar")).await.unwrap();
    assert_eq!(found, std::slice::from_ref(u));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_gives_creator_only_acls() {
    let env = env("reg-auth");
    let reg = env.registry("&username=alice&password=s3cret").await;
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc");
    reg.register(&provider).await.unwrap();
    let path = env.path("com.foo.Svc", "providers");
    let leaf = format!("{path}/{}", provider.to_node_name());

    // Someone without the credentials can neither list nor read.
    let anonymous = env.raw().await;
    assert_eq!(
        anonymous.list_children(&env.root).await.unwrap_err(),
        zookeeper_client::Error::NoAuth
    );
    assert_eq!(
        anonymous.list_children(&path).await.unwrap_err(),
        zookeeper_client::Error::NoAuth
    );

    // Someone with them can; every node created has the single digest ACL of alice.
    let alice = Client::connector()
        .with_auth("digest", b"alice:s3cret")
        .connect(&env.addr)
        .await
        .unwrap();
    assert_eq!(children(&alice, &path).await, [provider.to_node_name()]);
    for p in [
        env.root.clone(),
        format!("{}/com.foo.Svc", env.root),
        path.clone(),
        leaf.clone(),
    ] {
        let (acls, _) = alice.get_acl(&p).await.unwrap();
        assert_eq!(acls.len(), 1, "{p}: {acls:?}");
        assert_eq!(acls[0].scheme(), "digest", "{p}");
        assert!(acls[0].id().starts_with("alice:"), "{p}: {acls:?}");
        assert_eq!(acls[0].permission(), zookeeper_client::Permission::ALL);
    }
    // The registry can still read its own nodes through a subscription.
    let mut sub = reg
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |_| true).await;
    assert_eq!(&*n.urls, &[provider]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_node_deleted_by_hand_does_not_break_the_watch() {
    let env = env("reg-deleted-category");
    let raw = env.raw().await;
    let reg = env.registry("").await;
    let mut sub = reg
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    let first = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |_| true).await;
    let path = env.path("com.foo.Svc", "providers");
    let a = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    create(&raw, &format!("{path}/{}", a.to_node_name()), CreateMode::Ephemeral).await;
    let with_a = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    assert!(with_a.version > first.version);

    // `deleteall`: the child, then the category node.
    raw.delete(&format!("{path}/{}", a.to_node_name()), None).await.unwrap();
    raw.delete(&path, None).await.unwrap();
    let deleted = Instant::now();
    let emptied = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        n.is_empty_marker()
    })
    .await;
    // The watch re-created the category node and keeps following it.
    wait_for_path(&raw, &path).await;
    let recreated = deleted.elapsed();
    let b = url("dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc");
    create(&raw, &format!("{path}/{}", b.to_node_name()), CreateMode::Ephemeral).await;
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    assert_eq!(&*n.urls, &[b]);
    assert!(n.version > emptied.version);
    assert!(
        n.version.unwrap().czxid > with_a.version.unwrap().czxid,
        "a new incarnation"
    );
    // Changes keep flowing: each of several more providers is notified in turn.
    const MORE: usize = 5;
    let mut seen = 0;
    for i in 0..MORE {
        let p = url(&format!("dubbo://10.0.1.{i}:20880/com.foo.Svc?interface=com.foo.Svc"));
        create(&raw, &format!("{path}/{}", p.to_node_name()), CreateMode::Ephemeral).await;
        wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
            n.urls.len() == i + 2
        })
        .await;
        seen += 1;
    }
    figure(
        "6 providers node deleted by hand",
        "category node re-created after",
        ms(recreated),
    );
    figure(
        "6 providers node deleted by hand",
        "changes notified after re-creation / made",
        format!("{}/{}", seen + 1, MORE + 1),
    );
}

async fn wait_for_path(raw: &Client, path: &str) {
    within("category path re-created", Duration::from_secs(2), async {
        while raw.check_stat(path).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_url_settings_are_used() {
    let env = env("reg-config");
    let raw = env.raw().await;
    // A comma list in the host part, a group without a slash, a timeout and a session.
    let group = env.root.trim_start_matches('/').to_owned();
    let reg = ZookeeperRegistry::connect_str(&format!(
        "zookeeper://127.0.0.1:1,{}?group={group}&session=2000&timeout=2000&file.cache=false",
        env.addr
    ))
    .await
    .unwrap();
    assert!(reg.is_available());
    assert_eq!(reg.root(), env.root);
    // The server grants what it can: 2000 ms is within 2–20 × tickTime of the test server
    // (a `ZK_ADDR` server may clamp it).
    if zk_addr_from_env().is_none() {
        assert_eq!(reg.session_timeout(), Some(Duration::from_millis(2000)));
    } else {
        assert!(reg.session_timeout().is_some());
    }
    reg.register(&url("dubbo://10.0.0.5:20880/com.foo.Svc")).await.unwrap();
    assert_eq!(children(&raw, &env.path("com.foo.Svc", "providers")).await.len(), 1);

    // Invalid URLs are refused before anything is written.
    for bad in ["dubbo://10.0.0.5:20880", "dubbo://10.0.0.5:20880/a?category=bogus"] {
        assert!(matches!(
            reg.register(&url(bad)).await,
            Err(RegistryError::InvalidUrl { .. })
        ));
    }
    assert!(matches!(
        ZookeeperRegistry::connect_str("zookeeper://127.0.0.1:2181?session=soon").await,
        Err(RegistryError::InvalidRegistryUrl { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// retry until success, session replacement

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_kept_and_retried_while_zookeeper_is_unreachable() {
    logs();
    // Nothing listens on port 1.
    let unreachable = "zookeeper://127.0.0.1:1?timeout=300&retry.period=200&file.cache=false";
    let err = ZookeeperRegistry::connect_str(&format!("{unreachable}&check=true"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Connect { .. }), "{err}");

    let reg = ZookeeperRegistry::connect_str(unreachable).await.unwrap();
    assert!(!reg.is_available());
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc");
    reg.register(&provider).await.unwrap();
    assert_eq!(reg.pending_operations(), [PendingOperation::Register(provider.clone())]);
    let _sub = reg
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    assert!(reg.lookup(&url("consumer://10.0.0.1/com.foo.Svc")).await.is_err());
    reg.unregister(&provider).await.unwrap();
    assert_eq!(
        reg.pending_operations(),
        [PendingOperation::Unregister(provider.clone())]
    );
    reg.shutdown().await;
    assert!(reg.pending_operations().is_empty());
}

/// A provider's session expires while ZooKeeper runs (its connection cut past the session
/// timeout): its node vanishes, and comes back in a new session once the connection is back;
/// a consumer watching sees it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_session_expired_registers_again() {
    let env = env("reg-expiry-provider");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    // Default retry.period: the session comes back within a second of the network anyway.
    let provider_side = ZookeeperRegistry::connect_str(
        &env.registry_url(&proxy.addr(), "")
            .replace("session=4000", "session=1000"),
    )
    .await
    .unwrap();
    let consumer_side = env.registry("").await;
    let raw = env.raw().await;
    let mut sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    let leaf = format!("{}/{}", env.path("com.foo.Svc", "providers"), provider.to_node_name());
    provider_side.register(&provider).await.unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    let first_session = provider_side.session_id().unwrap();

    proxy.partition_with(PartitionMode::Refuse);
    let cut = Instant::now();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        n.is_empty_marker()
    })
    .await;
    let vanished = cut.elapsed();
    assert!(n.is_empty_marker());
    assert!(!provider_side.is_available());
    // The registration is pending until there is a session again.
    within("registration pending", Duration::from_secs(10), async {
        while provider_side.pending_operations() != [PendingOperation::Register(provider.clone())] {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(raw.check_stat(&leaf).await.unwrap().is_none());

    proxy.heal();
    let healed = Instant::now();
    let node_back = within("node re-created", Duration::from_secs(10), async {
        while raw.check_stat(&leaf).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        healed.elapsed()
    })
    .await;
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        !n.is_empty_marker()
    })
    .await;
    let back = healed.elapsed();
    assert_eq!(&*n.urls, std::slice::from_ref(&provider));
    let second_session = provider_side.session_id().unwrap();
    assert_ne!(first_session, second_session);
    assert!(provider_side.sessions_established() >= 2);
    // The retry task marks the registration done once the create's answer is back, which
    // can be a moment after the consumer is notified of the node.
    within("pending registration done", Duration::from_secs(2), async {
        while !provider_side.pending_operations().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let (_, stat) = raw.get_data(&leaf).await.unwrap();
    assert_eq!(stat.ephemeral_owner, second_session);
    assert_eq!(
        consumer_side.sessions_established(),
        1,
        "the partition hit only the provider"
    );
    figure("2 provider session expiry", "node vanished after the cut", ms(vanished));
    figure(
        "2 provider session expiry",
        "node re-created after the heal",
        ms(node_back),
    );
    figure("2 provider session expiry", "consumer sees it after the heal", ms(back));
    // The bound: re-created within 1 s of the connection returning.
    assert!(
        node_back < Duration::from_secs(1),
        "re-created {node_back:?} after the heal"
    );
}

/// A consumer's session expires: it re-subscribes, and a provider registered meanwhile is seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_session_expired_subscribes_again() {
    let env = env("reg-expiry-consumer");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let consumer_side = ZookeeperRegistry::connect_str(
        &env.registry_url(&proxy.addr(), "")
            .replace("session=4000", "session=1000"),
    )
    .await
    .unwrap();
    let provider_side = env.registry("").await;
    let a = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&a).await.unwrap();
    let mut sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        n.urls.len() == 1 && !n.is_empty_marker()
    })
    .await;
    let first_session = consumer_side.session_id().unwrap();

    proxy.partition_with(PartitionMode::Refuse);
    // Wait past the (negotiated) session timeout so that the server expires the session.
    let negotiated = consumer_side.session_timeout().unwrap();
    tokio::time::sleep(negotiated * 3 / 2 + Duration::from_millis(500)).await;
    let b = url("dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&b).await.unwrap();
    // Nothing is delivered while cut off: the last list stays.
    assert!(sub.try_next().is_none());

    proxy.heal();
    let healed = Instant::now();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        n.urls.len() == 2
    })
    .await;
    let resubscribed = healed.elapsed();
    assert_eq!(hosts(&n), ["10.0.0.5:20880", "10.0.0.6:20880"]);
    assert_ne!(consumer_side.session_id().unwrap(), first_session);

    // And it keeps following changes in the new session.
    provider_side.unregister(&a).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        n.urls.len() == 1
    })
    .await;
    assert_eq!(hosts(&n), ["10.0.0.6:20880"]);
    figure(
        "3 consumer session expiry",
        "provider registered during the outage seen after the heal",
        ms(resubscribed),
    );
    figure(
        "3 consumer session expiry",
        "sessions of the consumer",
        consumer_side.sessions_established(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_nodes_deleted_by_hand_are_re_created_by_the_self_check() {
    let env = env("reg-selfcheck");
    let raw = env.raw().await;
    let reg = env.registry("&registry.check.period=300").await;
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc");
    reg.register(&provider).await.unwrap();
    let path = env.path("com.foo.Svc", "providers");
    let leaf = format!("{path}/{}", provider.to_node_name());
    raw.delete(&leaf, None).await.unwrap();
    let back = wait_children(&raw, &path, 1, Duration::from_secs(3)).await;
    let (_, stat) = raw.get_data(&leaf).await.unwrap();
    assert_eq!(Some(stat.ephemeral_owner), reg.session_id());
    figure(
        "6 own node deleted by hand",
        "re-created after (registry.check.period=300 ms)",
        ms(back),
    );

    // Unregistered nodes are not resurrected.
    reg.unregister(&provider).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(children(&raw, &path).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_held_by_another_session_is_taken_over() {
    let env = env("reg-takeover");
    let raw = env.raw().await;
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc?pid=1");
    let path = env.path("com.foo.Svc", "providers");
    let leaf = format!("{path}/{}", provider.to_node_name());
    // As left behind by this provider's previous process, whose session has not expired yet.
    mkdirs(&raw, &path).await;
    create(&raw, &leaf, CreateMode::Ephemeral).await;
    assert_eq!(raw.get_data(&leaf).await.unwrap().1.ephemeral_owner, raw.session_id().0);

    let watcher = env.registry("").await;
    let mut sub = watcher
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        n.urls.len() == 1 && !n.is_empty_marker()
    })
    .await;

    let reg = env.registry("").await;
    reg.register(&provider).await.unwrap();
    let (_, stat) = raw.get_data(&leaf).await.unwrap();
    assert_eq!(
        Some(stat.ephemeral_owner),
        reg.session_id(),
        "re-created in the registry's session"
    );
    // Replaced in one transaction: the watcher never saw the provider missing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut changes = 0;
    while let Some(n) = sub.try_next() {
        assert!(!n.is_empty_marker(), "{n:?}");
        changes += 1;
    }
    assert!(changes >= 1, "the replacement was notified");
    drop(raw); // the old session ends: the node must stay
    let raw = env.raw().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(children(&raw, &path).await, [provider.to_node_name()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_works_after_the_interface_was_deleted_by_hand() {
    let env = env("reg-deleted-parents");
    let raw = env.raw().await;
    let reg = env.registry("").await;
    let a = url("dubbo://10.0.0.5:20880/com.foo.Svc");
    reg.register(&a).await.unwrap();
    reg.unregister(&a).await.unwrap();
    // An operator removes the whole interface, then the root.
    raw.delete(&env.path("com.foo.Svc", "providers"), None).await.unwrap();
    raw.delete(&format!("{}/com.foo.Svc", env.root), None).await.unwrap();
    raw.delete(&env.root, None).await.unwrap();
    // The registry believed those paths existed; it finds out and creates them again.
    let b = url("dubbo://10.0.0.6:20880/com.foo.Svc");
    reg.register(&b).await.unwrap();
    assert_eq!(
        children(&raw, &env.path("com.foo.Svc", "providers")).await,
        [b.to_node_name()]
    );
    assert!(reg.pending_operations().is_empty());
}

/// A short disconnection within the session: same session afterwards, a registration made
/// while disconnected is written once the connection is back, and changes made meanwhile are
/// seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_disconnection_keeps_the_session_and_catches_up() {
    let env = env("reg-reconnect");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let cut_off = ZookeeperRegistry::connect_str(&format!(
        "{}&retry.period=300",
        env.registry_url(&proxy.addr(), "")
            .replace("timeout=3000", "timeout=500")
    ))
    .await
    .unwrap();
    let other = env.registry("").await;
    let mut sub = cut_off
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |_| true).await;
    let session = cut_off.session_id();

    proxy.partition_with(PartitionMode::Refuse);
    within("disconnection noticed", Duration::from_secs(3), async {
        while cut_off.is_available() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let mine = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    let start = Instant::now();
    cut_off.register(&mine).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(700), "queued, not blocked");
    assert_eq!(cut_off.pending_operations(), [PendingOperation::Register(mine.clone())]);
    let theirs = url("dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc");
    other.register(&theirs).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    proxy.heal();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |n| {
        n.urls.len() == 2
    })
    .await;
    assert_eq!(hosts(&n), ["10.0.0.5:20880", "10.0.0.6:20880"]);
    assert_eq!(cut_off.session_id(), session, "the same session");
    assert_eq!(cut_off.sessions_established(), 1);
    assert!(cut_off.is_available());
    within("pending operations done", Duration::from_secs(2), async {
        while !cut_off.pending_operations().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// ZooKeeper down for longer than the session timeout, then back: the consumer's provider
/// list never empties in between (the provider takes its node over in its new session before
/// ZooKeeper expires the old one), and afterwards it is live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_session_never_empties_the_provider_list() {
    logs();
    let mut server = ZkServer::start(200).expect("a ZooKeeper server");
    let registry_url = format!(
        "zookeeper://{}?group={}&session=2000&timeout=1000&retry.period=500&file.cache=false",
        server.addr(),
        unique_path("reg-outage")
    );
    let provider_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let consumer_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let a = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&a).await.unwrap();
    let mut sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    let sessions = (provider_side.session_id(), consumer_side.session_id());

    server.kill().unwrap();
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert!(!consumer_side.is_available());
    server.restart().unwrap();
    let restarted = Instant::now();

    // Live again: a provider added after the restart is seen.
    let b = url("dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&b).await.unwrap();
    let mut lists = 0;
    within("live list after the restart", Duration::from_secs(10), async {
        loop {
            let n = sub.next().await.unwrap();
            lists += 1;
            assert!(!n.is_empty_marker(), "the provider list emptied: {n:?}");
            if n.urls.len() == 2 {
                break;
            }
        }
    })
    .await;
    let live = restarted.elapsed();
    // Past the old sessions' expiry on the server: still not empty.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    while let Some(n) = sub.try_next() {
        lists += 1;
        assert!(!n.is_empty_marker(), "the provider list emptied: {n:?}");
    }
    assert_ne!((provider_side.session_id(), consumer_side.session_id()), sessions);
    assert_eq!(
        consumer_side
            .lookup(&url("consumer://10.0.0.1/com.foo.Svc"))
            .await
            .unwrap()
            .len(),
        2
    );
    figure(
        "1 ZooKeeper down 4 s > session 2 s",
        "live (new provider seen) after the restarted server serves",
        ms(live),
    );
    figure(
        "1 ZooKeeper down 4 s > session 2 s",
        "provider lists delivered / empty",
        format!("{lists} / 0"),
    );
}

// ---------------------------------------------------------------------------------------------
// the cache file

/// Live lists go to the cache file; a consumer started while ZooKeeper is unreachable gets
/// them at once, then live lists as soon as a session is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_file_serves_a_cold_start_then_live_lists_take_over() {
    let env = env("reg-cache");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dubbo-registry-test.cache");
    let registry_url = |addr: &str| {
        env.registry_url(addr, &format!("&file={}", file.display()))
            .replace("&file.cache=false", "")
    };

    let provider_side = env.registry("").await;
    let a = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc&version=1.0");
    provider_side.register(&a).await.unwrap();
    let consumer = url("consumer://10.0.0.1/com.foo.Svc?version=1.0");
    {
        let first = ZookeeperRegistry::connect_str(&registry_url(&env.addr)).await.unwrap();
        assert_eq!(first.config().file.as_deref(), Some(file.as_path()));
        let mut sub = first.subscribe(&consumer).await.unwrap();
        wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
            !n.is_empty_marker()
        })
        .await;
        // Debounced write.
        within("cache file written", Duration::from_secs(3), async {
            loop {
                let entries = zkdubbo_registry::cache::read_file(&file).unwrap_or_default();
                if entries
                    .get("com.foo.Svc:1.0")
                    .is_some_and(|v| v.split(' ').count() == 3)
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        first.shutdown().await;
    }
    let entries = zkdubbo_registry::cache::read_file(&file).unwrap();
    let cached: Vec<Url> = entries["com.foo.Svc:1.0"].split(' ').map(url).collect();
    assert!(cached.contains(&a), "{cached:?}");
    assert!(
        cached
            .iter()
            .any(|u| u.protocol() == "empty" && u.param("category") == Some("routers"))
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("#Dubbo Registry Cache\n"), "{text}");
    assert!(
        text.contains("com.foo.Svc\\:1.0=dubbo\\://10.0.0.5\\:20880/com.foo.Svc?"),
        "{text}"
    );

    // Cold start: ZooKeeper unreachable (the proxy refuses every connection).
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    proxy.partition_with(PartitionMode::Refuse);
    let cold = ZookeeperRegistry::connect_str(&registry_url(&proxy.addr()).replace("timeout=3000", "timeout=500"))
        .await
        .unwrap();
    assert!(!cold.is_available());
    let start = Instant::now();
    let mut sub = cold.subscribe(&consumer).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_millis(200), |_| true).await;
    assert_eq!(n.source, zkdubbo_registry::Source::Cache);
    assert_eq!(n.version, None);
    assert_eq!(n.non_empty_urls(), std::slice::from_ref(&a));
    let served = start.elapsed();

    // A provider added meanwhile is seen once ZooKeeper is reachable.
    let b = url("dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc&version=1.0");
    provider_side.register(&b).await.unwrap();
    proxy.heal();
    let healed = Instant::now();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |n| {
        n.urls.len() == 2
    })
    .await;
    assert_eq!(n.source, zkdubbo_registry::Source::Live);
    assert!(n.version.is_some());
    figure(
        "4 cold start, ZooKeeper unreachable (proxy)",
        "cached list served after subscribing",
        ms(served),
    );
    figure(
        "4 cold start, ZooKeeper unreachable (proxy)",
        "live list after ZooKeeper reachable",
        ms(healed.elapsed()),
    );
    cold.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_cache_file_is_reported_and_ignored() {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corrupt-ZKDUBBO.cache");
    let garbage = "#zkdubbo checksum=0123456789abcdef entries=1\ncom.foo.Svc=dubbo\\://10.0.0.5\\:20\n";
    std::fs::write(&file, garbage).unwrap();
    let reg = ZookeeperRegistry::connect_str(&format!("zookeeper://127.0.0.1:1?timeout=300&file={}", file.display()))
        .await
        .unwrap();
    let mut sub = reg.subscribe(&url("consumer://10.0.0.1/com.foo.Svc")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sub.try_next().is_none(), "nothing served from a corrupt file");
    let logs = log_text();
    assert!(
        logs.lines()
            .any(|l| l.contains("WARN") && l.contains("corrupt-ZKDUBBO.cache")),
        "no warning naming the file in:\n{logs}"
    );
    reg.shutdown().await;
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        garbage,
        "never deleted or rewritten"
    );
}

// ---------------------------------------------------------------------------------------------
// empty protection

/// `empty.protection=true`: the provider list never empties while the registry reports none
/// (the last provider unregistered, the providers node deleted and re-created by hand); the
/// warning is logged once for that change, and new providers are delivered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_protection_keeps_the_last_providers_on_a_real_zookeeper() {
    let env = env("reg-empty-protection");
    let raw = env.raw().await;
    let provider_side = env.registry("").await;
    let protected = env.registry("&empty.protection=true").await;
    assert!(protected.config().empty_protection);
    let plain = env.registry("").await;
    let interface = "com.foo.Protected";
    let consumer = url(&format!("consumer://10.0.0.1/{interface}?category=providers"));
    let mut sub = protected.subscribe(&consumer).await.unwrap();
    let mut reference = plain.subscribe(&consumer).await.unwrap();
    let a = url(&format!("dubbo://10.0.0.5:20880/{interface}?interface={interface}"));
    provider_side.register(&a).await.unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    wait_for(&mut reference, Category::Providers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;

    // The last provider goes: the unprotected subscriber sees the empty list, the protected
    // one nothing.
    provider_side.unregister(&a).await.unwrap();
    wait_for(&mut reference, Category::Providers, Duration::from_secs(2), |n| {
        n.is_empty_marker()
    })
    .await;
    // The providers node deleted by hand and re-created: more empty lists, still held back.
    let path = env.path(interface, "providers");
    raw.delete(&path, None).await.unwrap();
    wait_for_path(&raw, &path).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut delivered = 0;
    while let Some(n) = sub.try_next() {
        assert!(
            !n.is_empty_marker(),
            "empty protection let an empty list through: {n:?}"
        );
        delivered += 1;
    }
    assert_eq!(delivered, 0, "nothing new to deliver");
    let mut empties_unprotected = 1;
    while let Some(n) = reference.try_next() {
        empties_unprotected += usize::from(n.is_empty_marker());
    }

    // A provider comes back: delivered at once.
    let b = url(&format!("dubbo://10.0.0.6:20880/{interface}?interface={interface}"));
    provider_side.register(&b).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |_| true).await;
    assert_eq!(&*n.urls, std::slice::from_ref(&b));

    let logs = log_text();
    let held_back = logs
        .lines()
        .filter(|l| l.contains(interface) && l.contains("empty protection keeps the last provider list"))
        .count();
    let released = logs
        .lines()
        .filter(|l| l.contains(interface) && l.contains("empty protection no longer holds"))
        .count();
    assert_eq!((held_back, released), (1, 1), "logged once per change:\n{logs}");
    figure(
        "empty protection",
        "empty lists seen unprotected / protected",
        format!("{empties_unprotected} / {delivered}"),
    );
}
