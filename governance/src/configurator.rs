//! Configurator rules (`<service-key>.configurators`, `<application>.configurators`): YAML
//! (`configVersion` v2.7 or v3.0) or a JSON array of `override://` URLs, converted to the
//! override URLs Dubbo builds from them (`ConfigParser`).

use std::sync::Arc;

use zkdubbo_common::{Url, keys};

use crate::error::RuleParseError;
use crate::matching::ConditionMatch;
use crate::yaml::{self, Fields};

/// `category` of the URLs of a service-scope rule.
pub const DYNAMIC_CONFIGURATORS_CATEGORY: &str = "dynamicconfigurators";
/// `category` of the URLs of an application-scope rule.
pub const APP_DYNAMIC_CONFIGURATORS_CATEGORY: &str = "appdynamicconfigurators";
/// Parameters Dubbo 3.0.5+ removes from every URL of a configurator rule.
const STRIPPED: [&str; 5] = ["accesslog.fixed.path", "router", "rule", "runtime", "type"];

/// Whom a configurator rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One service: `key` is `[group/]interface[:version]`.
    Service,
    /// One application: `key` is its name.
    Application,
}

/// One override URL of a configurator rule, with the v3.0 `match` of its item (Java keeps it
/// as an attribute of the URL).
#[derive(Debug, Clone)]
pub struct OverrideRule {
    /// The `override://` URL.
    pub url: Url,
    /// The item's `match` (v3.0 rules only).
    pub matcher: Option<Arc<ConditionMatch>>,
}

/// A configurators node's text, parsed.
#[derive(Debug, Clone)]
pub struct ConfiguratorRule {
    /// `configVersion` (`None`: absent, read as v2.7 as Java does).
    pub config_version: Option<String>,
    /// `scope`.
    pub scope: Scope,
    /// `key`.
    pub key: String,
    /// `enabled` (default true; only applies to untyped and `general` items).
    pub enabled: bool,
    /// `configs`.
    pub items: Vec<ConfigItem>,
}

/// One entry of `configs`.
#[derive(Debug, Clone, Default)]
pub struct ConfigItem {
    /// `type`: `general`, `weight`, `balancing`, `disabled` (only decides which `enabled`
    /// counts).
    pub kind: Option<String>,
    /// `enabled` of the item.
    pub enabled: Option<bool>,
    /// `addresses` (empty: `0.0.0.0`).
    pub addresses: Vec<String>,
    /// `providerAddresses`.
    pub provider_addresses: Vec<String>,
    /// `services` (application scope).
    pub services: Vec<String>,
    /// `applications` (service scope).
    pub applications: Vec<String>,
    /// `side`: `consumer` or `provider`.
    pub side: Option<String>,
    /// `parameters`, in the rule's order.
    pub parameters: Vec<(String, String)>,
    /// `match` (v3.0).
    pub matcher: Option<Arc<ConditionMatch>>,
}

/// Parse the text of a configurators node into its override URLs: a JSON array of URLs, or a
/// YAML rule. A rule that yields no URL is an error, as Java keeps the previous rules then.
///
/// ```
/// let yaml = "configVersion: v2.7\nscope: service\nkey: com.foo.Bar\nconfigs:\n\
///             - addresses: [0.0.0.0]\n  side: consumer\n  parameters: {timeout: 6000}\n";
/// let rules = zkdubbo_governance::parse_configurators(yaml).unwrap();
/// assert_eq!(
///     rules[0].url.to_string(),
///     "override://0.0.0.0/com.foo.Bar?category=dynamicconfigurators&configVersion=v2.7&enabled=true&side=consumer&timeout=6000"
/// );
/// ```
pub fn parse_configurators(text: &str) -> Result<Vec<OverrideRule>, RuleParseError> {
    if text.trim_start().starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(text)
    {
        if list.is_empty() {
            return Err(RuleParseError::Missing {
                field: "(JSON array of URLs)".into(),
            });
        }
        return list
            .iter()
            .map(|u| {
                Url::parse(u.trim())
                    .map(|url| OverrideRule { url, matcher: None })
                    .map_err(|e| RuleParseError::Invalid {
                        field: "(JSON array of URLs)".into(),
                        message: format!("{u:?} is not a URL: {e}"),
                    })
            })
            .collect();
    }
    ConfiguratorRule::parse(text)?.to_overrides()
}

