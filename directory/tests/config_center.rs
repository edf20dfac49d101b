//! Rules from the config center, followed by a subscribed directory (the in-memory registry
//! serves as config center): configurators in Dubbo's precedence, condition routes per
//! method and per application, tag rules, deletion, and broken rules that keep the previous
//! ones.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;
use zkdubbo_common::{Invocation, Url};
use zkdubbo_directory::{Directory, RegistryDirectory};
use zkdubbo_registry::{ConfigCenter, MemoryRegistry, Registry};

const SERVICE_NODE: &str = "/dubbo/config/dubbo/com.foo.Bar::.configurators";
const SERVICE_ROUTES: &str = "/dubbo/config/dubbo/com.foo.Bar::.condition-router";
const APP_NODE: &str = "/dubbo/config/dubbo/shop.configurators";
const APP_ROUTES: &str = "/dubbo/config/dubbo/shop.condition-router";
const TAGS: &str = "/dubbo/config/dubbo/bar.tag-router";

struct Fixture {
    registry: Arc<MemoryRegistry>,
    dir: RegistryDirectory,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl Fixture {
    async fn new(urls: &[Url]) -> Fixture {
        let registry = Arc::new(MemoryRegistry::new());
        for u in urls {
            registry.register(u).await.unwrap();
        }
        let consumer = url(&format!(
            "consumer://10.0.0.1/{IFACE}?application=shop&interface={IFACE}&side=consumer"
        ));
        let dir = RegistryDirectory::builder(consumer, Arc::new(CountingFactory::default()))
            .subscribe(registry.clone() as Arc<dyn Registry>)
            .await
            .unwrap();
        dir.ready(Duration::from_secs(2)).await;
        let changes = dir.changes();
        Fixture { registry, dir, changes }
    }

    /// Write `text` at `path` (creating or replacing it).
    async fn put(&self, path: &str, text: &str) {
        let current = self.registry.read_node(path).await.unwrap().map(|(_, v)| v);
        self.registry.write_node(path, text, current).await.unwrap();
    }

    async fn delete(&self, path: &str) {
        self.registry.delete_node(path, None).await.unwrap();
    }

    /// Wait (at most 2 s) until `check` holds, waking on every published snapshot.
    async fn until(&mut self, what: &str, check: impl Fn(&RegistryDirectory) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while !check(&self.dir) {
            assert!(tokio::time::Instant::now() < deadline, "not reached within 2 s: {what}");
            let _ = tokio::time::timeout(Duration::from_millis(100), self.changes.changed()).await;
        }
    }

    fn listed(&self, inv: &Invocation) -> Vec<String> {
        self.dir.list(inv).map(|l| hosts(&l)).unwrap_or_default()
    }

    fn weight_of(&self, host: &str) -> Option<String> {
        self.dir
            .snapshot()
            .providers()
            .iter()
            .find(|m| m.url().host() == host)
            .and_then(|m| m.url().param("weight").map(str::to_owned))
    }
}

fn get() -> Invocation {
    Invocation::new("get")
}

#[tokio::test]
async fn a_disabling_rule_is_applied_refused_when_broken_and_cleared_when_deleted() {
    let mut f = Fixture::new(&[provider("10.0.0.5", ""), provider("10.0.0.6", "")]).await;
    assert_eq!(f.listed(&get()), ["10.0.0.5", "10.0.0.6"]);
    // As the reference's hand-written "disable a provider" rule.
    let disable = "configVersion: v2.7\nscope: service\nkey: com.foo.Bar\nenabled: true\nconfigs:\n\
                   - addresses: [0.0.0.0]\n  providerAddresses: [10.0.0.5:20880]\n  side: consumer\n  parameters: {disabled: true}\n";
    f.put(SERVICE_NODE, disable).await;
    f.until("10.0.0.5 disabled", |d| d.snapshot().counts().disabled == 1)
        .await;
    assert_eq!(f.listed(&get()), ["10.0.0.6"]);

    // Broken YAML: the previous rule stays, and describe says why.
    f.put(SERVICE_NODE, "configs: [ {").await;
    f.until("warning shown", |d| {
        d.describe()
            .warnings
            .iter()
            .any(|w| w.contains(SERVICE_NODE) && w.contains("not valid YAML"))
    })
    .await;
    assert_eq!(f.listed(&get()), ["10.0.0.6"], "the previous rule stays in force");

    // Fixed again, then deleted: everything is back.
    f.put(SERVICE_NODE, disable).await;
    f.until("warning gone", |d| d.describe().warnings.is_empty()).await;
    f.delete(SERVICE_NODE).await;
    f.until("both back", |d| d.snapshot().counts().disabled == 0).await;
    assert_eq!(f.listed(&get()), ["10.0.0.5", "10.0.0.6"]);
}

#[tokio::test]
async fn url_style_then_application_then_service_rules_the_last_wins() {
    let mut f = Fixture::new(&[provider("10.0.0.5", "weight=100")]).await;
    let consumer_weight = |scope: &str, key: &str, w: u32| {
        format!(
            "configVersion: v2.7\nscope: {scope}\nkey: {key}\nconfigs:\n- side: consumer\n  parameters: {{weight: {w}}}\n"
        )
    };
    f.registry
        .register(&url(
            "override://0.0.0.0/com.foo.Bar?category=configurators&dynamic=false&weight=1",
        ))
        .await
        .unwrap();
    f.until("URL-style", |d| {
        d.snapshot()
            .providers()
            .first()
            .is_some_and(|m| m.url().param("weight") == Some("1"))
    })
    .await;
    f.put(APP_NODE, &consumer_weight("application", "shop", 2)).await;
    f.until("application wins over URL-style", |d| {
        d.snapshot().providers()[0].url().param("weight") == Some("2")
    })
    .await;
    f.put(SERVICE_NODE, &consumer_weight("service", "com.foo.Bar", 3)).await;
    f.until("service wins over application", |d| {
        d.snapshot().providers()[0].url().param("weight") == Some("3")
    })
    .await;
    f.delete(SERVICE_NODE).await;
    f.until("application again", |d| {
        d.snapshot().providers()[0].url().param("weight") == Some("2")
    })
    .await;
    f.delete(APP_NODE).await;
    f.until("URL-style again", |d| {
        d.snapshot().providers()[0].url().param("weight") == Some("1")
    })
    .await;
    assert_eq!(f.weight_of("10.0.0.5").as_deref(), Some("1"));
    f.put(SERVICE_NODE, &consumer_weight("service", "com.foo.Bar", 3)).await;
    f.until("service rule again", |d| {
        d.snapshot().providers()[0].url().param("weight") == Some("3")
    })
    .await;
    // describe names the rule behind each change.
    let changed = &f.dir.describe().providers[0].changed_by;
    assert_eq!(
        changed,
        &[
            "weight=1 from override://0.0.0.0/com.foo.Bar?category=configurators&dynamic=false&weight=1".to_owned(),
            format!("weight=3 from {SERVICE_NODE}")
        ]
    );
}

#[tokio::test]
async fn condition_routes_per_method_and_per_application() {
    let mut f = Fixture::new(&[
        provider("10.0.0.5", ""),
        provider("10.0.0.6", ""),
        provider("10.0.0.7", ""),
    ])
    .await;
    f.put(
        SERVICE_ROUTES,
        "scope: service\nkey: com.foo.Bar\nforce: false\nconditions:\n- method = get => host = 10.0.0.5\n",
    )
    .await;
    f.until("get routed", |d| d.list(&get()).is_ok_and(|l| l.len() == 1))
        .await;
    assert_eq!(f.listed(&get()), ["10.0.0.5"]);
    assert_eq!(f.listed(&Invocation::new("put")), ["10.0.0.5", "10.0.0.6", "10.0.0.7"]);
    // The application's route runs after the service's (order 150 after 140).
    f.put(
        APP_ROUTES,
        "scope: application\nkey: shop\nconditions:\n- => host != 10.0.0.7\n",
    )
    .await;
    f.until("application route", |d| {
        d.list(&Invocation::new("put")).is_ok_and(|l| l.len() == 2)
    })
    .await;
    assert_eq!(f.listed(&Invocation::new("put")), ["10.0.0.5", "10.0.0.6"]);
    let names: Vec<String> = f.dir.describe().routers.iter().map(|r| r.name.clone()).collect();
    let service_at = names.iter().position(|n| n.starts_with(SERVICE_ROUTES)).unwrap();
    let app_at = names.iter().position(|n| n.starts_with(APP_ROUTES)).unwrap();
    assert!(service_at < app_at, "{names:?}");
    // A forced route that leaves nothing is in force, and named in the error.
    f.put(
        SERVICE_ROUTES,
        "scope: service\nkey: com.foo.Bar\nforce: true\nconditions:\n- => host = 10.9.9.9\n",
    )
    .await;
    f.until("forced empty route", |d| d.list(&get()).is_err()).await;
    let err = f.dir.list(&get()).unwrap_err().to_string();
    assert!(err.contains(SERVICE_ROUTES), "{err}");
    f.delete(SERVICE_ROUTES).await;
    f.delete(APP_ROUTES).await;
    f.until("routes cleared", |d| d.list(&get()).is_ok_and(|l| l.len() == 3))
        .await;
}

#[tokio::test]
async fn a_tag_rule_of_the_provider_application() {
    // The providers' application is `bar` (see `provider`).
    let mut f = Fixture::new(&[
        provider("10.0.0.5", ""),
        provider("10.0.0.6", ""),
        provider("10.0.0.7", "dubbo.tag=static"),
    ])
    .await;
    f.put(
        TAGS,
        "enabled: true\nforce: false\nkey: bar\npriority: 0\nruntime: false\ntags:\n- addresses: [10.0.0.5:20880]\n  name: gray\n",
    )
    .await;
    let tagged = |tag: &str| Invocation::new("get").with_attachment("dubbo.tag", tag);
    f.until("tag rule", |d| d.list(&tagged("gray")).is_ok_and(|l| l.len() == 1))
        .await;
    assert_eq!(f.listed(&tagged("gray")), ["10.0.0.5"]);
    // No tag: neither dynamically nor statically tagged providers.
    assert_eq!(f.listed(&get()), ["10.0.0.6"]);
    // A tag the rule does not know: the static one.
    assert_eq!(f.listed(&tagged("static")), ["10.0.0.7"]);
    // Unknown everywhere: untagged providers, unless forced.
    assert_eq!(f.listed(&tagged("blue")), ["10.0.0.6"]);
    assert!(
        f.dir
            .list(&tagged("blue").with_attachment("dubbo.force.tag", "true"))
            .is_err()
    );
    // 3.3's tag levels: gray|canary falls back to gray.
    assert_eq!(f.listed(&tagged("gray|canary")), ["10.0.0.5"]);

    f.delete(TAGS).await;
    f.until("tag rule gone", |d| d.list(&get()).is_ok_and(|l| l.len() == 2))
        .await;
    assert_eq!(f.listed(&tagged("gray")), ["10.0.0.5", "10.0.0.6"]);
}

#[tokio::test]
async fn a_v31_rule_splits_calls_by_weight() {
    let mut f = Fixture::new(&[
        provider("10.0.0.5", "env=gray"),
        provider("10.0.0.6", "env=prod"),
        provider("10.0.0.7", "env=prod"),
    ])
    .await;
    f.put(
        SERVICE_ROUTES,
        "configVersion: v3.1\nscope: service\nkey: com.foo.Bar\nforce: false\nconditions:\n- from: {match: ''}\n  to:\n  \
         - {match: 'env=gray', weight: 900}\n  - {match: 'env!=gray', weight: 100}\n  - {match: 'env=none', weight: 5000}\n",
    )
    .await;
    f.until("v3.1 rule in force", |d| {
        d.describe().routers.iter().any(|r| r.name.contains("900"))
    })
    .await;
    // A fixed seed: the router draws from this thread's generator.
    fastrand::seed(7);
    let mut gray = 0;
    for _ in 0..10_000 {
        let listed = f.listed(&get());
        match listed.as_slice() {
            [one] if one == "10.0.0.5" => gray += 1,
            [a, b] => assert_eq!((a.as_str(), b.as_str()), ("10.0.0.6", "10.0.0.7")),
            other => panic!("unexpected destination {other:?}"),
        }
    }
    // 900 : 100 (the destination that matches nothing is never picked).
    assert!((8_800..=9_200).contains(&gray), "gray picked {gray} times of 10,000");

    // Consumers that `from` does not match keep every provider.
    f.put(
        SERVICE_ROUTES,
        "configVersion: v3.1\nconditions:\n- from: {match: 'application=other'}\n  to: [{match: 'env=gray'}]\n",
    )
    .await;
    f.until("other rule", |d| {
        d.describe()
            .routers
            .iter()
            .any(|r| r.name.contains("application=other"))
    })
    .await;
    assert_eq!(f.listed(&get()).len(), 3);
}

#[tokio::test]
async fn rules_not_understood_are_refused_with_the_node_named() {
    let mut f = Fixture::new(&[provider("10.0.0.5", ""), provider("10.0.0.6", "")]).await;
    f.put(
        SERVICE_ROUTES,
        "configVersion: v3.2\nconditions: ['=> host = 10.0.0.5']\n",
    )
    .await;
    f.until("refused", |d| d.describe().warnings.iter().any(|w| w.contains("v3.2")))
        .await;
    assert_eq!(f.listed(&get()), ["10.0.0.5", "10.0.0.6"]);
    f.put(SERVICE_ROUTES, "conditions: ['=> host = ']\n").await;
    f.until("bad condition refused", |d| {
        d.describe()
            .warnings
            .iter()
            .any(|w| w.contains(SERVICE_ROUTES) && w.contains("host"))
    })
    .await;
    assert_eq!(f.listed(&get()), ["10.0.0.5", "10.0.0.6"]);
}

/// `delay-notification`: provider lists within the delay of the last one are held and
/// coalesced; rules are never held. Time is paused (it moves only when every task waits).
#[tokio::test(start_paused = true)]
async fn delay_notification_holds_and_coalesces_provider_lists_only() {
    let registry = Arc::new(MemoryRegistry::new());
    registry.register(&provider("10.0.0.5", "")).await.unwrap();
    let consumer = url(&format!(
        "consumer://10.0.0.1/{IFACE}?application=shop&interface={IFACE}&side=consumer"
    ));
    let dir = RegistryDirectory::builder(consumer, Arc::new(CountingFactory::default()))
        .delay_notification(Duration::from_secs(5))
        .subscribe(registry.clone() as Arc<dyn Registry>)
        .await
        .unwrap();
    dir.ready(Duration::from_secs(2)).await;
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5"]);
    let mut changes = dir.changes();
    let start = tokio::time::Instant::now();

    registry.register(&provider("10.0.0.6", "")).await.unwrap();
    registry.register(&provider("10.0.0.7", "")).await.unwrap();
    // A rule is applied at once: the sentinel that the two lists above were seen and held.
    registry
        .write_node(SERVICE_ROUTES, "conditions: ['=> host != 10.0.0.99']\n", None)
        .await
        .unwrap();
    while !dir
        .describe()
        .routers
        .iter()
        .any(|r| r.name.starts_with(SERVICE_ROUTES))
    {
        changes.changed().await.unwrap();
    }
    assert_eq!(
        hosts(&dir.list(&get()).unwrap()),
        ["10.0.0.5"],
        "provider lists are held"
    );
    let before = dir.snapshot().version();

    // After the delay, both held lists arrive as one.
    while dir.snapshot().counts().registered < 3 {
        changes.changed().await.unwrap();
    }
    assert!(start.elapsed() >= Duration::from_secs(5));
    assert_eq!(
        dir.snapshot().version(),
        before + 1,
        "the held lists were coalesced into one refresh"
    );
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5", "10.0.0.6", "10.0.0.7"]);
}
