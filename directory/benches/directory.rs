//! Directory benchmarks: the call path (`list`) and the refresh cost at 10,000 providers,
//! beside a baseline that rebuilds the way Dubbo 2.7's `RegistryDirectory.refreshInvoker`
//! does (merge and re-apply configurators to every URL, key invokers by the full URL string,
//! rebuild the method → invokers map and route every method, on every notification).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use zkdubbo_common::{Invocation, Url, keys};
use zkdubbo_common::{InvokeFuture, Invoker, InvokerFactory, RpcError};
use zkdubbo_directory::Configurators;
use zkdubbo_directory::merge_url;
use zkdubbo_directory::router::tag;
use zkdubbo_directory::{Directory, RegistryDirectory};
use zkdubbo_registry::{Category, ListVersion, Notification, Source};

const IFACE: &str = "com.foo.BarService";

struct Inert(Url);
impl Invoker for Inert {
    fn url(&self) -> &Url {
        &self.0
    }
    fn invoke<'a>(&'a self, _: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(async { Err(RpcError::transport("inert", "")) })
    }
}

struct Factory;
impl InvokerFactory for Factory {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        Ok(Arc::new(Inert(url.clone())))
    }
}

fn provider(i: usize) -> Url {
    format!(
        "dubbo://10.{}.{}.{}:20880/{IFACE}?anyhost=true&application=bar-provider&dubbo=2.0.2&dynamic=true\
         &generic=false&interface={IFACE}&methods=get,put,list&pid={}&release=2.7.23&side=provider\
         &threads=200&timestamp=1700000000000&weight=100",
        i / 65536,
        (i / 256) % 256,
        i % 256,
        4000 + i
    )
    .parse()
    .expect("valid provider URL")
}

fn consumer() -> Url {
    format!("consumer://10.1.0.1/{IFACE}?application=shop&check=false&interface={IFACE}&side=consumer&timeout=3000")
        .parse()
        .expect("valid consumer URL")
}

fn configurator() -> Url {
    format!("override://0.0.0.0/{IFACE}?category=configurators&dynamic=false&enabled=true&retries=1")
        .parse()
        .expect("valid override URL")
}

fn note(category: Category, urls: Vec<Url>, v: i32) -> Notification {
    Notification {
        interface: IFACE.into(),
        category,
        urls: urls.into(),
        version: Some(ListVersion { czxid: 1, cversion: v }),
        source: Source::Live,
    }
}

fn directory() -> RegistryDirectory {
    let dir = RegistryDirectory::builder(consumer(), Arc::new(Factory))
        .build()
        .expect("consumer has an interface");
    dir.notify(&note(Category::Configurators, vec![configurator()], 1));
    dir.notify(&note(Category::Routers, vec![empty(Category::Routers)], 1));
    dir
}

fn empty(c: Category) -> Url {
    format!("empty://10.1.0.1/{IFACE}?category={c}").parse().expect("valid")
}

/// Dubbo 2.7's refresh, ported: every URL merged and configured again, invokers keyed by the
/// full URL string, the method map rebuilt and every method routed (here: the tag router,
/// as in a chain without rules).
struct Dubbo27 {
    consumer: Url,
    configurators: Configurators,
    invokers: HashMap<String, Arc<dyn Invoker>>,
    method_invokers: HashMap<String, Vec<Arc<dyn Invoker>>>,
}

impl Dubbo27 {
    fn new() -> Self {
        Dubbo27 {
            consumer: consumer(),
            configurators: Configurators::parse(&[configurator()]).0,
            invokers: HashMap::new(),
            method_invokers: HashMap::new(),
        }
    }

    fn refresh(&mut self, urls: &[Url]) {
        let mut new_invokers: HashMap<String, Arc<dyn Invoker>> = HashMap::with_capacity(urls.len());
        for u in urls {
            let merged = merge_url(u, self.consumer.params());
            let url = self.configurators.apply(merged, self.consumer.host());
            if url.param_bool(keys::DISABLED, false) || !url.param_bool(keys::ENABLED, true) {
                continue;
            }
            let key = url.to_string();
            let invoker = match self.invokers.get(&key) {
                Some(i) => i.clone(),
                None => match Factory.create(&url) {
                    Ok(i) => i,
                    Err(_) => continue,
                },
            };
            new_invokers.insert(key, invoker);
        }
        let mut by_method: HashMap<String, Vec<Arc<dyn Invoker>>> = HashMap::new();
        let all: Vec<Arc<dyn Invoker>> = new_invokers.values().cloned().collect();
        for inv in &all {
            if let Some(methods) = inv.url().param(keys::METHODS) {
                for m in methods.split(',') {
                    by_method.entry(m.to_owned()).or_default().push(inv.clone());
                }
            }
        }
        by_method.insert("*".to_owned(), all);
        for (_, list) in by_method.iter_mut() {
            let kept = tag::route(list, |i| i.url(), tag::request_tag(&self.consumer, None), false);
            *list = kept.into_iter().map(|i| list[i].clone()).collect();
        }
        self.invokers = new_invokers;
        self.method_invokers = by_method;
    }
}

