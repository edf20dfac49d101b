//! Lock-free call statistics per provider identity and method (ARCHITECTURE: Call statistics).
//!
//! The cluster layer records every call: [`CallStats::begin`] before sending, then
//! [`CallGuard::end`] with the outcome (dropping the guard without ending it counts as a
//! failure). Load balancers read the numbers through a [`MethodStats`] handle, which they
//! resolve once per provider set and keep, so a pick reads only atomics:
//!
//! - the in-flight count ([`MethodStats::in_flight`]);
//! - the average latency of successful calls over a sliding window, 30 s by default, kept in
//!   buckets ([`MethodStats::window_average`]);
//! - an exponentially weighted moving average of successful latencies
//!   ([`MethodStats::ewma_nanos`]), for power-of-two-choices.
//!
//! The numbers a pick reads ([`HotStats`]: in flight and the window average) sit in 16-byte
//! slots of per-method arrays; [`CallStats::handles`] gives a set of providers adjacent
//! slots, so a strategy that looks at every provider reads one compact array instead of a
//! cache line per provider. (Neighbouring providers then share cache lines on writes: a few
//! more cache-line transfers per call, for scans that are several times faster.) Slots live
//! as long as the process (`&'static`), so readers hold plain references; they are never
//! reused, which costs 16 bytes per provider identity and method ever seen.
//!
//! ```
//! use std::time::Duration;
//! use zkdubbo_common::CallStats;
//!
//! let stats = CallStats::new();
//! let guard = stats.begin("dubbo://10.0.0.5:20880/com.foo.Bar", "get");
//! assert_eq!(stats.handle("dubbo://10.0.0.5:20880/com.foo.Bar", "get").in_flight(), 1);
//! guard.end_with(true, Duration::from_millis(3));
//! let handle = stats.handle("dubbo://10.0.0.5:20880/com.foo.Bar", "get");
//! assert_eq!(handle.in_flight(), 0);
//! assert_eq!(handle.window_average(), Some(Duration::from_millis(3)));
//! ```

use crate::sync::lock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::clock::monotonic_ms;

/// Default length of the sliding latency window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);

/// Number of buckets the window is split into.
pub const WINDOW_BUCKETS: usize = 6;

/// Weight of a new sample in the EWMA, as a right shift (1/8).
const EWMA_SHIFT: u32 = 3;

/// Number of slots in a method's first chunk; each next chunk doubles, up to [`MAX_CHUNK`].
const MIN_CHUNK: usize = 64;
/// Largest chunk allocated for single slots.
const MAX_CHUNK: usize = 4096;

/// What a load balancer reads of one provider and method on every pick: 16 bytes, side by
/// side with the other providers' in a per-method array.
#[derive(Debug, Default)]
#[repr(C, align(16))]
pub struct HotStats {
    in_flight: AtomicI32,
    /// Time slice (truncated) in which `avg_nanos` was computed.
    avg_slice: AtomicU32,
    /// Window average of successful latencies in ns (0 = none).
    avg_nanos: AtomicU64,
}

impl HotStats {
    /// Calls begun and not yet ended.
    #[inline]
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed).max(0) as u64
    }

    /// The average latency of successful calls in the window in ns, 0 when there was none,
    /// given the current slice from [`MethodStats::current_slice`].
    #[inline]
    pub fn window_average_nanos_at(&self, slice: u64) -> u64 {
        let at = self.avg_slice.load(Ordering::Relaxed);
        if (slice as u32).wrapping_sub(at) >= WINDOW_BUCKETS as u32 {
            return 0;
        }
        self.avg_nanos.load(Ordering::Relaxed)
    }
}

/// A new array of `len` slots that lives as long as the process.
fn new_chunk(len: usize) -> &'static [HotStats] {
    Box::leak((0..len).map(|_| HotStats::default()).collect::<Box<[HotStats]>>())
}

/// Where a method's next slots come from.
#[derive(Debug)]
struct Slab {
    chunk: &'static [HotStats],
    next: usize,
}

/// The statistics of one provider, by method.
type ByMethod = DashMap<Box<str>, Arc<MethodStats>>;

/// A registry of [`MethodStats`], keyed by provider identity (`protocol://host:port/path`)
/// and method. Lock-free for readers of an existing entry; entries are created on first use.
#[derive(Debug)]
pub struct CallStats {
    providers: DashMap<Box<str>, Arc<ByMethod>>,
    slabs: Mutex<HashMap<Box<str>, Slab>>,
    window: Duration,
}

impl Default for CallStats {
    fn default() -> Self {
        Self::new()
    }
}

impl CallStats {
    /// An empty registry with the default 30 s window.
    pub fn new() -> Self {
        Self::with_window(DEFAULT_WINDOW)
    }

