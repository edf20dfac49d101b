//! A provider's load-balancing weight, as Dubbo's `AbstractLoadBalance.getWeight` computes
//! it (ARCHITECTURE: Load balancing).

use zkdubbo_common::{Url, keys, limits};

/// What decides a provider's weight for one method: read from the URL once, when a set is
/// prepared; [`WeightSpec::weight_at`] then gives the weight at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightSpec {
    /// The configured weight: method-level `<method>.weight`, else `weight`, default 100.
    pub weight: i32,
    /// The provider's start time (`timestamp`, ms since the epoch); 0 when absent.
    pub timestamp: i64,
    /// The warm-up period in ms (`warmup`, default 10 minutes).
    pub warmup: i32,
}

impl WeightSpec {
    /// Read the spec of `url` for `method`.
    ///
    /// ```
    /// # use zkdubbo_common::Url;
    /// # use zkdubbo_loadbalance::WeightSpec;
    /// let url: Url = "dubbo://h:1/s?weight=50&get.weight=20&timestamp=1000&warmup=100".parse().unwrap();
    /// let spec = WeightSpec::of(&url, "get");
    /// assert_eq!((spec.weight, spec.timestamp, spec.warmup), (20, 1000, 100));
    /// assert_eq!(WeightSpec::of(&url, "put").weight, 50);
    /// ```
    pub fn of(url: &Url, method: &str) -> Self {
        WeightSpec {
            weight: limits::WEIGHT.read(url, method) as i32,
            timestamp: url.param_as(keys::TIMESTAMP, 0i64),
            warmup: limits::WARMUP.read_plain(url) as i32,
        }
    }

    /// The weight at wall-clock time `now_ms`: during warm-up (`timestamp` set and uptime <
    /// `warmup`) `uptime / (warmup / weight)` in `f32` as Java computes it, clamped to
    /// `[1, weight]`; a start time in the future gives 1; a negative weight counts as 0.
    ///
    /// ```
    /// # use zkdubbo_loadbalance::WeightSpec;
    /// let spec = WeightSpec { weight: 100, timestamp: 1_000, warmup: 600_000 };
    /// assert_eq!(spec.weight_at(1_000 + 60_000), 10);
    /// assert_eq!(spec.weight_at(1_000 + 300_000), 50);
    /// assert_eq!(spec.weight_at(1_000 + 600_000), 100);
    /// assert_eq!(spec.weight_at(500), 1);
    /// ```
    pub fn weight_at(&self, now_ms: i64) -> u32 {
        let mut weight = self.weight;
        if weight > 0 && self.timestamp > 0 {
            let uptime = now_ms.saturating_sub(self.timestamp);
            if uptime < 0 {
                return 1;
            }
            if uptime > 0 && uptime < i64::from(self.warmup) {
                weight = warmup_weight(uptime as i32, self.warmup, weight);
            }
        }
        weight.max(0) as u32
    }

    /// When this provider's weight stops changing (ms since the epoch), if it is still
    /// warming up at `now_ms`.
    pub fn warm_at(&self, now_ms: i64) -> Option<i64> {
        if self.weight <= 0 || self.timestamp <= 0 {
            return None;
        }
        let end = self.timestamp.saturating_add(i64::from(self.warmup));
        (now_ms < end).then_some(end)
    }
}

/// The weight inputs of one URL for every method, read once: what a provider that lives
/// across many prepared sets keeps so [`Provider::weight_spec`](crate::Provider::weight_spec)
/// parses nothing. [`MethodWeights::for_method`] equals [`WeightSpec::of`] for every method.
///
/// ```
/// # use zkdubbo_common::Url;
/// # use zkdubbo_loadbalance::{MethodWeights, WeightSpec};
/// let url: Url = "dubbo://h:1/s?weight=50&get.weight=20".parse().unwrap();
/// let weights = MethodWeights::of(&url);
/// for m in ["get", "put", ""] {
///     assert_eq!(weights.for_method(&url, m), WeightSpec::of(&url, m));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodWeights {
    /// The spec of a method without a method-level weight.
    base: WeightSpec,
    /// Whether some `<method>.weight` parameter is set (then specs are read per method).
    method_level: bool,
}

