//! Fake providers that fail on demand, and directories over them.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zkdubbo_cluster::by_name;
use zkdubbo_common::InvokeFuture;
use zkdubbo_common::{Invocation, Invoker, InvokerFactory, Response, RpcError, Url};
use zkdubbo_directory::RegistryDirectory;
use zkdubbo_registry::{Category, ListVersion, Notification, Source};

/// What a fake provider does on one call.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Answer with this payload.
    Ok(&'static str),
    /// Answer with this payload after a delay.
    Slow(&'static str, Duration),
    /// Fail with a transport error.
    Transport,
    /// Fail with a transport error after a delay.
    SlowTransport(Duration),
    /// Fail with a timeout.
    Timeout,
    /// Fail with a business error.
    Business,
    /// Never answer.
    Hang,
}

/// The shared state of one fake provider (by address).
#[derive(Debug)]
pub(crate) struct FakeState {
    pub address: String,
    /// Outcomes for the next calls, then `default` forever.
    pub script: Mutex<VecDeque<Outcome>>,
    pub default: Mutex<Outcome>,
    pub calls: AtomicUsize,
    pub cancelled: AtomicUsize,
    pub available: AtomicBool,
    /// Every call of every fake of a [`Fakes`], in order: addresses.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl FakeState {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn set_available(&self, on: bool) {
        self.available.store(on, Ordering::SeqCst);
    }

    pub(crate) fn then(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.script.lock().unwrap().extend(outcomes);
    }
}

/// A set of fake providers and the factory that hands them out.
#[derive(Clone, Default)]
pub(crate) struct Fakes {
    pub by_address: Arc<Mutex<HashMap<String, Arc<FakeState>>>>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Fakes {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Add a fake at `address` doing `default` on every call.
    pub(crate) fn add(&self, address: &str, default: Outcome) -> Arc<FakeState> {
        let state = Arc::new(FakeState {
            address: address.to_owned(),
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(default),
            calls: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            available: AtomicBool::new(true),
            log: self.log.clone(),
        });
        self.by_address
            .lock()
            .unwrap()
            .insert(address.to_owned(), state.clone());
        state
    }

    pub(crate) fn get(&self, address: &str) -> Arc<FakeState> {
        self.by_address.lock().unwrap()[address].clone()
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn total_calls(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// A fake invoker for `url` (whose address must have been added).
    pub(crate) fn invoker(&self, url: &Url) -> Arc<dyn Invoker> {
        let state = self.get(&url.address());
        Arc::new(FakeInvoker {
            url: url.clone(),
            state,
        })
    }
}

impl InvokerFactory for Fakes {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        match self.by_address.lock().unwrap().get(&url.address()) {
            Some(state) => Ok(Arc::new(FakeInvoker {
                url: url.clone(),
                state: state.clone(),
            })),
            None => Err(RpcError::transport("no such fake", url.address())),
        }
    }
}

pub(crate) struct FakeInvoker {
    url: Url,
    pub state: Arc<FakeState>,
}

struct CancelGuard {
    state: Arc<FakeState>,
    done: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.done {
            self.state.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Invoker for FakeInvoker {
    fn url(&self) -> &Url {
        &self.url
    }

    fn is_available(&self) -> bool {
        self.state.available.load(Ordering::SeqCst)
    }

    fn invoke<'a>(&'a self, _inv: &'a Invocation) -> InvokeFuture<'a> {
        let state = self.state.clone();
        state.calls.fetch_add(1, Ordering::SeqCst);
        state.log.lock().unwrap().push(state.address.clone());
        let outcome = state
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| state.default.lock().unwrap().clone());
        let ctx = format!("provider {}", state.address);
        Box::pin(async move {
            let mut guard = CancelGuard { state, done: false };
            let r = match outcome {
                Outcome::Ok(p) => Ok(Response::new(p)),
                Outcome::Slow(p, d) => {
                    tokio::time::sleep(d).await;
                    Ok(Response::new(p))
                }
                Outcome::Transport => Err(RpcError::transport("connection refused", ctx)),
                Outcome::SlowTransport(d) => {
                    tokio::time::sleep(d).await;
                    Err(RpcError::transport("connection reset", ctx))
                }
                Outcome::Timeout => Err(RpcError::timeout("no answer within 1000 ms", ctx)),
                Outcome::Business => Err(RpcError::business("INVALID_ARGUMENT: bad name", ctx)),
                Outcome::Hang => std::future::pending().await,
            };
            guard.done = true;
            r
        })
    }
}

static VERSION: AtomicU64 = AtomicU64::new(1);
static SERVICE: AtomicU64 = AtomicU64::new(1);

/// A service name no other test uses (the global call statistics are keyed by it).
pub(crate) fn unique_service() -> String {
    format!("com.example.Svc{}", SERVICE.fetch_add(1, Ordering::Relaxed))
}

/// Provider URLs `tri://10.0.0.<i>:50051/<service>?methods=sayHello` for the given addresses.
pub(crate) fn provider(service: &str, address: &str, extra: &str) -> Url {
    format!("tri://{address}/{service}?interface={service}&methods=sayHello&side=provider{extra}")
        .parse()
        .unwrap()
}

/// A registry directory for `consumer_params` fed with providers at `addresses`.
pub(crate) fn directory(
    fakes: &Fakes,
    service: &str,
    consumer_params: &str,
    addresses: &[&str],
) -> Arc<RegistryDirectory> {
    let consumer: Url = format!("consumer://10.0.0.1/{service}?interface={service}{consumer_params}")
        .parse()
        .unwrap();
    let dir = RegistryDirectory::builder(consumer, Arc::new(fakes.clone()))
        .build()
        .unwrap();
    let dir = Arc::new(dir);
    set_providers(
        &dir,
        service,
        addresses.iter().map(|a| provider(service, a, "")).collect(),
    );
    dir
}

/// Replace the directory's provider list.
pub(crate) fn set_providers(dir: &RegistryDirectory, service: &str, urls: Vec<Url>) {
    dir.notify(&Notification {
        interface: service.into(),
        category: Category::Providers,
        urls: urls.into(),
        version: Some(ListVersion {
            czxid: 1,
            cversion: i32::try_from(VERSION.fetch_add(1, Ordering::Relaxed)).unwrap(),
        }),
        source: Source::Live,
    });
}

pub(crate) fn say_hello() -> Invocation {
    Invocation::new("sayHello").with_argument("world")
}

/// `name` strategy over `dir`.
pub(crate) fn join(name: &str, dir: Arc<RegistryDirectory>) -> Arc<dyn Invoker> {
    by_name(name).unwrap().join(dir)
}