impl ConfiguratorRule {
    /// Parse a YAML configurator rule.
    pub fn parse(text: &str) -> Result<ConfiguratorRule, RuleParseError> {
        let map = yaml::load(text)?;
        let f = Fields::new(&map, "");
        let config_version = f.string("configVersion")?;
        yaml::check_version(config_version.as_deref(), (3, 0), "v3.0")?;
        let v30 = config_version.as_deref().is_some_and(|v| v.starts_with("v3.0"));
        let scope = match f.string("scope")?.as_deref() {
            Some("application") => Scope::Application,
            _ => Scope::Service,
        };
        let key = f
            .string("key")?
            .filter(|k| !k.trim().is_empty())
            .ok_or(RuleParseError::Missing { field: "key".into() })?;
        let configs = f
            .mappings("configs")?
            .filter(|c| !c.is_empty())
            .ok_or(RuleParseError::Missing {
                field: "configs".into(),
            })?;
        let items = configs
            .into_iter()
            .enumerate()
            .map(|(i, m)| ConfigItem::parse(&Fields::new(m, format!("configs[{i}]")), v30))
            .collect::<Result<_, _>>()?;
        Ok(ConfiguratorRule {
            config_version,
            scope,
            key,
            enabled: f.boolean("enabled")?.unwrap_or(true),
            items,
        })
    }

