//! `roundrobin`: Dubbo's smooth weighted round robin, with its exact pick sequence, in
//! amortized O(1) per pick.
//!
//! Dubbo keeps, per service + method, a `current` value per provider identity; each pick
//! adds every provider's weight to its current, takes the largest (the first on ties) and
//! subtracts the total weight from the winner. A weight change resets that provider's
//! current to 0; a provider absent from the list for more than 60 s is forgotten.
//!
//! Here that state lives in [`RoundRobinLoadBalance`], keyed by service key + method, and is
//! bound to the provider set (and weight table) that last picked from it. Picks run Dubbo's
//! scan under a mutex while recording the winners. The state is a deterministic function of
//! itself, and over `sum(weights) / gcd(weights)` picks (the period) each provider wins its
//! weight's share, so once the state after one period equals the state before it the
//! recorded winners repeat forever: from then on a pick is one atomic increment and an array
//! read, lock-free. From a fresh state (all currents 0) the first period always closes. When
//! the set or its weights change, the current values are rebuilt from the cycle position
//! (O(n + period), once) and carried over per identity, exactly as Dubbo would hold them.
//! Periods longer than [`MAX_CYCLE`] picks stay on the scan.
//!
//! Under concurrent picks the sequence is shared, as in Dubbo, and no exact order is
//! promised; a pick racing with a set change may be left out of the carried-over state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;
use dashmap::DashMap;
use rand::Rng;
use zkdubbo_common::Invocation;
use zkdubbo_common::stats::monotonic_ms;

use crate::balance::impl_load_balance;
use crate::prepared::SetView;
use crate::table::WeightTable;

/// A provider absent this long (ms) loses its round-robin state (Dubbo's `RECYCLE_PERIOD`).
pub const RECYCLE_PERIOD_MS: u64 = 60_000;

/// The longest period (in picks) that is recorded and replayed; longer ones use the scan.
pub const MAX_CYCLE: usize = 1 << 20;

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
}

impl Default for RoundRobinLoadBalance {
    fn default() -> Self {
        Self::new()
    }
}

/// A set's cached link to its round-robin state, so a pick needs no map lookup.
#[derive(Debug)]
pub(crate) struct RrBinding {
    lb: u64,
    state: Arc<MethodState>,
}

/// Round-robin state of one service + method.
#[derive(Debug, Default)]
struct MethodState {
    cycle: ArcSwapOption<Cycle>,
    slow: Mutex<Slow>,
}

/// A recorded period of picks, valid for the weight table `owner`.
#[derive(Debug)]
struct Cycle {
    owner: u64,
    seq: Box<[u32]>,
    pos: AtomicU64,
}

impl Cycle {
    #[inline]
    fn next(&self) -> usize {
        let p = self.pos.fetch_add(1, Ordering::Relaxed);
        self.seq[(p % self.seq.len() as u64) as usize] as usize
    }
}

/// A provider's state kept while it is not in the bound set.
#[derive(Debug, Clone, Copy)]
struct Parked {
    weight: i64,
    current: i64,
    since_ms: u64,
}

