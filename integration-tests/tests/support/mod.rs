//! Helpers of the registry tests against a real ZooKeeper (the shared test server, or
//! `ZK_ADDR`). Every test works below its own root (`group=/<unique>`), so tests can share
//! one server and use the exact interface names of Java examples.

#![allow(dead_code, unused_imports)]

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use zkdubbo_common::Url;
use zkdubbo_integration_tests::harness::{shared_server, unique_path};
pub use zkdubbo_integration_tests::log_capture::{capture as logs, text as log_text};
pub use zkdubbo_integration_tests::wait::{hosts, until_sentinel, wait_for, within};
use zkdubbo_registry::Registry;
pub use zkdubbo_registry::ZookeeperRegistry;
use zookeeper_client::{Acls, Client, CreateMode};

/// The example node name of ARCHITECTURE: ZooKeeper layout, exactly as Java Dubbo writes it.
pub const JAVA_NODE: &str = "dubbo%3A%2F%2F10.0.0.5%3A20880%2Fcom.foo.BarService%3Fanyhost%3Dtrue%26application%3Dbar-provider%26dubbo%3D2.0.2%26dynamic%3Dtrue%26generic%3Dfalse%26interface%3Dcom.foo.BarService%26methods%3Dget%2Cput%26pid%3D4242%26release%3D2.7.23%26side%3Dprovider%26timestamp%3D1700000000000";

pub struct Env {
    pub addr: String,
    pub root: String,
}

pub fn env(prefix: &str) -> Env {
    logs();
    Env {
        addr: shared_server().expect("a ZooKeeper server for the tests"),
        root: unique_path(prefix),
    }
}

pub fn url(s: &str) -> Url {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

impl Env {
    pub fn registry_url(&self, addr: &str, extra: &str) -> String {
        format!(
            "zookeeper://{addr}?group={}&session=4000&timeout=3000&file.cache=false{extra}",
            self.root
        )
    }

    pub async fn registry(&self, extra: &str) -> Arc<ZookeeperRegistry> {
        self.registry_at(&self.addr, extra).await
    }

    /// A registry connected through `addr` (a proxy); `extra` parameters override the
    /// defaults (the last of a repeated key wins), e.g. `&session=30000`.
    pub async fn registry_at(&self, addr: &str, extra: &str) -> Arc<ZookeeperRegistry> {
        let reg = ZookeeperRegistry::connect_str(&self.registry_url(addr, extra))
            .await
            .expect("registry connects");
        assert!(reg.is_available());
        reg
    }

    pub async fn raw(&self) -> Client {
        Client::connect(&self.addr).await.expect("raw client connects")
    }

    pub fn path(&self, interface: &str, category: &str) -> String {
        format!("{}/{interface}/{category}", self.root)
    }
}

pub async fn children(raw: &Client, path: &str) -> Vec<String> {
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
pub async fn wait_children(raw: &Client, path: &str, want: usize, d: Duration) -> Duration {
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

pub async fn mkdirs(raw: &Client, path: &str) {
    raw.mkdir(path, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .unwrap_or_else(|e| panic!("mkdir {path}: {e}"));
}

/// One figure of a fault-injection scenario, in the grep-able form `scripts/reliability.sh`
/// collects into RELIABILITY.md.
pub fn figure(scenario: &str, name: &str, value: impl std::fmt::Display) {
    println!("RELIABILITY| {scenario} | {name} | {value}");
}

pub fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

pub async fn create(raw: &Client, path: &str, mode: CreateMode) {
    raw.create(path, &[], &mode.with_acls(Acls::anyone_all()))
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

pub async fn wait_for_path(raw: &Client, path: &str) {
    within("category path re-created", Duration::from_secs(2), async {
        while raw.check_stat(path).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A reference to the Greeter through `registry`, once it lists `providers` providers.
pub async fn greeter_reference(registry: &str, providers: usize) -> zkdubbo::Reference {
    let reference = zkdubbo::Reference::builder()
        .interface(zkdubbo::triple::greeter::INTERFACE)
        .registry(registry)
        .build()
        .await
        .unwrap();
    providers_listed(&reference, providers).await;
    reference
}

/// Wait (up to 10 s) until `reference`'s first directory lists at least `n` providers.
pub async fn providers_listed(reference: &zkdubbo::Reference, n: usize) {
    within(&format!("{n} providers listed"), Duration::from_secs(10), async {
        while reference.directories()[0].snapshot().providers().len() < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
