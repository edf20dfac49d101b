//! RegistryDirectory behaviour, one case per rule, fed with notifications by hand or through
//! the in-memory registry.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use support::*;
use zkdubbo_common::Invocation;
use zkdubbo_directory::Exclusion;
use zkdubbo_directory::{Directory, NoProviderReason, RegistryDirectory, StaticDirectory};
use zkdubbo_registry::{Category, MemoryRegistry, Registry};

fn get() -> Invocation {
    Invocation::new("get")
}

#[test]
fn no_provider_reasons_name_service_group_version_registry() {
    // (case, consumer params, providers, configurators, routers, expected reason)
    type Case = (
        &'static str,
        &'static str,
        Vec<zkdubbo_common::Url>,
        Vec<zkdubbo_common::Url>,
        Vec<zkdubbo_common::Url>,
        fn(&NoProviderReason) -> bool,
    );
    let cases: Vec<Case> = vec![
        ("empty:// providers", "", vec![], vec![], vec![], |r| {
            *r == NoProviderReason::NoneRegistered
        }),
        (
            "all disabled by override",
            "",
            vec![provider("10.0.0.5", ""), provider("10.0.0.6", "")],
            vec![url("override://0.0.0.0/com.foo.Bar?disabled=true")],
            vec![],
            |r| *r == NoProviderReason::AllDisabled { registered: 2 },
        ),
        (
            "all enabled=false",
            "",
            vec![provider("10.0.0.5", "enabled=false")],
            vec![],
            vec![],
            |r| *r == NoProviderReason::AllDisabled { registered: 1 },
        ),
        (
            "all filtered by protocol",
            "protocol=tri",
            vec![provider("10.0.0.5", "")],
            vec![],
            vec![],
            |r| matches!(r, NoProviderReason::FilteredByProtocol { registered: 1, accepted } if accepted == "tri"),
        ),
        (
            "routed away by a forced rule",
            "",
            vec![provider("10.0.0.5", "")],
            vec![],
            vec![condition("=> host = 9.9.9.9", "&force=true")],
            |r| matches!(r, NoProviderReason::RoutedAway { available: 1, rule } if rule.contains("condition://0.0.0.0")),
        ),
        (
            "blacklisted consumer",
            "",
            vec![provider("10.0.0.5", "")],
            vec![],
            vec![condition("host = 10.0.0.1 => false", "")],
            |r| matches!(r, NoProviderReason::RoutedAway { .. }),
        ),
        (
            "mixed exclusions",
            "protocol=dubbo",
            vec![
                provider("10.0.0.5", "disabled=true"),
                url("tri://10.0.0.7:50051/com.foo.Bar"),
            ],
            vec![],
            vec![],
            |r| {
                matches!(
                    r,
                    NoProviderReason::AllExcluded {
                        registered: 2,
                        disabled: 1,
                        filtered_by_protocol: 1,
                        ..
                    }
                )
            },
        ),
    ];
    for (case, consumer, providers, configurators, routers, check) in cases {
        let (dir, _) = directory(&format!(
            "group=g&version=1.0{}{consumer}",
            if consumer.is_empty() { "" } else { "&" }
        ));
        let before = dir.list(&get()).unwrap_err();
        assert_eq!(before.reason, NoProviderReason::NotNotified, "{case}");
        dir.notify(&note(Category::Configurators, &configurators, 1));
        dir.notify(&note(Category::Routers, &routers, 1));
        dir.notify(&note(Category::Providers, &providers, 1));
        let err = dir.list(&get()).unwrap_err();
        assert!(check(&err.reason), "{case}: {:?}", err.reason);
        let msg = err.to_string();
        for needle in ["com.foo.Bar", "group g", "version 1.0", "memory://test", "method get"] {
            assert!(msg.contains(needle), "{case}: {msg} lacks {needle}");
        }
    }
}

#[test]
fn merge_precedence_configurator_over_consumer_over_provider() {
    let (dir, _) = directory("timeout=3000&retries=5");
    dir.notify(&note(
        Category::Providers,
        &[provider(
            "10.0.0.5",
            "timeout=500&weight=100&threads=200&loadbalance=roundrobin",
        )],
        1,
    ));
    let m = dir.list(&get()).unwrap()[0].clone();
    assert_eq!(m.url().param("timeout"), Some("3000"), "consumer over provider");
    assert_eq!(
        m.url().param("loadbalance"),
        Some("roundrobin"),
        "provider when consumer silent"
    );
    assert_eq!(m.url().param("threads"), None, "provider-only key dropped");
    assert_eq!(m.url().param("remote.application"), Some("bar"));
    dir.notify(&note(
        Category::Configurators,
        &[url("override://0.0.0.0/com.foo.Bar?timeout=9000")],
        1,
    ));
    let m = dir.list(&get()).unwrap()[0].clone();
    assert_eq!(m.url().param("timeout"), Some("9000"), "configurator over consumer");
    assert_eq!(m.registered_url().param("timeout"), Some("500"));
}

