//! The `match` conditions of v3.0 rules (configurator items, tags): string, address and
//! parameter matches, as Dubbo's `StringMatch`, `AddressMatch`, `ParamMatch` and
//! `ConditionMatch` evaluate them.

use std::net::IpAddr;

use regex::Regex;
use serde_yaml_ng::Mapping;
use zkdubbo_common::{Url, is_match_glob, keys};

use crate::error::RuleParseError;
use crate::yaml::Fields;

/// One string condition; Java checks the first of `exact`, `prefix`, `regex`, `wildcard`,
/// `empty`, `noempty` that is set, and a match with none set matches nothing.
#[derive(Debug, Clone)]
pub enum StringMatch {
    /// Equal to the text.
    Exact(String),
    /// Starting with the text.
    Prefix(String),
    /// Matching the whole input (Java's `String.matches`).
    Regex(Regex),
    /// `*`, or equal to the text (Dubbo supports no other wildcard here).
    Wildcard(String),
    /// Absent or empty.
    Empty,
    /// Present and non-empty.
    NoEmpty,
    /// No condition set: never matches.
    Nothing,
}

impl StringMatch {
    pub(crate) fn parse(map: &Mapping, at: &str) -> Result<StringMatch, RuleParseError> {
        let f = Fields::new(map, at);
        if let Some(s) = f.string("exact")? {
            return Ok(StringMatch::Exact(s));
        }
        if let Some(s) = f.string("prefix")? {
            return Ok(StringMatch::Prefix(s));
        }
        if let Some(s) = f.string("regex")? {
            let re = Regex::new(&format!("^(?:{s})$")).map_err(|e| RuleParseError::Invalid {
                field: f.path("regex"),
                message: e.to_string(),
            })?;
            return Ok(StringMatch::Regex(re));
        }
        if let Some(s) = f.string("wildcard")? {
            return Ok(StringMatch::Wildcard(s));
        }
        if f.get("empty").is_some() {
            return Ok(StringMatch::Empty);
        }
        if f.get("noempty").is_some() {
            return Ok(StringMatch::NoEmpty);
        }
        Ok(StringMatch::Nothing)
    }

    /// Whether `input` (`None`: the parameter is absent) matches.
    pub fn is_match(&self, input: Option<&str>) -> bool {
        match (self, input) {
            (StringMatch::Exact(s), Some(i)) => i == s,
            (StringMatch::Prefix(s), Some(i)) => i.starts_with(s.as_str()),
            (StringMatch::Regex(re), Some(i)) => re.is_match(i),
            (StringMatch::Wildcard(s), Some(i)) => i == s || s == keys::ANY_VALUE,
            (StringMatch::Empty, i) => i.is_none_or(str::is_empty),
            (StringMatch::NoEmpty, i) => i.is_some_and(|i| !i.is_empty()),
            _ => false,
        }
    }
}

/// `oneof` a list of [`StringMatch`]es.
#[derive(Debug, Clone)]
pub struct ListStringMatch {
    oneof: Vec<StringMatch>,
}

impl ListStringMatch {
    fn parse(map: &Mapping, at: &str) -> Result<ListStringMatch, RuleParseError> {
        let f = Fields::new(map, at);
        let oneof = f
            .mappings("oneof")?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, m)| StringMatch::parse(m, &format!("{}[{i}]", f.path("oneof"))))
            .collect::<Result<_, _>>()?;
        Ok(ListStringMatch { oneof })
    }

    /// Whether one of the matches holds.
    pub fn is_match(&self, input: Option<&str>) -> bool {
        self.oneof.iter().any(|m| m.is_match(input))
    }
}

/// An address condition: `cird` (a CIDR block or an IP expression), `wildcard` (a glob;
/// `*` and `0.0.0.0` match anything) or `exact`.
#[derive(Debug, Clone, Default)]
pub struct AddressMatch {
    cird: Option<String>,
    wildcard: Option<String>,
    exact: Option<String>,
}

impl AddressMatch {
    fn parse(map: &Mapping, at: &str) -> Result<AddressMatch, RuleParseError> {
        let f = Fields::new(map, at);
        Ok(AddressMatch {
            cird: f.string("cird")?,
            wildcard: f.string("wildcard")?,
            exact: f.string("exact")?,
        })
    }

