//! What zkdubbo records, and (feature `prometheus`) its Prometheus exposition.
//!
//! Every layer records through the [`metrics`](https://docs.rs/metrics) facade: the registry
//! (sessions, notifications, pending writes, cache file), directories (providers by state,
//! refreshes, rules), calls (by service, method, provider and outcome, durations, in flight,
//! retries) and transports (open connections). Nothing is recorded until a recorder is
//! installed — any recorder of the facade works; `serve_prometheus` installs Prometheus' and
//! serves `GET /metrics` on an address of the application's choosing. Install it before
//! building references and services: the handles a reference registers before it stay silent.
//!
//! ```no_run
//! # #[cfg(feature = "prometheus")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let metrics = zkdubbo::metrics::serve_prometheus("127.0.0.1:9464".parse()?).await?;
//! println!("scrape http://{}/metrics", metrics.local_addr());
//! # Ok(()) }
//! ```
//!
//! The names below are the whole list, documented with their labels in the README. Labels are
//! bounded by what the process registers and calls: `registry` (a server list), `service` (a
//! service key), `method`, `provider` (`host:port`), `category`, `state`, `kind`, `outcome`,
//! `reason`, `protocol` — never a URL.

#[cfg(feature = "prometheus")]
mod prometheus;

#[cfg(feature = "prometheus")]
pub use prometheus::{MetricsError, MetricsServer, serve_prometheus};
pub use zkdubbo_cluster::metrics::{CALL_SECONDS, CALLS, FAILBACK_PENDING, IN_FLIGHT, PROVIDER_CALLS, RETRIES};
pub use zkdubbo_common::metrics::CONNECTIONS;
pub use zkdubbo_directory::metrics::{PROVIDERS, REFRESH_SECONDS, RULES, SNAPSHOT_VERSION};
pub use zkdubbo_registry::metrics::{
    CACHE_WRITES, CONNECTED, DISCONNECTS, LAST_NOTIFICATION, NOTIFICATIONS, PENDING, SESSIONS, SESSIONS_ENDED,
    WATCH_MODE,
};