#[test]
fn empty_marker_per_category() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", "weight=100"), provider("10.0.0.6", "")],
        1,
    ));
    dir.notify(&note(
        Category::Configurators,
        &[url("override://10.0.0.5:20880/com.foo.Bar?weight=7")],
        1,
    ));
    dir.notify(&note(Category::Routers, &[condition("=> host = 10.0.0.5", "")], 1));
    let l = dir.list(&get()).unwrap();
    assert_eq!(hosts(&l), ["10.0.0.5"]);
    assert_eq!(l[0].url().param("weight"), Some("7"));

    // configurators → empty:// clears every configurator
    dir.notify(&note(Category::Configurators, &[], 2));
    assert_eq!(dir.list(&get()).unwrap()[0].url().param("weight"), Some("100"));
    // routers → empty:// clears every router
    dir.notify(&note(Category::Routers, &[], 2));
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5", "10.0.0.6"]);
    // providers → empty:// means no provider
    dir.notify(&note(Category::Providers, &[], 2));
    assert_eq!(dir.list(&get()).unwrap_err().reason, NoProviderReason::NoneRegistered);
    assert!(!dir.is_available());
}

#[test]
fn protocol_filter_and_disabled() {
    let (dir, _) = directory("protocol=dubbo,tri");
    dir.notify(&note(
        Category::Providers,
        &[
            provider("10.0.0.5", ""),
            url("tri://10.0.0.7:50051/com.foo.Bar?methods=get"),
            url("rest://10.0.0.8:80/com.foo.Bar"),
            provider("10.0.0.9", "disabled=true"),
            provider("10.0.0.10", "enabled=false"),
        ],
        1,
    ));
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5", "10.0.0.7"]);
    let snap = dir.snapshot();
    let c = snap.counts();
    assert_eq!((c.registered, c.filtered_by_protocol, c.disabled), (5, 1, 2));
    let reasons: Vec<Exclusion> = snap.excluded().iter().map(|(_, r)| *r).collect();
    assert_eq!(reasons, [Exclusion::Protocol, Exclusion::Disabled, Exclusion::Disabled]);
}

#[test]
fn invokers_follow_param_changes_created_for_new_and_destroyed_when_gone() {
    let (dir, factory) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", "weight=100"), provider("10.0.0.6", "")],
        1,
    ));
    assert_eq!(factory.created.load(Ordering::Relaxed), 2);
    let before = dir.list(&get()).unwrap();
    let inv_before = before
        .iter()
        .find(|m| m.url().host() == "10.0.0.5")
        .unwrap()
        .invoker()
        .clone();

    // Param change of the provider itself (re-registered with another weight).
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", "weight=50"), provider("10.0.0.6", "")],
        2,
    ));
    // Param change by a configurator.
    dir.notify(&note(
        Category::Configurators,
        &[url("override://10.0.0.5:20880/com.foo.Bar?timeout=1")],
        1,
    ));
    // Transports read a call's parameters (the timeout here) from their invoker's URL: each
    // change made a new invoker with the new URL (the transports keep the connection).
    assert_eq!(
        factory.created.load(Ordering::Relaxed),
        4,
        "an invoker per parameter change"
    );
    let after = dir.list(&get()).unwrap();
    let m = after.iter().find(|m| m.url().host() == "10.0.0.5").unwrap();
    assert!(!Arc::ptr_eq(m.invoker(), &inv_before));
    assert_eq!(m.url().param("weight"), Some("50"));
    assert_eq!(m.url().param("timeout"), Some("1"));
    assert_eq!(m.invoker().url(), m.url(), "the invoker calls with the merged URL");
    // A replaced invoker is destroyed with the last list that holds it: the one in between
    // (weight 50, no timeout) at once, the first one with `before`.
    assert_eq!(factory.destroyed(), 1);
    // An unchanged provider keeps its very member.
    let six = |l: &zkdubbo_directory::Listed| l.iter().find(|m| m.url().host() == "10.0.0.6").unwrap().clone();
    assert!(Arc::ptr_eq(&six(&before), &six(&after)));

    // New provider: one creation; leaving provider: destroyed, but the old list still works.
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", "weight=50"), provider("10.0.0.7", "")],
        3,
    ));
    assert_eq!(factory.created.load(Ordering::Relaxed), 5);
    assert_eq!(factory.destroyed(), 2);
    assert_eq!(before.len(), 2, "a list taken before the change stays usable");
    assert_eq!(dir.snapshot().version(), 4);
    drop((before, after, inv_before));
    assert_eq!(
        factory.destroyed(),
        3,
        "the first invoker of 10.0.0.5, with the last list holding it"
    );

    dir.destroy();
    assert_eq!(factory.destroyed(), 5);
    assert_eq!(dir.list(&get()).unwrap_err().reason, NoProviderReason::Destroyed);
    assert!(!dir.is_available());
}