fn bench_list(c: &mut Criterion) {
    let mut g = c.benchmark_group("directory_list");
    for n in [10usize, 100, 10_000] {
        let dir = directory();
        dir.notify(&note(Category::Providers, (0..n).map(provider).collect(), 1));
        let inv = Invocation::new("get");
        g.bench_function(format!("with_route/{n}"), |b| {
            b.iter(|| {
                dir.with_route(black_box(&inv), |r| r.providers().len())
                    .expect("providers")
            })
        });
        let snap = dir.snapshot();
        g.bench_function(format!("snapshot_with_route_no_arcswap/{n}"), |b| {
            b.iter(|| {
                snap.with_route(black_box(&inv), |r| r.providers().len())
                    .expect("providers")
            })
        });
        g.bench_function(format!("list/{n}"), |b| {
            b.iter(|| {
                let l = dir.list(black_box(&inv)).expect("providers");
                black_box(l.len())
            })
        });
        let lb = zkdubbo_loadbalance::by_name("random").expect("random exists");
        g.bench_function(format!("with_route_select/{n}"), |b| {
            b.iter(|| {
                dir.with_route(black_box(&inv), |r| r.prepared().select(&*lb, &inv).map(Arc::clone))
                    .expect("providers")
            })
        });
        g.bench_function(format!("list_then_select/{n}"), |b| {
            b.iter(|| {
                let l = dir.list(black_box(&inv)).expect("providers");
                l.prepared().select(&*lb, &inv).map(Arc::clone)
            })
        });
        let tagged = Invocation::new("get").with_attachment("dubbo.tag", "gray");
        g.bench_function(format!("list_with_call_tag/{n}"), |b| {
            b.iter(|| black_box(dir.list(black_box(&tagged)).expect("providers").len()))
        });
    }
    g.finish();
}

fn bench_refresh(c: &mut Criterion) {
    const N: usize = 10_000;
    let urls: Vec<Url> = (0..N).map(provider).collect();
    // As the ZooKeeper registry delivers a list with one node more: the URLs of the nodes it
    // had already read are the same (shared) values, only the new node is parsed.
    let plus_one: Vec<Url> = urls.iter().cloned().chain(std::iter::once(provider(N))).collect();
    // Every URL parsed again (equal values, nothing shared): what a registry that re-parses
    // every child would deliver.
    let plus_one_reparsed: Vec<Url> = (0..=N).map(provider).collect();
    let mut g = c.benchmark_group("directory_refresh_10k");
    g.sample_size(20).measurement_time(Duration::from_secs(10));

    g.bench_function("component_prepared_set_one_method", |b| {
        let members: Vec<Url> = urls.clone();
        b.iter(|| zkdubbo_loadbalance::PreparedSet::new(members.clone(), "get"))
    });
    g.bench_function("component_prepared_set_one_method_members", |b| {
        // The directory's members: address, identity and weight inputs cached per member.
        let dir = directory();
        dir.notify(&note(Category::Providers, urls.clone(), 2));
        let members = dir.snapshot().providers().clone();
        b.iter(|| zkdubbo_loadbalance::PreparedSet::new(members.clone(), "get"))
    });
    g.bench_function("component_merge_and_configure_all", |b| {
        let consumer = consumer();
        let configurators = Configurators::parse(&[configurator()]).0;
        b.iter(|| {
            urls.iter()
                .map(|u| configurators.apply(merge_url(u, consumer.params()), consumer.host()))
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("full_rebuild", |b| {
        b.iter_batched(
            directory,
            |dir| {
                dir.notify(&note(Category::Providers, urls.clone(), 2));
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("one_added", |b| {
        let dir = directory();
        dir.notify(&note(Category::Providers, urls.clone(), 2));
        let mut v = 3;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let n = note(Category::Providers, plus_one.clone(), v);
                let start = Instant::now();
                dir.notify(&n);
                total += start.elapsed();
                dir.notify(&note(Category::Providers, urls.clone(), v + 1));
                v += 2;
            }
            total
        })
    });
    g.bench_function("one_added_reparsed", |b| {
        let dir = directory();
        dir.notify(&note(Category::Providers, urls.clone(), 2));
        let mut v = 3;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let n = note(Category::Providers, plus_one_reparsed.clone(), v);
                let start = Instant::now();
                dir.notify(&n);
                total += start.elapsed();
                dir.notify(&note(Category::Providers, urls.clone(), v + 1));
                v += 2;
            }
            total
        })
    });
    g.bench_function("configurator_changed", |b| {
        let dir = directory();
        dir.notify(&note(Category::Providers, urls.clone(), 2));
        let mut v = 2;
        b.iter(|| {
            v += 1;
            let weight = format!(
                "override://0.0.0.0/{IFACE}?category=configurators&weight={}",
                100 + v % 2
            );
            dir.notify(&note(Category::Configurators, vec![weight.parse().expect("valid")], v));
        })
    });

    g.bench_function("dubbo27_baseline_full_rebuild", |b| {
        b.iter_batched(
            Dubbo27::new,
            |mut d| {
                d.refresh(&urls);
                d
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("dubbo27_baseline_one_added", |b| {
        let mut d = Dubbo27::new();
        d.refresh(&urls);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                d.refresh(&plus_one);
                total += start.elapsed();
                d.refresh(&urls);
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench_list, bench_refresh);
criterion_main!(benches);
