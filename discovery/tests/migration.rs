//! Application-level subscriptions and migration steps over an in-memory registry: what a
//! consumer is given in each step, switching when instances, the mapping or the migration
//! rule change, bad nodes skipped, and one metadata read per revision.

use std::sync::Arc;
use std::time::Duration;

use zkdubbo_common::Url;
use zkdubbo_discovery::{
    InstancePublisher, LEVEL_KEY, MetadataInfo, MigrationRule, Paths, ServiceDiscoveryRegistry, ServiceInstance,
};
use zkdubbo_registry::{Category, ConfigCenter, MemoryRegistry, Registry, Subscription};

const IFACE: &str = "com.foo.Bar";

fn paths() -> Paths {
    Paths {
        services_root: "/services".into(),
        metadata_root: "/dubbo".into(),
    }
}

fn provider(host: &str) -> Url {
    format!("dubbo://{host}:20880/{IFACE}?interface={IFACE}&side=provider&application=shop&methods=get&pid=7")
        .parse()
        .unwrap()
}

fn consumer(extra: &str) -> Url {
    format!("consumer://10.0.0.9/{IFACE}?interface={IFACE}&application=front&side=consumer{extra}")
        .parse()
        .unwrap()
}

/// The next provider list: `(address, level)` pairs, sorted.
async fn next_providers(sub: &mut Subscription) -> Vec<(String, String)> {
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("a provider list within 10 s")
            .expect("the subscription is open");
        if n.category != Category::Providers {
            continue;
        }
        let mut out: Vec<(String, String)> = n
            .non_empty_urls()
            .iter()
            .map(|u| (u.address(), u.param(LEVEL_KEY).unwrap_or("interface").to_owned()))
            .collect();
        out.sort();
        return out;
    }
}

fn at(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, l)| (a.to_string(), l.to_string())).collect()
}

/// Publish an instance of `shop` at `host` serving the provider URL.
async fn publish(registry: &Arc<MemoryRegistry>, host: &str) -> InstancePublisher {
    let p = InstancePublisher::new(registry.clone() as Arc<dyn Registry>, paths(), "shop").unwrap();
    p.add(&provider(host)).await.unwrap();
    p
}

fn view(registry: &Arc<MemoryRegistry>) -> ServiceDiscoveryRegistry {
    ServiceDiscoveryRegistry::new(registry.clone() as Arc<dyn Registry>, paths(), None)
}

#[tokio::test]
async fn force_application_finds_instances_through_the_mapping_with_one_read_per_revision() {
    let registry = Arc::new(MemoryRegistry::new());
    let _a = publish(&registry, "10.0.0.1").await;
    let _b = publish(&registry, "10.0.0.2").await;
    // An interface-level provider the step must not use.
    registry.register(&provider("10.0.0.3")).await.unwrap();
    assert_eq!(
        registry
            .read_node("/dubbo/mapping/com.foo.Bar")
            .await
            .unwrap()
            .unwrap()
            .0,
        "shop"
    );

    let view = view(&registry);
    let mut sub = view
        .subscribe(&consumer("&migration.step=FORCE_APPLICATION"))
        .await
        .unwrap();
    assert_eq!(
        next_providers(&mut sub).await,
        at(&[("10.0.0.1:20880", "application"), ("10.0.0.2:20880", "application")])
    );
    assert_eq!(view.metadata_fetches(), 1, "two instances of one revision: one read");
    let state = &view.migration(IFACE)[0];
    assert_eq!(state.applications, ["shop"]);
    assert_eq!((state.application_count, state.interface_count), (Some(2), None));

    // An instance leaves: one list without it.
    drop(sub);
    let c = publish(&registry, "10.0.0.4").await;
    let mut sub = view
        .subscribe(&consumer("&migration.step=FORCE_APPLICATION"))
        .await
        .unwrap();
    // The application's follower may still hold the list before the new instance.
    while next_providers(&mut sub).await.len() != 3 {}
    c.remove(&provider("10.0.0.4")).await.unwrap();
    assert_eq!(
        next_providers(&mut sub).await,
        at(&[("10.0.0.1:20880", "application"), ("10.0.0.2:20880", "application")])
    );
}

