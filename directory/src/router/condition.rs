//! Condition routers (`condition://` in the `routers` category, ARCHITECTURE: Routers).
//!
//! The rule lives URL-encoded in the `rule` parameter: `[when] => [then]`. Each side is a set
//! of conditions `key = v1,v2` (any of) or `key != v` (none of) joined by `&`; values are globs
//! (`*` at the start, end or middle) or `$key` (a consumer parameter). Keys: `host`,
//! `address` (`host:port`), `method`/`methods` (the called method), `arguments[N]`,
//! `attachments[name]`, the URL parts `protocol`/`port`/`path`, otherwise a URL parameter;
//! `consumer.` and `provider.` prefixes are accepted and ignored. A blank or `true` when matches
//! every consumer; a blank or `false` then blacklists the matching consumers.
//!
//! ```
//! use zkdubbo_common::{Url, encoding::encode};
//! use zkdubbo_directory::router::condition::ConditionRouter;
//! let rule = encode("host = 10.0.0.1 => host = 10.0.0.5");
//! let url: Url = format!("condition://0.0.0.0/com.foo.Bar?category=routers&force=true&rule={rule}").parse().unwrap();
//! let router = ConditionRouter::from_url(&url).unwrap().unwrap();
//! let consumer: Url = "consumer://10.0.0.1/com.foo.Bar".parse().unwrap();
//! let providers: Vec<Url> = ["dubbo://10.0.0.5:1/x", "dubbo://10.0.0.6:1/x"].iter().map(|s| s.parse().unwrap()).collect();
//! assert!(router.matches_when(&consumer, Some("get"), None));
//! assert!(router.matches_then(&providers[0], &consumer));
//! assert!(!router.matches_then(&providers[1], &consumer));
//! ```

use std::fmt;
use std::sync::Arc;

use zkdubbo_common::{Invocation, Url, is_match_glob, is_match_glob_with, keys, limits};

use crate::error::RuleError;

/// `rule`: the URL-encoded condition expression.
pub const RULE_KEY: &str = "rule";
/// `force`: keep an empty result instead of falling back to the input.
pub const FORCE_KEY: &str = "force";
/// `runtime`: evaluate on every call instead of at refresh time.
pub const RUNTIME_KEY: &str = "runtime";
/// `router`: overrides the protocol as the router type (`route://...?router=condition`).
pub const ROUTER_KEY: &str = "router";

/// A condition expression that does not parse: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{syntax} at byte {position}")]
pub struct ConditionParseError {
    /// Byte offset of the problem in the expression.
    pub position: usize,
    /// What is wrong there.
    pub syntax: ConditionSyntax,
}

/// What is wrong in a condition expression.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionSyntax {
    /// A separator with no key or value after it (`host = => ...`).
    #[error("expected a key or value after {after:?}")]
    MissingToken {
        /// The separator.
        after: String,
    },
    /// Two tokens with nothing between them (`host = a b = c`).
    #[error("expected `&`, `=`, `!=` or `,` before {before:?}")]
    MissingSeparator {
        /// The second token.
        before: String,
    },
    /// `=` or `!=` at the start of a condition (`= a`).
    #[error("{value:?} has no key")]
    ValueWithoutKey {
        /// The value.
        value: String,
    },
    /// `,` where no `=`/`!=` value came before (`host , a`).
    #[error("`,` before {value:?} follows no value")]
    CommaWithoutValue {
        /// The value after the comma.
        value: String,
    },
    /// A run of separator characters that is not one of `&`, `=`, `!=`, `,` (`==`, `!`).
    #[error("unexpected separator {separator:?}")]
    UnknownSeparator {
        /// The separator as written.
        separator: String,
    },
    /// A key without `=` or `!=` values (`host => ...`).
    #[error("condition {key} has no `=` or `!=` value")]
    KeyWithoutValue {
        /// The key.
        key: String,
    },
    /// A side with no condition at all.
    #[error("no condition")]
    Empty,
    /// `arguments[..]` without a number.
    #[error("bad argument key {key:?} (expected arguments[N])")]
    BadArgumentKey {
        /// The key as written.
        key: String,
    },
    /// `attachments[..]` without a name.
    #[error("bad attachment key {key:?} (expected attachments[name])")]
    BadAttachmentKey {
        /// The key as written.
        key: String,
    },
}

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionKey {
    /// `host`: the URL's host.
    Host,
    /// `address`: `host:port`.
    Address,
    /// `method` / `methods`: the called method (on the consumer side).
    Method,
    /// `arguments[N]`: the textual form of argument N.
    Argument(usize),
    /// `attachments[name]`: an attachment of the call.
    Attachment(String),
    /// Any other key: a URL part (`protocol`, `port`, `path`...) or parameter.
    Param(String),
}