#[test]
fn invoker_failures_are_excluded_and_retried() {
    let (dir, factory) = directory("");
    factory.fail_hosts.lock().unwrap().push("10.0.0.6".into());
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", ""), provider("10.0.0.6", "")],
        1,
    ));
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5"]);
    assert_eq!(dir.snapshot().counts().invoker_failed, 1);
    factory.fail_hosts.lock().unwrap().clear();
    dir.notify(&note(Category::Routers, &[], 1));
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5", "10.0.0.6"]);
}

#[test]
fn methods_map_and_star() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[
            provider("10.0.0.5", ""),                                  // get,put
            url("dubbo://10.0.0.6:20880/com.foo.Bar?methods=get,del"), // get,del
            url("tri://10.0.0.7:50051?service=com.foo.Bar"),           // declares nothing
        ],
        1,
    ));
    let l = |m: &str| hosts(&dir.list(&Invocation::new(m)).unwrap());
    assert_eq!(l("get"), ["10.0.0.5", "10.0.0.6", "10.0.0.7"]);
    assert_eq!(l("put"), ["10.0.0.5", "10.0.0.7"]);
    assert_eq!(l("del"), ["10.0.0.6", "10.0.0.7"]);
    assert_eq!(l("unknown"), ["10.0.0.5", "10.0.0.6", "10.0.0.7"]);
    assert!(dir.list(&get()).unwrap().is_shared());
}

#[test]
#[allow(clippy::type_complexity)]
fn routers_at_refresh_time_per_method_and_per_call() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", ""), provider("10.0.0.6", "")],
        1,
    ));
    // (case, routers, invocation, expected hosts, shared?)
    let cases: Vec<(&str, Vec<zkdubbo_common::Url>, Invocation, Vec<&str>, bool)> = vec![
        (
            "refresh-time rule",
            vec![condition("host = 10.0.0.1 => host = 10.0.0.5", "")],
            get(),
            vec!["10.0.0.5"],
            true,
        ),
        (
            "per-method rule, matching method",
            vec![condition("method = put => host = 10.0.0.6", "")],
            Invocation::new("put"),
            vec!["10.0.0.6"],
            true,
        ),
        (
            "per-method rule, other method",
            vec![condition("method = put => host = 10.0.0.6", "")],
            get(),
            vec!["10.0.0.5", "10.0.0.6"],
            true,
        ),
        (
            "per-method rule, undeclared method",
            vec![condition("method = x* => host = 10.0.0.6", "")],
            Invocation::new("xyz"),
            vec!["10.0.0.6"],
            false,
        ),
        (
            "argument rule",
            vec![condition("arguments[0] = vip => host = 10.0.0.5", "")],
            get().with_argument("vip"),
            vec!["10.0.0.5"],
            false,
        ),
        (
            "argument rule, not matched",
            vec![condition("arguments[0] = vip => host = 10.0.0.5", "")],
            get().with_argument("x"),
            vec!["10.0.0.5", "10.0.0.6"],
            true,
        ),
        (
            "runtime=true rule",
            vec![condition("host = 10.0.0.1 => host = 10.0.0.6", "&runtime=true")],
            get(),
            vec!["10.0.0.6"],
            false,
        ),
        (
            "priority order: lower first",
            vec![
                condition("=> host = 10.0.0.6", "&priority=2"),
                condition("=> host = 10.0.0.5", "&priority=1"),
            ],
            get(),
            // 10.0.0.5 first; then host = 10.0.0.6 empties, not forced → keeps 10.0.0.5
            vec!["10.0.0.5"],
            true,
        ),
        (
            "disabled rule ignored",
            vec![condition("=> host = 10.0.0.5", "&enabled=false")],
            get(),
            vec!["10.0.0.5", "10.0.0.6"],
            true,
        ),
    ];
    for (i, (case, routers, inv, want, shared)) in cases.into_iter().enumerate() {
        dir.notify(&note(Category::Routers, &routers, 10 + i as i32));
        let listed = dir.list(&inv).unwrap();
        assert_eq!(hosts(&listed), want, "{case}");
        assert_eq!(listed.is_shared(), shared, "{case}");
    }
}

#[test]
fn tag_routing_through_the_directory() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", "dubbo.tag=gray"), provider("10.0.0.6", "")],
        1,
    ));
    let tagged = |t: &str| get().with_attachment("dubbo.tag", t);
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.6"]);
    assert_eq!(hosts(&dir.list(&tagged("gray")).unwrap()), ["10.0.0.5"]);
    assert_eq!(hosts(&dir.list(&tagged("red")).unwrap()), ["10.0.0.6"]);
    let forced = tagged("red").with_attachment("dubbo.force.tag", "true");
    let err = dir.list(&forced).unwrap_err();
    assert!(
        matches!(&err.reason, NoProviderReason::RoutedAway { rule, .. } if rule.contains("tag router")),
        "{err}"
    );
    assert!(
        dir.list(&tagged("gray")).unwrap().is_shared(),
        "tag groups are precomputed"
    );
}

