//! forking and broadcast: calls made to several providers at once.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use support::{Fakes, Outcome, directory, join, say_hello, unique_service};
use zkdubbo_common::RpcErrorKind;

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