impl ConditionKey {
    fn parse(raw: &str) -> Result<ConditionKey, ConditionSyntax> {
        let key = raw
            .strip_prefix("consumer.")
            .or_else(|| raw.strip_prefix("provider."))
            .unwrap_or(raw);
        Ok(match key {
            "host" => ConditionKey::Host,
            "address" => ConditionKey::Address,
            "method" | "methods" => ConditionKey::Method,
            _ => {
                if let Some(inner) = key.strip_prefix("arguments[") {
                    let n = inner
                        .strip_suffix(']')
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| ConditionSyntax::BadArgumentKey { key: key.to_owned() })?;
                    ConditionKey::Argument(n)
                } else if let Some(inner) = key.strip_prefix("attachments[") {
                    let name = inner
                        .strip_suffix(']')
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| ConditionSyntax::BadAttachmentKey { key: key.to_owned() })?;
                    ConditionKey::Attachment(name.to_owned())
                } else {
                    ConditionKey::Param(key.to_owned())
                }
            }
        })
    }

    /// Whether the key depends on the call (argument or attachment).
    pub fn is_per_call(&self) -> bool {
        matches!(self, ConditionKey::Argument(_) | ConditionKey::Attachment(_))
    }
}

impl fmt::Display for ConditionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionKey::Host => f.write_str("host"),
            ConditionKey::Address => f.write_str("address"),
            ConditionKey::Method => f.write_str("method"),
            ConditionKey::Argument(n) => write!(f, "arguments[{n}]"),
            ConditionKey::Attachment(a) => write!(f, "attachments[{a}]"),
            ConditionKey::Param(p) => f.write_str(p),
        }
    }
}

/// The values of one condition: `=` values (any must match) and `!=` values (none may).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchPair {
    /// Values after `=`.
    pub matches: Vec<String>,
    /// Values after `!=`.
    pub mismatches: Vec<String>,
}

impl MatchPair {
    /// Dubbo's `MatchPair.isMatch`: mismatches are checked first; with only mismatches, a
    /// value none of them matches passes. `param` resolves `$key` patterns.
    fn is_match(&self, value: &str, param: Option<&Url>) -> bool {
        let glob = |p: &str| match param {
            Some(u) => is_match_glob_with(p, value, u),
            None => is_match_glob(p, value),
        };
        if self.mismatches.iter().any(|p| glob(p)) {
            return false;
        }
        if self.matches.is_empty() {
            return !self.mismatches.is_empty();
        }
        self.matches.iter().any(|p| glob(p))
    }
}

/// One side of a rule: conditions that must all hold.
pub type Conditions = Vec<(ConditionKey, MatchPair)>;

/// When a router can be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterScope {
    /// Only consumer and provider URLs: once per refresh.
    Refresh,
    /// Also the method name: once per refresh per known method; per call for other methods.
    PerMethod,
    /// Arguments, attachments or `runtime=true`: on every call.
    PerCall,
}

/// A parsed condition router.
#[derive(Debug, Clone)]
pub struct ConditionRouter {
    url: Url,
    expression: String,
    when: Conditions,
    then: Option<Conditions>,
    priority: i64,
    force: bool,
    runtime: bool,
    scope: RouterScope,
    /// The config-center node the rule came from, for messages and `describe`.
    source: Option<Arc<str>>,
}

