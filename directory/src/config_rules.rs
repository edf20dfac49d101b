//! Rules from the config center (Dubbo 2.7+ governance, ARCHITECTURE: Governance rules):
//! configurators of the consumer's application and of the service, condition routers of the
//! service, of the provider application and of the consumer's application, and the provider
//! application's tag rule, kept per node and composed with the URL-style rules in Dubbo's
//! precedence.

use std::collections::BTreeMap;
use std::sync::Arc;

use zkdubbo_governance::{Condition, ConditionRule, OverrideRule, TagRule};

use crate::configurator::Configurators;
use crate::error::RuleError;
use crate::router::tag::TagRoutes;
use crate::router::{ConditionRouter, Router, WeightedRouter};

/// Router order of a service's `.condition-router` rule (Dubbo 3's `ServiceStateRouter`).
pub const SERVICE_ROUTER_PRIORITY: i64 = 140;
/// Router order of the provider application's `.condition-router` rule (3.2+).
pub const PROVIDER_APP_ROUTER_PRIORITY: i64 = 145;
/// Router order of the consumer application's `.condition-router` rule (`AppStateRouter`).
pub const APP_ROUTER_PRIORITY: i64 = 150;

/// The parsed rules of one config-center node, for
/// [`RegistryDirectory::set_config_rules`](crate::RegistryDirectory::set_config_rules). An
/// empty list or `None` clears the slot (the node was deleted).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConfigRules {
    /// `<consumer-app>.configurators`.
    AppConfigurators(Vec<OverrideRule>),
    /// `<interface>:<version>:<group>.configurators`.
    ServiceConfigurators(Vec<OverrideRule>),
    /// `<interface>:<version>:<group>.condition-router`.
    ServiceRoutes(Option<ConditionRule>),
    /// `<provider-app>.condition-router`.
    ProviderAppRoutes(Option<ConditionRule>),
    /// `<consumer-app>.condition-router`.
    AppRoutes(Option<ConditionRule>),
    /// `<provider-app>.tag-router`.
    Tags(Option<TagRule>),
}

/// Check that consumers of `interface` would put `rules` in force (conditions that parse,
/// configurators with something to apply), without putting them anywhere: what
/// `zkdubbo rule put` checks before writing.
///
/// # Errors
/// The [`RuleError`] a consumer would log when refusing them.
pub fn check_config_rules(interface: &str, node: &str, rules: ConfigRules) -> Result<(), RuleError> {
    DynamicRules::default().set(interface, node, rules)
}

/// The config-center rules in force, per slot.
#[derive(Debug, Default)]
pub(crate) struct DynamicRules {
    pub(crate) app_configurators: Configurators,
    pub(crate) service_configurators: Configurators,
    /// Service, provider-application and application routes, in that order.
    pub(crate) routes: [Vec<Router>; 3],
    pub(crate) tags: Option<Arc<TagRoutes>>,
    /// The last error of each node whose rules were refused (its previous rules kept).
    pub(crate) refused: BTreeMap<String, String>,
}

impl DynamicRules {
    /// Put `rules` of node `source` in force for a consumer of `interface`. On error nothing
    /// changes, and the error is remembered for `describe` until the node's next good rule.
    pub(crate) fn set(&mut self, interface: &str, source: &str, rules: ConfigRules) -> Result<(), RuleError> {
        let result = self.convert(interface, source, rules);
        match &result {
            Ok(()) => {
                self.refused.remove(source);
            }
            Err(e) => {
                self.refused.insert(source.to_owned(), e.to_string());
            }
        }
        result
    }

