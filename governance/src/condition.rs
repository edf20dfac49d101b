//! Condition router rules (`<service-key>.condition-router`, `<application>.condition-router`):
//! v2.7 `conditions` in the `when => then` grammar, and v3.1 `from`/`to` with weights.

use zkdubbo_common::encoding::encode;
use zkdubbo_common::{Url, keys};

use crate::error::RuleParseError;
use crate::yaml::{self, Fields};

/// The fields every router rule has (Dubbo's `AbstractRouterRule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterRuleBase {
    /// `configVersion`.
    pub config_version: Option<String>,
    /// `scope`: `service` or `application`.
    pub scope: Option<String>,
    /// `key`.
    pub key: Option<String>,
    /// `force` (default false): an empty result stays empty instead of meaning "all".
    pub force: bool,
    /// `runtime` (default true): evaluated per call.
    pub runtime: bool,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `priority` (default 0; Dubbo orders routers by kind, not by this).
    pub priority: i64,
}

impl RouterRuleBase {
    pub(crate) fn parse(f: &Fields<'_>) -> Result<RouterRuleBase, RuleParseError> {
        Ok(RouterRuleBase {
            config_version: f.string("configVersion")?,
            scope: f.string("scope")?,
            key: f.string("key")?,
            force: f.boolean("force")?.unwrap_or(false),
            runtime: f.boolean("runtime")?.unwrap_or(true),
            enabled: f.boolean("enabled")?.unwrap_or(true) && f.boolean("valid")?.unwrap_or(true),
            priority: f.integer("priority")?.unwrap_or(0),
        })
    }
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// v2.7: `when => then`.
    Expression(String),
    /// v3.1: for consumers matching `from`, one of the `to` destinations picked by weight
    /// among those that leave some provider.
    Weighted {
        /// The consumer condition (the `when` part; empty: every consumer).
        from: String,
        /// The destinations: a provider condition (the `then` part) and its weight.
        to: Vec<(String, u32)>,
    },
}

/// A condition router node's text, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionRule {
    /// The common router fields.
    pub base: RouterRuleBase,
    /// `conditions`, each a router of its own, run in order.
    pub conditions: Vec<Condition>,
}

impl ConditionRule {
    /// Parse a YAML condition router rule.
    ///
    /// ```
    /// let rule = zkdubbo_governance::ConditionRule::parse(
    ///     "scope: service\nkey: com.foo.Bar\nforce: true\nconditions: ['=> host != 172.22.3.91']\n",
    /// ).unwrap();
    /// assert!(rule.base.force);
    /// assert_eq!(rule.conditions.len(), 1);
    /// ```
    pub fn parse(text: &str) -> Result<ConditionRule, RuleParseError> {
        let map = yaml::load(text)?;
        let f = Fields::new(&map, "");
        let base = RouterRuleBase::parse(&f)?;
        yaml::check_version(base.config_version.as_deref(), (3, 1), "v3.1")?;
        let v31 = yaml::version_number(base.config_version.as_deref()).is_some_and(|v| v >= (3, 1));
        let conditions = if v31 {
            f.mappings("conditions")?
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, m)| weighted(&Fields::new(m, format!("conditions[{i}]"))))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            f.strings("conditions")?
                .into_iter()
                .map(Condition::Expression)
                .collect()
        };
        if conditions.is_empty() {
            return Err(RuleParseError::Missing {
                field: "conditions".into(),
            });
        }
        Ok(ConditionRule { base, conditions })
    }

    /// The `condition://` router URLs of the v2.7 conditions, one per condition, for
    /// `interface`, ordered at `priority` among the routers (Dubbo orders by kind of rule:
    /// service rules at 140, application rules at 150).
    pub fn router_urls(&self, interface: &str, priority: i64) -> Vec<Url> {
        self.conditions
            .iter()
            .filter_map(|c| match c {
                Condition::Expression(e) => Some(e),
                Condition::Weighted { .. } => None,
            })
            .map(|expression| {
                Url::new(keys::CONDITION_PROTOCOL, keys::ANYHOST_VALUE, None, interface)
                    .with_param(keys::CATEGORY, keys::ROUTERS_CATEGORY)
                    .with_param("rule", encode(expression))
                    .with_param("force", self.base.force.to_string())
                    .with_param("runtime", self.base.runtime.to_string())
                    .with_param("enabled", self.base.enabled.to_string())
                    .with_param("priority", priority.to_string())
            })
            .collect()
    }
}

