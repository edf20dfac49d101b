//! Retry until success: own registrations and unregistrations that could not be written are
//! retried with capped exponential backoff (cap `retry.period`), and every
//! `registry.check.period` own ephemeral nodes are checked and re-created when missing.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use zkdubbo_common::Url;

use super::state::{Inner, lock};
use crate::error::RegistryError;

/// First delay of a retried operation.
const RETRY_INITIAL: Duration = Duration::from_millis(100);

/// Capped exponential backoff with jitter (backon's exponential backoff): each delay is drawn
/// between half and all of the nominal one (which doubles from `initial` up to `cap`), so that
/// clients that failed together (a thousand consumers of one ZooKeeper outage) do not retry in
/// lockstep, and no delay exceeds `cap`.
#[derive(Debug)]
pub(crate) struct Backoff {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
    cap: Duration,
    fresh: bool,
}

impl Backoff {
    pub(super) fn new(initial: Duration, cap: Duration) -> Backoff {
        Self::with_builder(initial, cap, |b| b)
    }

    fn with_builder(
        initial: Duration,
        cap: Duration,
        f: impl FnOnce(ExponentialBuilder) -> ExponentialBuilder,
    ) -> Backoff {
        let initial = initial.min(cap);
        // backon adds up to 100 % of the delay as jitter: nominal delays halved, so the drawn
        // ones fall between half and all of `initial * 2^n`, capped at `cap`.
        let builder = f(ExponentialBuilder::default()
            .with_min_delay(initial / 2)
            .with_max_delay(cap / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times());
        Backoff {
            delays: builder.build(),
            builder,
            cap,
            fresh: true,
        }
    }

    /// For retried operations: from 100 ms up to `retry.period`.
    pub(super) fn for_retries(retry_period: Duration) -> Backoff {
        Backoff::new(RETRY_INITIAL, retry_period)
    }

    /// The delay before the next attempt: nominally doubling every call up to the cap.
    pub(super) fn next_delay(&mut self) -> Duration {
        self.fresh = false;
        self.delays.next().unwrap_or(self.cap).min(self.cap)
    }

    /// Whether no delay was taken since the start or the last reset: the first failure of a
    /// streak.
    pub(super) fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Back to the initial delay (after a success).
    pub(super) fn reset(&mut self) {
        self.delays = self.builder.build();
        self.fresh = true;
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn delays_double_within_their_jitter_and_never_exceed_the_cap() {
        let mut b = Backoff::with_builder(Duration::from_millis(100), Duration::from_secs(2), |b| {
            b.with_jitter_seed(7)
        });
        assert!(b.is_fresh());
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(!b.is_fresh());
        for (i, d) in delays.iter().enumerate() {
            let nominal = (Duration::from_millis(100) * 2u32.pow(i as u32)).min(Duration::from_secs(2));
            assert!(
                *d >= nominal / 2 && *d <= nominal,
                "delay {i}: {d:?} for nominal {nominal:?}"
            );
        }
        b.reset();
        assert!(b.is_fresh());
        assert!(b.next_delay() <= Duration::from_millis(100));
        // A cap below the initial delay wins.
        let mut b = Backoff::for_retries(Duration::from_millis(50));
        assert!((0..10).all(|_| b.next_delay() <= Duration::from_millis(50)));
    }

    #[test]
    fn clients_failing_together_spread_their_retries() {
        // Without a seed each backoff draws its own jitter: 100 clients' first retries differ.
        let firsts: std::collections::BTreeSet<Duration> = (0..100)
            .map(|_| Backoff::new(Duration::from_millis(100), Duration::from_secs(2)).next_delay())
            .collect();
        assert!(firsts.len() > 50, "only {} distinct first delays of 100", firsts.len());
    }
}

/// An operation the registry has not been able to carry out yet and keeps retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingOperation {
    /// An own registration not (or no longer) present in the current session.
    Register(Url),
    /// An unregistration that failed.
    Unregister(Url),
    /// An own node with data ([`register_node`](super::ZookeeperRegistry::register_node)) not
    /// (or no longer) present in the current session: its path.
    WriteNode(String),
    /// A removal of an own node with data that failed: its path.
    DeleteNode(String),
    /// A subscribed category path that could not be read (and watched) yet.
    Subscribe {
        /// The subscriber.
        consumer: Url,
        /// The category path.
        path: String,
    },
}

impl Inner {
    /// Everything still to be done, registrations first.
    pub(crate) fn pending_operations(&self) -> Vec<PendingOperation> {
        let mut out = Vec::new();
        {
            let session = self.conn().map(|c| c.session_id());
            let own = lock(&self.own);
            let mut regs: Vec<_> = own.entries.values().filter(|e| !e.is_written(session)).collect();
            regs.sort_by(|a, b| a.leaf.cmp(&b.leaf));
            out.extend(regs.into_iter().map(|e| match &e.url {
                Some(url) => PendingOperation::Register(url.clone()),
                None => PendingOperation::WriteNode(e.leaf.clone()),
            }));
            let mut dels: Vec<_> = own.deletes.iter().collect();
            dels.sort_by(|a, b| a.0.cmp(b.0));
            out.extend(dels.into_iter().map(|(path, u)| match u {
                Some(url) => PendingOperation::Unregister(url.clone()),
                None => PendingOperation::DeleteNode(path.clone()),
            }));
        }
        let mut subs: Vec<_> = lock(&self.failing_watches)
            .iter()
            .map(|((_, path), consumer)| PendingOperation::Subscribe {
                consumer: consumer.clone(),
                path: path.clone(),
            })
            .collect();
        subs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        out.extend(subs);
        out
    }