#[test]
fn bad_rules_warn_and_keep_the_others() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", ""), provider("10.0.0.6", "")],
        1,
    ));
    dir.notify(&note(
        Category::Routers,
        &[
            condition("host = => oops", ""),
            url("script://0.0.0.0/com.foo.Bar?category=routers&rule=x"),
            condition("=> host = 10.0.0.6", ""),
        ],
        1,
    ));
    dir.notify(&note(
        Category::Configurators,
        &[
            url("override://0.0.0.0/com.foo.Bar?category=configurators"),
            url("override://0.0.0.0/com.foo.Bar?weight=3"),
        ],
        1,
    ));
    let l = dir.list(&get()).unwrap();
    assert_eq!(hosts(&l), ["10.0.0.6"]);
    assert_eq!(l[0].url().param("weight"), Some("3"));
    let snap = dir.snapshot();
    assert_eq!(snap.warnings().len(), 3, "{:?}", snap.warnings());
    assert!(snap.warnings().iter().any(|w| w.contains("script://")));
    assert!(snap.warnings().iter().any(|w| w.contains("no parameter")));
}

#[test]
fn multi_group_sub_directories() {
    let (dir, _) = directory("group=a,b");
    dir.notify(&note(
        Category::Providers,
        &[
            provider("10.0.0.5", "group=a"),
            provider("10.0.0.6", "group=b"),
            provider("10.0.0.7", "group=a"),
        ],
        1,
    ));
    assert_eq!(dir.groups(), ["a", "b"]);
    assert_eq!(hosts(&dir.group("a").list(&get()).unwrap()), ["10.0.0.5", "10.0.0.7"]);
    assert_eq!(hosts(&dir.group("b").list(&get()).unwrap()), ["10.0.0.6"]);
    assert_eq!(dir.list(&get()).unwrap().len(), 3);
    let err = dir.group("c").list(&get()).unwrap_err();
    assert!(err.to_string().contains("group c"), "{err}");
    assert!(dir.group("a").is_available());
    assert!(!dir.group("c").is_available());
}

#[test]
fn static_directory_available_when_any_member_is() {
    let factory = CountingFactory::default();
    use zkdubbo_common::InvokerFactory;
    let a = factory.create(&url("dubbo://a:1/x")).unwrap();
    let b = factory.create(&url("dubbo://b:1/x")).unwrap();
    let dir = StaticDirectory::new(url("consumer://c/x"), vec![a, b]);
    assert_eq!(dir.list(&get()).unwrap().len(), 2);
    assert!(dir.is_available());
    factory.invokers.lock().unwrap()[0]
        .available
        .store(false, Ordering::Relaxed);
    assert!(dir.is_available());
    factory.invokers.lock().unwrap()[1]
        .available
        .store(false, Ordering::Relaxed);
    assert!(!dir.is_available());
    dir.destroy();
    assert_eq!(factory.destroyed(), 2);
    assert_eq!(dir.list(&get()).unwrap_err().reason, NoProviderReason::Destroyed);
    let empty = StaticDirectory::new(url("consumer://c/x"), vec![]);
    assert_eq!(empty.list(&get()).unwrap_err().reason, NoProviderReason::NoMember);
}

#[test]
fn describe_is_serializable() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", "dubbo.tag=gray"), provider("10.0.0.6", "")],
        1,
    ));
    dir.notify(&note(
        Category::Routers,
        &[condition("arguments[0] = 1 => host = 10.0.0.5", "")],
        1,
    ));
    dir.notify(&note(
        Category::Configurators,
        &[url("override://0.0.0.0/com.foo.Bar?weight=3")],
        1,
    ));
    let d = dir.describe();
    assert_eq!(d.providers.len(), 2);
    assert_eq!(d.routers.len(), 2);
    assert_eq!(d.configurators.len(), 1);
    assert!(d.methods.contains_key("get") && d.methods.contains_key("*"));
    assert!(d.methods["get"].per_call.as_deref().unwrap().contains("condition://"));
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["snapshot_version"], 3);
    assert!(json["providers"][0]["url"].as_str().unwrap().contains("weight=3"));
    assert!(d.to_text().contains("10.0.0.5:20880"));
    let only = d.only_method("put");
    assert_eq!(only.methods.len(), 1);
}

