//! Every cluster strategy against fake providers that fail on demand.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use support::{Fakes, Outcome, directory, provider, say_hello, set_providers, unique_service};
use zkdubbo_cluster::strategy::FailbackCluster;
use zkdubbo_cluster::{SERVED_BY, by_name, join_registries};
use zkdubbo_common::{CallStats, Invocation, Invoker, RpcErrorKind, Url};
use zkdubbo_directory::{Directory, RegistryDirectory, StaticDirectory};

fn join(name: &str, dir: Arc<RegistryDirectory>) -> Arc<dyn Invoker> {
    by_name(name).unwrap().join(dir)
}

#[tokio::test]
async fn failover_tries_every_provider_once_and_names_them() {
    let fakes = Fakes::new();
    let service = unique_service();
    for a in ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"] {
        fakes.add(a, Outcome::Transport);
    }
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Transport);
    let log = fakes.log();
    assert_eq!(log.len(), 3, "retries=2 means 3 attempts: {log:?}");
    assert_eq!(
        log.iter().collect::<HashSet<_>>().len(),
        3,
        "each provider tried once: {log:?}"
    );
    let msg = err.to_string();
    for needle in [
        "sayHello",
        service.as_str(),
        "3 of 3 attempt",
        "10.0.0.1:1",
        "10.0.0.2:1",
        "10.0.0.3:1",
        "connection refused",
    ] {
        assert!(msg.contains(needle), "{needle:?} missing in {msg}");
    }
}

#[tokio::test]
async fn failover_reaches_the_one_good_provider() {
    for _ in 0..20 {
        let fakes = Fakes::new();
        let service = unique_service();
        fakes.add("10.0.0.1:1", Outcome::Transport);
        fakes.add("10.0.0.2:1", Outcome::Timeout);
        fakes.add("10.0.0.3:1", Outcome::Ok("hi"));
        let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
        let r = join("failover", dir).invoke(&say_hello()).await.unwrap();
        assert_eq!(&r.payload[..], b"hi");
        assert_eq!(r.attachments.get(SERVED_BY).map(String::as_str), Some("10.0.0.3:1"));
        let log = fakes.log();
        assert_eq!(log.last().map(String::as_str), Some("10.0.0.3:1"));
        assert_eq!(
            log.iter().collect::<HashSet<_>>().len(),
            log.len(),
            "no provider twice: {log:?}"
        );
    }
}

#[tokio::test]
async fn failover_never_retries_business_errors() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Business);
    fakes.add("10.0.0.2:1", Outcome::Business);
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1"]);
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Business);
    assert_eq!(fakes.total_calls(), 1);
}

#[tokio::test]
async fn failover_reads_retries_per_method() {
    let fakes = Fakes::new();
    let service = unique_service();
    for a in ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"] {
        fakes.add(a, Outcome::Transport);
    }
    let dir = directory(
        &fakes,
        &service,
        "&retries=5&sayHello.retries=0",
        &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"],
    );
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(fakes.total_calls(), 1, "{err}");
}

#[tokio::test]
async fn failover_relists_between_attempts() {
    let fakes = Fakes::new();
    let service = unique_service();
    let slow = fakes.add("10.0.0.1:1", Outcome::SlowTransport(Duration::from_millis(500)));
    fakes.add("10.0.0.2:1", Outcome::Ok("new"));
    let dir = directory(&fakes, &service, "&retries=1", &["10.0.0.1:1"]);
    let invoker = join("failover", dir.clone());
    // The first attempt fails slowly; meanwhile a new provider is registered: the retry finds it.
    let call = tokio::spawn(async move { invoker.invoke(&say_hello()).await });
    while slow.calls() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    set_providers(
        &dir,
        &service,
        vec![
            provider(&service, "10.0.0.1:1", ""),
            provider(&service, "10.0.0.2:1", ""),
        ],
    );
    let r = call.await.unwrap().unwrap();
    assert_eq!(r.attachments.get(SERVED_BY).map(String::as_str), Some("10.0.0.2:1"));
    assert_eq!(fakes.log(), vec!["10.0.0.1:1", "10.0.0.2:1"]);
}

#[tokio::test]
async fn failover_with_no_provider_explains_why() {
    let fakes = Fakes::new();
    let service = unique_service();
    let dir = directory(&fakes, &service, "", &[]);
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::NoProvider);
    assert!(err.to_string().contains(&service), "{err}");
    assert!(err.to_string().contains("no provider is registered"), "{err}");
}

