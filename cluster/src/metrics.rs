//! What calls report through the [`metrics`] facade. Handles are registered once per method
//! and provider and kept, so a call costs a map lookup and a few atomic adds; with no recorder
//! installed they record nothing. Install the recorder (zkdubbo's Prometheus exporter) before
//! building references: handles made before it stay silent.
//!
//! Labels: `service` (the consumer's service key, `group/interface:version`), `method`,
//! `provider` (`host:port`), `outcome` (`ok`, `business`, `timeout`, `transport`,
//! `no_provider`, `codec`) — all bounded by what the process calls; no URL is a label.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use zkdubbo_common::{RpcError, RpcErrorKind};

/// Calls made through a reference, by `service`, `method`, `outcome`.
pub const CALLS: &str = "zkdubbo_calls_total";
/// Duration of calls (all attempts), by `service`, `method`.
pub const CALL_SECONDS: &str = "zkdubbo_call_duration_seconds";
/// Calls in flight, by `service`.
pub const IN_FLIGHT: &str = "zkdubbo_calls_in_flight";
/// Attempts sent to one provider, by `service`, `provider`, `outcome`.
pub const PROVIDER_CALLS: &str = "zkdubbo_provider_calls_total";
/// Attempts after the first (failover and forking), by `service`, `method`.
pub const RETRIES: &str = "zkdubbo_call_retries_total";

/// Failed calls of a `failback` cluster waiting to be retried, by `service`.
pub const FAILBACK_PENDING: &str = "zkdubbo_failback_pending";

/// Counts one failed call in [`FAILBACK_PENDING`] while its retry is pending (dropped when the
/// retry ends or is abandoned).
pub(crate) struct FailbackPending(Gauge);

impl FailbackPending {
    pub(crate) fn new(service: String) -> FailbackPending {
        let gauge = gauge!(FAILBACK_PENDING, "service" => service);
        gauge.increment(1.0);
        FailbackPending(gauge)
    }
}

impl Drop for FailbackPending {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

const OUTCOMES: [&str; 6] = ["ok", "business", "timeout", "transport", "no_provider", "codec"];

fn outcome(result: &Result<impl Sized, RpcError>) -> usize {
    match result {
        Ok(_) => 0,
        Err(e) => match e.kind() {
            RpcErrorKind::Business => 1,
            RpcErrorKind::Timeout => 2,
            RpcErrorKind::NoProvider => 4,
            RpcErrorKind::Codec => 5,
            _ => 3,
        },
    }
}

struct MethodHandles {
    calls: [Counter; 6],
    seconds: Histogram,
    retries: Counter,
}

/// The handles of one reference's calls.
pub(crate) struct CallMetrics {
    service: String,
    in_flight: Gauge,
    methods: RwLock<HashMap<String, Arc<MethodHandles>>>,
    providers: RwLock<HashMap<String, Arc<[Counter; 6]>>>,
}

impl CallMetrics {
    pub(crate) fn new(service: String) -> CallMetrics {
        CallMetrics {
            in_flight: gauge!(IN_FLIGHT, "service" => service.clone()),
            service,
            methods: RwLock::new(HashMap::new()),
            providers: RwLock::new(HashMap::new()),
        }
    }

    fn method(&self, method: &str) -> Arc<MethodHandles> {
        registered(&self.methods, method, || {
            let labels = |outcome: &'static str| {
                [
                    ("service", self.service.clone()),
                    ("method", method.to_owned()),
                    ("outcome", outcome.to_owned()),
                ]
            };
            MethodHandles {
                calls: OUTCOMES.map(|o| counter!(CALLS, &labels(o))),
                seconds: histogram!(CALL_SECONDS, "service" => self.service.clone(), "method" => method.to_owned()),
                retries: counter!(RETRIES, "service" => self.service.clone(), "method" => method.to_owned()),
            }
        })
    }

    /// A call of `method` begins: in flight until the returned guard records its end.
    pub(crate) fn begin(&self, method: &str) -> CallRecord<'_> {
        self.in_flight.increment(1.0);
        CallRecord {
            metrics: self,
            method: self.method(method),
            started: Instant::now(),
            ended: false,
        }
    }

    /// An attempt sent to the provider `identity` (at `address`, `host:port`) ended with
    /// `result`.
    pub(crate) fn attempt<T>(&self, identity: &str, address: impl FnOnce() -> String, result: &Result<T, RpcError>) {
        let counters = registered(&self.providers, identity, || {
            let provider = address();
            let labels = |outcome: &'static str| {
                [
                    ("service", self.service.clone()),
                    ("provider", provider.clone()),
                    ("outcome", outcome.to_owned()),
                ]
            };
            OUTCOMES.map(|o| counter!(PROVIDER_CALLS, &labels(o)))
        });
        counters[outcome(result)].increment(1);
    }

    /// The service key the handles are labelled with (the call spans name it too).
    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    /// One more attempt of a `method` call after its first.
    pub(crate) fn retried(&self, method: &str) {
        self.method(method).retries.increment(1);
    }
}

/// The handles kept under `key` in `map`, registered with `make` the first time (a read lock
/// after that: calls of every thread share the map).
fn registered<T>(map: &RwLock<HashMap<String, Arc<T>>>, key: &str, make: impl FnOnce() -> T) -> Arc<T> {
    if let Some(found) = map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Arc::clone(found);
    }
    let made = Arc::new(make());
    let mut map = map.write().unwrap_or_else(|e| e.into_inner());
    Arc::clone(map.entry(key.to_owned()).or_insert(made))
}

/// A call in flight; dropped without [`CallRecord::end`] (the caller gave up), it counts as a
/// timeout.
pub(crate) struct CallRecord<'a> {
    metrics: &'a CallMetrics,
    method: Arc<MethodHandles>,
    started: Instant,
    ended: bool,
}

impl CallRecord<'_> {
    pub(crate) fn end<T>(mut self, result: &Result<T, RpcError>) {
        self.finish(outcome(result));
    }

    fn finish(&mut self, outcome: usize) {
        self.ended = true;
        self.metrics.in_flight.decrement(1.0);
        self.method.calls[outcome].increment(1);
        self.method.seconds.record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for CallRecord<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.finish(2);
        }
    }
}