/// Empty protection is the registry's (its subscription sink drops an empty provider list
/// that would replace a non-empty one); the directory sees only what is delivered.
#[tokio::test]
async fn empty_protection_keeps_the_last_list() {
    let registry = Arc::new(MemoryRegistry::new());
    registry.set_empty_protection(true);
    let factory = Arc::new(CountingFactory::default());
    let dir = RegistryDirectory::builder(url("consumer://10.0.0.1/com.foo.Bar"), factory)
        .subscribe(registry.clone() as Arc<dyn Registry>)
        .await
        .unwrap();
    let mut changes = dir.changes();
    let five = provider("10.0.0.5", "");
    registry.register(&five).await.unwrap();
    until(&dir, &mut changes, |d| d.list(&get()).is_ok()).await;
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5"]);

    registry.unregister(&five).await.unwrap();
    // Sentinel: a configurator delivered after the empty list; once it shows, the empty list
    // has been dealt with.
    registry
        .register(&url(
            "override://10.0.0.5:20880/com.foo.Bar?category=configurators&weight=7&dynamic=false",
        ))
        .await
        .unwrap();
    until(&dir, &mut changes, |d| {
        d.snapshot()
            .providers()
            .iter()
            .any(|m| m.url().param("weight") == Some("7"))
    })
    .await;
    assert_eq!(
        hosts(&dir.list(&get()).unwrap()),
        ["10.0.0.5"],
        "the empty list was not applied"
    );

    registry.register(&provider("10.0.0.6", "")).await.unwrap();
    until(&dir, &mut changes, |d| {
        hosts(&d.list(&get()).unwrap_or_else(|_| panic!("no provider"))) == ["10.0.0.6"]
    })
    .await;
}

/// Wait (at most 2 s) for `check` to hold, waking on every published snapshot.
async fn until(
    dir: &RegistryDirectory,
    changes: &mut tokio::sync::watch::Receiver<u64>,
    check: impl Fn(&RegistryDirectory) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !check(dir) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached within 2 s"
        );
        let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
    }
}

#[tokio::test]
async fn follows_a_registry_subscription() {
    let registry = Arc::new(MemoryRegistry::new());
    let factory = Arc::new(CountingFactory::default());
    let consumer = url("consumer://10.0.0.1/com.foo.Bar?application=shop");
    let dir = RegistryDirectory::builder(consumer, factory.clone())
        .subscribe(registry.clone() as Arc<dyn Registry>)
        .await
        .unwrap();
    let snap = dir.ready(Duration::from_secs(2)).await;
    assert!(snap.is_notified());
    assert_eq!(dir.list(&get()).unwrap_err().reason, NoProviderReason::NoneRegistered);

    let mut changes = dir.changes();
    registry.register(&provider("10.0.0.5", "")).await.unwrap();
    registry.register(&provider("10.0.0.6", "enabled=false")).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while dir.snapshot().counts().registered < 2 && tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
    }
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5"]);
    assert_eq!(
        dir.snapshot().counts().disabled,
        1,
        "disabled providers are seen and reported"
    );

    registry
        .register(&url(
            "override://10.0.0.5:20880/com.foo.Bar?category=configurators&disabled=true&dynamic=false",
        ))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while dir.list(&get()).is_ok() && tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
    }
    assert_eq!(
        dir.list(&get()).unwrap_err().reason,
        NoProviderReason::AllDisabled { registered: 2 }
    );
    dir.destroy();
    assert_eq!(factory.destroyed(), 1);
}

#[test]
fn prepared_sets_pick_and_are_reused_when_providers_are_unchanged() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[
            provider("10.0.0.5", "weight=5"),
            provider("10.0.0.6", "weight=1"),
            provider("10.0.0.7", "weight=1"),
        ],
        1,
    ));
    let lb = zkdubbo_loadbalance::by_name("roundrobin").unwrap();
    let listed = dir.list(&get()).unwrap();
    assert_eq!(listed.prepared().method(), "get");
    let picks: Vec<String> = (0..7)
        .map(|_| listed.prepared().select(&*lb, &get()).unwrap().url().host().to_owned())
        .collect();
    assert_eq!(
        picks,
        [
            "10.0.0.5", "10.0.0.5", "10.0.0.6", "10.0.0.5", "10.0.0.7", "10.0.0.5", "10.0.0.5"
        ]
    );
    // A change elsewhere (a rule for another consumer) keeps the very same prepared set.
    dir.notify(&note(
        Category::Configurators,
        &[url("override://10.9.9.9/com.foo.Bar?weight=1")],
        1,
    ));
    let again = dir.list(&get()).unwrap();
    assert!(Arc::ptr_eq(listed.route(), again.route()));
    // A weight change prepares a new one.
    dir.notify(&note(
        Category::Configurators,
        &[url("override://0.0.0.0/com.foo.Bar?weight=1")],
        2,
    ));
    assert!(!Arc::ptr_eq(listed.route(), dir.list(&get()).unwrap().route()));
}

#[test]
fn large_lists_route_every_method() {
    // 6,000 providers × 4 routes crosses the threshold for preparing sets on several threads.
    let (dir, _) = directory("");
    let providers: Vec<zkdubbo_common::Url> = (0..6000)
        .map(|i| {
            let methods = if i % 2 == 0 { "get,put" } else { "get,del" };
            url(&format!(
                "dubbo://10.{}.{}.{}:20880/com.foo.Bar?methods={methods}",
                i / 65536,
                (i / 256) % 256,
                i % 256
            ))
        })
        .collect();
    dir.notify(&note(Category::Providers, &providers, 1));
    let len = |m: &str| dir.list(&Invocation::new(m)).unwrap().len();
    assert_eq!(
        (len("get"), len("put"), len("del"), len("other")),
        (6000, 3000, 3000, 6000)
    );
    let listed = dir.list(&Invocation::new("put")).unwrap();
    assert_eq!(listed.prepared().method(), "put");
    assert_eq!(listed.prepared().len(), 3000);
    assert_eq!(dir.list(&Invocation::new("other")).unwrap().prepared().method(), "*");
}

