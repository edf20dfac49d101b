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
use std::sync::Arc;

use zkdubbo_common::{Url, keys, limits, list_contains};
use zkdubbo_governance::{ConditionMatch, OverrideRule};

use crate::error::RuleError;

/// `priority`: the order of rules with the same host (and of routers).
pub(crate) const PRIORITY_KEY: &str = "priority";
/// `configVersion`: set on rules converted from the config center (v2.7+ matching).
pub(crate) const CONFIG_VERSION_KEY: &str = "configVersion";
/// `compatible_config`: a URL-style copy of a config-center rule, which Dubbo 2.7+ skips.
pub(crate) const COMPATIBLE_CONFIG_KEY: &str = "compatible_config";
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
    /// Where the rule came from (a config-center node path), for `describe`.
    source: Option<Arc<str>>,
    /// A v2.7+ rule (`configVersion` set): it applies only on its own side.
    v27: bool,
    /// A v3.0 rule: its `match` replaces the `~key` conditions.
    v30: bool,
    /// The v3.0 `match` of the rule's item.
    matcher: Option<Arc<ConditionMatch>>,
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
            source: None,
            v27: url.param(CONFIG_VERSION_KEY).is_some_and(|v| !v.is_empty()),
            v30: url.param(CONFIG_VERSION_KEY).is_some_and(|v| v.starts_with("v3.0")),
            matcher: None,
            conditions,
            apply,
        }))
    }

    /// A rule converted from a config-center node (`source`: its path), with its item's v3.0
    /// `match` when it has one.
    ///
    /// # Errors
    /// As [`Configurator::from_url`].
    pub fn from_override(rule: &OverrideRule, source: Arc<str>) -> Result<Option<Configurator>, RuleError> {
        Ok(Configurator::from_url(&rule.url)?.map(|mut c| {
            c.matcher = rule.matcher.clone().filter(|_| c.v30);
            c.source = Some(source);
            c
        }))
    }

    /// The config-center node the rule came from (`None`: a URL-style rule).
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// The parameters the rule sets.
    pub fn parameters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.apply.iter().map(|(k, v)| (&**k, &**v))
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
    /// parameters at a consumer, a provider's own URL at a provider) seen by the consumer at
    /// `consumer_host`.
    pub fn matches(&self, target: &Url, consumer_host: &str) -> bool {
        if self.v27 {
            return self.matches_v27(target, consumer_host);
        }
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

    /// Dubbo 2.7+ matching (`AbstractConfigurator.configure` with a `configVersion`): only
    /// on the rule's side (a missing side is `provider`, as in Java); at a consumer the host
    /// must be `0.0.0.0` or the consumer's, at a provider `0.0.0.0` or the provider's (no
    /// port check, as from Dubbo 3.2); then `providerAddresses`, `application`, the service
    /// key and the v3.0 `match` or the `~key` conditions.
    fn matches_v27(&self, target: &Url, consumer_host: &str) -> bool {
        let rule_side = self.url.side().unwrap_or(keys::PROVIDER_SIDE);
        let target_side = target.side().unwrap_or(keys::PROVIDER_SIDE);
        if rule_side != target_side {
            return false;
        }
        let host = if target_side == keys::CONSUMER_SIDE {
            consumer_host
        } else {
            target.host()
        };
        let rule_host = self.url.host();
        if rule_host != keys::ANYHOST_VALUE && rule_host != host {
            return false;
        }
        if let Some(addresses) = self.url.param(PROVIDER_ADDRESSES_KEY).filter(|a| !a.is_empty()) {
            let address = target.address();
            let port = target.port().unwrap_or(0);
            let hit = addresses.split(',').map(str::trim).any(|a| {
                a == address
                    || a == keys::ANYHOST_VALUE
                    || a == "0.0.0.0:*"
                    || a.strip_prefix("0.0.0.0:").is_some_and(|p| p.parse() == Ok(port))
                    || a == target.host()
            });
            if !hit {
                return false;
            }
        }
        let rule_app = self.url.param(keys::APPLICATION).or(self.url.username());
        if let Some(app) = rule_app.filter(|a| *a != keys::ANY_VALUE) {
            let target_app = target.param(keys::APPLICATION).or(target.username());
            if target_app != Some(app) {
                return false;
            }
        }
        if !self.service_matches(target) {
            return false;
        }
        match &self.matcher {
            Some(m) => m.is_match(host, target),
            None if self.v30 => true,
            None => self
                .conditions
                .iter()
                .all(|(k, v)| &**v == keys::ANY_VALUE || target.param(k) == Some(&**v)),
        }
    }

    /// The rule's service (`group/interface:version`) against the target's: equal, or `*`, or
    /// (as before Dubbo 3.3, and as dubbo-admin writes its keys) a rule naming only the
    /// interface. dubbo-admin also writes keys in the node's form, `interface:version:group`,
    /// which Java turns into the version `version:group` (and then never matches from Dubbo
    /// 3.2 on): read as the version and group they name.
    fn service_matches(&self, target: &Url) -> bool {
        let interface = self.url.interface();
        if interface == keys::ANY_VALUE {
            return true;
        }
        let mut group = self.url.group().filter(|g| !g.is_empty());
        let mut version = self.url.version().filter(|v| !v.is_empty());
        if let Some((v, g)) = version.and_then(|v| v.split_once(':'))
            && group.is_none()
        {
            version = Some(v).filter(|v| !v.is_empty());
            group = Some(g).filter(|g| !g.is_empty());
        }
        if group.is_none() && version.is_none() {
            return interface == target.interface();
        }
        interface == target.interface()
            && group == target.group().filter(|g| !g.is_empty())
            && version == target.version().filter(|v| !v.is_empty())
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
            // A URL-style copy of a config-center rule: Dubbo 2.7+ reads the original.
            if url.param(COMPATIBLE_CONFIG_KEY).is_some() {
                continue;
            }
            match Configurator::from_url(url) {
                Ok(Some(c)) => rules.push(c),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        sort(&mut rules);
        (Configurators { rules }, errors)
    }

    /// The rules of one config-center node (`source`: its path), sorted as Dubbo sorts them.
    pub fn from_overrides(rules: &[OverrideRule], source: &str) -> (Configurators, Vec<RuleError>) {
        let source: Arc<str> = Arc::from(source);
        let mut out = Vec::with_capacity(rules.len());
        let mut errors = Vec::new();
        for rule in rules {
            match Configurator::from_override(rule, source.clone()) {
                Ok(Some(c)) => out.push(c),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        sort(&mut out);
        (Configurators { rules: out }, errors)
    }

    /// `parts` applied one after the other (a later part wins): Dubbo's precedence of
    /// URL-style rules, then the application's, then the service's.
    pub fn chain<'a>(parts: impl IntoIterator<Item = &'a Configurators>) -> Configurators {
        Configurators {
            rules: parts.into_iter().flat_map(|p| p.rules.iter().cloned()).collect(),
        }
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

/// Dubbo's order: by host string, then `priority` (stable: equal keys keep their order).
fn sort(rules: &mut [Configurator]) {
    rules.sort_by(|a, b| match a.url.host().cmp(b.url.host()) {
        Ordering::Equal => a.priority.cmp(&b.priority),
        o => o,
    });
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
                    &group=g&version=9&application=shop&side=consumer\
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

    /// Rules from the config center (v2.7+): one case per matching rule of Dubbo's
    /// `AbstractConfigurator` with a `configVersion`.
    #[test]
    fn config_center_rules_match_as_dubbo_27_and_later() {
        let target =
            "dubbo://10.0.0.5:20880/com.foo.Bar?application=shop&side=consumer&weight=100&timeout=1000&region=hz";
        let cases: &[(&str, &str, &str)] = &[
            (
                "consumer side, 0.0.0.0",
                "configVersion: v2.7\nkey: com.foo.Bar\nconfigs:\n- side: consumer\n  parameters: {timeout: 6000}\n",
                "6000",
            ),
            (
                "provider side never applies at a consumer",
                "configVersion: v2.7\nkey: com.foo.Bar\nconfigs:\n- side: provider\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "no side means provider",
                "configVersion: v2.7\nkey: com.foo.Bar\nconfigs:\n- parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "the consumer's own address",
                "key: com.foo.Bar\nconfigs:\n- addresses: [10.0.0.1]\n  side: consumer\n  parameters: {timeout: 6000}\n",
                "6000",
            ),
            (
                "another consumer's address",
                "key: com.foo.Bar\nconfigs:\n- addresses: [10.0.0.9]\n  side: consumer\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "providerAddresses names the provider",
                "key: com.foo.Bar\nconfigs:\n- providerAddresses: [10.0.0.5:20880]\n  side: consumer\n  parameters: {timeout: 6000}\n",
                "6000",
            ),
            (
                "providerAddresses names another provider",
                "key: com.foo.Bar\nconfigs:\n- providerAddresses: [10.0.0.6:20880]\n  side: consumer\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "applications lists the consumer",
                "key: com.foo.Bar\nconfigs:\n- applications: [shop]\n  side: consumer\n  parameters: {timeout: 6000}\n",
                "6000",
            ),
            (
                "applications lists others",
                "key: com.foo.Bar\nconfigs:\n- applications: [cart]\n  side: consumer\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "dubbo-admin's node-form key (interface:version:group) of this service",
                "key: 'com.foo.Bar::'\nconfigs:\n- side: consumer\n  parameters: {timeout: 6000}\n",
                "6000",
            ),
            (
                "dubbo-admin's node-form key of another version",
                "key: 'com.foo.Bar:2.0:'\nconfigs:\n- side: consumer\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "a key with another version",
                "key: com.foo.Bar:2.0\nconfigs:\n- side: consumer\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "application scope for every service",
                "scope: application\nkey: shop\nconfigs:\n- side: consumer\n  parameters: {timeout: 6000}\n",
                "6000",
            ),
            (
                "application scope of another application",
                "scope: application\nkey: cart\nconfigs:\n- side: consumer\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "v3.0 match holds",
                "configVersion: v3.0\nkey: com.foo.Bar\nconfigs:\n- side: consumer\n  match: {param: [{key: region, value: {exact: hz}}]}\n  parameters: {timeout: 6000}\n",
                "6000",
            ),
            (
                "v3.0 match fails",
                "configVersion: v3.0\nkey: com.foo.Bar\nconfigs:\n- side: consumer\n  match: {param: [{key: region, value: {exact: sh}}]}\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
            (
                "a typed item without enabled is off (as Java reads enabled=null)",
                "key: com.foo.Bar\nconfigs:\n- type: balancing\n  side: consumer\n  parameters: {timeout: 6000}\n",
                "1000",
            ),
        ];
        for (name, yaml, want) in cases {
            let rules = zkdubbo_governance::parse_configurators(&yaml.replace("\\n", "\n")).unwrap();
            let (c, errors) = Configurators::from_overrides(&rules, "/dubbo/config/dubbo/node");
            assert!(errors.is_empty(), "{name}: {errors:?}");
            let out = c.apply(url(target), CONSUMER_HOST);
            assert_eq!(out.param("timeout"), Some(*want), "rule: {name}");
            // The keys the conversion adds are conditions, never applied.
            for key in ["category", "configVersion", "enabled", "providerAddresses"] {
                assert_eq!(out.param(key), None, "{name}: {key} applied");
            }
        }
    }

    #[test]
    fn url_style_copies_of_config_center_rules_are_skipped_and_parts_chain_in_order() {
        let (c, errors) =
            Configurators::parse(&[url("override://0.0.0.0/com.foo.Bar?compatible_config=true&weight=1")]);
        assert!(errors.is_empty() && c.is_empty());
        let (url_style, _) = Configurators::parse(&[url("override://0.0.0.0/com.foo.Bar?weight=1")]);
        let rules = zkdubbo_governance::parse_configurators(
            "key: com.foo.Bar\nconfigs:\n- side: consumer\n  parameters: {weight: 2}\n",
        )
        .unwrap();
        let (service, _) = Configurators::from_overrides(&rules, "/n");
        assert_eq!(service.rules()[0].source(), Some("/n"));
        let chained = Configurators::chain([&url_style, &service]);
        assert_eq!(chained.apply(url(TARGET), CONSUMER_HOST).param("weight"), Some("2"));
        let chained = Configurators::chain([&service, &url_style]);
        assert_eq!(chained.apply(url(TARGET), CONSUMER_HOST).param("weight"), Some("1"));
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