    /// Whether `input` (a host, or `host:port`) matches.
    pub fn is_match(&self, input: &str) -> bool {
        if let Some(c) = &self.cird
            && (input == c || ip_matches(c, input))
        {
            return true;
        }
        if let Some(w) = &self.wildcard {
            return w == keys::ANYHOST_VALUE || w == keys::ANY_VALUE || is_match_glob(w, input);
        }
        if let Some(e) = &self.exact {
            return input == e;
        }
        false
    }
}

/// A parameter condition: the URL's parameter `key` matches `value`.
#[derive(Debug, Clone)]
pub struct ParamMatch {
    key: String,
    value: StringMatch,
}

impl ParamMatch {
    pub(crate) fn parse(map: &Mapping, at: &str) -> Result<ParamMatch, RuleParseError> {
        let f = Fields::new(map, at);
        let key = f
            .string("key")?
            .ok_or(RuleParseError::Missing { field: f.path("key") })?;
        let value = f
            .mapping("value")?
            .ok_or(RuleParseError::Missing { field: f.path("value") })?;
        Ok(ParamMatch {
            key,
            value: StringMatch::parse(value, &f.path("value"))?,
        })
    }

    /// The parameter it looks at.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether `url`'s parameter matches.
    pub fn is_match(&self, url: &Url) -> bool {
        self.value.is_match(url.param(&self.key))
    }
}

/// The `match` of a v3.0 configurator item: every condition set must hold.
#[derive(Debug, Clone, Default)]
pub struct ConditionMatch {
    address: Option<AddressMatch>,
    provider_address: Option<AddressMatch>,
    service: Option<ListStringMatch>,
    app: Option<ListStringMatch>,
    param: Vec<ParamMatch>,
}

impl ConditionMatch {
    pub(crate) fn parse(map: &Mapping, at: &str) -> Result<ConditionMatch, RuleParseError> {
        let f = Fields::new(map, at);
        let address = |key: &str| -> Result<Option<AddressMatch>, RuleParseError> {
            f.mapping(key)?
                .map(|m| AddressMatch::parse(m, &f.path(key)))
                .transpose()
        };
        let list = |key: &str| -> Result<Option<ListStringMatch>, RuleParseError> {
            f.mapping(key)?
                .map(|m| ListStringMatch::parse(m, &f.path(key)))
                .transpose()
        };
        let param = f
            .mappings("param")?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, m)| ParamMatch::parse(m, &format!("{}[{i}]", f.path("param"))))
            .collect::<Result<_, _>>()?;
        Ok(ConditionMatch {
            address: address("address")?,
            provider_address: address("providerAddress")?,
            service: list("service")?,
            app: list("app")?,
            param,
        })
    }

    /// Whether `url` (the URL being configured) seen from `host` (the consumer's address at
    /// a consumer, the provider's at a provider) matches.
    pub fn is_match(&self, host: &str, url: &Url) -> bool {
        if self.address.as_ref().is_some_and(|m| !m.is_match(host)) {
            return false;
        }
        if self
            .provider_address
            .as_ref()
            .is_some_and(|m| !m.is_match(&url.address()))
        {
            return false;
        }
        if self
            .service
            .as_ref()
            .is_some_and(|m| !m.is_match(Some(&url.service_key())))
        {
            return false;
        }
        if self
            .app
            .as_ref()
            .is_some_and(|m| !m.is_match(url.param(keys::APPLICATION)))
        {
            return false;
        }
        self.param.iter().all(|p| p.is_match(url))
    }
}

/// Whether `address` (`host` or `host:port`) matches the IP expression `pattern`, as Dubbo's
/// `NetUtils.matchIpExpression`: a CIDR block (`10.0.0.0/8`), `*`, or dotted segments that
/// may be `*` or a range `a-b`, optionally followed by `:port`.
pub fn ip_matches(pattern: &str, address: &str) -> bool {
    let (host, port) = split_host_port(address);
    ip_matches_host(pattern, host, port)
}

