//! Tag router rules (`<provider-application>.tag-router`): named tags with the addresses
//! they hold (v2.7) or a `match` on provider parameters (v3.0).

use zkdubbo_common::Url;

use crate::condition::RouterRuleBase;
use crate::error::RuleParseError;
use crate::matching::{ParamMatch, ip_matches_host};
use crate::yaml::{self, Fields};

/// One tag of a rule.
#[derive(Debug, Clone)]
pub struct Tag {
    /// `name`: what consumers ask for with `dubbo.tag`.
    pub name: String,
    /// `addresses`: the providers holding the tag (IP expressions, `ip:port`, CIDR).
    pub addresses: Vec<String>,
    /// `match` (v3.0, used when `addresses` is empty): every condition on the provider's
    /// parameters must hold.
    pub matches: Vec<ParamMatch>,
}

impl Tag {
    /// Whether the provider `url` holds this tag.
    pub fn holds(&self, url: &Url) -> bool {
        if !self.addresses.is_empty() {
            return address_in(&self.addresses, url);
        }
        !self.matches.is_empty() && self.matches.iter().all(|m| m.is_match(url))
    }
}

/// Whether `url`'s address matches one of `addresses` (an IP expression or `0.0.0.0:port`).
pub(crate) fn address_in(addresses: &[String], url: &Url) -> bool {
    let port = url.port().unwrap_or(0);
    // Called per provider of every tagged call: no allocation.
    addresses.iter().any(|a| {
        ip_matches_host(a, url.host(), port) || a.strip_prefix("0.0.0.0:").and_then(|p| p.parse().ok()) == Some(port)
    })
}

/// A tag router node's text, parsed.
#[derive(Debug, Clone)]
pub struct TagRule {
    /// The common router fields (`key` is the provider application).
    pub base: RouterRuleBase,
    /// `tags`.
    pub tags: Vec<Tag>,
}

impl TagRule {
    /// Parse a YAML tag router rule.
    ///
    /// ```
    /// let rule = zkdubbo_governance::TagRule::parse(
    ///     "key: demo-provider\ntags:\n- name: tag1\n  addresses: [192.168.0.1:20881]\n",
    /// ).unwrap();
    /// let url = "dubbo://192.168.0.1:20881/com.foo.Bar".parse().unwrap();
    /// assert!(rule.tags[0].holds(&url));
    /// ```
    pub fn parse(text: &str) -> Result<TagRule, RuleParseError> {
        let map = yaml::load(text)?;
        let f = Fields::new(&map, "");
        let base = RouterRuleBase::parse(&f)?;
        yaml::check_version(base.config_version.as_deref(), (3, 0), "v3.0")?;
        let v30 = base.config_version.as_deref().is_some_and(|v| v.starts_with("v3.0"));
        let tags = f
            .mappings("tags")?
            .filter(|t| !t.is_empty())
            .ok_or(RuleParseError::Missing { field: "tags".into() })?
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let t = Fields::new(m, format!("tags[{i}]"));
                let name = t
                    .string("name")?
                    .filter(|n| !n.is_empty())
                    .ok_or(RuleParseError::Missing { field: t.path("name") })?;
                let matches = if v30 {
                    t.mappings("match")?
                        .unwrap_or_default()
                        .into_iter()
                        .enumerate()
                        .map(|(j, m)| ParamMatch::parse(m, &format!("{}[{j}]", t.path("match"))))
                        .collect::<Result<_, _>>()?
                } else {
                    Vec::new()
                };
                Ok(Tag {
                    name,
                    addresses: t.strings("addresses")?,
                    matches,
                })
            })
            .collect::<Result<_, RuleParseError>>()?;
        Ok(TagRule { base, tags })
    }

    /// The tag `name`, if the rule has it.
    pub fn tag(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name == name)
    }

    /// Whether some tag of the rule holds the provider `url` dynamically.
    pub fn tags_provider(&self, url: &Url) -> bool {
        self.tags.iter().any(|t| t.holds(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v30_match_tags_and_bad_rules() {
        let rule = TagRule::parse(
            "configVersion: v3.0\nkey: demo-provider\ntags:\n- name: gray\n  match: [{key: env, value: {exact: gray}}]\n",
        )
        .unwrap();
        let gray: Url = "dubbo://10.0.0.1:1/x?env=gray".parse().unwrap();
        let blue: Url = "dubbo://10.0.0.2:1/x?env=blue".parse().unwrap();
        assert!(rule.tag("gray").unwrap().holds(&gray));
        assert!(!rule.tags_provider(&blue));
        for (text, want) in [
            ("key: a\n", "`tags` is missing"),
            ("key: a\ntags:\n- addresses: [1.2.3.4]\n", "`tags[0].name` is missing"),
            (
                "key: a\ntags:\n- name: t\n  addresses: 1.2.3.4\n",
                "`tags[0].addresses` should be a list",
            ),
        ] {
            let err = TagRule::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
