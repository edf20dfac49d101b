//! Where rules live: the config-center root, the governance group and the node keys.

use zkdubbo_common::Url;

/// The group every governance rule is filed under (`GovernanceRuleRepository.DEFAULT_GROUP`).
pub const GOVERNANCE_GROUP: &str = "dubbo";
/// Suffix of configurator rule keys.
pub const CONFIGURATORS_SUFFIX: &str = ".configurators";
/// Suffix of condition router rule keys.
pub const CONDITION_ROUTER_SUFFIX: &str = ".condition-router";
/// Suffix of tag router rule keys.
pub const TAG_ROUTER_SUFFIX: &str = ".tag-router";
/// Registry URL parameter replacing the whole config-center root.
pub const ROOT_PATH_KEY: &str = "dubbo.config-center.root-path";
/// Registry URL parameter for the part after the namespace (default `/config`).
pub const BASE_PATH_KEY: &str = "dubbo.config-center.base-path";

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

/// The config-center root for a registry used as config center, as Dubbo computes it:
/// `dubbo.config-center.root-path` if set, else `/` + namespace (the registry's `group`,
/// default `dubbo`) + base path (`dubbo.config-center.base-path`, default `/config`).
///
/// ```
/// let url = "zookeeper://127.0.0.1:2181".parse().unwrap();
/// assert_eq!(zkdubbo_governance::config_root(&url), "/dubbo/config");
/// let url = "zookeeper://127.0.0.1:2181?group=hz".parse().unwrap();
/// assert_eq!(zkdubbo_governance::config_root(&url), "/hz/config");
/// ```
pub fn config_root(registry: &Url) -> String {
    if let Some(root) = registry.param(ROOT_PATH_KEY).filter(|r| !r.trim().is_empty()) {
        return normalize(root);
    }
    let namespace = registry
        .param("group")
        .map(|g| g.trim_matches('/'))
        .filter(|g| !g.is_empty())
        .unwrap_or("dubbo");
    let base = registry.param(BASE_PATH_KEY).unwrap_or("/config");
    normalize(&format!("/{namespace}/{}", base.trim_matches('/')))
}

/// The path of rule `key` under `root`, in the governance group.
pub fn rule_path(root: &str, key: &str) -> String {
    format!("{}/{GOVERNANCE_GROUP}/{key}", root.trim_end_matches('/'))
}

fn normalize(path: &str) -> String {
    let trimmed = path.trim().trim_end_matches('/');
    let mut out = String::with_capacity(trimmed.len() + 1);
    if !trimmed.starts_with('/') {
        out.push('/');
    }
    out.push_str(trimmed);
    out
}