#[tokio::test]
async fn application_first_switches_both_ways_with_the_threshold_and_the_rule() {
    let registry = Arc::new(MemoryRegistry::new());
    for host in ["10.0.0.1", "10.0.0.2"] {
        registry.register(&provider(host)).await.unwrap();
    }
    let view = view(&registry);
    let mut sub = view.subscribe(&consumer("&migration.threshold=1.0")).await.unwrap();
    assert_eq!(
        next_providers(&mut sub).await,
        at(&[("10.0.0.1:20880", "interface"), ("10.0.0.2:20880", "interface")])
    );
    // One instance against two interface-level providers: 0.5 < 1.0, no switch.
    let a = publish(&registry, "10.0.0.1").await;
    // The second instance: 2 / 2 ≥ 1.0, application-level.
    let b = publish(&registry, "10.0.0.2").await;
    assert_eq!(
        next_providers(&mut sub).await,
        at(&[("10.0.0.1:20880", "application"), ("10.0.0.2:20880", "application")])
    );
    // The consumer application's rule forces interface-level at run time...
    let rule = MigrationRule::path(registry.config_root(), "front");
    registry
        .write_node(&rule, "key: front\nstep: FORCE_INTERFACE\n", None)
        .await
        .unwrap();
    assert_eq!(
        next_providers(&mut sub).await,
        at(&[("10.0.0.1:20880", "interface"), ("10.0.0.2:20880", "interface")])
    );
    // ...a rule that does not parse leaves it in force (the sentinel: a third interface-level
    // provider arrives after it, still at interface level)...
    registry.write_node(&rule, "step: [", Some(0)).await.unwrap();
    registry.register(&provider("10.0.0.3")).await.unwrap();
    assert_eq!(
        next_providers(&mut sub).await,
        at(&[
            ("10.0.0.1:20880", "interface"),
            ("10.0.0.2:20880", "interface"),
            ("10.0.0.3:20880", "interface")
        ])
    );
    registry.unregister(&provider("10.0.0.3")).await.unwrap();
    assert_eq!(next_providers(&mut sub).await.len(), 2);
    // ...and deleting it returns to APPLICATION_FIRST.
    registry.delete_node(&rule, Some(1)).await.unwrap();
    assert_eq!(
        next_providers(&mut sub).await,
        at(&[("10.0.0.1:20880", "application"), ("10.0.0.2:20880", "application")])
    );
    // Application-level instances gone: back to the interface-level providers.
    a.remove(&provider("10.0.0.1")).await.unwrap();
    b.remove(&provider("10.0.0.2")).await.unwrap();
    let mut last = next_providers(&mut sub).await;
    while last.iter().any(|(_, l)| l == "application") {
        last = next_providers(&mut sub).await;
    }
    assert_eq!(
        last,
        at(&[("10.0.0.1:20880", "interface"), ("10.0.0.2:20880", "interface")])
    );
}

#[tokio::test]
async fn bad_instance_nodes_mappings_and_missing_metadata_are_skipped() {
    let registry = Arc::new(MemoryRegistry::new());
    let _good = publish(&registry, "10.0.0.1").await;
    registry
        .keep_node("/services/shop/10.0.0.66:20880", b"{not json")
        .await
        .unwrap();
    // A valid instance whose revision has no metadata.
    let mut md = std::collections::BTreeMap::new();
    md.insert("dubbo.metadata.revision".to_owned(), "feedface".to_owned());
    md.insert("dubbo.metadata.storage-type".to_owned(), "remote".to_owned());
    let lost = ServiceInstance::new("shop", "10.0.0.7", 20880, md);
    registry
        .keep_node("/services/shop/10.0.0.7:20880", lost.to_json().as_bytes())
        .await
        .unwrap();
    // The mapping names an application that cannot be a node name, and a real one.
    let (text, version) = registry.read_node("/dubbo/mapping/com.foo.Bar").await.unwrap().unwrap();
    registry
        .write_node("/dubbo/mapping/com.foo.Bar", &format!("../x,{text}"), Some(version))
        .await
        .unwrap();

    let view = view(&registry);
    let mut sub = view
        .subscribe(&consumer("&migration.step=FORCE_APPLICATION"))
        .await
        .unwrap();
    assert_eq!(next_providers(&mut sub).await, at(&[("10.0.0.1:20880", "application")]));

    // The metadata appears: the instance joins once it is read again.
    let mut info = MetadataInfo::of("shop", &[provider("10.0.0.7")]);
    info.revision = "feedface".into();
    registry
        .write_node("/dubbo/metadata/shop/feedface", &info.to_json(), None)
        .await
        .unwrap();
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(6)).await;
    tokio::time::resume();
    assert_eq!(
        next_providers(&mut sub).await,
        at(&[("10.0.0.1:20880", "application"), ("10.0.0.7:20880", "application")])
    );
}