impl ConditionRouter {
    /// Parse a router URL. `Ok(None)` for a router switched off with `enabled=false`.
    ///
    /// # Errors
    /// [`RuleError::UnknownProtocol`] when the URL is not a condition router,
    /// [`RuleError::BadRuleParam`] when `rule` is missing or not decodable,
    /// [`RuleError::BadCondition`] when the expression does not parse.
    pub fn from_url(url: &Url) -> Result<Option<ConditionRouter>, RuleError> {
        let kind = url
            .param(ROUTER_KEY)
            .filter(|r| !r.is_empty())
            .unwrap_or(url.protocol());
        if kind != keys::CONDITION_PROTOCOL {
            return Err(RuleError::UnknownProtocol {
                rule: url.to_string(),
                protocol: kind.to_owned(),
            });
        }
        if !limits::read_bool(url, keys::ENABLED, true) {
            return Ok(None);
        }
        let expression = match url.param_decoded(RULE_KEY) {
            None => {
                return Err(RuleError::BadRuleParam {
                    rule: url.to_string(),
                    message: "no `rule` parameter".into(),
                });
            }
            Some(Err(e)) => {
                return Err(RuleError::BadRuleParam {
                    rule: url.to_string(),
                    message: format!("`rule` does not decode: {e}"),
                });
            }
            Some(Ok(r)) => r.into_owned(),
        };
        // A blank rule would read as "every consumer, no provider" and cut everyone off;
        // Java's ConditionRouter refuses it ("Illegal route rule!"), and so do we.
        if expression.trim().is_empty() {
            return Err(RuleError::BadRuleParam {
                rule: url.to_string(),
                message: "the `rule` is blank".into(),
            });
        }
        let mut router = Self::parse(&expression).map_err(|error| RuleError::BadCondition {
            rule: url.to_string(),
            expression: expression.clone(),
            error,
        })?;
        router.url = url.clone();
        router.priority = limits::PRIORITY.read_plain(url);
        router.force = limits::read_bool(url, FORCE_KEY, false);
        router.runtime = limits::read_bool(url, RUNTIME_KEY, false);
        router.scope = router.compute_scope();
        Ok(Some(router))
    }

    /// Parse a bare expression (`when => then`) into a router with default parameters.
    ///
    /// ```
    /// use zkdubbo_directory::router::{ConditionRouter, ConditionSyntax};
    /// let err = ConditionRouter::parse("host = 10.0.0.1 => host").unwrap_err();
    /// assert_eq!(err.position, 23);
    /// assert!(matches!(err.syntax, ConditionSyntax::KeyWithoutValue { .. }));
    /// ```
    ///
    /// # Errors
    /// A [`ConditionParseError`] naming the byte offset and what was expected there.
    pub fn parse(expression: &str) -> Result<ConditionRouter, ConditionParseError> {
        let (when_text, when_at, then_text, then_at) = match expression.find("=>") {
            Some(i) => (&expression[..i], 0, &expression[i + 2..], i + 2),
            None => ("", 0, expression, 0),
        };
        let when = match when_text.trim() {
            "" | "true" => Vec::new(),
            _ => parse_conditions(when_text, when_at)?,
        };
        let then = match then_text.trim() {
            "" | "false" => None,
            _ => Some(parse_conditions(then_text, then_at)?),
        };
        let mut router = ConditionRouter {
            url: Url::new(keys::CONDITION_PROTOCOL, keys::ANYHOST_VALUE, None, ""),
            expression: expression.to_owned(),
            when,
            then,
            priority: 0,
            force: false,
            runtime: false,
            scope: RouterScope::Refresh,
            source: None,
        };
        router.scope = router.compute_scope();
        Ok(router)
    }

    /// The same router, named after the config-center node it came from.
    pub fn with_source(mut self, source: Arc<str>) -> Self {
        self.source = Some(source);
        self
    }

