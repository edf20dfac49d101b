//! `roundrobin`: Dubbo's smooth weighted round robin, with its exact pick sequence, in
//! amortized O(1) per pick.
//!
//! Dubbo keeps, per service + method, a `current` value per provider identity; each pick
//! adds every provider's weight to its current, takes the largest (the first on ties) and
//! subtracts the total weight from the winner. A weight change resets that provider's
//! current to 0; an identity not picked from for more than 60 s is forgotten (checked at a
//! pick from a list whose size differs from the state's). The period is
//! [`RECYCLE_PERIOD_MS`] unless set with [`RoundRobinLoadBalance::with_recycle_period`].
//!
//! Here that state lives in [`RoundRobinLoadBalance`]: per service key + method, a slot per
//! identity, shared by every set of that service and method (so subsets picked alternately,
//! e.g. per tag, share the currents exactly as in Dubbo). A set resolves its slots once. Picks
//! run Dubbo's scan over them under a mutex while recording the winners. The state is a
//! deterministic function of itself, and over `sum(weights) / gcd(weights)` picks (the
//! period) each provider wins its weight's share, so once the state after one period equals
//! the state before it, the recorded winners repeat forever: from then on a pick from that
//! set is one atomic increment and an array read, lock-free. From a fresh state (all
//! currents 0) the first period always closes. When another set (or new weights) picks, the
//! current values are rebuilt from the cycle position (O(n + period), once) and the scan
//! resumes. Periods longer than [`MAX_CYCLE`] picks stay on the scan. A replayed pick does
//! not touch the slots' times: when the replay ends, its providers count as picked at that
//! moment, and the identities idle past the recycle period are forgotten then (Dubbo would
//! have forgotten them at one of the replayed picks).
//!
//! Under concurrent picks the sequence is shared, as in Dubbo, and no exact order is
//! promised; a pick racing with a switch of sets may be left out of the rebuilt state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use dashmap::DashMap;
use rand::Rng;
use zkdubbo_common::Invocation;
use zkdubbo_common::monotonic_ms;
use zkdubbo_common::sync::lock;

use crate::balance::{StrategyState, impl_load_balance};
use crate::prepared::SetView;
use crate::table::WeightTable;

/// A provider absent this long (ms) loses its round-robin state (Dubbo's `RECYCLE_PERIOD`);
/// the default of [`RoundRobinLoadBalance::with_recycle_period`].
pub const RECYCLE_PERIOD_MS: u64 = 60_000;

/// The longest period (in picks) that is recorded and replayed; longer ones use the scan.
pub(crate) const MAX_CYCLE: usize = 1 << 20;

static LB_IDS: AtomicU64 = AtomicU64::new(1);

/// Smooth weighted round robin with Dubbo's exact sequence: weights 5, 1, 1 give
/// A A B A C A A; 3, 2, 1 give A B A C B A.
///
/// ```
/// use zkdubbo_common::{Invocation, Url};
/// use zkdubbo_loadbalance::{LoadBalance, PreparedSet, RoundRobinLoadBalance};
///
/// let urls: Vec<Url> = [("a", 5), ("b", 1), ("c", 1)]
///     .iter()
///     .map(|(h, w)| format!("dubbo://{h}:1/S?weight={w}").parse().unwrap())
///     .collect();
/// let set = PreparedSet::new(urls, "m");
/// let lb = RoundRobinLoadBalance::new();
/// let inv = Invocation::new("m");
/// let picks: String = (0..7).map(|_| set.providers()[lb.select(&set, &inv).unwrap()].host()).collect();
/// assert_eq!(picks, "aabacaa");
/// ```
#[derive(Debug)]
pub struct RoundRobinLoadBalance {
    id: u64,
    states: DashMap<Box<str>, Arc<MethodState>>,
    /// Idle time (ms) after which an identity's state is forgotten.
    recycle_ms: u64,
}

impl Default for RoundRobinLoadBalance {
    fn default() -> Self {
        Self::new()
    }
}

/// A set's link to its round-robin state and slots, so a pick needs no map lookup: the
/// strategy's state of the set, prepared when the set is built for round robin.
#[derive(Debug)]
pub(crate) struct RrBinding {
    lb: u64,
    state: Arc<MethodState>,
    /// The set's slots, resolved under the state's lock.
    slots: Mutex<Resolved>,
}

/// A set's slots, valid while the state's generation is unchanged.
#[derive(Debug, Default)]
struct Resolved {
    generation: u64,
    slots: Box<[Arc<Slot>]>,
}

/// Dubbo's `WeightedRoundRobin`: the state of one provider identity.
#[derive(Debug)]
struct Slot {
    weight: AtomicI64,
    current: AtomicI64,
    last_update_ms: AtomicU64,
}

/// Round-robin state of one service + method.
#[derive(Debug)]
struct MethodState {
    cycle: ArcSwapOption<Cycle>,
    inner: Mutex<Inner>,
    /// Idle time (ms) after which an identity's slot is forgotten.
    recycle_ms: u64,
}

