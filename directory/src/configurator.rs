//! Configurators: `override://` and `absent://` rules from the `configurators` category
//! (ARCHITECTURE: Configurators).
//!
//! A rule targets URLs by host (with a port: the provider at that address, for every
//! consumer; without: the consumer with that IP; `0.0.0.0`: everyone), by `application`, by
//! `providerAddresses` and by `~key` / `side` conditions; its remaining parameters are set on
//! the target (`override`) or only filled where missing (`absent`). Rules are sorted by host,
//! then `priority`, and applied in that order, so later (more specific) rules win.
//!
//! ```
//! use zkdubbo_common::Url;
//! use zkdubbo_directory::Configurators;
//! let rules: Vec<Url> = vec!["override://10.0.0.5:20880/com.foo.Bar?weight=200".parse().unwrap()];
//! let (configurators, warnings) = Configurators::parse(&rules);
//! assert!(warnings.is_empty());
//! let provider: Url = "dubbo://10.0.0.5:20880/com.foo.Bar?weight=100".parse().unwrap();
//! let configured = configurators.apply(provider, "10.0.0.1");
//! assert_eq!(configured.param("weight"), Some("200"));
//! ```

use std::cmp::Ordering;

use zkdubbo_common::{Url, keys, limits, list_contains};

use crate::error::RuleError;

/// `priority`: the order of rules with the same host (and of routers).
pub(crate) const PRIORITY_KEY: &str = "priority";
/// `providerAddresses`: the provider addresses a rule is limited to (comma list).
pub(crate) const PROVIDER_ADDRESSES_KEY: &str = "providerAddresses";

/// Parameters of a rule that are conditions, never applied to the target (ARCHITECTURE: Configurators), besides
/// every `~key`.
pub(crate) const CONDITION_KEYS: [&str; 12] = [
    keys::CATEGORY,
    keys::CHECK,
    keys::DYNAMIC,
    keys::ENABLED,
    keys::GROUP,
    keys::VERSION,
    keys::APPLICATION,
    keys::SIDE,
    "configVersion",
    "compatible_config",
    "interfaces",
    PROVIDER_ADDRESSES_KEY,
];

/// How a rule's parameters are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfiguratorKind {
    /// `override://`: set every parameter.
    Override,
    /// `absent://`: set only parameters the target does not have.
    Absent,
}

/// One parsed configurator rule.
#[derive(Debug, Clone)]
pub struct Configurator {
    url: Url,
    kind: ConfiguratorKind,
    priority: i64,
    /// `(key, value)` conditions from `~key`, `side` and `application`-like keys checked on
    /// the target's parameters.
    conditions: Vec<(Box<str>, Box<str>)>,
    /// The parameters to apply.
    apply: Vec<(Box<str>, Box<str>)>,
}

impl Configurator {
    /// Parse one rule URL. `Ok(None)` for a rule that is switched off (`enabled=false`).
    ///
    /// # Errors
    /// [`RuleError::UnknownProtocol`] for anything but `override`/`absent`,
    /// [`RuleError::NoParams`] for a rule with nothing to apply.
    pub fn from_url(url: &Url) -> Result<Option<Configurator>, RuleError> {
        let kind = match url.protocol() {
            keys::OVERRIDE_PROTOCOL => ConfiguratorKind::Override,
            keys::ABSENT_PROTOCOL => ConfiguratorKind::Absent,
            other => {
                return Err(RuleError::UnknownProtocol {
                    rule: url.to_string(),
                    protocol: other.to_owned(),
                });
            }
        };
        if !limits::read_bool(url, keys::ENABLED, true) {
            return Ok(None);
        }
        let mut conditions = Vec::new();
        let mut apply = Vec::new();
        let mut refused = 0;
        for (k, v) in url.params().iter() {
            if let Some(stripped) = k.strip_prefix('~') {
                conditions.push((stripped.into(), v.into()));
            } else if k == keys::SIDE {
                conditions.push((k.into(), v.into()));
            } else if CONDITION_KEYS.contains(&k) || k == keys::ANYHOST || k == PRIORITY_KEY {
                // conditions checked separately, or bookkeeping
            } else if let Some(limit) = limits::refusing(k, v) {
                // An unusable number (retries=2147483647): not applied, so the value the rule
                // would replace stays (docs/LIMITS.md).
                limits::report_refused_rule(&limit, url, k, v);
                refused += 1;
            } else {
                apply.push((k.into(), v.into()));
            }
        }
        if apply.is_empty() && refused > 0 {
            return Ok(None);
        }
        if apply.is_empty() {
            return Err(RuleError::NoParams { rule: url.to_string() });
        }
        Ok(Some(Configurator {
            url: url.clone(),
            kind,
            priority: limits::PRIORITY.read_plain(url),
            conditions,
            apply,
        }))
    }