/// [`ip_matches`] for a host and port given apart (`port` 0: none).
pub fn ip_matches_host(pattern: &str, host: &str, port: u16) -> bool {
    let pattern = pattern.trim();
    if let Some((net, bits)) = pattern.split_once('/') {
        return in_cidr(net, bits, host);
    }
    if pattern == "*" || pattern == "*.*.*.*" {
        return true;
    }
    let (pattern_host, pattern_port) = split_host_port(pattern);
    if pattern_port != 0 && pattern_port != port {
        return false;
    }
    if pattern_host == host {
        return true;
    }
    let separator = if host.contains(':') { ':' } else { '.' };
    let mask: Vec<&str> = pattern_host.split(separator).collect();
    let ip: Vec<&str> = host.split(separator).collect();
    if mask.len() != ip.len() || !pattern_host.contains(['*', '-']) {
        return false;
    }
    let radix = if separator == ':' { 16 } else { 10 };
    mask.iter().zip(&ip).all(|(m, i)| {
        if *m == "*" || m == i {
            return true;
        }
        if let Some((lo, hi)) = m.split_once('-') {
            let n = |s: &str| u32::from_str_radix(s, radix).ok();
            return matches!((n(lo), n(hi), n(i)), (Some(lo), Some(hi), Some(v)) if lo <= v && v <= hi);
        }
        *i == "0" && m.chars().all(|c| c == '0')
    })
}

fn split_host_port(address: &str) -> (&str, u16) {
    if let Some(rest) = address.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok()).unwrap_or(0)),
            None => (address, 0),
        };
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, p),
            Err(_) => (address, 0),
        },
        _ => (address, 0),
    }
}

fn in_cidr(net: &str, bits: &str, host: &str) -> bool {
    let (Ok(net), Ok(bits), Ok(host)) = (net.parse::<IpAddr>(), bits.parse::<u32>(), host.parse::<IpAddr>()) else {
        return false;
    };
    match (net, host) {
        (IpAddr::V4(n), IpAddr::V4(h)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(h) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(h)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(h) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_expressions_as_dubbo_reads_them() {
        let cases = [
            ("192.168.1.*", "192.168.1.63", true),
            ("192.168.1.*", "192.168.2.63", false),
            ("192.168.1.1-65", "192.168.1.63", true),
            ("192.168.1.1-61", "192.168.1.63", false),
            ("192.168.1.63:20880", "192.168.1.63:20880", true),
            ("192.168.1.63:20880", "192.168.1.63:20881", false),
            ("192.168.1.*:20880", "192.168.1.7:20880", true),
            ("10.0.0.0/8", "10.20.30.40", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("*", "1.2.3.4:5", true),
            ("192.168.1.63", "192.168.1.63:20880", true),
            ("192.168.1.064", "192.168.1.63", false),
            ("10.0.0.0/33", "10.0.0.1", false),
        ];
        for (pattern, address, want) in cases {
            assert_eq!(ip_matches(pattern, address), want, "{pattern} vs {address}");
        }
    }

    #[test]
    fn string_matches_check_the_first_condition_set() {
        let m = |yaml: &str| {
            let v: Mapping = serde_yaml_ng::from_str(yaml).unwrap();
            StringMatch::parse(&v, "value").unwrap()
        };
        assert!(m("{exact: gray}").is_match(Some("gray")));
        assert!(!m("{exact: gray}").is_match(None));
        assert!(m("{prefix: gr}").is_match(Some("gray")));
        assert!(m("{regex: 'g.*y'}").is_match(Some("gray")));
        assert!(!m("{regex: 'g.*'}").is_match(Some("a gray")), "whole input");
        assert!(m("{wildcard: '*'}").is_match(Some("x")));
        assert!(m("{empty: true}").is_match(None));
        assert!(m("{noempty: true}").is_match(Some("x")));
        assert!(!m("{}").is_match(Some("x")));
        let bad: Mapping = serde_yaml_ng::from_str("{regex: '('}").unwrap();
        assert!(matches!(
            StringMatch::parse(&bad, "v"),
            Err(RuleParseError::Invalid { .. })
        ));
    }
}