#[test]
fn configurators_target_this_consumer_by_ip_and_application() {
    // (case, rule, expected timeout seen by consumer 10.0.0.1 of application shop)
    let cases = [
        ("consumer IP", "override://10.0.0.1/com.foo.Bar?timeout=11", "11"),
        (
            "other consumer IP",
            "override://10.0.0.2/com.foo.Bar?timeout=11",
            "1000",
        ),
        (
            "application of the consumer",
            "override://0.0.0.0/com.foo.Bar?application=shop&timeout=12",
            "12",
        ),
        (
            "application of the provider is not ours",
            "override://0.0.0.0/com.foo.Bar?application=bar&timeout=12",
            "1000",
        ),
        (
            "provider address",
            "override://10.0.0.5:20880/com.foo.Bar?timeout=13",
            "13",
        ),
    ];
    for (i, (case, rule, want)) in cases.into_iter().enumerate() {
        let (dir, _) = directory("");
        dir.notify(&note(Category::Providers, &[provider("10.0.0.5", "timeout=1000")], 1));
        dir.notify(&note(Category::Configurators, &[url(rule)], i as i32 + 1));
        let l = dir.list(&get()).unwrap();
        assert_eq!(l[0].url().param("timeout"), Some(want), "{case}");
    }
}

#[test]
fn group_star_splits_by_group_and_per_call_routing_of_undeclared_methods() {
    let (dir, _) = directory("group=*");
    dir.notify(&note(
        Category::Providers,
        &[
            provider("10.0.0.5", "group=a"),
            provider("10.0.0.6", "group=b&dubbo.tag=gray"),
            provider("10.0.0.7", ""),
        ],
        1,
    ));
    assert_eq!(
        dir.groups(),
        ["", "a", "b"],
        "providers without a group form the \"\" group"
    );
    assert_eq!(
        hosts(
            &dir.group("b")
                .list(&get().with_attachment("dubbo.tag", "gray"))
                .unwrap()
        ),
        ["10.0.0.6"]
    );
    // A method-dependent rule on a method no provider declares: routed per call, then tags.
    dir.notify(&note(
        Category::Routers,
        &[condition("method = gen* => host != 10.0.0.7", "")],
        1,
    ));
    let generic = Invocation::new("generic");
    let l = dir.list(&generic).unwrap();
    assert_eq!(hosts(&l), ["10.0.0.5"], "10.0.0.7 routed away, 10.0.0.6 is tagged");
    assert!(!l.is_shared());
    assert_eq!(l.prepared().method(), "generic");
}

#[test]
fn not_notified_and_describe_of_an_empty_directory() {
    let (dir, _) = directory("version=2.0");
    let err = dir.list(&get()).unwrap_err();
    assert_eq!(err.reason, NoProviderReason::NotNotified);
    assert!(err.to_string().contains("has not delivered"), "{err}");
    let rpc: zkdubbo_common::RpcError = err.into();
    assert!(rpc.to_string().contains("version 2.0"), "{rpc}");
    let d = dir.describe();
    assert!(!d.notified);
    assert_eq!(
        d.methods["*"].no_provider.as_deref(),
        Some("the registry has not delivered the provider list yet")
    );
    assert!(d.to_text().contains("has not delivered"));
}

/// Every prepared set of the snapshot holds what a set prepared from scratch over the same
/// merged URLs would (per-provider weight inputs, addresses, identities, warm-up, hash
/// parameters), although members cache them and refreshes re-use members and cached URLs.
fn assert_sets_match_fresh(dir: &RegistryDirectory) {
    use zkdubbo_loadbalance::PreparedSet;
    for method in ["get", "put", "other"] {
        let listed = dir.list(&Invocation::new(method)).unwrap();
        let set = listed.prepared();
        let urls: Vec<zkdubbo_common::Url> = listed.providers().iter().map(|m| m.url().clone()).collect();
        let fresh = PreparedSet::new(urls, set.method());
        assert_eq!(set.weight_specs(), fresh.weight_specs(), "{method}");
        assert_eq!(set.addresses(), fresh.addresses(), "{method}");
        assert_eq!(set.identities(), fresh.identities(), "{method}");
        assert_eq!(set.service_key(), fresh.service_key(), "{method}");
        assert_eq!(set.hash_spec(), fresh.hash_spec(), "{method}");
        assert_eq!(set.warmup_ends_at(), fresh.warmup_ends_at(), "{method}");
    }
}

