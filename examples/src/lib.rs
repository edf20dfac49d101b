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

    /// `proto/counter.proto`: a server-streaming Counter.
    pub mod counter {
        #![allow(missing_docs, clippy::all, clippy::pedantic)]
        tonic::include_proto!("org.zkdubbo.examples");
    }
}
