//! Dubbo 3 application-level discovery on a real ZooKeeper: a zkdubbo provider registered
//! with `register-mode=all` writes the nodes Java writes and is found by consumers in every
//! migration step; instance nodes written as Java writes them are discovered and called; an
//! instance node comes back after session expiry; APPLICATION_FIRST switches both ways.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use zkdubbo::app_discovery::{
    InstancePublisher, LEVEL_KEY, MetadataInfo, MigrationStep, RegisterMode, ServiceInstance,
};
use zkdubbo::dubbo::demo;
use zkdubbo::{DubboService, Reference, ServiceBuilder};
use zkdubbo_integration_tests::harness::{PartitionMode, TcpProxy};
use zkdubbo_registry::Registry;
use zookeeper_client::Client;

async fn provider(registry: &str, application: &str, mode: RegisterMode) -> DubboService {
    ServiceBuilder::new(demo::INTERFACE)
        .registry(registry)
        .host("127.0.0.1")
        .param("warmup", "0")
        .application(application)
        .register_mode(mode)
        .serve_dubbo(demo::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("dubbo provider starts and registers")
}

async fn consumer(registry: &str, step: MigrationStep, extra: &[(&str, &str)]) -> Reference {
    let mut b = Reference::builder()
        .interface(demo::INTERFACE)
        .registry(registry)
        .application("it-front")
        .check(false)
        .migration_step(step);
    for (k, v) in extra {
        b = b.param(*k, *v);
    }
    b.build().await.expect("reference")
}

/// Wait until the consumer has `want` providers, all of `level`; their addresses.
async fn providers_at(reference: &Reference, want: usize, level: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let snapshot = reference.directories()[0].snapshot();
        let found: Vec<(String, String)> = snapshot
            .providers()
            .iter()
            .map(|m| {
                let lvl = m.registered_url().param(LEVEL_KEY).unwrap_or("interface").to_owned();
                (m.url().address(), lvl)
            })
            .collect();
        if found.len() == want && found.iter().all(|(_, l)| l == level) {
            let mut addresses: Vec<String> = found.into_iter().map(|(a, _)| a).collect();
            addresses.sort();
            return addresses;
        }
        assert!(
            Instant::now() < deadline,
            "consumer sees {found:?}, want {want} at {level} level"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn add(reference: &Reference) -> i32 {
    reference
        .call_dubbo("add", &["int", "int"], &(20, 22))
        .await
        .expect("a call")
}

async fn data(raw: &Client, path: &str) -> Option<String> {
    match raw.get_data(path).await {
        Ok((d, _)) => Some(String::from_utf8(d).unwrap()),
        Err(zookeeper_client::Error::NoNode) => None,
        Err(e) => panic!("{path}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_registered_in_all_modes_writes_javas_nodes_and_is_found_in_every_step() {
    let env = env("app-all");
    let registry = env.registry_url(&env.addr, "");
    let shop = provider(&registry, "it-shop", RegisterMode::All).await;
    let raw = env.raw().await;
    let port = shop.url().port().unwrap();

    // The instance node, where and as Java's ZookeeperServiceDiscovery writes it.
    let node = format!("{}/it-shop/127.0.0.1:{port}", env.root);
    let text = data(&raw, &node).await.expect("instance node");
    let (_, stat) = raw.get_data(&node).await.unwrap();
    assert_ne!(stat.ephemeral_owner, 0, "the instance node is ephemeral");
    assert!(
        text.starts_with(&format!(
            "{{\"name\":\"it-shop\",\"id\":\"127.0.0.1:{port}\",\"address\":\"127.0.0.1\",\"port\":{port},\"sslPort\":null,\
             \"payload\":{{\"@class\":\"org.apache.dubbo.registry.zookeeper.ZookeeperInstance\",\"id\":\"127.0.0.1:{port}\",\"name\":\"it-shop\",\"metadata\":{{"
        )),
        "{text}"
    );
    assert!(
        text.ends_with(",\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}"),
        "{text}"
    );
    let instance = ServiceInstance::from_json(text.as_bytes()).unwrap();
    assert_eq!(
        instance.metadata["dubbo.endpoints"],
        format!("[{{\"port\":{port},\"protocol\":\"dubbo\"}}]")
    );
    assert_eq!(instance.metadata["dubbo.metadata.storage-type"], "remote");
    // The revision is Java's over the exported service, and its metadata is published.
    let revision = instance.revision().unwrap().to_owned();
    assert_eq!(
        revision,
        MetadataInfo::of("it-shop", std::slice::from_ref(shop.url())).revision
    );
    let metadata = data(&raw, &format!("{}/metadata/it-shop/{revision}", env.root))
        .await
        .expect("metadata report");
    let metadata = MetadataInfo::from_json(metadata.as_bytes()).unwrap();
    assert_eq!(metadata.revision, revision);
    assert!(metadata.services.contains_key(&format!("{}:dubbo", demo::INTERFACE)));
    // The mapping names the application.
    assert_eq!(
        data(&raw, &format!("{}/mapping/{}", env.root, demo::INTERFACE))
            .await
            .as_deref(),
        Some("it-shop")
    );
    // The interface-level node too (mode all).
    assert_eq!(children(&raw, &env.path(demo::INTERFACE, "providers")).await.len(), 1);

    let address = format!("127.0.0.1:{port}");
    for (step, level) in [
        (MigrationStep::ForceInterface, "interface"),
        (MigrationStep::ApplicationFirst, "application"),
        (MigrationStep::ForceApplication, "application"),
    ] {
        let r = consumer(&registry, step, &[]).await;
        // Ready means the first decision is made: APPLICATION_FIRST starts at application
        // level, not on the interface level to switch a moment later.
        let first: Vec<Option<String>> = r.directories()[0]
            .snapshot()
            .providers()
            .iter()
            .map(|m| m.registered_url().param(LEVEL_KEY).map(str::to_owned))
            .collect();
        let expected = (level == "application").then(|| "application".to_owned());
        assert_eq!(first, [expected], "{step}: the first list");
        assert_eq!(
            providers_at(&r, 1, level).await,
            std::slice::from_ref(&address),
            "{step}"
        );
        assert_eq!(add(&r).await, 42, "{step}");
        r.shutdown().await;
    }

    // Unexported: the instance node goes, the mapping stays (as in Dubbo).
    let follower = consumer(&registry, MigrationStep::ForceApplication, &[]).await;
    assert_eq!(
        providers_at(&follower, 1, "application").await,
        std::slice::from_ref(&address)
    );
    shop.shutdown(Duration::ZERO).await.unwrap();
    within("instance node removed", Duration::from_secs(5), async {
        while data(&raw, &node).await.is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(
        data(&raw, &format!("{}/mapping/{}", env.root, demo::INTERFACE))
            .await
            .as_deref(),
        Some("it-shop")
    );
}

/// What Java Dubbo 3.3 writes for an application `java-shop` exporting the demo service on
/// dubbo://127.0.0.1:<port> with metadata storage `remote` (Curator's serializer, Dubbo's
/// `ZookeeperInstance` payload, metadata keys in `getSortedMetadata` order), built from the
/// rules of the Java sources.
fn java_instance(port: u16, revision: &str) -> String {
    let id = format!("127.0.0.1:{port}");
    format!(
        "{{\"name\":\"java-shop\",\"id\":\"{id}\",\"address\":\"127.0.0.1\",\"port\":{port},\"sslPort\":null,\
         \"payload\":{{\"@class\":\"org.apache.dubbo.registry.zookeeper.ZookeeperInstance\",\"id\":\"{id}\",\"name\":\"java-shop\",\
         \"metadata\":{{\"dubbo.endpoints\":\"[{{\\\"port\\\":{port},\\\"protocol\\\":\\\"dubbo\\\"}}]\",\
         \"dubbo.metadata-service.url-params\":\"{{\\\"connections\\\":\\\"1\\\",\\\"version\\\":\\\"1.0.0\\\",\\\"dubbo\\\":\\\"2.0.2\\\",\\\"side\\\":\\\"provider\\\",\\\"port\\\":\\\"{port}\\\",\\\"protocol\\\":\\\"dubbo\\\"}}\",\
         \"dubbo.metadata.revision\":\"{revision}\",\"dubbo.metadata.storage-type\":\"remote\",\"timestamp\":\"1700000000000\"}}}},\
         \"registrationTimeUTC\":1700000000000,\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}}"
    )
}

/// Java's metadata report JSON for the demo service at `weight`.
fn java_metadata(port: u16, weight: u32) -> (String, String) {
    let url: Url = format!(
        "dubbo://127.0.0.1:{port}/{i}?anyhost=true&application=java-shop&deprecated=false&dubbo=2.0.2&dynamic=true\
         &generic=false&interface={i}&methods=add,getUser,sayHello&prefer.serialization=hessian2&release=3.3.1\
         &serialization=hessian2&side=provider&weight={weight}&pid=4242&timestamp=1700000000000",
        i = demo::INTERFACE
    )
    .parse()
    .unwrap();
    let info = MetadataInfo::of("java-shop", &[url]);
    (info.revision.clone(), info.to_json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_written_as_java_writes_them_are_discovered_and_followed() {
    let env = env("app-java");
    let registry = env.registry_url(&env.addr, "");
    let raw = env.raw().await;
    // A dubbo:// server that nothing registers at interface level.
    let server = zkdubbo::dubbo::DubboServer::builder()
        .service(demo::INTERFACE, demo::service())
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn();
    let port = server.local_addr().port();
    let (revision, metadata) = java_metadata(port, 100);
    mkdirs(&raw, &format!("{}/metadata/java-shop", env.root)).await;
    mkdirs(&raw, &format!("{}/mapping", env.root)).await;
    mkdirs(&raw, &format!("{}/java-shop", env.root)).await;
    let options = zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    raw.create(
        &format!("{}/metadata/java-shop/{revision}", env.root),
        metadata.as_bytes(),
        &options,
    )
    .await
    .unwrap();
    raw.create(
        &format!("{}/mapping/{}", env.root, demo::INTERFACE),
        b"other-app,java-shop",
        &options,
    )
    .await
    .unwrap();
    let node = format!("{}/java-shop/127.0.0.1:{port}", env.root);
    let ephemeral = zookeeper_client::CreateMode::Ephemeral.with_acls(zookeeper_client::Acls::anyone_all());
    raw.create(&node, java_instance(port, &revision).as_bytes(), &ephemeral)
        .await
        .unwrap();
    // Garbage beside it: skipped, the rest served.
    raw.create(&format!("{}/java-shop/10.9.9.9:1", env.root), b"{\"name\":", &ephemeral)
        .await
        .unwrap();

    let r = consumer(&registry, MigrationStep::ForceApplication, &[]).await;
    assert_eq!(providers_at(&r, 1, "application").await, [format!("127.0.0.1:{port}")]);
    assert_eq!(add(&r).await, 42);
    let weight = |r: &Reference| {
        r.directories()[0].snapshot().providers()[0]
            .url()
            .param("weight")
            .map(str::to_owned)
    };
    assert_eq!(weight(&r).as_deref(), Some("100"));

    // A new revision (the weight changed): its metadata is read and the provider follows.
    let (revision2, metadata2) = java_metadata(port, 300);
    assert_ne!(revision, revision2);
    raw.create(
        &format!("{}/metadata/java-shop/{revision2}", env.root),
        metadata2.as_bytes(),
        &options,
    )
    .await
    .unwrap();
    raw.set_data(&node, java_instance(port, &revision2).as_bytes(), None)
        .await
        .unwrap();
    within("new revision followed", Duration::from_secs(10), async {
        while weight(&r).as_deref() != Some("300") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    // The instance leaves: no provider.
    raw.delete(&node, None).await.unwrap();
    providers_at(&r, 0, "application").await;
    r.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_node_comes_back_after_session_expiry() {
    let env = env("app-expiry");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let registry = env.registry_at(&proxy.addr(), "&session=1000").await;
    let raw = env.raw().await;
    let publisher = InstancePublisher::new(
        registry.clone() as Arc<dyn Registry>,
        zkdubbo::app_discovery::Paths {
            services_root: env.root.clone(),
            metadata_root: env.root.clone(),
        },
        "it-expiry",
    )
    .unwrap();
    let url = url(&format!(
        "dubbo://127.0.0.1:20880/{}?interface={}&side=provider&application=it-expiry",
        demo::INTERFACE,
        demo::INTERFACE
    ));
    publisher.add(&url).await.unwrap();
    let node = format!("{}/it-expiry/127.0.0.1:20880", env.root);
    let before = data(&raw, &node).await.expect("instance node");
    let first = registry.session_id().unwrap();

    proxy.partition_with(PartitionMode::Refuse);
    within("the node vanishes with the session", Duration::from_secs(10), async {
        while data(&raw, &node).await.is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    proxy.heal();
    within("the node is back", Duration::from_secs(10), async {
        while data(&raw, &node).await.is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(
        data(&raw, &node).await.unwrap(),
        before,
        "the same instance, data and all"
    );
    within("owned by the new session", Duration::from_secs(5), async {
        loop {
            let (_, stat) = raw.get_data(&node).await.unwrap();
            if stat.ephemeral_owner == registry.session_id().unwrap() && stat.ephemeral_owner != first {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // The last service removed: the node goes.
    publisher.remove(&url).await.unwrap();
    assert!(data(&raw, &node).await.is_none());
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_first_switches_both_ways_as_instances_come_and_go() {
    let env = env("app-first");
    let registry = env.registry_url(&env.addr, "");
    let old = provider(&registry, "it-old", RegisterMode::Interface).await;
    let r = Arc::new(consumer(&registry, MigrationStep::ApplicationFirst, &[]).await);
    let old_address = old.url().address();
    assert_eq!(
        providers_at(&r, 1, "interface").await,
        std::slice::from_ref(&old_address)
    );

    // Calls run all along: a switch of level must not fail one.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let caller = {
        let (r, stop) = (r.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match r.call_dubbo::<_, i32>("add", &["int", "int"], &(20, 22)).await {
                    Ok(42) => ok += 1,
                    other => failed.push(format!("{other:?}")),
                }
            }
            (ok, failed)
        })
    };

    // A Dubbo 3 provider appears: 1 instance / 2 interface-level providers ≥ 0.0.
    let new = provider(&registry, "it-new", RegisterMode::All).await;
    let new_address = new.url().address();
    assert_eq!(providers_at(&r, 1, "application").await, [new_address]);

    // It leaves gracefully (unregistered, then drained): back to interface level.
    new.shutdown(Duration::from_millis(500)).await.unwrap();
    assert_eq!(providers_at(&r, 1, "interface").await, [old_address]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = caller.await.unwrap();
    assert!(ok > 0);
    assert!(
        failed.is_empty(),
        "{} calls failed across the switches: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    r.shutdown().await;
    old.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_of_several_applications_starting_together_all_land_in_the_mapping() {
    let env = env("app-mapping");
    let registry = env.registry("").await;
    let raw = env.raw().await;
    let paths = zkdubbo::app_discovery::Paths {
        services_root: env.root.clone(),
        metadata_root: env.root.clone(),
    };
    let publishers: Vec<InstancePublisher> = (0..5)
        .map(|i| {
            InstancePublisher::new(registry.clone() as Arc<dyn Registry>, paths.clone(), &format!("app{i}")).unwrap()
        })
        .collect();
    let urls: Vec<Url> = (0..5)
        .map(|i| {
            url(&format!(
                "dubbo://10.0.0.{i}:20880/com.foo.Shared?interface=com.foo.Shared&side=provider"
            ))
        })
        .collect();
    // Compare-and-set appends race; each must end in the node, none lost.
    futures::future::try_join_all(publishers.iter().zip(&urls).map(|(p, u)| p.add(u)))
        .await
        .unwrap();
    let mapping = data(&raw, &format!("{}/mapping/com.foo.Shared", env.root))
        .await
        .unwrap();
    let mut apps: Vec<&str> = mapping.split(',').collect();
    apps.sort();
    assert_eq!(apps, ["app0", "app1", "app2", "app3", "app4"]);
    registry.shutdown().await;
}
