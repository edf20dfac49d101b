//! Outlier ejection: a provider whose calls fail to connect or time out several times in a
//! row is skipped by selection for a while, then tried again with one call (ARCHITECTURE:
//! Outlier ejection).
//!
//! Java Dubbo has none: a frozen provider costs every call that picks it a full timeout, for
//! as long as its ZooKeeper session lives. We eject by default because only failures that say
//! nothing about the request count (a connection that cannot be made, a call with no answer;
//! never a business error), because a lone provider is never skipped (and if every provider is
//! ejected, selection falls back to all of them), and because an ejection is short (1 s,
//! doubling on each failed probe, at most 30 s). `outlier.failures=0` on the consumer turns it
//! off.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use zkdubbo_common::sync::lock;
use zkdubbo_common::{RpcError, Url, monotonic_ms};

/// Consecutive connection failures or timeouts that eject a provider (default 3; 0: never).
pub const OUTLIER_FAILURES_KEY: &str = "outlier.failures";
/// The first ejection, in ms (default 1,000); each failed probe doubles it.
pub const OUTLIER_EJECTION_KEY: &str = "outlier.ejection";
/// The longest ejection, in ms (default 30,000).
pub const OUTLIER_MAX_EJECTION_KEY: &str = "outlier.max-ejection";

#[derive(Debug, Default)]
struct State {
    /// Failures in a row since the last answer.
    consecutive: AtomicU32,
    /// Ejections in a row (0: healthy; more: on probation, one failure ejects again).
    ejections: AtomicU32,
    /// Skipped until this monotonic time (ms).
    until: AtomicU64,
}

/// The outlier state of the providers of one cluster invoker.
#[derive(Debug)]
pub(crate) struct Outliers {
    failures: u32,
    base_ms: u64,
    max_ms: u64,
    states: Mutex<HashMap<Arc<str>, Arc<State>>>,
    /// Providers with a state: while 0, selection never looks anything up.
    tracked: AtomicUsize,
}

impl Outliers {
    pub(crate) fn from_url(url: &Url) -> Self {
        let num = |key: &str, default: u64, min: u64, max: u64| {
            url.param(key)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
                .clamp(min, max)
        };
        let base_ms = num(OUTLIER_EJECTION_KEY, 1_000, 10, 600_000);
        Outliers {
            failures: num(OUTLIER_FAILURES_KEY, 3, 0, 1_000) as u32,
            base_ms,
            max_ms: num(OUTLIER_MAX_EJECTION_KEY, 30_000, base_ms, 3_600_000),
            states: Mutex::default(),
            tracked: AtomicUsize::new(0),
        }
    }

    /// Whether `identity` is being skipped right now.
    pub(crate) fn is_ejected(&self, identity: &str) -> bool {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return false;
        }
        lock(&self.states)
            .get(identity)
            .is_some_and(|s| s.until.load(Ordering::Acquire) > monotonic_ms())
    }

    /// Record the outcome of a call to `identity`; `address` names it in logs (computed only
    /// to log).
    pub(crate) fn record<T>(&self, identity: &str, address: impl Fn() -> String, result: &Result<T, RpcError>) {
        if self.failures == 0 {
            return;
        }
        let counts = matches!(result, Err(RpcError::Transport { .. } | RpcError::Timeout { .. }));
        if !counts {
            // The provider answered (a business error is an answer too).
            if self.tracked.load(Ordering::Acquire) > 0 && lock(&self.states).remove(identity).is_some() {
                self.tracked.fetch_sub(1, Ordering::AcqRel);
                tracing::info!(provider = %address(), "provider answers again; no longer ejected");
            }
            return;
        }
        let state = {
            let mut states = lock(&self.states);
            states
                .entry(Arc::from(identity))
                .or_insert_with(|| {
                    self.tracked.fetch_add(1, Ordering::AcqRel);
                    Arc::new(State::default())
                })
                .clone()
        };
        let consecutive = state.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
        let ejections = state.ejections.load(Ordering::Acquire);
        // On probation (ejected before, no answer since), one failure is enough.
        if consecutive < self.failures && ejections == 0 {
            return;
        }
        let now = monotonic_ms();
        if state.until.load(Ordering::Acquire) > now {
            return; // already ejected (calls that were in flight)
        }
        let ms = self.base_ms.saturating_mul(1u64 << ejections.min(20)).min(self.max_ms);
        state.until.store(now + ms, Ordering::Release);
        state.ejections.store(ejections + 1, Ordering::Release);
        state.consecutive.store(0, Ordering::Release);
        let last = match result {
            Err(e) => e.message(),
            Ok(_) => String::new(),
        };
        tracing::warn!(
            provider = %address(),
            failures = consecutive,
            ejected_ms = ms,
            last_error = %last,
            "provider ejected: calls are not sent to it for a while, then one call probes it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout() -> Result<(), RpcError> {
        Err(RpcError::timeout("no answer within 1000 ms", "x"))
    }

    #[test]
    fn ejects_after_consecutive_failures_only() {
        let o = Outliers::from_url(&"consumer://h/s?outlier.ejection=60000".parse().unwrap());
        o.record("a", || "a".into(), &timeout());
        o.record("a", || "a".into(), &timeout());
        o.record(
            "a",
            || "a".into(),
            &Err::<(), _>(RpcError::business("no such user", "x")),
        );
        o.record("a", || "a".into(), &timeout());
        o.record("a", || "a".into(), &timeout());
        assert!(!o.is_ejected("a"), "an answer in between resets the count");
        o.record("a", || "a".into(), &timeout());
        assert!(o.is_ejected("a"));
        assert!(!o.is_ejected("b"));
        o.record("a", || "a".into(), &Ok(()));
        assert!(!o.is_ejected("a"));
        assert_eq!(o.tracked.load(Ordering::Acquire), 0);
    }

    #[test]
    fn business_errors_never_eject_and_zero_turns_it_off() {
        let o = Outliers::from_url(&"consumer://h/s".parse().unwrap());
        for _ in 0..10 {
            o.record("a", || "a".into(), &Err::<(), _>(RpcError::business("x", "y")));
        }
        assert!(!o.is_ejected("a"));
        let off = Outliers::from_url(&"consumer://h/s?outlier.failures=0".parse().unwrap());
        for _ in 0..10 {
            off.record("a", || "a".into(), &timeout());
        }
        assert!(!off.is_ejected("a"));
    }

    #[test]
    fn a_failed_probe_ejects_again_for_twice_as_long() {
        let o = Outliers::from_url(&"consumer://h/s?outlier.failures=1&outlier.ejection=10".parse().unwrap());
        o.record("a", || "a".into(), &timeout());
        let first = lock(&o.states)["a"].until.load(Ordering::Acquire) - monotonic_ms();
        assert!(first <= 10);
        // The ejection ends; the probe fails.
        lock(&o.states)["a"].until.store(0, Ordering::Release);
        o.record("a", || "a".into(), &timeout());
        let second = lock(&o.states)["a"]
            .until
            .load(Ordering::Acquire)
            .saturating_sub(monotonic_ms());
        assert!(second > 10 && second <= 20, "{second}");
    }
}
