//! Strategies by name.

use std::sync::{Arc, OnceLock};

use zkdubbo_common::{Url, keys};

use crate::balance::LoadBalance;
use crate::{
    ConsistentHashLoadBalance, LeastActiveLoadBalance, P2cLoadBalance, RandomLoadBalance, RoundRobinLoadBalance,
    ShortestResponseLoadBalance,
};

/// The names [`by_name`] knows.
pub const NAMES: [&str; 6] = [
    RandomLoadBalance::NAME,
    RoundRobinLoadBalance::NAME,
    LeastActiveLoadBalance::NAME,
    ConsistentHashLoadBalance::NAME,
    ShortestResponseLoadBalance::NAME,
    P2cLoadBalance::NAME,
];

/// A `loadbalance` name that is not one of [`NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown load balance {name:?} (known: random, roundrobin, leastactive, consistenthash, shortestresponse, p2c)"
)]
pub struct UnknownLoadBalance {
    /// The name asked for.
    pub name: String,
}

/// The process-wide strategy called `name` (ASCII case-insensitive, surrounding blanks
/// ignored; empty means `random`). Every call returns the same instance, so round-robin
/// state is shared as in Dubbo.
///
/// ```
/// use zkdubbo_loadbalance::by_name;
/// assert_eq!(by_name("roundrobin").unwrap().name(), "roundrobin");
/// assert_eq!(by_name("").unwrap().name(), "random");
/// assert!(by_name("nope").is_err());
/// ```
pub fn by_name(name: &str) -> Result<Arc<dyn LoadBalance>, UnknownLoadBalance> {
    static ALL: OnceLock<[Arc<dyn LoadBalance>; 6]> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        [
            Arc::new(RandomLoadBalance),
            Arc::new(RoundRobinLoadBalance::new()),
            Arc::new(LeastActiveLoadBalance),
            Arc::new(ConsistentHashLoadBalance),
            Arc::new(ShortestResponseLoadBalance),
            Arc::new(P2cLoadBalance),
        ]
    });
    let name = name.trim();
    let name = if name.is_empty() { RandomLoadBalance::NAME } else { name };
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .map(|i| Arc::clone(&all[i]))
        .ok_or_else(|| UnknownLoadBalance { name: name.to_string() })
}

/// The strategy `url` configures for `method` (`<method>.loadbalance`, else
/// `loadbalance`, default `random`).
///
/// ```
/// use zkdubbo_common::{Url, keys};
/// use zkdubbo_loadbalance::for_method;
/// let url: Url = "consumer://h/S?loadbalance=roundrobin&get.loadbalance=consistenthash".parse().unwrap();
/// assert_eq!(for_method(&url, "get").unwrap().name(), "consistenthash");
/// assert_eq!(for_method(&url, "put").unwrap().name(), "roundrobin");
/// ```
pub fn for_method(url: &Url, method: &str) -> Result<Arc<dyn LoadBalance>, UnknownLoadBalance> {
    by_name(strategy_name(url, method))
}

/// The `loadbalance` strategy name configured for `method` on `url` (method-level first),
/// default `random`.
pub(crate) fn strategy_name<'a>(url: &'a Url, method: &str) -> &'a str {
    url.method_param(method, keys::LOADBALANCE)
        .unwrap_or(keys::DEFAULT_LOADBALANCE)
}
