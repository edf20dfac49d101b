//! Helpers shared by the example binaries.

/// Log to stderr, filtered by `ZKDUBBO_LOG` (default `warn`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZKDUBBO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
}

/// The registry URL for a `--zk` comma list (read by
/// [`registry_address`](zkdubbo::registry::registry_address)), with `file.cache=false` and
/// `session=<ms>` when given.
///
/// # Errors
/// When the list names no server or is not a ZooKeeper address.
pub fn registry_url(zk: &str, session_ms: Option<u64>) -> anyhow::Result<String> {
    let mut url = zkdubbo::registry::registry_address(zk).map_err(|e| anyhow::anyhow!("--zk: {e}"))?;
    url.set_param("file.cache", "false");
    if let Some(ms) = session_ms {
        url.set_param("session", ms.to_string());
    }
    Ok(url.to_string())
}

/// `--metrics-addr`: serve Prometheus metrics (`GET /metrics`) there.
#[derive(clap::Args, Debug)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464).
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl MetricsArgs {
    /// Start the exporter when asked to (before any reference or service is built, so that
    /// they record into it); keep the returned server for as long as scrapes should work.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(&self) -> anyhow::Result<Option<zkdubbo::metrics::MetricsServer>> {
        let Some(addr) = self.metrics_addr else {
            return Ok(None);
        };
        let server = zkdubbo::metrics::serve_prometheus(addr).await?;
        eprintln!("metrics at http://{}/metrics", server.local_addr());
        Ok(Some(server))
    }
}

/// The settings both example providers take (`#[command(flatten)]` them).
#[derive(clap::Args, Debug)]
pub struct ProviderArgs {
    /// ZooKeeper address(es), comma-separated.
    #[arg(long, env = "ZK_ADDR", default_value = "127.0.0.1:2181")]
    pub zk: String,
    /// Host to register (default: DUBBO_IP_TO_REGISTRY, else this host's outbound IP).
    #[arg(long)]
    pub host: Option<String>,
    /// Weight registered for load balancing.
    #[arg(long, default_value_t = 100)]
    pub weight: u32,
    /// ZooKeeper session timeout in ms (how long a killed provider stays listed).
    #[arg(long, default_value_t = 60_000)]
    pub session_timeout_ms: u64,
    /// Warm-up in ms: consumers ramp the weight up over this time after start (Dubbo's
    /// default, 10 minutes; 0 disables it).
    #[arg(long, default_value_t = 600_000)]
    pub warmup_ms: u64,
    /// Where to register: `interface` (`/dubbo/<interface>/providers`), `instance` (Dubbo 3's
    /// application instance `/services/<application>/<ip>:<port>`, its metadata and mapping)
    /// or `all` (both).
    #[arg(long, default_value = "interface")]
    pub register_mode: zkdubbo::app_discovery::RegisterMode,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

impl ProviderArgs {
    /// A service builder for `interface` registered by `application` with these settings.
    ///
    /// # Errors
    /// When `--zk` is not a ZooKeeper address.
    pub fn builder(&self, interface: &str, application: &str) -> anyhow::Result<zkdubbo::ServiceBuilder> {
        self.configure(zkdubbo::ServiceBuilder::new(interface), application)
    }

    /// `service` with these settings, registered by `application`.
    ///
    /// # Errors
    /// When `--zk` is not a ZooKeeper address.
    pub fn configure(
        &self,
        service: zkdubbo::ServiceBuilder,
        application: &str,
    ) -> anyhow::Result<zkdubbo::ServiceBuilder> {
        let mut service = service
            .registry(registry_url(&self.zk, Some(self.session_timeout_ms))?)
            .weight(self.weight)
            .param("warmup", self.warmup_ms.to_string())
            .application(application)
            .register_mode(self.register_mode);
        if let Some(host) = &self.host {
            service = service.host(host);
        }
        Ok(service)
    }
}

/// The code tonic-prost-build generated from `proto/` (clients and servers), as a tonic user
/// has it.
pub mod proto {
    /// `proto/greeter.proto`: the Dubbo samples' Greeter.
    pub mod greeter {
        #![allow(missing_docs, clippy::all, clippy::pedantic)]
        tonic::include_proto!("org.apache.dubbo.samples");
    }

    /// `proto/counter.proto`: a Counter with one method of each kind.
    pub mod counter {
        #![allow(missing_docs, clippy::all, clippy::pedantic)]
        tonic::include_proto!("org.zkdubbo.examples");
    }
}

/// The Counter of `proto/counter.proto`, implemented once for `counter-provider` and the tests.
pub mod counter {
    use std::pin::Pin;

    use futures::{Stream, StreamExt};
    use tonic::{Request, Response, Status, Streaming};

    use crate::proto::counter::counter_server::Counter;
    use crate::proto::counter::{CountReply, CountRequest, Number};

    /// The most numbers one `Count` answers.
    pub const MAX_COUNT: u32 = 10_000;

    /// A boxed stream of replies, as the generated trait wants them.
    pub type Replies<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

    /// The Counter: `Count` answers 0..n (`INVALID_ARGUMENT` past [`MAX_COUNT`]), `Double`
    /// doubles (`OUT_OF_RANGE` on overflow), `Sum` totals, `Running` answers each running total.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Numbers;

    #[tonic::async_trait]
    impl Counter for Numbers {
        type CountStream = Replies<CountReply>;
        type RunningStream = Replies<Number>;

        async fn count(&self, request: Request<CountRequest>) -> Result<Response<Self::CountStream>, Status> {
            let n = request.into_inner().n;
            if n > MAX_COUNT {
                return Err(Status::invalid_argument(format!(
                    "at most {MAX_COUNT} numbers, not {n}"
                )));
            }
            let replies = futures::stream::iter((0..n).map(|i| Ok(CountReply { i })));
            Ok(Response::new(Box::pin(replies)))
        }

        async fn double(&self, request: Request<Number>) -> Result<Response<Number>, Status> {
            let value = request.into_inner().value;
            let doubled = value
                .checked_mul(2)
                .ok_or_else(|| Status::out_of_range(format!("{value} doubled overflows")))?;
            Ok(Response::new(Number { value: doubled }))
        }

        async fn sum(&self, request: Request<Streaming<Number>>) -> Result<Response<Number>, Status> {
            let mut numbers = request.into_inner();
            let mut total = 0i64;
            while let Some(number) = numbers.message().await? {
                total = total.saturating_add(number.value);
            }
            Ok(Response::new(Number { value: total }))
        }

        async fn running(&self, request: Request<Streaming<Number>>) -> Result<Response<Self::RunningStream>, Status> {
            let totals = request.into_inner().scan(0i64, |total, number| {
                let item = number.map(|n| {
                    *total = total.saturating_add(n.value);
                    Number { value: *total }
                });
                futures::future::ready(Some(item))
            });
            Ok(Response::new(Box::pin(totals)))
        }
    }
}