impl MethodWeights {
    /// Read `url`'s `weight`, `timestamp` and `warmup`, and note whether any
    /// `<method>.weight` is set.
    pub fn of(url: &Url) -> Self {
        let method_level = url
            .params()
            .iter()
            .any(|(k, v)| !v.is_empty() && k.strip_suffix(keys::WEIGHT).is_some_and(|m| m.ends_with('.')));
        MethodWeights {
            base: WeightSpec {
                weight: limits::WEIGHT.read_plain(url) as i32,
                timestamp: url.param_as(keys::TIMESTAMP, 0i64),
                warmup: limits::WARMUP.read_plain(url) as i32,
            },
            method_level,
        }
    }

    /// The spec for `method` of `url`, the URL this was read from: the cached one unless a
    /// method-level weight is set, then [`WeightSpec::of`].
    #[inline]
    pub fn for_method(&self, url: &Url, method: &str) -> WeightSpec {
        if self.method_level {
            WeightSpec::of(url, method)
        } else {
            self.base
        }
    }
}

/// Java's `calculateWarmupWeight`: `(int) (uptime / ((float) warmup / weight))`, clamped to
/// `[1, weight]`.
fn warmup_weight(uptime: i32, warmup: i32, weight: i32) -> i32 {
    let ww = (uptime as f32 / (warmup as f32 / weight as f32)) as i32;
    ww.clamp(1, weight.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_weights_agree_with_weight_spec_of() {
        let urls = [
            "dubbo://h:1/s",
            "dubbo://h:1/s?weight=50",
            "dubbo://h:1/s?weight=50&get.weight=20&timestamp=1000&warmup=100",
            "dubbo://h:1/s?weight=50&get.weight=",
            "dubbo://h:1/s?weight=50&get.weight=x",
            "dubbo://h:1/s?weight=50&a.b.weight=7",
            "dubbo://h:1/s?weight=50&.weight=3",
            "dubbo://h:1/s?weight=x&timestamp=y&warmup=z",
            "dubbo://h:1/s?weight=%2050&xweight=9",
        ];
        for u in urls {
            let url: Url = u.parse().unwrap();
            let weights = MethodWeights::of(&url);
            for m in ["get", "put", "a.b", "", "x"] {
                assert_eq!(weights.for_method(&url, m), WeightSpec::of(&url, m), "{u} {m}");
            }
        }
    }

    #[test]
    fn defaults() {
        let url: Url = "dubbo://h:1/s".parse().unwrap();
        let spec = WeightSpec::of(&url, "m");
        assert_eq!(
            spec,
            WeightSpec {
                weight: 100,
                timestamp: 0,
                warmup: 600_000
            }
        );
        assert_eq!(spec.weight_at(123), 100);
        assert_eq!(spec.warm_at(123), None);
    }

    #[test]
    fn zero_and_negative_weights_never_warm_up() {
        let zero = WeightSpec {
            weight: 0,
            timestamp: 10,
            warmup: 100,
        };
        assert_eq!(zero.weight_at(20), 0);
        assert_eq!(zero.warm_at(20), None);
        let negative = WeightSpec {
            weight: -5,
            timestamp: 0,
            warmup: 100,
        };
        assert_eq!(negative.weight_at(20), 0);
    }

    #[test]
    fn warmup_is_clamped_and_ends() {
        let spec = WeightSpec {
            weight: 100,
            timestamp: 1000,
            warmup: 10_000,
        };
        assert_eq!(spec.weight_at(1000), 100, "uptime 0 is not warming (Java's uptime > 0)");
        assert_eq!(spec.weight_at(1001), 1);
        assert_eq!(spec.weight_at(6000), 50);
        assert_eq!(spec.weight_at(11_000), 100);
        assert_eq!(spec.warm_at(6000), Some(11_000));
        assert_eq!(spec.warm_at(11_000), None);
    }
}