    /// The override URLs Dubbo builds from this rule (`ConfigParser.serviceItemToUrls` /
    /// `appItemToUrls`), in order.
    pub fn to_overrides(&self) -> Result<Vec<OverrideRule>, RuleParseError> {
        let mut out = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            let at = format!("configs[{i}]");
            let addresses: Vec<&str> = if item.addresses.is_empty() {
                vec![keys::ANYHOST_VALUE]
            } else {
                item.addresses.iter().map(String::as_str).collect()
            };
            for address in addresses {
                match self.scope {
                    Scope::Service => {
                        let apps: Vec<Option<&str>> = if item.applications.is_empty() {
                            vec![None]
                        } else {
                            item.applications.iter().map(|a| Some(a.as_str())).collect()
                        };
                        for app in apps {
                            let mut params = item.url_params(&self.key, &at)?;
                            params.push(("enabled".into(), self.enabled_of(item)));
                            params.push(("configVersion".into(), self.version_text()));
                            if let Some(app) = app {
                                params.push((keys::APPLICATION.into(), app.into()));
                            }
                            out.push(override_rule(address, &self.key, params, item, &at)?);
                        }
                    }
                    Scope::Application => {
                        let services: Vec<&str> = if item.services.is_empty() {
                            vec![keys::ANY_VALUE]
                        } else {
                            item.services.iter().map(String::as_str).collect()
                        };
                        for service in services {
                            let mut params = item.url_params(service, &at)?;
                            params.push((keys::APPLICATION.into(), self.key.clone()));
                            params.push(("enabled".into(), self.enabled_of(item)));
                            params.push((keys::CATEGORY.into(), APP_DYNAMIC_CONFIGURATORS_CATEGORY.into()));
                            params.push(("configVersion".into(), self.version_text()));
                            out.push(override_rule(address, service, params, item, &at)?);
                        }
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(RuleParseError::Missing {
                field: "configs".into(),
            });
        }
        Ok(out)
    }

    /// The rule's `enabled` for an untyped or `general` item, else the item's own; a typed
    /// item without one is disabled (Java writes `enabled=null`, which reads as false).
    fn enabled_of(&self, item: &ConfigItem) -> String {
        let enabled = match item.kind.as_deref() {
            None | Some("general") => self.enabled,
            Some(_) => item.enabled.unwrap_or(false),
        };
        enabled.to_string()
    }

    /// `configVersion` as Java writes it into the URL (`null` when absent: still a v2.7+
    /// rule).
    fn version_text(&self) -> String {
        self.config_version.clone().unwrap_or_else(|| "null".into())
    }
}

impl ConfigItem {
    fn parse(f: &Fields<'_>, v30: bool) -> Result<ConfigItem, RuleParseError> {
        let parameters = f.string_map("parameters")?;
        if parameters.is_empty() {
            return Err(RuleParseError::Missing {
                field: f.path("parameters"),
            });
        }
        let matcher = match f.mapping("match")? {
            Some(m) if v30 => Some(Arc::new(ConditionMatch::parse(m, &f.path("match"))?)),
            _ => None,
        };
        Ok(ConfigItem {
            kind: f.string("type")?,
            enabled: f.boolean("enabled")?,
            addresses: f.strings("addresses")?,
            provider_addresses: f.strings("providerAddresses")?,
            services: f.strings("services")?,
            applications: f.strings("applications")?,
            side: f.string("side")?,
            parameters,
            matcher,
        })
    }

    /// `group`, `version` (from the service key), `category`, `side`, the parameters and
    /// `providerAddresses`, in Java's order (a later duplicate wins, as in Java's parser).
    fn url_params(&self, service: &str, at: &str) -> Result<Vec<(String, String)>, RuleParseError> {
        let (group, _, version) = split_service(service);
        let mut params = Vec::with_capacity(self.parameters.len() + 6);
        if let Some(g) = group {
            params.push((keys::GROUP.to_owned(), g.to_owned()));
        }
        if let Some(v) = version {
            params.push((keys::VERSION.to_owned(), v.to_owned()));
        }
        params.push((keys::CATEGORY.into(), DYNAMIC_CONFIGURATORS_CATEGORY.into()));
        if let Some(side) = &self.side {
            params.push((keys::SIDE.into(), side.clone()));
        }
        for (k, v) in &self.parameters {
            if k.is_empty() {
                return Err(RuleParseError::Invalid {
                    field: format!("{at}.parameters"),
                    message: "a parameter with an empty name".into(),
                });
            }
            params.push((k.clone(), v.clone()));
        }
        let provider_addresses = if !self.provider_addresses.is_empty() {
            Some(self.provider_addresses.join(","))
        } else if self.side.as_deref() == Some(keys::PROVIDER_SIDE) {
            Some(if self.addresses.is_empty() {
                keys::ANYHOST_VALUE.to_owned()
            } else {
                self.addresses.join(",")
            })
        } else {
            None
        };
        if let Some(p) = provider_addresses {
            params.push(("providerAddresses".into(), p));
        }
        Ok(params)
    }
}

/// `group/interface:version` split as Java's `appendService` does: the group before the
/// first `/`, the version after the first `:` of the rest.
pub(crate) fn split_service(service: &str) -> (Option<&str>, &str, Option<&str>) {
    let (group, rest) = match service.find('/') {
        Some(i) if i > 0 => (Some(&service[..i]), &service[i + 1..]),
        _ => (None, service),
    };
    match rest.find(':') {
        Some(j) if j > 0 => (group, &rest[..j], Some(&rest[j + 1..])),
        _ => (group, rest, None),
    }
}

fn override_rule(
    address: &str,
    service: &str,
    params: Vec<(String, String)>,
    item: &ConfigItem,
    at: &str,
) -> Result<OverrideRule, RuleParseError> {
    let (_, interface, _) = split_service(service);
    let base = format!("{}://{address}/{interface}", keys::OVERRIDE_PROTOCOL);
    let mut url = Url::parse(&base).map_err(|e| RuleParseError::Invalid {
        field: format!("{at}.addresses"),
        message: format!("{address:?} is not an address: {e}"),
    })?;
    for (k, v) in params {
        if !STRIPPED.contains(&k.as_str()) {
            url.set_param(k, v);
        }
    }
    Ok(OverrideRule {
        url,
        matcher: item.matcher.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<String> {
        parse_configurators(text)
            .unwrap()
            .into_iter()
            .map(|r| r.url.to_string())
            .collect()
    }

    #[test]
    fn admin_weight_rule_becomes_a_provider_side_override() {
        let yaml = "configs:\n- addresses: [192.168.1.10:20880]\n  enabled: true\n  parameters: {weight: 200}\n  \
                    side: provider\n  type: weight\nenabled: false\nkey: org.apache.dubbo.demo.DemoService:1.0.0:g1\n\
                    scope: service\n";
        assert_eq!(
            urls(yaml),
            [
                "override://192.168.1.10:20880/org.apache.dubbo.demo.DemoService?category=dynamicconfigurators\
              &configVersion=null&enabled=true&providerAddresses=192.168.1.10:20880&side=provider\
              &version=1.0.0:g1&weight=200"
            ]
        );
    }

    #[test]
    fn application_scope_has_one_url_per_service() {
        let yaml = "scope: application\nkey: shop\nconfigVersion: v2.7\nconfigs:\n\
                    - services: ['g/com.foo.A:1.0', com.foo.B]\n  side: consumer\n  parameters: {timeout: 10}\n";
        assert_eq!(
            urls(yaml),
            [
                "override://0.0.0.0/com.foo.A?application=shop&category=appdynamicconfigurators&configVersion=v2.7\
                 &enabled=true&group=g&side=consumer&timeout=10&version=1.0",
                "override://0.0.0.0/com.foo.B?application=shop&category=appdynamicconfigurators&configVersion=v2.7\
                 &enabled=true&side=consumer&timeout=10",
            ]
        );
    }

    #[test]
    fn typed_items_use_their_own_enabled() {
        let yaml = "key: com.foo.Bar\nenabled: true\nconfigs:\n- type: weight\n  parameters: {weight: 1}\n";
        assert!(urls(yaml)[0].contains("enabled=false"));
        let yaml = "key: com.foo.Bar\nenabled: false\nconfigs:\n- parameters: {weight: 1}\n";
        assert!(urls(yaml)[0].contains("enabled=false"));
    }

    #[test]
    fn json_array_of_urls_is_read_as_is() {
        assert_eq!(
            urls(r#"["override://0.0.0.0/com.foo.Bar?weight=3"]"#),
            ["override://0.0.0.0/com.foo.Bar?weight=3"]
        );
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let cases: [(&str, &str); 8] = [
            ("key: [", "not valid YAML"),
            ("", "empty"),
            ("key: com.foo.Bar\n", "`configs` is missing"),
            ("configs:\n- parameters: {a: 1}\n", "`key` is missing"),
            (
                "key: x\nconfigs:\n- side: consumer\n",
                "`configs[0].parameters` is missing",
            ),
            (
                "key: x\nconfigs:\n- addresses: 1.2.3.4\n  parameters: {a: 1}\n",
                "`configs[0].addresses` should be a list",
            ),
            (
                "key: x\nconfigVersion: v3.1\nconfigs:\n- parameters: {a: 1}\n",
                "configVersion `v3.1` is not supported",
            ),
            (
                "key: x\nconfigs:\n- parameters: {a: [1]}\n",
                "`configs[0].parameters.a` should be a plain value",
            ),
        ];
        for (text, want) in cases {
            let err = parse_configurators(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn v30_match_is_kept_with_the_url() {
        let yaml = "configVersion: v3.0\nkey: com.foo.Bar\nconfigs:\n- side: consumer\n  match:\n    \
                    app: {oneof: [{exact: shop}]}\n  parameters: {timeout: 1}\n";
        let rules = parse_configurators(yaml).unwrap();
        let m = rules[0].matcher.as_ref().unwrap();
        let shop: Url = "dubbo://1.2.3.4:1/com.foo.Bar?application=shop".parse().unwrap();
        let other: Url = "dubbo://1.2.3.4:1/com.foo.Bar?application=other".parse().unwrap();
        assert!(m.is_match("1.2.3.4", &shop));
        assert!(!m.is_match("1.2.3.4", &other));
    }
}
