//! `grpc.health.v1.Health` for a Triple provider: what a Kubernetes probe, a load balancer or
//! `grpc_health_probe` asks. The provider is SERVING while consumers can find it: NOT_SERVING
//! until it is registered, while a registry it is registered in has been unreachable for longer
//! than its grace (its ZooKeeper session, and with it the provider's node, may be gone), and
//! from the start of a graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use zkdubbo_registry::Registry;

/// The health of one Triple server: the overall status (`""`) and the interface's move
/// together.
pub(crate) struct Health {
    reporter: HealthReporter,
    interface: String,
    watch: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("interface", &self.interface)
            .finish_non_exhaustive()
    }
}

impl Health {
    /// NOT_SERVING, with the service to mount on the server.
    pub(crate) async fn new(
        interface: &str,
    ) -> (
        Health,
        tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    ) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let health = Health {
            reporter,
            interface: interface.to_owned(),
            watch: None,
        };
        health.set(ServingStatus::NotServing).await;
        (health, service)
    }

    async fn set(&self, status: ServingStatus) {
        set(&self.reporter, &self.interface, status).await;
    }

    /// SERVING now, then following `registries`: NOT_SERVING once one has been unreachable
    /// for `grace`, SERVING again when all are back.
    pub(crate) async fn follow(&mut self, registries: Vec<Arc<dyn Registry>>, grace: Duration) {
        self.set(ServingStatus::Serving).await;
        let (reporter, interface) = (self.reporter.clone(), self.interface.clone());
        // A registry answers `is_available` from memory: polling it costs nothing, and a
        // quarter of the grace (at most a second) bounds how late the change is reported.
        let tick = (grace / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        self.watch = Some(tokio::spawn(async move {
            let mut down_since: Option<Instant> = None;
            let mut serving = true;
            let mut ticks = tokio::time::interval(tick);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let down: Vec<String> = registries
                    .iter()
                    .filter(|r| !r.is_available())
                    .map(|r| r.url().address())
                    .collect();
                if down.is_empty() {
                    down_since = None;
                    if !serving {
                        tracing::info!(%interface, "registries reachable again; health SERVING");
                        set(&reporter, &interface, ServingStatus::Serving).await;
                        serving = true;
                    }
                    continue;
                }
                let since = *down_since.get_or_insert_with(Instant::now);
                if serving && since.elapsed() >= grace {
                    tracing::warn!(
                        %interface,
                        registries = ?down,
                        ?grace,
                        "a registry has been unreachable longer than the grace: consumers may no longer find this provider; health NOT_SERVING"
                    );
                    set(&reporter, &interface, ServingStatus::NotServing).await;
                    serving = false;
                }
            }
        }));
    }

    /// NOT_SERVING from now on (a graceful shutdown begins).
    pub(crate) async fn stop(&mut self) {
        if let Some(watch) = self.watch.take() {
            watch.abort();
        }
        self.set(ServingStatus::NotServing).await;
    }
}

impl Drop for Health {
    fn drop(&mut self) {
        if let Some(watch) = self.watch.take() {
            watch.abort();
        }
    }
}

async fn set(reporter: &HealthReporter, interface: &str, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    reporter.set_service_status(interface, status).await;
}
