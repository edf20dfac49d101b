//! Dubbo 2.7+/3.x governance rules as dubbo-admin and operators write them in the config
//! center (`/dubbo/config/dubbo/<key>` node data): configurators, condition routers and tag
//! routers, parsed from YAML (or a configurators node's JSON array of URLs) and converted the
//! way Dubbo converts them.
//!
//! - [`parse_configurators`]: the `override://` URLs of a configurators node (with each
//!   item's v3.0 `match`), built as Java's `ConfigParser` builds them.
//! - [`ConditionRule`]: v2.7 `conditions` (one router per condition) and v3.1 weighted
//!   `from`/`to`.
//! - [`TagRule`]: tags by `addresses` (v2.7) or `match` (v3.0).
//! - [`write`](mod@write): edit rule documents the way dubbo-admin writes them (for `zkdubbo weight`,
//!   `disable`, `route`, `tag`).
//! - [`service_rule_key`], [`rule_path`]: where the rules live (the root is the registry's,
//!   `zkdubbo_registry::ConfigCenter::config_root`).
//!
//! Bad text is a [`RuleParseError`] naming the field; the caller names the node and keeps
//! the rules it had. Unlike Java, a field of the wrong type is always an error: an
//! `addresses` that is not a list must not turn a rule for one provider into a rule for all.

#![forbid(unsafe_code)]

mod condition;
mod configurator;
mod error;
mod key;
mod matching;
mod tag;
pub mod write;
mod yaml;

pub use condition::{Condition, ConditionRule, RouterRuleBase};
pub use configurator::{
    APP_DYNAMIC_CONFIGURATORS_CATEGORY, ConfigItem, ConfiguratorRule, DYNAMIC_CONFIGURATORS_CATEGORY, OverrideRule,
    Scope, parse_configurators,
};
pub use error::RuleParseError;
pub use key::{
    CONDITION_ROUTER_SUFFIX, CONFIGURATORS_SUFFIX, GOVERNANCE_GROUP, TAG_ROUTER_SUFFIX, rule_path, service_rule_key,
};
pub use matching::{
    AddressMatch, ConditionMatch, ListStringMatch, ParamMatch, StringMatch, ip_matches, ip_matches_host,
};
pub use tag::{Tag, TagRule};