    /// Try every pending registration and unregistration once, in the current session.
    /// Returns the first transient error (the rest waits for the next attempt).
    async fn retry_pending(&self) -> Result<(), RegistryError> {
        let conn = self.connected()?;
        let _writing = self.write_locks.all().await;
        let (regs, dels) = {
            let own = lock(&self.own);
            let session = Some(conn.session_id());
            let regs: Vec<_> = own
                .entries
                .values()
                .filter(|e| !e.is_written(session))
                .cloned()
                .collect();
            let dels: Vec<_> = own.deletes.iter().map(|(p, u)| (p.clone(), u.clone())).collect();
            (regs, dels)
        };
        let mut first_error = None;
        for (path, url) in dels {
            match self.delete_node(&conn, &path).await {
                Ok(()) => {
                    lock(&self.own).deletes.remove(&path);
                    tracing::info!(%path, url = ?url.as_ref().map(Url::to_string), "pending unregistration done");
                }
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    tracing::warn!(%path, error = %e, "unregistration failed; will retry");
                    first_error.get_or_insert(e);
                }
            }
        }
        for entry in regs {
            match self.write_node(&conn, &entry).await {
                Ok(()) => {
                    if let Some(e) = lock(&self.own).entries.get_mut(&entry.leaf) {
                        e.written_in = Some(conn.session_id());
                    }
                    tracing::info!(node = %entry, session = format_args!("{:#x}", conn.session_id()), "registration (re-)created");
                }
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    tracing::warn!(node = %entry, error = %e, "registration failed; will retry");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    fn has_pending_writes(&self) -> bool {
        let session = self.conn().map(|c| c.session_id());
        let own = lock(&self.own);
        !own.deletes.is_empty() || own.entries.values().any(|e| !e.is_written(session))
    }

    /// Check that every own ephemeral node believed written still exists; mark missing ones
    /// for re-creation.
    async fn self_check(&self) -> Result<usize, RegistryError> {
        let conn = self.connected()?;
        let written: Vec<String> = lock(&self.own)
            .entries
            .values()
            .filter(|e| e.ephemeral && e.is_written(Some(conn.session_id())))
            .map(|e| e.leaf.clone())
            .collect();
        if written.is_empty() {
            return Ok(0);
        }
        // Pipelined: every request is sent before the first answer is awaited.
        let calls: Vec<_> = written.iter().map(|p| conn.client.check_stat(p)).collect();
        let missing: Vec<String> = super::state::timed("stat", self.layout.root(), self.config.timeout, async {
            let mut missing = Vec::new();
            for (path, call) in written.iter().zip(calls) {
                if call.await?.is_none() {
                    missing.push(path.clone());
                }
            }
            Ok(missing)
        })
        .await?;
        let mut own = lock(&self.own);
        for path in &missing {
            if let Some(e) = own.entries.get_mut(path) {
                tracing::warn!(node = %e, "own registration vanished from ZooKeeper; re-creating it");
                e.written_in = None;
            }
        }
        Ok(missing.len())
    }
}

/// The retry task: wakes on demand (a failed write, a new session) and on its backoff timer,
/// and runs the self-check every `registry.check.period`.
pub(crate) async fn retry_loop(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut backoff = Backoff::for_retries(inner.config.retry_period);
    let mut check = tokio::time::interval(inner.config.check_period);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check.reset();
    let mut failing = false;
    loop {
        let wait = if failing {
            backoff.next_delay()
        } else {
            Duration::from_secs(3600)
        };
        let checking = tokio::select! {
            _ = inner.wake_retry.notified() => false,
            _ = tokio::time::sleep(wait) => false,
            _ = check.tick() => true,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if checking {
            match inner.self_check().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(missing = n, "self-check found own registrations missing"),
                Err(e) => tracing::debug!(error = %e, "self-check skipped"),
            }
        }
        if inner.is_shut_down() {
            return;
        }
        if !inner.has_pending_writes() {
            failing = false;
            backoff.reset();
            continue;
        }
        let retried = inner.retry_pending().await;
        crate::metrics::pending(&inner.metrics_label(), inner.pending_operations().len());
        match retried {
            Ok(()) => {
                failing = false;
                backoff.reset();
            }
            Err(e) => {
                failing = true;
                let pending = inner.pending_operations().len();
                tracing::warn!(error = %e, pending, "pending registry operations; retrying with backoff");
            }
        }
    }
}