    /// An empty registry whose latency window is `window` (at least one ms per bucket).
    pub fn with_window(window: Duration) -> Self {
        CallStats {
            providers: DashMap::new(),
            slabs: Mutex::new(HashMap::new()),
            window,
        }
    }

    /// The process-wide registry the cluster layer records into and strategies read by
    /// default.
    pub fn global() -> &'static Arc<CallStats> {
        static GLOBAL: OnceLock<Arc<CallStats>> = OnceLock::new();
        GLOBAL.get_or_init(|| Arc::new(CallStats::new()))
    }

    /// The statistics of `method` on the provider `identity`, created if missing. Does not
    /// allocate when the entry exists.
    pub fn handle(&self, identity: &str, method: &str) -> Arc<MethodStats> {
        if let Some(s) = self.get(identity, method) {
            return s;
        }
        let (chunk, start) = self.reserve(method, 1);
        self.insert(identity, method, chunk, start)
    }

    /// The statistics of `method` on each of `identities`, created if missing; the missing
    /// ones get adjacent [`HotStats`] slots, in order, so that a provider set resolved for
    /// the first time reads one contiguous array.
    pub fn handles<S: AsRef<str>>(&self, identities: &[S], method: &str) -> Vec<Arc<MethodStats>> {
        let existing: Vec<Option<Arc<MethodStats>>> =
            identities.iter().map(|id| self.get(id.as_ref(), method)).collect();
        let missing = existing.iter().filter(|e| e.is_none()).count();
        let (chunk, mut next) = if missing > 0 {
            self.reserve(method, missing)
        } else {
            (&[][..], 0)
        };
        existing
            .into_iter()
            .zip(identities)
            .map(|(e, id)| match e {
                Some(s) => s,
                None => {
                    next += 1;
                    self.insert(id.as_ref(), method, chunk, next - 1)
                }
            })
            .collect()
    }

    /// Reserve `count` adjacent slots for `method`.
    fn reserve(&self, method: &str, count: usize) -> (&'static [HotStats], usize) {
        let mut slabs = lock(&self.slabs);
        let slab = slabs.entry(method.into()).or_insert_with(|| Slab {
            chunk: new_chunk(MIN_CHUNK.max(count)),
            next: 0,
        });
        if slab.next + count > slab.chunk.len() {
            let len = (2 * slab.chunk.len()).min(MAX_CHUNK).max(count);
            *slab = Slab {
                chunk: new_chunk(len),
                next: 0,
            };
        }
        slab.next += count;
        (slab.chunk, slab.next - count)
    }

    fn insert(&self, identity: &str, method: &str, chunk: &'static [HotStats], slot: usize) -> Arc<MethodStats> {
        let methods = match self.providers.get(identity) {
            Some(m) => Arc::clone(m.value()),
            None => Arc::clone(self.providers.entry(identity.into()).or_default().value()),
        };
        Arc::clone(
            methods
                .entry(method.into())
                .or_insert_with(|| Arc::new(MethodStats::in_slot(self.window, chunk, slot)))
                .value(),
        )
    }

    /// The statistics of `method` on `identity`, if any call was recorded or a handle taken.
    pub fn get(&self, identity: &str, method: &str) -> Option<Arc<MethodStats>> {
        let methods = self.providers.get(identity)?;
        methods.get(method).map(|s| Arc::clone(s.value()))
    }

    /// Start a call of `method` on `identity`: counts it in flight until the guard ends.
    pub fn begin(&self, identity: &str, method: &str) -> CallGuard {
        self.handle(identity, method).begin()
    }

    /// Drop entries nobody holds a handle to, with nothing in flight and no call in the last
    /// `idle`. Call it now and then (e.g. when the provider list changes) to bound memory.
    pub fn purge_idle(&self, idle: Duration) {
        let now = monotonic_ms();
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        self.providers.retain(|_, methods| {
            methods.retain(|_, s| {
                Arc::strong_count(s) > 1 || s.in_flight() > 0 || now.saturating_sub(s.last_used_ms()) <= idle_ms
            });
            !methods.is_empty()
        });
    }

    /// Number of provider identities with statistics.
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Whether no statistics are kept.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}

/// One bucket of the sliding window: successful calls and their summed latency during one
/// bucket-length of time.
#[derive(Debug, Default)]
struct Bucket {
    /// Index of the time slice this bucket currently holds (monotonic ms / bucket length).
    slice: AtomicU64,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// Statistics of one method on one provider. All operations are lock-free.
///
/// The window is kept in [`WINDOW_BUCKETS`] buckets; a bucket is cleared when time comes
/// round to it again. The average over the window is recomputed by the writer at the end of
/// each successful call and published in one atomic, so reading it costs two loads. Under
/// concurrent writers crossing a bucket boundary a sample may be lost: an estimate, not an
/// account.
///
/// Slots are never reused: an entry dropped by [`CallStats::purge_idle`]
/// leaves its 16 bytes behind.
#[derive(Debug)]
#[repr(align(128))]
pub struct MethodStats {
    chunk: &'static [HotStats],
    slot: usize,
    ewma_nanos: AtomicU64,
    // Written at the end of calls.
    last_used_ms: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    bucket_ms: u64,
    buckets: [Bucket; WINDOW_BUCKETS],
}

impl MethodStats {
    /// Fresh statistics with the given window length, with a slot of their own.
    pub fn new(window: Duration) -> Self {
        Self::in_slot(window, new_chunk(1), 0)
    }