#[tokio::test]
async fn provided_by_bypasses_the_mapping() {
    let registry = Arc::new(MemoryRegistry::new());
    let _a = publish(&registry, "10.0.0.1").await;
    registry.delete_node("/dubbo/mapping/com.foo.Bar", None).await.unwrap();
    let view = view(&registry);
    let mut sub = view
        .subscribe(&consumer("&migration.step=FORCE_APPLICATION&provided-by=shop"))
        .await
        .unwrap();
    assert_eq!(next_providers(&mut sub).await, at(&[("10.0.0.1:20880", "application")]));
}

#[tokio::test]
async fn url_style_rules_are_followed_only_with_interface_level_discovery() {
    let registry = Arc::new(MemoryRegistry::new());
    let _a = publish(&registry, "10.0.0.1").await;
    let rule: Url = format!("override://0.0.0.0/{IFACE}?category=configurators&weight=5&dynamic=false")
        .parse()
        .unwrap();
    registry.register(&rule).await.unwrap();
    let configurators = |extra: &'static str| {
        let view = view(&registry);
        async move {
            let mut sub = view.subscribe(&consumer(extra)).await.unwrap();
            loop {
                let n = tokio::time::timeout(Duration::from_secs(10), sub.next())
                    .await
                    .unwrap()
                    .unwrap();
                if n.category == Category::Configurators {
                    return n.non_empty_urls().len();
                }
            }
        }
    };
    // Java's application-level directory reads no `/dubbo/<interface>/configurators`.
    assert_eq!(configurators("&migration.step=FORCE_APPLICATION").await, 0);
    assert_eq!(configurators("&migration.step=APPLICATION_FIRST").await, 1);
    assert_eq!(configurators("&migration.step=FORCE_INTERFACE").await, 1);
}

#[tokio::test]
async fn an_instance_republishes_its_revision_when_its_services_change() {
    let registry = Arc::new(MemoryRegistry::new());
    let p = publish(&registry, "10.0.0.1").await;
    let node = "/services/shop/10.0.0.1:20880";
    let revision = |registry: Arc<MemoryRegistry>| async move {
        let (text, _) = registry.read_node(node).await.unwrap().unwrap();
        ServiceInstance::from_json(text.as_bytes())
            .unwrap()
            .revision()
            .unwrap()
            .to_owned()
    };
    let first = revision(registry.clone()).await;
    let other: Url = "dubbo://10.0.0.1:20880/com.foo.Other?interface=com.foo.Other&side=provider&application=shop"
        .parse()
        .unwrap();
    p.add(&other).await.unwrap();
    let second = revision(registry.clone()).await;
    assert_ne!(first, second);
    assert_eq!(
        second,
        MetadataInfo::of("shop", &[provider("10.0.0.1"), other.clone()]).revision
    );
    for r in [&first, &second] {
        assert!(
            registry
                .read_node(&format!("/dubbo/metadata/shop/{r}"))
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(
        registry
            .read_node("/dubbo/mapping/com.foo.Other")
            .await
            .unwrap()
            .unwrap()
            .0,
        "shop"
    );
    // Back to one service: its revision again; the node goes with the last service, the
    // mappings stay.
    p.remove(&other).await.unwrap();
    assert_eq!(revision(registry.clone()).await, first);
    p.remove(&provider("10.0.0.1")).await.unwrap();
    assert!(registry.read_node(node).await.unwrap().is_none());
    assert!(
        registry
            .read_node("/dubbo/mapping/com.foo.Other")
            .await
            .unwrap()
            .is_some()
    );
}