/// The mutable state, under the mutex.
#[derive(Debug, Default)]
struct Slow {
    /// Epoch of the weight table the vectors belong to (0: none).
    owner: u64,
    ids: Vec<Box<str>>,
    weights: Vec<i64>,
    /// Current values; while a cycle is installed, those at its position 0.
    current: Vec<i64>,
    total: i64,
    parked: HashMap<Box<str>, Parked>,
    /// Length of the period being recorded; 0 when not recording.
    period: usize,
    rec_start: Vec<i64>,
    rec: Vec<u32>,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Slow {
    /// Write the state the installed cycle has reached into `current`, and drop the cycle.
    fn materialize(&mut self, cycle: &ArcSwapOption<Cycle>) {
        let Some(c) = cycle.swap(None) else { return };
        if c.owner != self.owner {
            return;
        }
        let p = (c.pos.load(Ordering::Relaxed) % c.seq.len() as u64) as usize;
        for (cur, &w) in self.current.iter_mut().zip(&self.weights) {
            *cur += p as i64 * w;
        }
        for &k in &c.seq[..p] {
            self.current[k as usize] -= self.total;
        }
    }

    /// Bind the state to `set` with weights `table`, carrying each identity's current value.
    fn adopt(&mut self, cycle: &ArcSwapOption<Cycle>, set: &SetView, table: &WeightTable) {
        self.materialize(cycle);
        let now = monotonic_ms();
        for ((id, &weight), &current) in self.ids.drain(..).zip(&self.weights).zip(&self.current) {
            self.parked.insert(
                id,
                Parked {
                    weight,
                    current,
                    since_ms: now,
                },
            );
        }
        self.parked
            .retain(|_, p| now.saturating_sub(p.since_ms) <= RECYCLE_PERIOD_MS);
        self.weights.clear();
        self.current.clear();
        for (id, &w) in set.identities().iter().zip(table.weights()) {
            let w = i64::from(w);
            let current = match self.parked.remove(id) {
                // Dubbo's setWeight resets current when the weight changed.
                Some(p) if p.weight == w => p.current,
                _ => 0,
            };
            self.ids.push(id.clone());
            self.weights.push(w);
            self.current.push(current);
        }
        self.total = self.weights.iter().sum();
        self.owner = table.epoch();
        let g = self.weights.iter().fold(0u64, |g, &w| gcd(g, w as u64));
        let period = (self.total as u64).checked_div(g).map_or(1, |p| p as usize);
        self.start_recording(if period <= MAX_CYCLE { period } else { 0 });
    }

    fn start_recording(&mut self, period: usize) {
        self.period = period;
        self.rec = Vec::with_capacity(period);
        self.rec_start.clone_from(&self.current);
    }

    /// One pick by Dubbo's scan; installs the cycle when a recorded period closes.
    fn step(&mut self, cycle: &ArcSwapOption<Cycle>) -> usize {
        let mut best = i64::MIN;
        let mut selected = 0;
        for (i, (cur, &w)) in self.current.iter_mut().zip(&self.weights).enumerate() {
            *cur += w;
            if *cur > best {
                best = *cur;
                selected = i;
            }
        }
        self.current[selected] -= self.total;
        if self.period > 0 {
            self.rec.push(selected as u32);
            if self.rec.len() == self.period {
                if self.current == self.rec_start {
                    let seq = std::mem::take(&mut self.rec).into_boxed_slice();
                    cycle.store(Some(Arc::new(Cycle {
                        owner: self.owner,
                        seq,
                        pos: AtomicU64::new(0),
                    })));
                    self.period = 0;
                } else {
                    self.rec.clear();
                    self.rec_start.copy_from_slice(&self.current);
                }
            }
        }
        selected
    }
}

impl MethodState {
    #[inline]
    fn pick(&self, set: &SetView, table: &WeightTable) -> usize {
        let epoch = table.epoch();
        if let Some(c) = self.cycle.load().as_deref()
            && c.owner == epoch
        {
            return c.next();
        }
        self.pick_slow(set, table)
    }

    #[cold]
    fn pick_slow(&self, set: &SetView, table: &WeightTable) -> usize {
        let mut slow = self.slow.lock().unwrap_or_else(PoisonError::into_inner);
        if slow.owner != table.epoch() {
            slow.adopt(&self.cycle, set, table);
        } else if let Some(c) = self.cycle.load().as_deref()
            && c.owner == slow.owner
        {
            return c.next();
        }
        slow.step(&self.cycle)
    }
}

impl RoundRobinLoadBalance {
    /// Strategy name.
    pub const NAME: &'static str = "roundrobin";

    /// A strategy with its own, empty state (the one [`by_name`](crate::by_name) returns is
    /// shared by the whole process, as Dubbo's is).
    pub fn new() -> Self {
        RoundRobinLoadBalance {
            id: LB_IDS.fetch_add(1, Ordering::Relaxed),
            states: DashMap::new(),
        }
    }

    /// Number of service + method states kept.
    pub fn state_count(&self) -> usize {
        self.states.len()
    }

    #[inline]
    fn pick<R: Rng + ?Sized>(&self, set: &SetView, _inv: &Invocation, _rng: &mut R) -> Option<usize> {
        match set.rr.get() {
            Some(b) if b.lb == self.id => Some(set.with_weights(|t| b.state.pick(set, t))),
            _ => Some(self.pick_unbound(set)),
        }
    }

    #[cold]
    fn pick_unbound(&self, set: &SetView) -> usize {
        let key: Box<str> = format!("{}.{}", set.service_key(), set.method()).into();
        let state = Arc::clone(self.states.entry(key).or_default().value());
        let _ = set.rr.set(RrBinding {
            lb: self.id,
            state: Arc::clone(&state),
        });
        set.with_weights(|t| state.pick(set, t))
    }
}

impl_load_balance!(RoundRobinLoadBalance, RoundRobinLoadBalance::NAME);
