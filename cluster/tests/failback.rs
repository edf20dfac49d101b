//! failback: background retries, their bound, and destroy.

mod support;

use std::time::Duration;

use support::{Fakes, Outcome, directory, say_hello, unique_service};
use zkdubbo_cluster::strategy::FailbackCluster;
use zkdubbo_common::Invoker;

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
