//! `ZookeeperRegistry` against a real ZooKeeper: registration and subscription, the node
//! format Java writes and reads, garbage and third-party nodes, ACLs, watches that survive
//! nodes deleted by hand.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use zkdubbo_integration_tests::harness::zk_addr_from_env;
use zkdubbo_registry::{Category, Registration, Registry, RegistryError};
use zookeeper_client::{Client, CreateMode};

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

    // Rule changes never produced a providers notification: up to the next rule change (the
    // sentinel), only rule categories were notified.
    admin.unregister(&configurator).await.unwrap();
    let seen = until_sentinel(&mut sub, Duration::from_secs(2), |n| {
        n.category == Category::Configurators && n.is_empty_marker()
    })
    .await;
    for n in &seen {
        assert_ne!(n.category, Category::Providers, "{n:?}");
    }
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
                .any(|l| l.contains("WARN") && l.contains(&format!("node={g:?} "))),
            "no warning naming {g:?} in:\n{logs}"
        );
    }
    // Warned once per node, not on every re-read.
    assert_eq!(logs.matches("node=\"not-a-url-ZKDUBBO-GARBAGE-1\" ").count(), 1);
}

/// Many garbage children, one of them 50,000 characters long: a handful of warnings per
/// list read and a count of the rest, every line short (it was one warning per node, and the
/// whole name in the line).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_and_huge_garbage_children_are_summarised_in_short_lines() {
    let env = env("reg-garbage-many");
    let raw = env.raw().await;
    let path = env.path("com.foo.Flood", "providers");
    mkdirs(&raw, &path).await;
    for i in 0..40 {
        create(&raw, &format!("{path}/flood-ZKDUBBO-{i}"), CreateMode::Ephemeral).await;
    }
    let huge = format!("huge-ZKDUBBO-{}", "x".repeat(50_000));
    create(&raw, &format!("{path}/{huge}"), CreateMode::Ephemeral).await;
    let valid = url("dubbo://10.0.0.5:20880/com.foo.Flood?side=provider");
    create(&raw, &format!("{path}/{}", valid.to_node_name()), CreateMode::Ephemeral).await;

    let reg = env.registry("").await;
    let mut sub = reg
        .subscribe(&url("consumer://10.0.0.1/com.foo.Flood?category=providers"))
        .await
        .unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |_| true).await;
    assert_eq!(&*n.urls, std::slice::from_ref(&valid));

    let logs = log_text();
    let flood: Vec<&str> = logs.lines().filter(|l| l.contains("com.foo.Flood")).collect();
    let one_by_one = flood
        .iter()
        .filter(|l| l.contains("is not a URL") || l.contains("that is not a URL"))
        .count();
    assert!(
        one_by_one <= 5,
        "{one_by_one} warnings one by one:\n{}",
        flood.join("\n")
    );
    assert!(
        flood.iter().any(|l| l.contains("more child nodes that are not URLs")),
        "no summary:\n{}",
        flood.join("\n")
    );
    for l in &flood {
        assert!(l.len() < 2_000, "a {}-byte log line", l.len());
    }
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

/// A registry with credentials that finds a parent of its nodes open to anyone (created first
/// by a client without credentials) warns once per such node, naming it and its ACL: anyone
/// can delete what is below it, creator-only ACLs notwithstanding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_parent_of_a_registry_with_credentials_is_reported_once() {
    let env = env("reg-open-parent");
    let anonymous = env.raw().await;
    let path = env.path("com.foo.OpenParent", "providers");
    mkdirs(&anonymous, &path).await;
    let reg = env.registry("&username=alice&password=s3cret").await;
    for host in ["10.0.0.5", "10.0.0.6"] {
        reg.register(&url(&format!("dubbo://{host}:20880/com.foo.OpenParent")))
            .await
            .unwrap();
    }
    let logs = log_text();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("open to anyone") && l.contains(&format!("node={path} ")))
        .collect();
    assert_eq!(warnings.len(), 1, "once for {path}:\n{logs}");
    assert!(warnings[0].contains("world:anyone"), "{}", warnings[0]);
    // What the warning is about: the anonymous client can delete the provider's node.
    let leaf = format!(
        "{path}/{}",
        url("dubbo://10.0.0.5:20880/com.foo.OpenParent").to_node_name()
    );
    anonymous.delete(&leaf, None).await.unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_credentials_a_foreign_client_can_delete_or_add_nothing() {
    let env = env("reg-acl-holds");
    let reg = env.registry("&username=alice&password=s3cret").await;
    let a = url("dubbo://10.0.0.5:20880/com.foo.Guarded");
    reg.register(&a).await.unwrap();
    let anonymous = env.raw().await;
    let category = env.path("com.foo.Guarded", "providers");
    let service = category.rsplit_once('/').unwrap().0.to_owned();
    let leaf = format!("{category}/{}", a.to_node_name());
    // Every level zkdubbo created: the leaf, the category, the service.
    for node in [&leaf, &category, &service] {
        let err = anonymous.delete(node, None).await.unwrap_err();
        assert!(
            matches!(err, zookeeper_client::Error::NoAuth),
            "an anonymous client deleting {node}: {err:?}"
        );
    }
    // Nor can it add a provider of its own.
    let fake = format!("{category}/{}", url("dubbo://6.6.6.6:1/com.foo.Guarded").to_node_name());
    let err = anonymous
        .create(
            &fake,
            b"",
            &CreateMode::Ephemeral.with_acls(zookeeper_client::Acls::anyone_all()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, zookeeper_client::Error::NoAuth), "{err:?}");
    // The registration is intact.
    assert!(anonymous.check_stat(&leaf).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_repair_closes_an_open_parent() {
    let env = env("reg-acl-repair");
    let anonymous = env.raw().await;
    let path = env.path("com.foo.Repaired", "providers");
    mkdirs(&anonymous, &path).await;
    let reg = env.registry("&username=alice&password=s3cret&acl.repair=true").await;
    let a = url("dubbo://10.0.0.5:20880/com.foo.Repaired");
    reg.register(&a).await.unwrap();
    let leaf = format!("{path}/{}", a.to_node_name());
    // The open parent now has the creator-only ACL: the anonymous client cannot delete the
    // provider's node any more (without acl.repair it could: see the test above).
    let err = anonymous.delete(&leaf, None).await.unwrap_err();
    assert!(matches!(err, zookeeper_client::Error::NoAuth), "{err:?}");
    // Reading its ACL needs rights the anonymous client no longer has either.
    assert!(matches!(
        anonymous.get_acl(&path).await,
        Err(zookeeper_client::Error::NoAuth)
    ));
}