    /// The config-center node the rule came from (`None`: a URL-style rule).
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// A name for messages: the node and the condition for a config-center rule, else the
    /// rule URL.
    pub fn name(&self) -> String {
        match &self.source {
            Some(s) => format!("{s} ({:?})", self.expression),
            None => self.url.to_string(),
        }
    }

    fn compute_scope(&self) -> RouterScope {
        if self.runtime || self.when.iter().any(|(k, _)| k.is_per_call()) {
            RouterScope::PerCall
        } else if self.when.iter().any(|(k, _)| *k == ConditionKey::Method) {
            RouterScope::PerMethod
        } else {
            RouterScope::Refresh
        }
    }

    /// The router URL as written.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The decoded expression.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// `priority` (default 0; lower runs first).
    pub fn priority(&self) -> i64 {
        self.priority
    }

    /// `force` (default false).
    pub fn force(&self) -> bool {
        self.force
    }

    /// `runtime` (default false).
    pub fn runtime(&self) -> bool {
        self.runtime
    }

    /// When this router can be evaluated.
    pub fn scope(&self) -> RouterScope {
        self.scope
    }

    /// The when conditions (empty: every consumer).
    pub fn when(&self) -> &Conditions {
        &self.when
    }

    /// The then conditions (`None`: blacklist).
    pub fn then(&self) -> Option<&Conditions> {
        self.then.as_ref()
    }

    /// Whether the when part holds for `consumer` calling `method` (with `inv` when known).
    /// Per-call keys fail when `inv` is `None` and they have `=` values.
    pub fn matches_when(&self, consumer: &Url, method: Option<&str>, inv: Option<&Invocation>) -> bool {
        self.when.is_empty() || match_conditions(&self.when, consumer, None, method, inv)
    }

    /// Whether the then part accepts `provider` (`$key` values read `consumer`).
    pub fn matches_then(&self, provider: &Url, consumer: &Url) -> bool {
        match &self.then {
            None => false,
            Some(c) => !c.is_empty() && match_conditions(c, provider, Some(consumer), None, None),
        }
    }

    /// The indices of `providers` the then part keeps, for `consumer`.
    pub(crate) fn kept_by_then<P>(&self, providers: &[P], url_of: impl Fn(&P) -> &Url, consumer: &Url) -> Vec<usize> {
        providers
            .iter()
            .enumerate()
            .filter(|(_, p)| self.matches_then(url_of(p), consumer))
            .map(|(i, _)| i)
            .collect()
    }

    /// Route `providers` (indices into them are returned). `None`: the when part does not
    /// match, so the input stays as it is. `Some(v)`: the routed list (possibly empty,
    /// which means "no provider" — a non-forced empty result already fell back to the input).
    pub fn route<P>(
        &self,
        providers: &[P],
        url_of: impl Fn(&P) -> &Url,
        consumer: &Url,
        method: Option<&str>,
        inv: Option<&Invocation>,
    ) -> Option<Vec<usize>> {
        if providers.is_empty() || !self.matches_when(consumer, method, inv) {
            return None;
        }
        if self.then.is_none() {
            return Some(Vec::new());
        }
        let kept = self.kept_by_then(providers, url_of, consumer);
        if kept.is_empty() && !self.force {
            return None;
        }
        Some(kept)
    }
}

impl fmt::Display for ConditionRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{s} ({:?})", self.expression),
            None => write!(f, "{} ({:?})", self.url, self.expression),
        }
    }
}

/// Dubbo's `matchCondition`: every condition must hold; a key without a value on the URL
/// passes only if the condition has no `=` values.
fn match_conditions(
    conditions: &Conditions,
    url: &Url,
    param: Option<&Url>,
    method: Option<&str>,
    inv: Option<&Invocation>,
) -> bool {
    conditions.iter().all(|(key, pair)| {
        let sample: Option<std::borrow::Cow<'_, str>> = match key {
            ConditionKey::Method if method.is_some() => method.map(Into::into),
            ConditionKey::Method => url.param(keys::METHODS).map(Into::into),
            ConditionKey::Host => Some(url.host().into()),
            ConditionKey::Address => Some(url.address().into()),
            ConditionKey::Argument(n) => inv.and_then(|i| i.argument(*n)).map(Into::into),
            ConditionKey::Attachment(a) => inv.and_then(|i| i.attachment(a)).map(Into::into),
            ConditionKey::Param(p) => url.raw_param(p),
        };
        match sample {
            Some(v) => pair.is_match(&v, param),
            None => pair.matches.is_empty(),
        }
    })
}

