//! Where rules live: the governance group and the node keys under the config-center root.

/// The group every governance rule is filed under (`GovernanceRuleRepository.DEFAULT_GROUP`).
pub const GOVERNANCE_GROUP: &str = "dubbo";
/// Suffix of configurator rule keys.
pub const CONFIGURATORS_SUFFIX: &str = ".configurators";
/// Suffix of condition router rule keys.
pub const CONDITION_ROUTER_SUFFIX: &str = ".condition-router";
/// Suffix of tag router rule keys.
pub const TAG_ROUTER_SUFFIX: &str = ".tag-router";

/// The rule key of a service: `interface:version:group`, empty parts keeping their `:`
/// (Dubbo's `URL.getColonSeparatedKey`).
///
/// ```
/// assert_eq!(zkdubbo_governance::service_rule_key("com.foo.Bar", None, None), "com.foo.Bar::");
/// assert_eq!(zkdubbo_governance::service_rule_key("com.foo.Bar", Some("1.0"), Some("g")), "com.foo.Bar:1.0:g");
/// ```
pub fn service_rule_key(interface: &str, version: Option<&str>, group: Option<&str>) -> String {
    format!("{interface}:{}:{}", version.unwrap_or(""), group.unwrap_or(""))
}

/// The path of rule `key` under the config-center `root` (the registry's; `/dubbo/config` by
/// default), in the governance group.
///
/// ```
/// assert_eq!(
///     zkdubbo_governance::rule_path("/dubbo/config", "com.foo.Bar::.configurators"),
///     "/dubbo/config/dubbo/com.foo.Bar::.configurators"
/// );
/// ```
pub fn rule_path(root: &str, key: &str) -> String {
    format!("{}/{GOVERNANCE_GROUP}/{key}", root.trim_end_matches('/'))
}