    /// The rule as written.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Override or absent.
    pub fn kind(&self) -> ConfiguratorKind {
        self.kind
    }

    /// The rule's `priority` (default 0).
    pub fn priority(&self) -> i64 {
        self.priority
    }

    /// Whether this rule targets `target` (a provider URL merged with the consumer's
    /// parameters) seen by the consumer at `consumer_host`.
    pub fn matches(&self, target: &Url, consumer_host: &str) -> bool {
        let rule_host = self.url.host();
        let any_host = rule_host == keys::ANYHOST_VALUE;
        let host_ok = match self.url.port().filter(|p| *p != 0) {
            // A port: the provider at that address (or every provider on that port for 0.0.0.0).
            Some(port) => target.port() == Some(port) && (any_host || rule_host == target.host()),
            // No port: a consumer IP, or everyone.
            None => any_host || rule_host == consumer_host,
        };
        if !host_ok {
            return false;
        }
        if let Some(addresses) = self.url.param(PROVIDER_ADDRESSES_KEY).filter(|a| !a.is_empty()) {
            let address = target.address();
            if !list_contains(addresses, &address) && !list_contains(addresses, keys::ANYHOST_VALUE) {
                return false;
            }
        }
        let rule_app = self
            .url
            .param(keys::APPLICATION)
            .filter(|a| !a.is_empty())
            .or(self.url.username());
        if let Some(app) = rule_app.filter(|a| *a != keys::ANY_VALUE) {
            let target_app = target
                .param(keys::APPLICATION)
                .filter(|a| !a.is_empty())
                .or(target.username());
            if target_app != Some(app) {
                return false;
            }
        }
        self.conditions
            .iter()
            .all(|(k, v)| &**v == keys::ANY_VALUE || target.param(k) == Some(&**v))
    }

    /// Apply this rule to `target` if it [matches](Configurator::matches).
    pub fn configure(&self, target: Url, consumer_host: &str) -> Url {
        if !self.matches(&target, consumer_host) {
            return target;
        }
        self.apply_params(target)
    }

    fn apply_params(&self, mut target: Url) -> Url {
        for (k, v) in &self.apply {
            match self.kind {
                ConfiguratorKind::Override => target.set_param(k.clone(), v.clone()),
                ConfiguratorKind::Absent => {
                    if target.param(k).is_none() {
                        target.set_param(k.clone(), v.clone());
                    }
                }
            }
        }
        target
    }
}

/// The configurators in force, in application order.
#[derive(Debug, Clone, Default)]
pub struct Configurators {
    rules: Vec<Configurator>,
}

