//! The connections to one provider address: opened lazily, re-opened with backoff, shared by
//! every invoker of that address.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Mutex as AsyncMutex;
use zkdubbo_common::monotonic_ms;

use super::connection::{ConnConfig, Connection};

const BACKOFF_MIN_MS: u64 = 100;
const BACKOFF_MAX_MS: u64 = 5_000;

#[derive(Debug, Default)]
struct Slot {
    conn: Option<Arc<Connection>>,
    /// After a failed connect: no new attempt before this (monotonic ms), and why it failed.
    retry_at: u64,
    backoff: u64,
    last_error: Option<String>,
}

/// One provider address.
#[derive(Debug)]
pub(crate) struct Endpoint {
    address: String,
    config: ConnConfig,
    slots: Vec<AsyncMutex<Slot>>,
    next: AtomicUsize,
    /// Lock-free views for `is_available`: the provider said it is shutting down, and no
    /// connection attempt before this time (monotonic ms) after a failure.
    read_only: Arc<AtomicBool>,
    retry_at: AtomicU64,
}

impl Endpoint {
    pub(crate) fn new(address: String, connections: usize, config: ConnConfig) -> Self {
        Endpoint {
            address,
            config,
            slots: (0..connections.max(1))
                .map(|_| AsyncMutex::new(Slot::default()))
                .collect(),
            next: AtomicUsize::new(0),
            read_only: Arc::new(AtomicBool::new(false)),
            retry_at: AtomicU64::new(0),
        }
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    pub(crate) fn is_available(&self) -> bool {
        !self.read_only.load(Ordering::Acquire) && monotonic_ms() >= self.retry_at.load(Ordering::Acquire)
    }

    /// A live connection, connecting if needed; an error while backing off after a failure.
    pub(crate) async fn connection(&self) -> Result<Arc<Connection>, String> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[i].lock().await;
        if let Some(c) = slot.conn.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let now = monotonic_ms();
        if now < slot.retry_at {
            return Err(format!(
                "{} (reconnecting in {} ms)",
                slot.last_error.as_deref().unwrap_or("not connected"),
                slot.retry_at - now
            ));
        }
        self.read_only.store(false, Ordering::Release);
        match Connection::connect(&self.address, self.config, self.read_only.clone()).await {
            Ok(c) => {
                slot.conn = Some(c.clone());
                slot.backoff = 0;
                slot.last_error = None;
                self.retry_at.store(0, Ordering::Release);
                Ok(c)
            }
            Err(e) => {
                slot.conn = None;
                slot.backoff = (slot.backoff * 2).clamp(BACKOFF_MIN_MS, BACKOFF_MAX_MS);
                slot.retry_at = monotonic_ms() + slot.backoff;
                slot.last_error = Some(e.clone());
                self.retry_at.store(slot.retry_at, Ordering::Release);
                Err(e)
            }
        }
    }
}

impl Drop for Endpoint {
    /// The last invoker of this address is gone: close its connections (their reader tasks
    /// would otherwise keep them open).
    fn drop(&mut self) {
        for s in &mut self.slots {
            if let Some(c) = s.get_mut().conn.take() {
                c.close("no provider of this address is in use any more");
            }
        }
    }
}
