//! Bounds of the numbers zkdubbo reads from outside (URL parameters written by providers,
//! consumers and operators' rules) before they size anything: a value out of its range, or
//! not a number, is refused with a warning naming the URL and the key, and the default is used
//! instead. Java Dubbo takes any `int` there; an override with `retries=2147483647` made a
//! consumer allocate for two billion attempts.
//!
//! The table of every bounded key, its range and what Java does is in docs/LIMITS.md.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use crate::sync::lock;
use crate::url::Url;

/// The accepted range and the default of one numeric parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The parameter.
    pub key: &'static str,
    /// Smallest accepted value.
    pub min: i64,
    /// Largest accepted value.
    pub max: i64,
    /// The value when the parameter is absent or refused.
    pub default: i64,
}

/// `retries` of failover (attempts = retries + 1, at least one): up to 100; a negative value
/// means one attempt, as in Java.
pub const RETRIES: Limit = Limit {
    key: crate::keys::RETRIES,
    min: i32::MIN as i64,
    max: 100,
    default: crate::keys::DEFAULT_RETRIES as i64,
};

/// `hash.nodes` of consistent hashing (ring points per provider): 1 to 1,600.
pub const HASH_NODES: Limit = Limit {
    key: "hash.nodes",
    min: 1,
    max: 1_600,
    default: 160,
};

/// `weight` (load balancing): any Java `int`; a negative weight counts as 0.
pub const WEIGHT: Limit = Limit {
    key: crate::keys::WEIGHT,
    min: i32::MIN as i64,
    max: i32::MAX as i64,
    default: crate::keys::DEFAULT_WEIGHT as i64,
};

/// `warmup` (ms over which a new provider's weight ramps up): any Java `int`.
pub const WARMUP: Limit = Limit {
    key: crate::keys::WARMUP,
    min: i32::MIN as i64,
    max: i32::MAX as i64,
    default: crate::keys::DEFAULT_WARMUP_MS as i64,
};

/// `timeout` of a call in ms: 0 (the default) to one day.
pub const TIMEOUT: Limit = Limit {
    key: crate::keys::TIMEOUT,
    min: 0,
    max: 86_400_000,
    default: crate::keys::DEFAULT_TIMEOUT_MS as i64,
};

/// `priority` of a rule (routers run lowest first, configurators apply lowest first): any
/// Java `int`.
pub const PRIORITY: Limit = Limit {
    key: "priority",
    min: i32::MIN as i64,
    max: i32::MAX as i64,
    default: 0,
};

/// `forks` of the forking cluster: any Java `int` (zero or less, or more than the providers:
/// all of them).
pub const FORKS: Limit = Limit {
    key: "forks",
    min: i32::MIN as i64,
    max: i32::MAX as i64,
    default: 2,
};

/// How many distinct refused values are reported; later ones are refused silently (bounded
/// memory when a process sees endless garbage).
const MAX_REPORTED: usize = 256;

/// The (key, value) pairs already reported.
type Reported = Mutex<HashSet<(&'static str, Box<str>)>>;

impl Limit {
    /// The method-level value of this parameter on `url` (`<method>.<key>`, else `<key>`),
    /// or [`Limit::default`] when it is absent, not a number or out of range (reported once
    /// per key and value with a warning naming the URL).
    ///
    /// ```
    /// use zkdubbo_common::{Url, limits};
    /// let url: Url = "dubbo://10.0.0.5:20880/com.foo.Bar?retries=5&get.retries=2147483647".parse().unwrap();
    /// assert_eq!(limits::RETRIES.read(&url, "put"), 5);
    /// assert_eq!(limits::RETRIES.read(&url, "get"), 2, "out of range: the default");
    /// ```
    pub fn read(&self, url: &Url, method: &str) -> i64 {
        self.check(url, method, url.method_param(method, self.key))
    }

    /// The plain (not method-level) value of this parameter on `url`, checked as
    /// [`Limit::read`] checks it.
    pub fn read_plain(&self, url: &Url) -> i64 {
        self.check(url, "", url.param(self.key))
    }

    /// `raw` as a number in range; absent or blank gives the default, anything else is
    /// refused (reported) for the default.
    fn check(&self, url: &Url, method: &str, raw: Option<&str>) -> i64 {
        let Some(raw) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
            return self.default;
        };
        match raw.parse::<i64>() {
            Ok(v) if (self.min..=self.max).contains(&v) => v,
            Ok(_) | Err(_) => {
                self.refuse(url, method, raw);
                self.default
            }
        }
    }

    /// Report `raw` as refused for this parameter (once per key and value).
    fn refuse(&self, url: &Url, method: &str, raw: &str) {
        report_refused(
            self.key,
            url,
            method,
            raw,
            &format!("not a number from {} to {}; using {}", self.min, self.max, self.default),
        );
    }
}