impl Configurators {
    /// No configurators.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse the full list of the `configurators` category. An `empty://` URL in the list
    /// clears every rule. Bad rules are skipped and returned as errors (to be logged); rules
    /// with `enabled=false` are dropped silently.
    pub fn parse(urls: &[Url]) -> (Configurators, Vec<RuleError>) {
        if urls.iter().any(|u| u.protocol() == keys::EMPTY_PROTOCOL) {
            return (Configurators::new(), Vec::new());
        }
        let mut rules = Vec::with_capacity(urls.len());
        let mut errors = Vec::new();
        for url in urls {
            match Configurator::from_url(url) {
                Ok(Some(c)) => rules.push(c),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        // Stable: equal (host, priority) keep the registry's order.
        rules.sort_by(|a, b| match a.url.host().cmp(b.url.host()) {
            Ordering::Equal => a.priority.cmp(&b.priority),
            o => o,
        });
        (Configurators { rules }, errors)
    }

    /// The rules, in application order.
    pub fn rules(&self) -> &[Configurator] {
        &self.rules
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Apply every matching rule to `target` in order (later rules win).
    pub fn apply(&self, target: Url, consumer_host: &str) -> Url {
        self.rules
            .iter()
            .fold(target, |url, rule| rule.configure(url, consumer_host))
    }

    /// Whether any rule would change `target` (cheap check before cloning).
    pub fn any_matches(&self, target: &Url, consumer_host: &str) -> bool {
        self.rules.iter().any(|r| r.matches(target, consumer_host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    const CONSUMER_HOST: &str = "10.0.0.1";
    const TARGET: &str = "dubbo://10.0.0.5:20880/com.foo.Bar?application=shop&side=consumer&weight=100&timeout=1000";

    /// One case per matching rule of ARCHITECTURE: Configurators: (rule name, rule URLs, expected weight).
    #[test]
    fn one_case_per_configurator_rule() {
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "0.0.0.0 targets everyone",
                &["override://0.0.0.0/com.foo.Bar?weight=1"],
                "1",
            ),
            (
                "host with port targets that provider",
                &["override://10.0.0.5:20880/com.foo.Bar?weight=2"],
                "2",
            ),
            (
                "host with port: other provider untouched",
                &["override://10.0.0.6:20880/com.foo.Bar?weight=2"],
                "100",
            ),
            (
                "host with port: other port untouched",
                &["override://10.0.0.5:20881/com.foo.Bar?weight=2"],
                "100",
            ),
            (
                "0.0.0.0 with port targets every provider on that port",
                &["override://0.0.0.0:20880/com.foo.Bar?weight=3"],
                "3",
            ),
            (
                "host without port targets the consumer IP",
                &["override://10.0.0.1/com.foo.Bar?weight=4"],
                "4",
            ),
            (
                "host without port: other consumer untouched",
                &["override://10.0.0.9/com.foo.Bar?weight=4"],
                "100",
            ),
            (
                "host without port is not the provider host",
                &["override://10.0.0.5/com.foo.Bar?weight=4"],
                "100",
            ),
            (
                "application equal",
                &["override://0.0.0.0/com.foo.Bar?application=shop&weight=5"],
                "5",
            ),
            (
                "application differs",
                &["override://0.0.0.0/com.foo.Bar?application=other&weight=5"],
                "100",
            ),
            (
                "application *",
                &["override://0.0.0.0/com.foo.Bar?application=*&weight=5"],
                "5",
            ),
            (
                "providerAddresses contains the target",
                &["override://0.0.0.0/com.foo.Bar?providerAddresses=10.0.0.4:1,10.0.0.5:20880&weight=6"],
                "6",
            ),
            (
                "providerAddresses without the target",
                &["override://0.0.0.0/com.foo.Bar?providerAddresses=10.0.0.4:1&weight=6"],
                "100",
            ),
            (
                "providerAddresses with 0.0.0.0",
                &["override://0.0.0.0/com.foo.Bar?providerAddresses=0.0.0.0&weight=6"],
                "6",
            ),
            (
                "~key condition holds",
                &["override://0.0.0.0/com.foo.Bar?~timeout=1000&weight=7"],
                "7",
            ),
            (
                "~key condition fails",
                &["override://0.0.0.0/com.foo.Bar?~timeout=5&weight=7"],
                "100",
            ),
            (
                "side condition holds",
                &["override://0.0.0.0/com.foo.Bar?side=consumer&weight=8"],
                "8",
            ),
            (
                "side condition fails",
                &["override://0.0.0.0/com.foo.Bar?side=provider&weight=8"],
                "100",
            ),
            (
                "enabled=false ignored",
                &["override://0.0.0.0/com.foo.Bar?enabled=false&weight=9"],
                "100",
            ),
            (
                "enabled=true applied",
                &["override://0.0.0.0/com.foo.Bar?enabled=true&weight=9"],
                "9",
            ),
            (
                "absent does not replace",
                &["absent://0.0.0.0/com.foo.Bar?weight=10"],
                "100",
            ),
            (
                "specific host sorts after 0.0.0.0 and wins",
                &[
                    "override://10.0.0.5:20880/com.foo.Bar?weight=11",
                    "override://0.0.0.0/com.foo.Bar?weight=12",
                ],
                "11",
            ),
            (
                "same host: higher priority applied later wins",
                &[
                    "override://0.0.0.0/com.foo.Bar?priority=2&weight=13",
                    "override://0.0.0.0/com.foo.Bar?priority=1&weight=14",
                ],
                "13",
            ),
            (
                "empty:// clears every rule",
                &[
                    "override://0.0.0.0/com.foo.Bar?weight=15",
                    "empty://10.0.0.1/com.foo.Bar?category=configurators",
                ],
                "100",
            ),
        ];
        for (name, rules, want) in cases {
            let rules: Vec<Url> = rules.iter().map(|r| url(r)).collect();
            let (c, errors) = Configurators::parse(&rules);
            assert!(errors.is_empty(), "{name}: {errors:?}");
            let out = c.apply(url(TARGET), CONSUMER_HOST);
            assert_eq!(out.param("weight"), Some(*want), "rule: {name}");
        }
    }

    #[test]
    fn condition_keys_are_never_applied_and_absent_fills() {
        let rule = "override://0.0.0.0/com.foo.Bar?category=configurators&check=false&dynamic=false&enabled=true\
                    &group=g&version=9&application=shop&side=consumer&configVersion=v2.7&compatible_config=true\
                    &interfaces=x&providerAddresses=0.0.0.0&~weight=100&priority=3&anyhost=true&disabled=true";
        let (c, errors) = Configurators::parse(&[url(rule)]);
        assert!(errors.is_empty());
        let out = c.apply(url(TARGET), CONSUMER_HOST);
        let keys: Vec<&str> = out.params().iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["application", "disabled", "side", "timeout", "weight"]);

        let (c, _) = Configurators::parse(&[url("absent://0.0.0.0/com.foo.Bar?weight=1&loadbalance=roundrobin")]);
        let out = c.apply(url(TARGET), CONSUMER_HOST);
        assert_eq!(out.param("loadbalance"), Some("roundrobin"));
        assert_eq!(out.param("weight"), Some("100"));
    }

    #[test]
    fn bad_rules_are_reported_by_name() {
        let (c, errors) = Configurators::parse(&[
            url("override://0.0.0.0/com.foo.Bar?category=configurators"),
            url("bogus://0.0.0.0/com.foo.Bar?weight=1"),
            url("override://0.0.0.0/com.foo.Bar?weight=7"),
        ]);
        assert_eq!(c.rules().len(), 1);
        assert_eq!(errors.len(), 2);
        assert!(matches!(&errors[0], RuleError::NoParams { rule } if rule.contains("override://0.0.0.0")));
        assert!(
            errors[1].to_string().contains("bogus://0.0.0.0/com.foo.Bar?weight=1"),
            "{}",
            errors[1]
        );
        assert_eq!(c.apply(url(TARGET), CONSUMER_HOST).param("weight"), Some("7"));
    }
}
