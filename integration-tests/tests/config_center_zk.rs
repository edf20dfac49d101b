//! The registry as config center on a real ZooKeeper: a rule node followed through creation,
//! change, deletion and re-creation by another client, across a session expiry, and
//! compare-and-set writes that never lose an update.

mod support;

use std::time::Duration;

use support::*;
use zkdubbo_integration_tests::harness::{PartitionMode, TcpProxy};
use zkdubbo_registry::{ConfigCenter, NodeState, NodeWatch, Registry};
use zookeeper_client::CreateMode;

async fn next_state(watch: &mut NodeWatch, want: impl Fn(&NodeState) -> bool) -> NodeState {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let state = watch.borrow_and_update().clone();
            if want(&state) {
                return state;
            }
            watch.changed().await.expect("the watch stays open");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out; last state {:?}", watch.borrow()))
}

fn text(state: &NodeState) -> Option<&str> {
    match state {
        NodeState::Present { text, .. } => Some(text),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_node_is_followed_through_every_change_made_by_another_client() {
    let env = env("cc-follow");
    let registry = env.registry("").await;
    let cc = registry.config_center().expect("ZooKeeper serves as config center");
    assert_eq!(cc.config_root(), format!("{}/config", env.root));
    let path = format!("{}/dubbo/com.foo.Bar::.configurators", cc.config_root());
    let raw = env.raw().await;

    let mut watch = cc.watch_node(&path);
    next_state(&mut watch, |s| *s == NodeState::Absent).await;

    mkdirs(&raw, &format!("{}/dubbo", cc.config_root())).await;
    raw.create(
        &path,
        b"v1",
        &CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all()),
    )
    .await
    .unwrap();
    assert_eq!(
        text(&next_state(&mut watch, |s| text(s) == Some("v1")).await),
        Some("v1")
    );
    raw.set_data(&path, "v2 ünïcode".as_bytes(), None).await.unwrap();
    next_state(&mut watch, |s| text(s) == Some("v2 ünïcode")).await;
    raw.delete(&path, None).await.unwrap();
    next_state(&mut watch, |s| *s == NodeState::Absent).await;
    raw.create(
        &path,
        b"v3",
        &CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all()),
    )
    .await
    .unwrap();
    next_state(&mut watch, |s| text(s) == Some("v3")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_changed_while_the_session_expired_is_read_in_the_new_one() {
    let env = env("cc-expiry");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let registry = env.registry_at(&proxy.addr(), "&session=1000").await;
    let writer = env.registry("").await;
    let cc = registry.config_center().unwrap();
    let path = format!("{}/dubbo/shop.configurators", cc.config_root());
    writer.write_node(&path, "before", None).await.unwrap();
    let mut watch = cc.watch_node(&path);
    next_state(&mut watch, |s| text(s) == Some("before")).await;
    let first = registry.session_id();

    proxy.partition_with(PartitionMode::Refuse);
    let negotiated = registry.session_timeout().unwrap();
    tokio::time::sleep(negotiated * 3 / 2 + Duration::from_millis(500)).await;
    let (_, version) = writer.read_node(&path).await.unwrap().unwrap();
    writer.write_node(&path, "during", Some(version)).await.unwrap();
    assert_eq!(text(&watch.borrow()), Some("before"), "nothing is read while cut off");

    proxy.heal();
    next_state(&mut watch, |s| text(s) == Some("during")).await;
    assert_ne!(registry.session_id(), first, "a new session");
    // And it keeps following in the new session.
    let (_, version) = writer.read_node(&path).await.unwrap().unwrap();
    writer.delete_node(&path, Some(version)).await.unwrap();
    next_state(&mut watch, |s| *s == NodeState::Absent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_set_writes_refuse_a_stale_version() {
    let env = env("cc-cas");
    let a = env.registry("").await;
    let b = env.registry("").await;
    let path = format!("{}/dubbo/com.foo.Bar::.condition-router", a.config_root());
    assert_eq!(a.read_node(&path).await.unwrap(), None);
    assert_eq!(a.write_node(&path, "first", None).await.unwrap(), 0);
    let err = b.write_node(&path, "also first", None).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");

    let (_, seen_by_a) = a.read_node(&path).await.unwrap().unwrap();
    let (_, seen_by_b) = b.read_node(&path).await.unwrap().unwrap();
    assert_eq!(b.write_node(&path, "b wins", Some(seen_by_b)).await.unwrap(), 1);
    let err = a.write_node(&path, "a is stale", Some(seen_by_a)).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(a.read_node(&path).await.unwrap(), Some(("b wins".to_owned(), 1)));
    let err = a.delete_node(&path, Some(0)).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    a.delete_node(&path, Some(1)).await.unwrap();
    assert_eq!(a.read_node(&path).await.unwrap(), None);
    a.delete_node(&path, None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_of_one_rule_node_share_one_read_per_change() {
    let env = env("cc-shared");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let registry = env.registry_at(&proxy.addr(), "").await;
    let cc = registry.config_center().unwrap();
    let path = format!("{}/bench-app.configurators", cc.config_root());
    let raw = env.raw().await;
    mkdirs(&raw, cc.config_root()).await;
    let options = CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    raw.create(&path, b"v0", &options).await.unwrap();
    let rule = "x".repeat(4_000);

    // A thousand directories of one application follow its node: one follower.
    let mut watches: Vec<NodeWatch> = (0..1_000).map(|_| cc.watch_node(&path)).collect();
    for w in &mut watches {
        next_state(w, |s| text(s) == Some("v0")).await;
    }
    let before = proxy.bytes_to_clients();
    raw.set_data(&path, rule.as_bytes(), None).await.unwrap();
    for w in &mut watches {
        next_state(w, |s| text(s) == Some(rule.as_str())).await;
    }
    let bytes = proxy.bytes_to_clients() - before;
    // One event and one read of the 4 kB rule, not a thousand.
    assert!(bytes < 2 * rule.len() as u64, "{bytes} B for one change");

    // Followers that leave do not stop it for the others; the last one out stops it, and a
    // new one starts again.
    let mut last = watches.pop().unwrap();
    drop(watches);
    raw.set_data(&path, b"v2", None).await.unwrap();
    next_state(&mut last, |s| text(s) == Some("v2")).await;
    drop(last);
    let mut again = cc.watch_node(&path);
    next_state(&mut again, |s| text(s) == Some("v2")).await;
    raw.delete(&path, None).await.unwrap();
    next_state(&mut again, |s| *s == NodeState::Absent).await;
}