fn is_separator(c: char) -> bool {
    matches!(c, '&' | '!' | '=' | ',')
}

/// Parse one side of a rule. Tokens are `[separator] content` as in Dubbo's
/// `([&!=,]*)\s*([^&!=,\s]+)`, but stricter: a separator must be one of `&`, `=`, `!=`, `,`,
/// and every condition needs a value. `base` is the side's offset in the whole expression.
fn parse_conditions(text: &str, base: usize) -> Result<Conditions, ConditionParseError> {
    let err = |position: usize, syntax: ConditionSyntax| ConditionParseError { position, syntax };
    let mut conditions: Conditions = Vec::new();
    // Index of the current condition, and whether values go to mismatches.
    let mut current: Option<usize> = None;
    let mut values_target: Option<bool> = None;
    let bytes = text.char_indices().collect::<Vec<_>>();
    let mut i = 0;
    let next_non_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].1.is_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = next_non_space(i);
        if i >= bytes.len() {
            break;
        }
        let sep_start = i;
        while i < bytes.len() && is_separator(bytes[i].1) {
            i += 1;
        }
        let separator: String = bytes[sep_start..i].iter().map(|(_, c)| c).collect();
        let sep_pos = base + bytes[sep_start].0;
        i = next_non_space(i);
        let content_start = i;
        while i < bytes.len() && !is_separator(bytes[i].1) && !bytes[i].1.is_whitespace() {
            i += 1;
        }
        if content_start == i {
            let at = bytes.get(content_start).map_or(base + text.len(), |b| base + b.0);
            return Err(err(at, ConditionSyntax::MissingToken { after: separator }));
        }
        let content_end = bytes.get(i).map_or(text.len(), |b| b.0);
        let content = &text[bytes[content_start].0..content_end];
        match separator.as_str() {
            "" | "&" => {
                if separator.is_empty() && current.is_some() {
                    return Err(err(
                        base + bytes[content_start].0,
                        ConditionSyntax::MissingSeparator {
                            before: content.to_owned(),
                        },
                    ));
                }
                if let Some(c) = current {
                    check_has_values(&conditions[c], sep_pos)?;
                }
                let key = ConditionKey::parse(content).map_err(|syntax| err(base + bytes[content_start].0, syntax))?;
                let idx = match conditions.iter().position(|(k, _)| *k == key) {
                    Some(idx) => idx,
                    None => {
                        conditions.push((key, MatchPair::default()));
                        conditions.len() - 1
                    }
                };
                current = Some(idx);
                values_target = None;
            }
            "=" | "!=" => {
                let Some(c) = current else {
                    return Err(err(
                        sep_pos,
                        ConditionSyntax::ValueWithoutKey {
                            value: content.to_owned(),
                        },
                    ));
                };
                let mismatch = separator == "!=";
                let pair = &mut conditions[c].1;
                if mismatch {
                    &mut pair.mismatches
                } else {
                    &mut pair.matches
                }
                .push(content.to_owned());
                values_target = Some(mismatch);
            }
            "," => {
                let (Some(c), Some(mismatch)) = (current, values_target) else {
                    return Err(err(
                        sep_pos,
                        ConditionSyntax::CommaWithoutValue {
                            value: content.to_owned(),
                        },
                    ));
                };
                let pair = &mut conditions[c].1;
                if mismatch {
                    &mut pair.mismatches
                } else {
                    &mut pair.matches
                }
                .push(content.to_owned());
            }
            other => {
                return Err(err(
                    sep_pos,
                    ConditionSyntax::UnknownSeparator {
                        separator: other.to_owned(),
                    },
                ));
            }
        }
    }
    if let Some(c) = current {
        check_has_values(&conditions[c], base + text.len())?;
    }
    if conditions.is_empty() {
        return Err(err(base, ConditionSyntax::Empty));
    }
    Ok(conditions)
}