#[test]
fn reused_members_and_urls_give_the_same_sets_as_a_fresh_build() {
    let (dir, factory) = directory("");
    let now = zkdubbo_loadbalance::wall_clock_ms();
    let warming = provider(
        "10.0.0.5",
        &format!("weight=100&timestamp={}&warmup=600000", now - 60_000),
    );
    let method_level = provider("10.0.0.6", "weight=50&get.weight=7");
    let plain = provider("10.0.0.7", "weight=100");
    dir.notify(&note(
        Category::Providers,
        &[warming.clone(), method_level.clone(), plain.clone()],
        1,
    ));
    assert_sets_match_fresh(&dir);
    let spec = |m: &str, host: &str| {
        let listed = dir.list(&Invocation::new(m)).unwrap();
        let i = listed.providers().iter().position(|p| p.url().host() == host).unwrap();
        listed.prepared().weight_specs()[i]
    };
    assert_eq!(
        (spec("get", "10.0.0.6").weight, spec("put", "10.0.0.6").weight),
        (7, 50)
    );
    assert!(dir.list(&get()).unwrap().prepared().is_warming_up());
    let before = dir.snapshot();

    // An override aimed at one provider: it gets the new weight, the others keep their
    // members (and cached data) as they were; warm-up is still computed for the new sets.
    dir.notify(&note(
        Category::Configurators,
        &[url("override://10.0.0.7:20880/com.foo.Bar?weight=300")],
        1,
    ));
    assert_sets_match_fresh(&dir);
    assert_eq!(
        (spec("get", "10.0.0.7").weight, spec("put", "10.0.0.7").weight),
        (300, 300)
    );
    assert_eq!(
        (spec("get", "10.0.0.6").weight, spec("put", "10.0.0.6").weight),
        (7, 50)
    );
    assert_eq!(spec("get", "10.0.0.5").weight, 100);
    let after = dir.snapshot();
    let member = |s: &zkdubbo_directory::Snapshot, host: &str| {
        s.providers().iter().find(|m| m.url().host() == host).unwrap().clone()
    };
    assert!(Arc::ptr_eq(&member(&before, "10.0.0.5"), &member(&after, "10.0.0.5")));
    assert!(Arc::ptr_eq(&member(&before, "10.0.0.6"), &member(&after, "10.0.0.6")));
    assert!(!Arc::ptr_eq(&member(&before, "10.0.0.7"), &member(&after, "10.0.0.7")));
    // Its invoker is new too, with the URL its calls read their parameters from.
    let seven = member(&after, "10.0.0.7");
    assert!(!Arc::ptr_eq(member(&before, "10.0.0.7").invoker(), seven.invoker()));
    assert_eq!(seven.invoker().url(), seven.url());
    let listed = dir.list(&get()).unwrap();
    assert!(listed.prepared().is_warming_up(), "warm-up recomputed for the new set");
    assert!(!Arc::ptr_eq(
        before.method_route("get").base(),
        after.method_route("get").base()
    ));

    // A provider re-registered with a method-level weight and another one added.
    let method_level = provider("10.0.0.6", "weight=50&get.weight=9&put.weight=");
    let added = provider("10.0.0.8", "weight=20");
    dir.notify(&note(Category::Providers, &[warming, method_level, plain, added], 2));
    assert_sets_match_fresh(&dir);
    assert_eq!(
        (spec("get", "10.0.0.6").weight, spec("put", "10.0.0.6").weight),
        (9, 50)
    );
    assert_eq!(spec("get", "10.0.0.8").weight, 20);
    // Three endpoints at first, then one invoker per change of a provider's URL: 10.0.0.7's
    // override, 10.0.0.6's re-registration, and 10.0.0.8 new.
    assert_eq!(factory.created.load(Ordering::Relaxed), 6);
    assert_eq!(
        factory.created.load(Ordering::Relaxed) - factory.destroyed(),
        4 + 2,
        "one invoker alive per endpoint, and the two replaced ones `before` still holds"
    );

    // The override withdrawn: back to the registered weight.
    dir.notify(&note(Category::Configurators, &[], 2));
    assert_sets_match_fresh(&dir);
    assert_eq!(spec("get", "10.0.0.7").weight, 100);
}