#[tokio::test]
async fn failfast_makes_one_attempt() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Transport);
    fakes.add("10.0.0.2:1", Outcome::Transport);
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1"]);
    let err = join("failfast", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Transport);
    assert!(err.context().contains("failfast"), "{err}");
    assert_eq!(fakes.total_calls(), 1);
}

#[tokio::test]
async fn failsafe_swallows_failures() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Timeout);
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1"]);
    let r = join("failsafe", dir).invoke(&say_hello()).await.unwrap();
    assert!(r.payload.is_empty());
    let empty = directory(&fakes, &unique_service(), "", &[]);
    assert!(join("failsafe", empty).invoke(&say_hello()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn failback_retries_in_the_background_every_five_seconds() {
    let fakes = Fakes::new();
    let service = unique_service();
    let p = fakes.add("10.0.0.1:1", Outcome::Ok("done"));
    p.then([Outcome::Transport, Outcome::Transport]);
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1"]);
    let invoker = FailbackCluster::default().join_failback(dir);
    let r = invoker.invoke(&say_hello()).await.unwrap();
    assert!(r.payload.is_empty(), "an empty result at once");
    assert_eq!(p.calls(), 1);
    assert_eq!(invoker.pending(), 1);

    tokio::time::sleep(Duration::from_millis(4900)).await;
    assert_eq!(p.calls(), 1, "nothing before 5 s");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(p.calls(), 2, "first retry at 5 s (fails)");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(p.calls(), 3, "second retry at 10 s (succeeds)");
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(p.calls(), 3, "no retry after a success");
    assert_eq!(invoker.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn failback_gives_up_after_retries_and_bounds_the_queue() {
    let fakes = Fakes::new();
    let service = unique_service();
    let p = fakes.add("10.0.0.1:1", Outcome::Transport);
    let dir = directory(&fakes, &service, "&retries=2&failbacktasks=2", &["10.0.0.1:1"]);
    let invoker = FailbackCluster::default().join_failback(dir);
    for _ in 0..3 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    assert_eq!(invoker.pending(), 2, "the third failed call is dropped");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(p.calls(), 3 + 2 * 2, "two retries for each of the two queued calls");
    assert_eq!(invoker.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn failback_destroy_drops_pending_retries() {
    let fakes = Fakes::new();
    let service = unique_service();
    let p = fakes.add("10.0.0.1:1", Outcome::Transport);
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1"]);
    let invoker = FailbackCluster::default().join_failback(dir);
    invoker.invoke(&say_hello()).await.unwrap();
    assert_eq!(invoker.pending(), 1);
    invoker.destroy();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(p.calls(), 1, "no retry after destroy");
}

#[tokio::test]
async fn forking_first_success_wins_and_losers_are_cancelled() {
    let fakes = Fakes::new();
    let service = unique_service();
    let fast = fakes.add("10.0.0.1:1", Outcome::Slow("fast", Duration::from_millis(20)));
    let slow1 = fakes.add("10.0.0.2:1", Outcome::Hang);
    let slow2 = fakes.add("10.0.0.3:1", Outcome::Hang);
    let dir = directory(
        &fakes,
        &service,
        "&forks=0",
        &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"],
    );
    let r = join("forking", dir).invoke(&say_hello()).await.unwrap();
    assert_eq!(&r.payload[..], b"fast");
    assert_eq!(
        (fast.calls(), slow1.calls(), slow2.calls()),
        (1, 1, 1),
        "forks=0: all called"
    );
    assert_eq!(slow1.cancelled.load(Ordering::SeqCst), 1);
    assert_eq!(slow2.cancelled.load(Ordering::SeqCst), 1);
    assert_eq!(fast.cancelled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn forking_calls_forks_distinct_providers() {
    let fakes = Fakes::new();
    let service = unique_service();
    let addrs = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"];
    for a in addrs {
        fakes.add(a, Outcome::Transport);
    }
    let dir = directory(&fakes, &service, "", &addrs);
    let err = join("forking", dir).invoke(&say_hello()).await.unwrap_err();
    let log = fakes.log();
    assert_eq!(log.len(), 2, "forks defaults to 2: {log:?}");
    assert_ne!(log[0], log[1]);
    assert!(err.to_string().contains("all 2 forked call(s)"), "{err}");
    assert_eq!(err.kind(), RpcErrorKind::Transport);
}

#[tokio::test(start_paused = true)]
async fn forking_is_bounded_by_timeout() {
    let fakes = Fakes::new();
    let service = unique_service();
    let a = fakes.add("10.0.0.1:1", Outcome::Hang);
    let b = fakes.add("10.0.0.2:1", Outcome::Transport);
    let dir = directory(&fakes, &service, "&timeout=300", &["10.0.0.1:1", "10.0.0.2:1"]);
    let err = join("forking", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("300 ms"), "{err}");
    assert_eq!((a.calls(), b.calls()), (1, 1));
    assert_eq!(a.cancelled.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn broadcast_calls_everyone_and_fails_if_one_fails() {
    let fakes = Fakes::new();
    let service = unique_service();
    let addrs = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"];
    for a in addrs {
        fakes.add(a, Outcome::Ok("ok"));
    }
    let dir = directory(&fakes, &service, "", &addrs);
    let invoker = join("broadcast", dir);
    invoker.invoke(&say_hello()).await.unwrap();
    assert_eq!(fakes.total_calls(), 4);
    *fakes.get("10.0.0.2:1").default.lock().unwrap() = Outcome::Transport;
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert_eq!(fakes.total_calls(), 8, "all called despite the failure");
    assert!(err.to_string().contains("10.0.0.2:1"), "{err}");
}

#[tokio::test]
async fn broadcast_stops_at_fail_percent() {
    let fakes = Fakes::new();
    let service = unique_service();
    let addrs = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"];
    for a in addrs {
        fakes.add(a, Outcome::Transport);
    }
    let dir = directory(&fakes, &service, "&broadcast.fail.percent=50", &addrs);
    let err = join("broadcast", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(fakes.total_calls(), 2, "4 × 50% = 2 failures stop it: {err}");
    assert!(err.to_string().contains("broadcast.fail.percent=50"), "{err}");
}

#[tokio::test]
async fn available_takes_the_first_available_without_balancing() {
    let fakes = Fakes::new();
    let service = unique_service();
    let a = fakes.add("10.0.0.1:1", Outcome::Ok("a"));
    let b = fakes.add("10.0.0.2:1", Outcome::Ok("b"));
    fakes.add("10.0.0.3:1", Outcome::Ok("c"));
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
    let invoker = join("available", dir);
    a.set_available(false);
    for _ in 0..10 {
        let r = invoker.invoke(&say_hello()).await.unwrap();
        assert_eq!(&r.payload[..], b"b");
    }
    b.set_available(false);
    fakes.get("10.0.0.3:1").set_available(false);
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::NoProvider);
}

fn static_members(fakes: &Fakes, service: &str, addrs: &[&str]) -> Vec<Arc<dyn Invoker>> {
    addrs.iter().map(|a| fakes.invoker(&provider(service, a, ""))).collect()
}

#[tokio::test]
async fn mergeable_merges_every_member_with_the_named_merger() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.1.1:1", Outcome::Ok("[1,2]"));
    fakes.add("10.0.1.2:1", Outcome::Ok("[3]"));
    fakes.add("10.0.1.3:1", Outcome::Transport);
    let consumer: Url = format!("consumer://10.0.0.1/{service}?sayHello.merger=list")
        .parse()
        .unwrap();
    let members = static_members(&fakes, &service, &["10.0.1.1:1", "10.0.1.2:1", "10.0.1.3:1"]);
    let invoker = by_name("mergeable")
        .unwrap()
        .join(Arc::new(StaticDirectory::new(consumer, members)));
    let r = invoker.invoke(&say_hello()).await.unwrap();
    assert_eq!(&r.payload[..], b"[1,2,3]", "the failed member is skipped");
    assert_eq!(fakes.total_calls(), 3);

    // Without a merger for the method: only the first available member.
    let r = invoker.invoke(&Invocation::new("other")).await.unwrap();
    assert_eq!(&r.payload[..], b"[1,2]");
    assert_eq!(fakes.total_calls(), 4);
}

#[tokio::test]
async fn mergeable_reports_unknown_merger_and_total_failure() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.1.1:1", Outcome::Transport);
    fakes.add("10.0.1.2:1", Outcome::Timeout);
    let consumer: Url = format!("consumer://10.0.0.1/{service}?merger=nope").parse().unwrap();
    let members = static_members(&fakes, &service, &["10.0.1.1:1", "10.0.1.2:1"]);
    let invoker = by_name("mergeable")
        .unwrap()
        .join(Arc::new(StaticDirectory::new(consumer.clone(), members.clone())));
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert!(err.to_string().contains("unknown merger \"nope\""), "{err}");
    let consumer = consumer.with_param("merger", "list");
    let invoker = by_name("mergeable")
        .unwrap()
        .join(Arc::new(StaticDirectory::new(consumer, members)));
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert!(err.to_string().contains("every one of the 2 member(s) failed"), "{err}");
}

fn registry_member(fakes: &Fakes, service: &str, addr: &str) -> Arc<dyn Invoker> {
    fakes.invoker(&provider(service, addr, ""))
}

#[tokio::test]
async fn zone_aware_prefers_then_zone_then_weight_then_first_available() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.2.1:1", Outcome::Ok("a"));
    let b = fakes.add("10.0.2.2:1", Outcome::Ok("b"));
    let consumer: Url = format!("consumer://10.0.0.1/{service}").parse().unwrap();
    let zone_aware = by_name("zone-aware").unwrap();
    let joined = join_registries(
        &consumer,
        vec![
            (
                "zookeeper://10.0.9.1:2181?zone=hz".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.2.1:1"),
            ),
            (
                "zookeeper://10.0.9.2:2181?zone=sh&preferred=true".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.2.2:1"),
            ),
        ],
        &*zone_aware,
    );
    let served = |r: &zkdubbo_common::Response| r.attachments.get(zkdubbo_cluster::SERVED_BY_REGISTRY).cloned();
    // preferred wins, even over the zone
    let r = joined
        .invoke(&say_hello().with_attachment("registry_zone", "hz"))
        .await
        .unwrap();
    assert_eq!(&r.payload[..], b"b");
    assert_eq!(served(&r).as_deref(), Some("10.0.9.2:2181"));
    // preferred unavailable → the zone
    b.set_available(false);
    let r = joined
        .invoke(&say_hello().with_attachment("registry_zone", "hz"))
        .await
        .unwrap();
    assert_eq!(&r.payload[..], b"a");
    // a zone no available registry is in, forced → error naming the zone
    let err = joined
        .invoke(
            &say_hello()
                .with_attachment("registry_zone", "gz")
                .with_attachment("registry_zone_force", "true"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::NoProvider);
    assert!(err.to_string().contains("zone gz"), "{err}");
    // not forced → balancing, then the first available registry
    for _ in 0..20 {
        let r = joined
            .invoke(&say_hello().with_attachment("registry_zone", "gz"))
            .await
            .unwrap();
        assert_eq!(&r.payload[..], b"a");
    }
    assert_eq!(b.calls(), 1, "the unavailable preferred registry is not called again");
}

#[tokio::test]
async fn zone_aware_balances_by_registry_weight() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.3.1:1", Outcome::Ok("light"));
    fakes.add("10.0.3.2:1", Outcome::Ok("heavy"));
    let consumer: Url = format!("consumer://10.0.0.1/{service}").parse().unwrap();
    let joined = join_registries(
        &consumer,
        vec![
            (
                "zookeeper://10.0.9.1:2181?weight=0".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.3.1:1"),
            ),
            (
                "zookeeper://10.0.9.2:2181?weight=100".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.3.2:1"),
            ),
        ],
        &*by_name("zone-aware").unwrap(),
    );
    for _ in 0..50 {
        let r = joined.invoke(&say_hello()).await.unwrap();
        assert_eq!(&r.payload[..], b"heavy");
    }
}

#[tokio::test]
async fn sticky_keeps_the_provider_while_it_is_available() {
    let fakes = Fakes::new();
    let service = unique_service();
    let addrs = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"];
    for a in addrs {
        fakes.add(a, Outcome::Ok("x"));
    }
    let dir = directory(&fakes, &service, "&sticky=true", &addrs);
    let invoker = join("failover", dir);
    for _ in 0..40 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    let log = fakes.log();
    assert_eq!(log.iter().collect::<HashSet<_>>().len(), 1, "{log:?}");
    fakes.get(&log[0]).set_available(false);
    for _ in 0..20 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    let after: HashSet<_> = fakes.log()[40..].iter().cloned().collect();
    assert_eq!(after.len(), 1, "sticks to a new one: {after:?}");
    assert!(!after.contains(&log[0]));
}

#[tokio::test]
async fn unavailable_providers_are_reselected_unless_availablecheck_is_off() {
    let fakes = Fakes::new();
    let service = unique_service();
    let addrs = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"];
    for a in addrs {
        fakes.add(a, Outcome::Ok("x"));
    }
    let down = fakes.get("10.0.0.1:1");
    down.set_available(false);
    let invoker = join("failfast", directory(&fakes, &service, "", &addrs));
    for _ in 0..200 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    assert_eq!(down.calls(), 0);
    let invoker = join(
        "failfast",
        directory(&fakes, &service, "&cluster.availablecheck=false", &addrs),
    );
    for _ in 0..200 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    assert!(
        down.calls() > 0,
        "without the check the unavailable provider is still picked"
    );
}

#[tokio::test]
async fn every_call_is_recorded_in_the_call_statistics() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Ok("x"));
    fakes.add("10.0.0.2:1", Outcome::Transport);
    let hang_state = fakes.add("10.0.0.3:1", Outcome::Hang);
    let invoker = join(
        "failover",
        directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1"]),
    );
    for _ in 0..20 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    let stats = CallStats::global();
    let ok = stats.get(&format!("tri://10.0.0.1:1/{service}"), "sayHello").unwrap();
    let bad = stats.get(&format!("tri://10.0.0.2:1/{service}"), "sayHello").unwrap();
    assert_eq!(ok.succeeded(), 20);
    assert_eq!(ok.failed(), 0);
    assert_eq!(bad.succeeded(), 0);
    assert_eq!(bad.failed() as usize, fakes.get("10.0.0.2:1").calls());
    assert_eq!(ok.in_flight() + bad.in_flight(), 0);
    assert!(ok.window_average().is_some());

    // A call in flight is counted until it ends.
    let hang = join("failfast", directory(&fakes, &service, "", &["10.0.0.3:1"]));
    let inv = say_hello();
    let call = tokio::spawn(async move { hang.invoke(&inv).await });
    while hang_state.calls() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let hanging = stats.get(&format!("tri://10.0.0.3:1/{service}"), "sayHello").unwrap();
    assert_eq!(hanging.in_flight(), 1);
    call.abort();
    let _ = call.await;
    assert_eq!(hanging.in_flight(), 0);
    assert_eq!(hanging.failed(), 1, "a cancelled call counts as failed");
}

#[tokio::test]
async fn leastactive_sees_calls_in_flight() {
    let fakes = Fakes::new();
    let service = unique_service();
    let busy = fakes.add("10.0.0.1:1", Outcome::Hang);
    let idle = fakes.add("10.0.0.2:1", Outcome::Ok("idle"));
    let dir = directory(
        &fakes,
        &service,
        "&loadbalance=leastactive",
        &["10.0.0.1:1", "10.0.0.2:1"],
    );
    let invoker = join("failfast", dir);
    // Occupy the busy one with calls that never end (through a cluster that knows only it;
    // the statistics are per provider and method), then every call goes to the idle one.
    let only_busy = join("failfast", directory(&fakes, &service, "", &["10.0.0.1:1"]));
    let mut hanging = Vec::new();
    for _ in 0..3 {
        let only_busy = only_busy.clone();
        hanging.push(tokio::spawn(async move { only_busy.invoke(&say_hello()).await }));
    }
    while busy.calls() < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = idle.calls();
    for _ in 0..20 {
        let r = invoker.invoke(&say_hello()).await.unwrap();
        assert_eq!(&r.payload[..], b"idle");
    }
    assert_eq!(idle.calls() - before, 20);
    for h in hanging {
        h.abort();
    }
}

#[tokio::test]
async fn destroyed_cluster_fails_with_no_provider() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Ok("x"));
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1"]);
    let invoker = join("failover", dir.clone());
    invoker.destroy();
    assert!(!dir.is_available());
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::NoProvider);
}

#[tokio::test]
async fn registries_joined_by_available_use_the_first_available_one() {
    let fakes = Fakes::new();
    let service = unique_service();
    let first = fakes.add("10.0.4.1:1", Outcome::Ok("first"));
    fakes.add("10.0.4.2:1", Outcome::Ok("second"));
    let consumer: Url = format!("consumer://10.0.0.1/{service}").parse().unwrap();
    let joined = join_registries(
        &consumer,
        vec![
            (
                "zookeeper://10.0.9.1:2181".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.4.1:1"),
            ),
            (
                "zookeeper://10.0.9.2:2181".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.4.2:1"),
            ),
        ],
        &*by_name("available").unwrap(),
    );
    for _ in 0..10 {
        assert_eq!(&joined.invoke(&say_hello()).await.unwrap().payload[..], b"first");
    }
    first.set_available(false);
    let r = joined.invoke(&say_hello()).await.unwrap();
    assert_eq!(&r.payload[..], b"second");
    assert_eq!(
        r.attachments
            .get(zkdubbo_cluster::SERVED_BY_REGISTRY)
            .map(String::as_str),
        Some("10.0.9.2:2181")
    );
}