fn check_has_values((key, pair): &(ConditionKey, MatchPair), at: usize) -> Result<(), ConditionParseError> {
    if pair.matches.is_empty() && pair.mismatches.is_empty() {
        return Err(ConditionParseError {
            position: at,
            syntax: ConditionSyntax::KeyWithoutValue { key: key.to_string() },
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // case tables
mod tests {
    use super::*;
    use zkdubbo_common::encoding::encode;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    fn router(rule: &str, extra: &str) -> ConditionRouter {
        let u = url(&format!(
            "condition://0.0.0.0/com.foo.Bar?category=routers&rule={}{extra}",
            encode(rule)
        ));
        ConditionRouter::from_url(&u).unwrap().unwrap()
    }

    #[test]
    fn syntax_forms_parse() {
        // (form, expression, when, then) as "key=matches!mismatches" summaries.
        fn summary(c: &Conditions) -> Vec<String> {
            c.iter()
                .map(|(k, p)| format!("{k}={}!{}", p.matches.join(","), p.mismatches.join(",")))
                .collect()
        }
        let cases: &[(&str, &str, &[&str], Option<&[&str]>)] = &[
            (
                "when => then",
                "host = 1.1.1.1 => host = 2.2.2.2",
                &["host=1.1.1.1!"],
                Some(&["host=2.2.2.2!"]),
            ),
            ("no => is then only", "host = 2.2.2.2", &[], Some(&["host=2.2.2.2!"])),
            ("blank when", " => host = 2.2.2.2", &[], Some(&["host=2.2.2.2!"])),
            ("true when", "true => host = 2.2.2.2", &[], Some(&["host=2.2.2.2!"])),
            ("blank then", "host = 1.1.1.1 => ", &["host=1.1.1.1!"], None),
            ("false then", "host = 1.1.1.1 => false", &["host=1.1.1.1!"], None),
            (
                "comma list",
                "=> host = 1.1.1.1,2.2.2.2 , 3.3.3.3",
                &[],
                Some(&["host=1.1.1.1,2.2.2.2,3.3.3.3!"]),
            ),
            (
                "!= list",
                "=> host != 1.1.1.1,2.2.2.2",
                &[],
                Some(&["host=!1.1.1.1,2.2.2.2"]),
            ),
            (
                "= and != on one key",
                "=> host = 1.* & host != 1.1.1.1",
                &[],
                Some(&["host=1.*!1.1.1.1"]),
            ),
            (
                "& joins keys",
                "method = get & application = shop => protocol = tri",
                &["method=get!", "application=shop!"],
                Some(&["protocol=tri!"]),
            ),
            (
                "no spaces",
                "method=get=>host!=1.1.1.1",
                &["method=get!"],
                Some(&["host=!1.1.1.1"]),
            ),
            ("methods alias", "methods = get =>", &["method=get!"], None),
            (
                "arguments[N]",
                "arguments[1] = 42 => host = a",
                &["arguments[1]=42!"],
                Some(&["host=a!"]),
            ),
            (
                "attachments",
                "attachments[region] = eu => host = a",
                &["attachments[region]=eu!"],
                Some(&["host=a!"]),
            ),
            (
                "consumer. prefix",
                "consumer.host = a => provider.host = b",
                &["host=a!"],
                Some(&["host=b!"]),
            ),
            (
                "$key value",
                "=> application = $application",
                &[],
                Some(&["application=$application!"]),
            ),
        ];
        for (form, expr, when, then) in cases {
            let r = ConditionRouter::parse(expr).unwrap_or_else(|e| panic!("{form}: {e:?}"));
            assert_eq!(summary(r.when()), *when, "when of: {form}");
            assert_eq!(
                r.then().map(summary),
                then.map(|t| t.iter().map(|s| s.to_string()).collect()),
                "then: {form}"
            );
        }
    }

    #[test]
    fn bad_syntax_is_a_typed_error_naming_the_rule() {
        let cases = [
            ("value without key", "= a => host = b"),
            ("double separator", "host == a => host = b"),
            ("missing value", "host = => host = b"),
            ("trailing separator", "=> host = a &"),
            ("comma without value", "=> host , a"),
            ("key without condition", "host => host = a"),
            ("missing &", "host = a b = c => host = d"),
            ("bad argument index", "arguments[x] = 1 => host = a"),
            ("! alone", "host ! a => host = b"),
        ];
        for (form, expr) in cases {
            let u = url(&format!("condition://0.0.0.0/com.foo.Bar?rule={}", encode(expr)));
            match ConditionRouter::from_url(&u) {
                Err(RuleError::BadCondition {
                    rule,
                    expression,
                    error,
                }) => {
                    assert!(rule.starts_with("condition://0.0.0.0/com.foo.Bar"), "{form}");
                    assert_eq!(expression, expr, "{form}");
                    assert!(error.position <= expr.len(), "{form}: {error}");
                }
                other => panic!("{form}: expected BadCondition, got {other:?}"),
            }
        }
        for blank in ["rule=", "rule=+++"] {
            let u = url(&format!("condition://0.0.0.0/com.foo.Bar?category=routers&{blank}"));
            assert!(
                matches!(ConditionRouter::from_url(&u), Err(RuleError::BadRuleParam { message, .. }) if message.contains("blank")),
                "{blank}"
            );
        }
        let no_rule = url("condition://0.0.0.0/com.foo.Bar?force=true");
        assert!(matches!(
            ConditionRouter::from_url(&no_rule),
            Err(RuleError::BadRuleParam { .. })
        ));
        let script = url("script://0.0.0.0/com.foo.Bar?rule=x");
        assert!(matches!(
            ConditionRouter::from_url(&script),
            Err(RuleError::UnknownProtocol { .. })
        ));
        let via_router_param = url(&format!(
            "route://0.0.0.0/com.foo.Bar?router=condition&rule={}",
            encode("=> host = a")
        ));
        assert!(ConditionRouter::from_url(&via_router_param).unwrap().is_some());
        let disabled = url(&format!(
            "condition://0.0.0.0/x?enabled=false&rule={}",
            encode("=> host = a")
        ));
        assert!(ConditionRouter::from_url(&disabled).unwrap().is_none());
    }

    /// Result cases of ARCHITECTURE: Routers: (case, rule, extra params, consumer, method, expected hosts or None = unchanged).
    #[test]
    fn result_cases() {
        let providers: Vec<Url> = [
            "dubbo://10.0.0.5:20880/com.foo.Bar?application=bar&methods=get,put&zone=eu",
            "dubbo://10.0.0.6:20880/com.foo.Bar?application=bar&methods=get&zone=us",
            "tri://10.0.0.7:50051/com.foo.Bar?application=other",
        ]
        .iter()
        .map(|s| url(s))
        .collect();
        let c = "consumer://10.0.0.1/com.foo.Bar?application=shop&zone=eu";
        let cases: &[(&str, &str, &str, &str, Option<&[&str]>)] = &[
            (
                "when not matched → unchanged",
                "host = 9.9.9.9 => host = 10.0.0.5",
                "",
                c,
                None,
            ),
            (
                "when matched → filtered",
                "host = 10.0.0.1 => host = 10.0.0.5",
                "",
                c,
                Some(&["10.0.0.5"]),
            ),
            (
                "blank when → filtered",
                "=> host = 10.0.0.6",
                "",
                c,
                Some(&["10.0.0.6"]),
            ),
            (
                "then only",
                "host = 10.0.0.6,10.0.0.7",
                "",
                c,
                Some(&["10.0.0.6", "10.0.0.7"]),
            ),
            (
                "!= in then",
                "=> host != 10.0.0.6",
                "",
                c,
                Some(&["10.0.0.5", "10.0.0.7"]),
            ),
            (
                "glob prefix",
                "=> host = 10.0.0.*",
                "",
                c,
                Some(&["10.0.0.5", "10.0.0.6", "10.0.0.7"]),
            ),
            ("glob suffix", "=> host = *.7", "", c, Some(&["10.0.0.7"])),
            ("address key", "=> address = 10.0.0.7:50051", "", c, Some(&["10.0.0.7"])),
            ("protocol part", "=> protocol = tri", "", c, Some(&["10.0.0.7"])),
            (
                "param key",
                "application = shop => application = bar",
                "",
                c,
                Some(&["10.0.0.5", "10.0.0.6"]),
            ),
            ("$key in then", "=> zone = $zone", "", c, Some(&["10.0.0.5"])),
            (
                "missing key with = fails",
                "=> zone = eu,us",
                "",
                c,
                Some(&["10.0.0.5", "10.0.0.6"]),
            ),
            (
                "missing key with only != passes",
                "=> zone != eu",
                "",
                c,
                Some(&["10.0.0.6", "10.0.0.7"]),
            ),
            ("empty not forced → original", "=> host = 9.9.9.9", "", c, None),
            ("empty forced → empty", "=> host = 9.9.9.9", "&force=true", c, Some(&[])),
            ("blacklist (blank then)", "host = 10.0.0.1 =>", "", c, Some(&[])),
            ("blacklist (false then)", "host = 10.0.0.1 => false", "", c, Some(&[])),
            ("blacklist other consumer", "host = 10.0.0.2 => false", "", c, None),
            (
                "method when matched",
                "method = get => host = 10.0.0.6",
                "",
                c,
                Some(&["10.0.0.6"]),
            ),
            (
                "method when not matched",
                "method = put => host = 10.0.0.6",
                "",
                c,
                None,
            ),
            (
                "method glob",
                "method = g* => host = 10.0.0.6",
                "",
                c,
                Some(&["10.0.0.6"]),
            ),
            ("method != ", "method != get => host = 10.0.0.6", "", c, None),
        ];
        for (case, rule, extra, consumer, want) in cases {
            let r = router(rule, extra);
            let got = r
                .route(&providers, |u| u, &url(consumer), Some("get"), None)
                .map(|idx| idx.iter().map(|&i| providers[i].host().to_owned()).collect::<Vec<_>>());
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "case: {case}");
        }
    }

    #[test]
    fn per_call_keys_and_scopes() {
        let providers: Vec<Url> = ["dubbo://10.0.0.5:1/x", "dubbo://10.0.0.6:1/x"]
            .iter()
            .map(|s| url(s))
            .collect();
        let consumer = url("consumer://10.0.0.1/x");
        let r = router("arguments[0] = vip => host = 10.0.0.5", "");
        assert_eq!(r.scope(), RouterScope::PerCall);
        let vip = Invocation::new("get").with_argument("vip");
        let other = Invocation::new("get").with_argument("x");
        assert_eq!(
            r.route(&providers, |u| u, &consumer, Some("get"), Some(&vip)),
            Some(vec![0])
        );
        assert_eq!(r.route(&providers, |u| u, &consumer, Some("get"), Some(&other)), None);
        let r = router("attachments[region] = eu => host = 10.0.0.6", "");
        let eu = Invocation::new("get").with_attachment("region", "eu");
        assert_eq!(
            r.route(&providers, |u| u, &consumer, Some("get"), Some(&eu)),
            Some(vec![1])
        );
        assert_eq!(router("method = get => host = a", "").scope(), RouterScope::PerMethod);
        assert_eq!(router("host = b => host = a", "").scope(), RouterScope::Refresh);
        assert_eq!(
            router("host = b => host = a", "&runtime=true").scope(),
            RouterScope::PerCall
        );
        let r = router("=> host = a", "&priority=-3&force=true");
        assert_eq!((r.priority(), r.force(), r.runtime()), (-3, true, false));
    }
}