/// Two registered URLs with one identity: the first in list order is listed, whatever the
/// previous refresh listed; its invoker follows the listed URL, and the last is destroyed when
/// the identity is gone.
#[test]
fn duplicate_identities_follow_list_order_across_refreshes() {
    let (dir, factory) = directory("");
    let a = provider("10.0.0.5", "x=1");
    let b = provider("10.0.0.5", "x=2");
    let other = provider("10.0.0.6", "");
    let listed_x = |dir: &RegistryDirectory| {
        let snap = dir.snapshot();
        let dups = snap
            .excluded()
            .iter()
            .filter(|(_, e)| *e == Exclusion::DuplicateIdentity)
            .count();
        let xs: Vec<String> = snap
            .providers()
            .iter()
            .filter(|m| m.url().host() == "10.0.0.5")
            .map(|m| m.url().param("x").unwrap_or_default().to_owned())
            .collect();
        (xs, dups, snap.providers().len())
    };
    dir.notify(&note(Category::Providers, &[a.clone(), b.clone(), other.clone()], 1));
    assert_eq!(listed_x(&dir), (vec!["1".to_owned()], 1, 2));
    dir.notify(&note(Category::Providers, &[b.clone(), a.clone(), other.clone()], 2));
    assert_eq!(listed_x(&dir), (vec!["2".to_owned()], 1, 2));
    dir.notify(&note(Category::Providers, &[a.clone(), other.clone(), b.clone()], 3));
    assert_eq!(listed_x(&dir), (vec!["1".to_owned()], 1, 2));
    dir.notify(&note(Category::Providers, &[other.clone(), b.clone()], 4));
    assert_eq!(listed_x(&dir), (vec!["2".to_owned()], 0, 2));
    // Each switch between a and b made an invoker with the listed URL and destroyed the one
    // it replaced: alive are exactly the listed providers' invokers.
    let alive = || factory.created.load(Ordering::Relaxed) - factory.destroyed();
    assert_eq!(factory.created.load(Ordering::Relaxed), 5);
    assert_eq!(alive(), 2);
    dir.notify(&note(Category::Providers, std::slice::from_ref(&other), 5));
    assert_eq!(listed_x(&dir), (vec![], 0, 1));
    assert_eq!(alive(), 1);
    dir.notify(&note(Category::Providers, &[a, other], 6));
    assert_eq!(listed_x(&dir), (vec!["1".to_owned()], 0, 2));
    assert_eq!(factory.created.load(Ordering::Relaxed), 6);
    assert_eq!(alive(), 2);
}

/// A condition router with a blank `rule` (`rule=`) is refused with a warning naming it, as
/// Java's ConditionRouter refuses it; it used to read as "no provider for anyone".
#[test]
fn a_blank_condition_rule_is_ignored_with_a_warning() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[provider("10.0.0.5", ""), provider("10.0.0.6", "")],
        1,
    ));
    dir.notify(&note(
        Category::Routers,
        &[url("condition://0.0.0.0/com.foo.Bar?category=routers&rule=&force=true")],
        1,
    ));
    let l = dir.list(&get()).expect("the blank rule cut nobody off");
    assert_eq!(hosts(&l), ["10.0.0.5", "10.0.0.6"]);
    let snap = dir.snapshot();
    assert_eq!(snap.warnings().len(), 1, "{:?}", snap.warnings());
    assert!(snap.warnings()[0].contains("blank"), "{:?}", snap.warnings());
    assert!(
        snap.warnings()[0].contains("condition://0.0.0.0/com.foo.Bar"),
        "{:?}",
        snap.warnings()
    );
}

/// A URL with no host, or an `empty://` among other URLs, is not a provider anyone can call:
/// it is excluded and counted (`describe` used to count it as usable, its invokers connecting
/// nowhere).
#[test]
fn providers_without_an_address_are_excluded() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[
            provider("10.0.0.5", ""),
            url("dubbo:///com.foo.Bar?methods=get"),
            url("empty://10.0.0.1/com.foo.Bar?category=providers"),
        ],
        1,
    ));
    assert_eq!(hosts(&dir.list(&get()).unwrap()), ["10.0.0.5"]);
    let snap = dir.snapshot();
    assert_eq!(snap.counts().registered, 3);
    assert_eq!(snap.counts().no_address, 2);
    assert!(
        snap.excluded().iter().all(|(_, why)| *why == Exclusion::NoAddress),
        "{:?}",
        snap.excluded()
    );

    dir.notify(&note(
        Category::Providers,
        &[url("dubbo:///com.foo.Bar?methods=get")],
        2,
    ));
    let err = dir.list(&get()).unwrap_err();
    assert!(err.to_string().contains("1 with no address"), "{err}");
}

#[test]
fn an_override_with_an_unusable_number_keeps_the_value_it_would_replace() {
    let (configurators, errors) = zkdubbo_directory::Configurators::parse(&[
        url("override://0.0.0.0/com.foo.Bar?retries=2147483647&hash.nodes=4294967295&timeout=3000"),
        url("override://0.0.0.0/com.foo.Bar?sayHello.retries=abc"),
    ]);
    assert!(errors.is_empty(), "{errors:?}");
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Bar?retries=5&hash.nodes=320&sayHello.retries=1");
    let merged = configurators.apply(provider, "10.0.0.1");
    // The provider's own values stay (not the defaults); the usable part of the rule applies.
    assert_eq!(merged.param("retries"), Some("5"));
    assert_eq!(merged.param("hash.nodes"), Some("320"));
    assert_eq!(merged.param("sayHello.retries"), Some("1"));
    assert_eq!(merged.param("timeout"), Some("3000"));
}