/// The shared state under the mutex.
#[derive(Debug, Default)]
struct Inner {
    slots: HashMap<Box<str>, Arc<Slot>>,
    /// Bumped whenever slots are forgotten, so sets re-resolve theirs.
    generation: u64,
    last_recycle_ms: u64,
    rec: Recorder,
}

/// The winners of the current period of scans from one weight table.
#[derive(Debug, Default)]
struct Recorder {
    /// Epoch of the weight table being recorded (0: none).
    epoch: u64,
    period: usize,
    start: Vec<i64>,
    seq: Vec<u32>,
}

/// A recorded period of picks, valid for the weight table `owner`. While installed, its
/// slots hold the currents of position 0.
#[derive(Debug)]
struct Cycle {
    owner: u64,
    seq: Box<[u32]>,
    pos: AtomicU64,
    slots: Box<[Arc<Slot>]>,
    weights: Box<[i64]>,
    total: i64,
}

impl Cycle {
    #[inline]
    fn next(&self) -> usize {
        let p = self.pos.fetch_add(1, Ordering::Relaxed);
        self.seq[(p % self.seq.len() as u64) as usize] as usize
    }

    /// Write the currents the cycle has reached into its slots.
    fn materialize(&self, now_ms: u64) {
        let p = (self.pos.load(Ordering::Relaxed) % self.seq.len() as u64) as usize;
        for (slot, &w) in self.slots.iter().zip(self.weights.iter()) {
            slot.current.fetch_add(p as i64 * w, Ordering::Relaxed);
            slot.last_update_ms.store(now_ms, Ordering::Relaxed);
        }
        for &k in &self.seq[..p] {
            self.slots[k as usize].current.fetch_sub(self.total, Ordering::Relaxed);
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Picks in one period of SWRR over `weights`, or 0 when longer than [`MAX_CYCLE`].
fn period(weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let g = weights.iter().fold(0u64, |g, &w| gcd(g, u64::from(w)));
    let period = total
        .checked_div(g)
        .map_or(1, |p| usize::try_from(p).unwrap_or(usize::MAX));
    if period <= MAX_CYCLE { period } else { 0 }
}

impl MethodState {
    fn new(recycle_ms: u64) -> MethodState {
        MethodState {
            cycle: ArcSwapOption::empty(),
            inner: Mutex::default(),
            recycle_ms,
        }
    }

    /// Dubbo forgets identities idle for the recycle period when the list and the map differ
    /// in size; checked here at most once a second (or once a period, when shorter).
    fn recycle(&self, inner: &mut Inner, listed: usize, now: u64) {
        if listed != inner.slots.len() && now.saturating_sub(inner.last_recycle_ms) >= self.recycle_ms.min(1000) {
            inner.last_recycle_ms = now;
            let before = inner.slots.len();
            inner
                .slots
                .retain(|_, s| now.saturating_sub(s.last_update_ms.load(Ordering::Relaxed)) <= self.recycle_ms);
            if inner.slots.len() != before {
                inner.generation += 1;
            }
        }
    }

    #[inline]
    fn pick(&self, binding: &RrBinding, set: &SetView, table: &WeightTable) -> usize {
        if let Some(c) = self.cycle.load().as_deref()
            && c.owner == table.epoch()
        {
            return c.next();
        }
        self.pick_slow(binding, set, table)
    }

    #[cold]
    fn pick_slow(&self, binding: &RrBinding, set: &SetView, table: &WeightTable) -> usize {
        let epoch = table.epoch();
        let mut guard = lock(&self.inner);
        let inner = &mut *guard;
        let now = monotonic_ms();
        match self.cycle.load_full() {
            Some(c) if c.owner == epoch => return c.next(),
            Some(c) => {
                self.cycle.store(None);
                c.materialize(now);
                // The replayed picks were from the cycle's list: recycle as they would have.
                self.recycle(inner, c.slots.len(), now);
            }
            None => {}
        }
        let mut resolved = lock(&binding.slots);
        if resolved.generation != inner.generation || resolved.slots.len() != set.len() {
            resolved.slots = set
                .identities()
                .iter()
                .zip(table.weights())
                .map(|(id, &w)| {
                    Arc::clone(inner.slots.entry(Box::from(&**id)).or_insert_with(|| {
                        Arc::new(Slot {
                            weight: AtomicI64::new(i64::from(w)),
                            current: AtomicI64::new(0),
                            last_update_ms: AtomicU64::new(now),
                        })
                    }))
                })
                .collect();
            resolved.generation = inner.generation;
        }
        let slots = &resolved.slots;
        let rec = &mut inner.rec;
        if rec.epoch != epoch {
            rec.epoch = epoch;
            rec.period = period(table.weights());
            rec.seq.clear();
            rec.seq.reserve(rec.period);
            rec.start.clear();
            rec.start
                .extend(slots.iter().map(|s| s.current.load(Ordering::Relaxed)));
        }

        // Dubbo's doSelect.
        let mut total = 0i64;
        let mut best = i64::MIN;
        let mut selected = 0;
        for (i, (slot, &w)) in slots.iter().zip(table.weights()).enumerate() {
            let w = i64::from(w);
            if slot.weight.load(Ordering::Relaxed) != w {
                slot.weight.store(w, Ordering::Relaxed);
                slot.current.store(0, Ordering::Relaxed);
            }
            let cur = slot.current.fetch_add(w, Ordering::Relaxed) + w;
            slot.last_update_ms.store(now, Ordering::Relaxed);
            if cur > best {
                best = cur;
                selected = i;
            }
            total += w;
        }
        slots[selected].current.fetch_sub(total, Ordering::Relaxed);

        if rec.period > 0 {
            rec.seq.push(selected as u32);
            if rec.seq.len() == rec.period {
                let closed = slots
                    .iter()
                    .zip(&rec.start)
                    .all(|(s, &start)| s.current.load(Ordering::Relaxed) == start);
                if closed {
                    self.cycle.store(Some(Arc::new(Cycle {
                        owner: epoch,
                        seq: rec.seq.as_slice().into(),
                        pos: AtomicU64::new(0),
                        slots: slots.clone(),
                        weights: table.weights().iter().map(|&w| i64::from(w)).collect(),
                        total,
                    })));
                    rec.epoch = 0;
                } else {
                    rec.seq.clear();
                    rec.start.clear();
                    rec.start
                        .extend(slots.iter().map(|s| s.current.load(Ordering::Relaxed)));
                }
            }
        }

        let listed = slots.len();
        drop(resolved);
        self.recycle(inner, listed, now);
        selected
    }
}

impl RoundRobinLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "roundrobin";

    /// A strategy with its own, empty state (the one [`by_name`](crate::by_name) returns is
    /// shared by the whole process, as Dubbo's is).
    pub fn new() -> Self {
        Self::with_recycle_period(Duration::from_millis(RECYCLE_PERIOD_MS))
    }

    /// A strategy with its own, empty state that forgets a provider identity's state (its
    /// current value) once it has not been picked from for longer than `period` (Dubbo's
    /// `RECYCLE_PERIOD`, 60 s, which [`new`](Self::new) and [`by_name`](crate::by_name) use).
    /// Precision is a millisecond; the check runs at picks from a list whose size differs
    /// from the state's, at most once a second (or once a period, when shorter).
    pub fn with_recycle_period(period: Duration) -> Self {
        RoundRobinLoadBalance {
            id: LB_IDS.fetch_add(1, Ordering::Relaxed),
            states: DashMap::new(),
            recycle_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// How long an identity may go unpicked before its state is forgotten.
    pub fn recycle_period(&self) -> Duration {
        Duration::from_millis(self.recycle_ms)
    }

    /// Whether picks from `set` currently replay a recorded period (lock-free, O(1)) rather
    /// than run Dubbo's scan.
    pub fn replays(&self, set: &SetView) -> bool {
        match set.state::<RrBinding>() {
            Some(b) if b.lb == self.id => {
                set.with_weights(|t| b.state.cycle.load().as_deref().is_some_and(|c| c.owner == t.epoch()))
            }
            _ => false,
        }
    }

    /// Number of service + method states kept.
    pub fn state_count(&self) -> usize {
        self.states.len()
    }

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, _inv: &Invocation, _rng: &mut R) -> Option<usize> {
        match set.state::<RrBinding>() {
            Some(b) if b.lb == self.id => Some(set.with_weights(|t| b.state.pick(b, set, t))),
            _ => Some(self.pick_unbound(set)),
        }
    }

    /// The binding of `set` to this instance's state for its service and method.
    fn binding(&self, set: &SetView) -> RrBinding {
        RrBinding {
            lb: self.id,
            state: self.state(format!("{}.{}", set.service_key(), set.method()).into()),
            slots: Mutex::default(),
        }
    }

    fn state(&self, key: Box<str>) -> Arc<MethodState> {
        Arc::clone(
            self.states
                .entry(key)
                .or_insert_with(|| Arc::new(MethodState::new(self.recycle_ms)))
                .value(),
        )
    }

    /// A pick from a set prepared for another strategy (or another instance): bind the set to
    /// this instance if it keeps no state yet, else resolve the state for this pick only.
    #[cold]
    fn pick_unbound(&self, set: &SetView) -> usize {
        if let Some(b) = set.state_or_init(|| self.binding(set))
            && b.lb == self.id
        {
            return set.with_weights(|t| b.state.pick(b, set, t));
        }
        let binding = self.binding(set);
        set.with_weights(|t| binding.state.pick(&binding, set, t))
    }
}

impl_load_balance!(
    RoundRobinLoadBalance,
    RoundRobinLoadBalance::NAME,
    |lb: &RoundRobinLoadBalance, set: &SetView| Some(Box::new(lb.binding(set)) as StrategyState)
);