    fn in_slot(window: Duration, chunk: &'static [HotStats], slot: usize) -> Self {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        assert!(slot < chunk.len(), "slot within its chunk");
        MethodStats {
            chunk,
            slot,
            ewma_nanos: AtomicU64::new(0),
            last_used_ms: AtomicU64::new(monotonic_ms()),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bucket_ms: (window_ms / WINDOW_BUCKETS as u64).max(1),
            buckets: Default::default(),
        }
    }

    /// Start a call: in flight until the returned guard ends or drops.
    pub fn begin(self: &Arc<Self>) -> CallGuard {
        self.hot().in_flight.fetch_add(1, Ordering::Relaxed);
        CallGuard {
            stats: Some(Arc::clone(self)),
            started: Instant::now(),
        }
    }

    /// The numbers a pick reads.
    #[inline]
    pub fn hot(&self) -> &'static HotStats {
        &self.chunk[self.slot]
    }

    /// The array holding [`MethodStats::hot`] and its index there.
    pub fn slot(&self) -> (&'static [HotStats], usize) {
        (self.chunk, self.slot)
    }

    /// Calls begun and not yet ended.
    #[inline]
    pub fn in_flight(&self) -> u64 {
        self.hot().in_flight()
    }

    /// Successful calls recorded in total.
    pub fn succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    /// Failed calls recorded in total.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// When a call last ended (or the entry was created), in [`monotonic_ms`].
    pub fn last_used_ms(&self) -> u64 {
        self.last_used_ms.load(Ordering::Relaxed)
    }

    /// The current time slice for [`MethodStats::window_average_nanos_at`]: read it once per
    /// pick and pass it for every provider.
    #[inline]
    pub fn current_slice(&self) -> u64 {
        monotonic_ms() / self.bucket_ms
    }

    /// The average latency of successful calls in the window, in ns, 0 when there was none,
    /// given the current slice from [`MethodStats::current_slice`].
    #[inline]
    pub fn window_average_nanos_at(&self, slice: u64) -> u64 {
        self.hot().window_average_nanos_at(slice)
    }

    /// The average latency of successful calls in the window, if there were any.
    pub fn window_average(&self) -> Option<Duration> {
        match self.window_average_nanos_at(self.current_slice()) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// Exponentially weighted moving average of successful latencies in ns (new samples
    /// weigh 1/8), 0 before the first.
    #[inline]
    pub fn ewma_nanos(&self) -> u64 {
        self.ewma_nanos.load(Ordering::Relaxed)
    }

    /// Record a finished call that was not begun through [`MethodStats::begin`] (nothing in
    /// flight changes). Tests use it to inject latencies.
    pub fn record(&self, success: bool, latency: Duration) {
        let now = monotonic_ms();
        self.last_used_ms.store(now, Ordering::Relaxed);
        if !success {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.succeeded.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.update_ewma(nanos);
        self.add_to_window(now, nanos);
    }

    fn update_ewma(&self, nanos: u64) {
        let _ = self
            .ewma_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    nanos
                } else {
                    let old = i128::from(old);
                    let next = old + ((i128::from(nanos) - old) >> EWMA_SHIFT);
                    u64::try_from(next).unwrap_or(1).max(1)
                })
            });
    }

    fn add_to_window(&self, now_ms: u64, nanos: u64) {
        let slice = now_ms / self.bucket_ms;
        let bucket = &self.buckets[(slice % WINDOW_BUCKETS as u64) as usize];
        let held = bucket.slice.load(Ordering::Acquire);
        if held != slice
            && bucket
                .slice
                .compare_exchange(held, slice, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            bucket.count.store(0, Ordering::Relaxed);
            bucket.sum_nanos.store(0, Ordering::Relaxed);
        }
        bucket.count.fetch_add(1, Ordering::Relaxed);
        bucket.sum_nanos.fetch_add(nanos, Ordering::Relaxed);

        let (mut count, mut sum) = (0u64, 0u64);
        for b in &self.buckets {
            let s = b.slice.load(Ordering::Acquire);
            if slice.saturating_sub(s) < WINDOW_BUCKETS as u64 {
                count += b.count.load(Ordering::Relaxed);
                sum = sum.saturating_add(b.sum_nanos.load(Ordering::Relaxed));
            }
        }
        let avg = sum.checked_div(count).map_or(0, |a| a.max(1));
        let hot = self.hot();
        hot.avg_nanos.store(avg, Ordering::Relaxed);
        hot.avg_slice.store(slice as u32, Ordering::Relaxed);
    }

    fn end(&self, success: bool, latency: Duration) {
        self.hot().in_flight.fetch_sub(1, Ordering::Relaxed);
        self.record(success, latency);
    }
}