fn weighted(f: &Fields<'_>) -> Result<Condition, RuleParseError> {
    let from = match f.mapping("from")? {
        Some(m) => Fields::new(m, f.path("from")).string("match")?.unwrap_or_default(),
        None => String::new(),
    };
    let to = f
        .mappings("to")?
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let d = Fields::new(m, format!("{}[{i}]", f.path("to")));
            let weight = d.integer("weight")?.unwrap_or(100);
            let weight = u32::try_from(weight).map_err(|_| RuleParseError::Invalid {
                field: d.path("weight"),
                message: format!("a weight cannot be negative ({weight})"),
            })?;
            Ok((d.string("match")?.unwrap_or_default(), weight))
        })
        .collect::<Result<Vec<_>, RuleParseError>>()?;
    if to.is_empty() {
        return Err(RuleParseError::Missing { field: f.path("to") });
    }
    Ok(Condition::Weighted { from, to })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_condition_route_with_defaults() {
        let yaml = "conditions:\n- host != 3.3.3.3,4.4.* =>\n- host = 1.1.1.1,2.2.2.2 =>\nenabled: true\nforce: false\n\
                    key: org.apache.dubbo.demo.DemoService\npriority: 0\nruntime: false\nscope: service\n";
        let rule = ConditionRule::parse(yaml).unwrap();
        assert_eq!(
            rule.conditions,
            [
                Condition::Expression("host != 3.3.3.3,4.4.* =>".into()),
                Condition::Expression("host = 1.1.1.1,2.2.2.2 =>".into())
            ]
        );
        assert!(!rule.base.runtime);
        let urls = rule.router_urls("org.apache.dubbo.demo.DemoService", 140);
        assert_eq!(urls.len(), 2);
        assert_eq!(
            urls[0].param_decoded("rule").unwrap().unwrap(),
            "host != 3.3.3.3,4.4.* =>"
        );
        assert_eq!(urls[1].param("priority"), Some("140"));
        // Defaults when absent: runtime true, force false, enabled true.
        let rule = ConditionRule::parse("conditions: ['=> host = 1.2.3.4']").unwrap();
        assert!(rule.base.runtime && !rule.base.force && rule.base.enabled);
    }

    #[test]
    fn v31_weighted_destinations() {
        let yaml = "configVersion: v3.1\nscope: service\nkey: com.foo.Bar\nforce: false\nconditions:\n\
                    - from: {match: 'env=gray'}\n  to:\n  - {match: 'env=gray', weight: 900}\n  - {match: 'env!=gray'}\n";
        let rule = ConditionRule::parse(yaml).unwrap();
        assert_eq!(
            rule.conditions,
            [Condition::Weighted {
                from: "env=gray".into(),
                to: vec![("env=gray".into(), 900), ("env!=gray".into(), 100)]
            }]
        );
    }

    #[test]
    fn bad_condition_rules() {
        for (text, want) in [
            ("scope: service\n", "`conditions` is missing"),
            ("conditions: []\n", "`conditions` is missing"),
            ("conditions: '=> host = 1'\n", "`conditions` should be a list"),
            ("configVersion: v3.2\nconditions: ['=>']\n", "not supported"),
            (
                "priority: high\nconditions: ['=> host = 1']\n",
                "`priority` should be an integer",
            ),
            (
                "configVersion: v3.1\nconditions:\n- from: {match: a=b}\n",
                "`conditions[0].to` is missing",
            ),
        ] {
            let err = ConditionRule::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
