//! Dubbo's load-balancing strategies over prepared provider sets.
//!
//! The directory prepares one [`PreparedSet`] per method and snapshot: weights (with
//! warm-up), prefix sums, an alias table, the uniform flag, and, on first use, the Ketama
//! ring and the call-statistics handles. A pick reads it; nothing is recomputed or
//! allocated per call.
//!
//! # The interface
//!
//! - [`Provider`]: anything with a [`Url`](zkdubbo_common::Url) (the directory's invokers,
//!   a plain `Url`, an `Arc` of either).
//! - [`PreparedSet<P>`]: the providers plus a [`SetView`], the provider-type-free part the
//!   strategies read; the set dereferences to its view.
//! - [`LoadBalance`]: dyn-compatible; `select(&SetView, &Invocation) -> Option<usize>`
//!   returns an index into the set (`PreparedSet::select` returns the provider). Choose one
//!   by name with [`by_name`] / [`for_method`] and keep it as `Arc<dyn LoadBalance>`.
//! - Feature `test-util`: `dubbo_port`, Dubbo's per-call algorithms ported as they are, the
//!   baseline of the benchmarks and the oracle of the conformance tests.
//! - Randomness comes from [`FastRng`], a per-thread generator; `select_with_rng` takes any
//!   [`rand::Rng`] (seeded in tests).
//! - In-flight counts and latencies come from
//!   [`zkdubbo_common::CallStats`] (the global registry unless the set was prepared
//!   with another one).
//!
//! | name | pick | cost per pick |
//! | --- | --- | --- |
//! | `random` (default) | weighted random | O(1), alias table |
//! | `roundrobin` | smooth weighted round robin, Dubbo's exact sequence | O(1) once a period is recorded, else O(n) |
//! | `leastactive` | fewest in flight, weighted-random ties | O(n) atomic loads |
//! | `consistenthash` | Ketama, bit-compatible with Java/Go | one MD5 + radix lookup |
//! | `shortestresponse` | least `window avg latency × (in-flight + 1)`, weighted-random ties | O(n) atomic loads |
//! | `p2c` | lower `(in-flight + 1) × EWMA latency` of two random | O(1) |
//!
//! ```
//! use zkdubbo_common::{Invocation, Url};
//! use zkdubbo_loadbalance::{PreparedSet, by_name};
//!
//! let urls: Vec<Url> = (1..=3).map(|i| format!("dubbo://10.0.0.{i}:20880/com.foo.Bar").parse().unwrap()).collect();
//! let set = PreparedSet::new(urls, "get");
//! let lb = by_name("consistenthash").unwrap();
//! let inv = Invocation::new("get").with_argument("user-42");
//! let first = set.select(&*lb, &inv).unwrap();
//! assert_eq!(set.select(&*lb, &inv).unwrap(), first, "same key, same provider");
//! ```

#![forbid(unsafe_code)]

mod alias;
mod balance;
mod consistenthash;
#[cfg(feature = "test-util")]
pub mod dubbo_port;
mod ketama;
mod least;
mod leastactive;
mod names;
mod p2c;
mod prepared;
mod provider;
mod random;
mod rng;
mod roundrobin;
mod shortestresponse;
mod table;
mod weight;

pub use balance::{LoadBalance, StrategyState};
pub use consistenthash::ConsistentHashLoadBalance;
pub use ketama::{DEFAULT_HASH_NODES, HASH_ARGUMENTS, HASH_NODES, HashSpec, KetamaRing, address_points, hash_str};
pub use leastactive::LeastActiveLoadBalance;
pub use names::{NAMES, UnknownLoadBalance, by_name, for_method};
pub use p2c::P2cLoadBalance;
pub use prepared::{HotView, PreparedSet, SetView, WARMUP_REFRESH_MS};
pub use provider::Provider;
pub use random::RandomLoadBalance;
pub use rng::{FastRng, SeededRng};
pub use roundrobin::{RECYCLE_PERIOD_MS, RoundRobinLoadBalance};
pub use shortestresponse::ShortestResponseLoadBalance;
pub use table::WeightTable;
pub use weight::{MethodWeights, WeightSpec};
pub use zkdubbo_common::wall_clock_ms;
