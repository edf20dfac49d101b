//! Test helpers: a counting invoker factory and notification builders.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use zkdubbo_common::{Invocation, Url};
use zkdubbo_common::{InvokeFuture, Invoker, InvokerFactory, Response, RpcError};
use zkdubbo_directory::RegistryDirectory;
use zkdubbo_registry::{Category, ListVersion, Notification, Source};

pub(crate) struct TestInvoker {
    url: Url,
    pub available: AtomicBool,
    pub destroyed: AtomicBool,
}

impl Invoker for TestInvoker {
    fn url(&self) -> &Url {
        &self.url
    }
    fn is_available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }
    fn destroy(&self) {
        self.destroyed.store(true, Ordering::Relaxed);
    }
    fn invoke<'a>(&'a self, _inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async { Ok(Response::default()) })
    }
}

#[derive(Default)]
pub(crate) struct CountingFactory {
    pub created: AtomicUsize,
    pub invokers: Mutex<Vec<Arc<TestInvoker>>>,
    /// Hosts for which creation fails.
    pub fail_hosts: Mutex<Vec<String>>,
}

impl CountingFactory {
    pub(crate) fn destroyed(&self) -> usize {
        self.invokers
            .lock()
            .unwrap()
            .iter()
            .filter(|i| i.destroyed.load(Ordering::Relaxed))
            .count()
    }
}

impl InvokerFactory for CountingFactory {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        if self.fail_hosts.lock().unwrap().iter().any(|h| h == url.host()) {
            return Err(RpcError::transport("connection refused", url.address()));
        }
        self.created.fetch_add(1, Ordering::Relaxed);
        let inv = Arc::new(TestInvoker {
            url: url.clone(),
            available: AtomicBool::new(true),
            destroyed: AtomicBool::new(false),
        });
        self.invokers.lock().unwrap().push(inv.clone());
        Ok(inv)
    }
}

pub(crate) fn url(s: &str) -> Url {
    s.parse().unwrap()
}

pub(crate) const IFACE: &str = "com.foo.Bar";

pub(crate) fn note(category: Category, urls: &[Url], v: i32) -> Notification {
    Notification {
        interface: IFACE.into(),
        category,
        urls: if urls.is_empty() {
            vec![url(&format!("empty://10.0.0.1/{IFACE}?category={category}"))].into()
        } else {
            urls.to_vec().into()
        },
        version: Some(ListVersion { czxid: 1, cversion: v }),
        source: Source::Live,
    }
}

pub(crate) fn provider(host: &str, params: &str) -> Url {
    url(&format!(
        "dubbo://{host}:20880/{IFACE}?application=bar&interface={IFACE}&methods=get,put&side=provider{}{params}",
        if params.is_empty() { "" } else { "&" }
    ))
}

pub(crate) fn directory(consumer_params: &str) -> (RegistryDirectory, Arc<CountingFactory>) {
    let factory = Arc::new(CountingFactory::default());
    let consumer = url(&format!(
        "consumer://10.0.0.1/{IFACE}?application=shop&interface={IFACE}&side=consumer{}{consumer_params}",
        if consumer_params.is_empty() { "" } else { "&" }
    ));
    let dir = RegistryDirectory::builder(consumer, factory.clone())
        .registry_name("memory://test")
        .build()
        .unwrap();
    (dir, factory)
}

pub(crate) fn condition(rule: &str, extra: &str) -> Url {
    url(&format!(
        "condition://0.0.0.0/{IFACE}?category=routers&rule={}{extra}",
        zkdubbo_common::encoding::encode(rule)
    ))
}

pub(crate) fn hosts(list: &[Arc<zkdubbo_directory::Member>]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|m| m.url().host().to_owned()).collect();
    v.sort();
    v
}