/// A call in flight. End it with [`CallGuard::end`]; dropping it unended records a failure.
#[derive(Debug)]
#[must_use = "a call stays in flight until the guard is ended or dropped"]
pub struct CallGuard {
    stats: Option<Arc<MethodStats>>,
    started: Instant,
}

impl CallGuard {
    /// End the call, measuring its latency from [`CallStats::begin`].
    pub fn end(self, success: bool) {
        let elapsed = self.started.elapsed();
        self.end_with(success, elapsed);
    }

    /// End the call with an explicit latency.
    pub fn end_with(mut self, success: bool, latency: Duration) {
        if let Some(stats) = self.stats.take() {
            stats.end(success, latency);
        }
    }

    /// The statistics this call is recorded in.
    pub fn stats(&self) -> Option<&Arc<MethodStats>> {
        self.stats.as_ref()
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some(stats) = self.stats.take() {
            stats.end(false, self.started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_counts_begin_and_end() {
        let stats = CallStats::new();
        let a = stats.begin("id", "m");
        let b = stats.begin("id", "m");
        let h = stats.handle("id", "m");
        assert_eq!(h.in_flight(), 2);
        a.end(true);
        drop(b);
        assert_eq!(h.in_flight(), 0);
        assert_eq!(h.succeeded(), 1);
        assert_eq!(h.failed(), 1);
    }

    #[test]
    fn window_average_counts_successes_only() {
        let stats = CallStats::new();
        let h = stats.handle("id", "m");
        assert_eq!(h.window_average(), None);
        h.record(true, Duration::from_millis(10));
        h.record(true, Duration::from_millis(20));
        h.record(false, Duration::from_secs(5));
        assert_eq!(h.window_average(), Some(Duration::from_millis(15)));
        // EWMA: first sample, then 1/8 of the way towards the next.
        assert_eq!(h.ewma_nanos(), 10_000_000 + 10_000_000 / 8);
    }

    #[test]
    fn window_forgets_old_samples() {
        let stats = CallStats::with_window(Duration::from_millis(60));
        let h = stats.handle("id", "m");
        h.record(true, Duration::from_millis(10));
        assert!(h.window_average().is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(h.window_average(), None);
        h.record(true, Duration::from_millis(30));
        assert_eq!(h.window_average(), Some(Duration::from_millis(30)));
    }

    #[test]
    fn methods_and_providers_are_separate() {
        let stats = CallStats::new();
        let _g = stats.begin("a", "m");
        assert_eq!(stats.handle("a", "other").in_flight(), 0);
        assert_eq!(stats.handle("b", "m").in_flight(), 0);
        assert!(Arc::ptr_eq(&stats.handle("a", "m"), &stats.handle("a", "m")));
    }

    #[test]
    fn purge_keeps_held_and_busy_entries() {
        let stats = CallStats::new();
        let held = stats.handle("held", "m");
        let busy = stats.begin("busy", "m");
        stats.handle("idle", "m");
        stats.purge_idle(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        stats.purge_idle(Duration::ZERO);
        assert!(stats.get("held", "m").is_some());
        assert!(stats.get("busy", "m").is_some());
        assert!(stats.get("idle", "m").is_none());
        drop((held, busy));
    }

    #[test]
    fn handles_are_adjacent_and_shared() {
        let stats = CallStats::new();
        let early = stats.handle("b", "m");
        let hs = stats.handles(&["a", "b", "c", "d"], "m");
        assert!(Arc::ptr_eq(&hs[1], &early));
        let (chunk, a) = hs[0].slot();
        for (k, h) in [&hs[2], &hs[3]].into_iter().enumerate() {
            let (c, s) = h.slot();
            assert!(std::ptr::eq(c, chunk));
            assert_eq!(s, a + 1 + k);
        }
        let _g = hs[2].begin();
        assert_eq!(chunk[a + 1].in_flight(), 1);
        assert_eq!(stats.handle("c", "m").in_flight(), 1);
    }

    #[test]
    fn concurrent_calls_balance_out() {
        let stats = Arc::new(CallStats::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let stats = Arc::clone(&stats);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        stats.begin("id", "m").end_with(true, Duration::from_micros(5));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let h = stats.handle("id", "m");
        assert_eq!(h.in_flight(), 0);
        assert_eq!(h.succeeded(), 4000);
        assert_eq!(h.window_average(), Some(Duration::from_micros(5)));
    }
}
