//! The cluster's call path for one attempt: list the routed providers from a directory and
//! pick one with the route's load balancer (`ClusterBase::pick`, what every strategy does
//! before it calls). Providers as Java Dubbo 2.7 registers them; inert invokers.
//!
//! `cargo bench -p zkdubbo-cluster --bench pick`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use zkdubbo_cluster::ClusterBase;
use zkdubbo_common::{Invocation, InvokeFuture, Invoker, InvokerFactory, RpcError, Url};
use zkdubbo_directory::RegistryDirectory;
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

fn base(n: usize, loadbalance: &str) -> ClusterBase {
    let consumer: Url = format!(
        "consumer://10.1.0.1/{IFACE}?application=shop&check=false&interface={IFACE}&side=consumer\
         &loadbalance={loadbalance}"
    )
    .parse()
    .expect("valid consumer URL");
    let dir = RegistryDirectory::builder(consumer, Arc::new(Factory))
        .build()
        .expect("directory");
    for (v, category) in [Category::Providers, Category::Configurators, Category::Routers]
        .into_iter()
        .enumerate()
    {
        let urls: Vec<Url> = if category == Category::Providers {
            (0..n).map(provider).collect()
        } else {
            Vec::new()
        };
        dir.notify(&Notification {
            interface: IFACE.into(),
            category,
            urls: urls.into(),
            version: Some(ListVersion {
                czxid: 1,
                cversion: v as i32 + 1,
            }),
            source: Source::Live,
        });
    }
    ClusterBase::new("failover", Arc::new(dir))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("cluster_pick");
    for lb in ["random", "roundrobin"] {
        for n in [10, 100, 10_000] {
            let base = base(n, lb);
            let inv = Invocation::new("get");
            assert!(base.pick(&inv).is_ok());
            g.bench_function(format!("{lb}/{n}"), |b| {
                b.iter(|| black_box(base.pick(&inv).map(|(_, i)| i)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