    /// Whether putting `rules` of node `source` in force would change nothing: an empty slot
    /// cleared again (a node absent when first read, as most are). Nothing then needs to be
    /// composed, re-configured or rebuilt.
    pub(crate) fn unchanged_by(&self, rules: &ConfigRules, source: &str) -> bool {
        if self.refused.contains_key(source) {
            return false;
        }
        match rules {
            ConfigRules::AppConfigurators(r) => r.is_empty() && self.app_configurators.is_empty(),
            ConfigRules::ServiceConfigurators(r) => r.is_empty() && self.service_configurators.is_empty(),
            ConfigRules::ServiceRoutes(r) => r.is_none() && self.routes[0].is_empty(),
            ConfigRules::ProviderAppRoutes(r) => r.is_none() && self.routes[1].is_empty(),
            ConfigRules::AppRoutes(r) => r.is_none() && self.routes[2].is_empty(),
            ConfigRules::Tags(r) => r.is_none() && self.tags.is_none(),
        }
    }

    /// Record that node `source` holds text that does not parse (its previous rules stay).
    pub(crate) fn refuse(&mut self, source: &str, message: String) -> RuleError {
        let e = RuleError::ConfigNode {
            node: source.to_owned(),
            message,
        };
        self.refused.insert(source.to_owned(), e.to_string());
        e
    }

    fn convert(&mut self, interface: &str, source: &str, rules: ConfigRules) -> Result<(), RuleError> {
        let refused = |message: String| RuleError::ConfigNode {
            node: source.to_owned(),
            message,
        };
        match rules {
            ConfigRules::AppConfigurators(rules) => {
                self.app_configurators = configurators(&rules, source).map_err(refused)?;
            }
            ConfigRules::ServiceConfigurators(rules) => {
                self.service_configurators = configurators(&rules, source).map_err(refused)?;
            }
            ConfigRules::ServiceRoutes(rule) => {
                self.routes[0] = routers(interface, rule, source, SERVICE_ROUTER_PRIORITY).map_err(refused)?;
            }
            ConfigRules::ProviderAppRoutes(rule) => {
                self.routes[1] = routers(interface, rule, source, PROVIDER_APP_ROUTER_PRIORITY).map_err(refused)?;
            }
            ConfigRules::AppRoutes(rule) => {
                self.routes[2] = routers(interface, rule, source, APP_ROUTER_PRIORITY).map_err(refused)?;
            }
            ConfigRules::Tags(rule) => {
                self.tags = rule.map(|rule| {
                    Arc::new(TagRoutes {
                        rule: Arc::new(rule),
                        source: Arc::from(source),
                    })
                });
            }
        }
        Ok(())
    }
}

fn configurators(rules: &[OverrideRule], source: &str) -> Result<Configurators, String> {
    let (configurators, errors) = Configurators::from_overrides(rules, source);
    match errors.first() {
        Some(e) => Err(e.to_string()),
        None => Ok(configurators),
    }
}

fn routers(interface: &str, rule: Option<ConditionRule>, source: &str, priority: i64) -> Result<Vec<Router>, String> {
    let Some(rule) = rule.filter(|r| r.base.enabled) else {
        return Ok(Vec::new());
    };
    let source: Arc<str> = Arc::from(source);
    let mut out = Vec::with_capacity(rule.conditions.len());
    // `router_urls` gives the v2.7 conditions in order; the v3.1 ones are built here.
    let mut urls = rule.router_urls(interface, priority).into_iter();
    for condition in &rule.conditions {
        let router = match condition {
            Condition::Expression(_) => {
                let Some(url) = urls.next() else { continue };
                // `runtime` (true by default in YAML) is dropped: a condition that reads no
                // call argument or attachment gives the same result when the snapshot is
                // built, and one that does is evaluated per call anyway.
                match ConditionRouter::from_url(&url.without_param("runtime")).map_err(|e| e.to_string())? {
                    Some(r) => Router::Condition(Arc::new(r.with_source(source.clone()))),
                    None => continue,
                }
            }
            Condition::Weighted { from, to } => Router::Weighted(Arc::new(
                WeightedRouter::new(&source, from, to, rule.base.force, priority).map_err(|e| e.to_string())?,
            )),
        };
        out.push(router);
    }
    Ok(out)
}