/// Every bounded parameter.
pub const BOUNDED: [Limit; 7] = [RETRIES, HASH_NODES, WEIGHT, WARMUP, TIMEOUT, PRIORITY, FORKS];

/// The limit that refuses `value` for parameter `key` (plain, or method-level as
/// `<method>.<key>`), if any: how a rule that sets an unusable number is recognised before it
/// is applied, so that the value it would replace is kept.
///
/// ```
/// use zkdubbo_common::limits;
/// assert_eq!(limits::refusing("retries", "2147483647").map(|l| l.key), Some("retries"));
/// assert_eq!(limits::refusing("get.hash.nodes", "4294967295").map(|l| l.key), Some("hash.nodes"));
/// assert!(limits::refusing("retries", "3").is_none());
/// assert!(limits::refusing("custom", "abc").is_none());
/// ```
pub fn refusing(key: &str, value: &str) -> Option<Limit> {
    let limit = BOUNDED
        .into_iter()
        .find(|l| key == l.key || key.strip_suffix(l.key).is_some_and(|m| m.ends_with('.') && m.len() > 1))?;
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    match v.parse::<i64>() {
        Ok(n) if (limit.min..=limit.max).contains(&n) => None,
        _ => Some(limit),
    }
}

/// `key` of `url` as a boolean: `true` or `false` (any case); absent or empty gives `default`,
/// and anything else (`maybe`) is refused with a warning naming the URL and the key, `default`
/// used (Java reads anything but `true` as false, silently).
///
/// ```
/// use zkdubbo_common::{Url, limits};
/// let url: Url = "condition://0.0.0.0/com.foo.Bar?force=TRUE&runtime=maybe".parse().unwrap();
/// assert!(limits::read_bool(&url, "force", false));
/// assert!(!limits::read_bool(&url, "runtime", false));
/// assert!(limits::read_bool(&url, "enabled", true));
/// ```
pub fn read_bool(url: &Url, key: &'static str, default: bool) -> bool {
    match url.param(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => default,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            report_refused(key, url, "", v, &format!("not true or false; using {default}"));
            default
        }
    }
}

/// Warn that the rule `url` sets `key` to the refused `raw` (once per key and value).
pub fn report_refused_rule(limit: &Limit, url: &Url, key: &str, raw: &str) {
    if !first_report(limit.key, raw) {
        return;
    }
    let shown: String = raw.chars().take(40).collect();
    tracing::warn!(
        rule = %url.identity(),
        key,
        value = %shown,
        "rule refused for {key}={shown:?}: not a number from {} to {}; the value it would replace is kept",
        limit.min,
        limit.max
    );
}

/// Warn that `raw` was refused for `key` of `url` and `why`, once per key and value.
fn report_refused(key: &'static str, url: &Url, method: &str, raw: &str, why: &str) {
    if !first_report(key, raw) {
        return;
    }
    let shown: String = raw.chars().take(40).collect();
    tracing::warn!(url = %url.identity(), method, key, value = %shown, "refusing {key}={shown:?}: {why}");
}

/// Whether `raw` is refused for `key` for the first time (and there is room to remember it).
fn first_report(key: &'static str, raw: &str) -> bool {
    static REPORTED: OnceLock<Reported> = OnceLock::new();
    let mut reported = lock(REPORTED.get_or_init(Default::default));
    reported.len() < MAX_REPORTED && reported.insert((key, raw.into()))
}
