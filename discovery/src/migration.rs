//! How a consumer moves from interface-level to application-level discovery, as Dubbo 3's
//! `MigrationInvoker` does: a [`MigrationStep`] per reference (from the consumer URL's
//! `migration.step`, overridden by the migration rule of the consumer application in the
//! config center), and, in [`MigrationStep::ApplicationFirst`], a comparison of the two
//! address counts against a threshold ([`prefer_application`], Java's
//! `DefaultMigrationAddressComparator`).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use zkdubbo_common::Url;

use crate::error::DiscoveryError;

/// The consumer URL parameter naming the step (Java's `migration.step`).
pub const STEP_KEY: &str = "migration.step";
/// The consumer URL parameter naming the threshold (Java's `migration.threshold`).
pub const THRESHOLD_KEY: &str = "migration.threshold";
/// The config-center group of migration rules (`<application>.migration` below it).
pub const RULE_GROUP: &str = "DUBBO_SERVICEDISCOVERY_MIGRATION";
/// The suffix of a migration rule's key.
pub const RULE_SUFFIX: &str = ".migration";
/// The largest migration rule read.
pub const MAX_RULE_BYTES: usize = 256 * 1024;

/// Which level of discovery a consumer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MigrationStep {
    /// Interface-level only (`/dubbo/<interface>/providers`), as Dubbo 2.
    ForceInterface,
    /// Both; application-level addresses when there are enough of them (Dubbo 3's default).
    #[default]
    ApplicationFirst,
    /// Application-level only (`/services/<application>`).
    ForceApplication,
}

impl MigrationStep {
    /// Java's name (`FORCE_INTERFACE`, `APPLICATION_FIRST`, `FORCE_APPLICATION`).
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStep::ForceInterface => "FORCE_INTERFACE",
            MigrationStep::ApplicationFirst => "APPLICATION_FIRST",
            MigrationStep::ForceApplication => "FORCE_APPLICATION",
        }
    }

    /// Whether interface-level providers are followed in this step.
    pub fn uses_interface(self) -> bool {
        self != MigrationStep::ForceApplication
    }

    /// Whether application-level instances are followed in this step.
    pub fn uses_application(self) -> bool {
        self != MigrationStep::ForceInterface
    }
}

impl fmt::Display for MigrationStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MigrationStep {
    type Err = String;
    /// Java's names; case and `-` for `_` are forgiven.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().replace('-', "_").as_str() {
            "FORCE_INTERFACE" => Ok(MigrationStep::ForceInterface),
            "APPLICATION_FIRST" => Ok(MigrationStep::ApplicationFirst),
            "FORCE_APPLICATION" => Ok(MigrationStep::ForceApplication),
            _ => Err(format!(
                "unknown migration step {s:?} (expected FORCE_INTERFACE, APPLICATION_FIRST or FORCE_APPLICATION)"
            )),
        }
    }
}

/// The level a list of providers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// `/dubbo/<interface>/providers`.
    Interface,
    /// `/services/<application>` instances and their metadata.
    Application,
}

impl Level {
    /// `interface` or `application`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Interface => "interface",
            Level::Application => "application",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a consumer in [`MigrationStep::ApplicationFirst`] uses the application-level
/// addresses, as Java's `DefaultMigrationAddressComparator.shouldMigrate`: not without any;
/// always when there is no interface-level one; else when `application / interface ≥
/// threshold`.
pub fn prefer_application(application: usize, interface: usize, threshold: f32) -> bool {
    if application == 0 {
        return false;
    }
    if interface == 0 {
        return true;
    }
    application as f32 / interface as f32 >= threshold
}

/// A consumer's step and threshold, before and after its migration rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Migration {
    /// The step.
    pub step: MigrationStep,
    /// The threshold of [`prefer_application`] (Java's default 0.0).
    pub threshold: f32,
}

impl Migration {
    /// What the consumer URL says (`migration.step`, `migration.threshold`), Dubbo 3's
    /// defaults otherwise; a value that does not parse is a warning and the default.
    pub fn of_consumer(consumer: &Url) -> Migration {
        let step = match consumer.param(STEP_KEY).filter(|s| !s.trim().is_empty()) {
            None => MigrationStep::default(),
            Some(s) => s.parse().unwrap_or_else(|e: String| {
                tracing::warn!(consumer = %consumer.service_key(), "{e}; using APPLICATION_FIRST");
                MigrationStep::default()
            }),
        };
        let threshold = match consumer.param(THRESHOLD_KEY) {
            None => 0.0,
            Some(t) => t.trim().parse().unwrap_or_else(|_| {
                tracing::warn!(consumer = %consumer.service_key(), threshold = t, "migration threshold is not a number; using 0.0");
                0.0
            }),
        };
        Migration { step, threshold }
    }

    /// This migration under `rule` for `consumer`, whose interface `applications` provide:
    /// the rule's entry for the service first, then for one of the applications, then the
    /// rule's own values, then this one's (Java's `MigrationRule.getStep/getThreshold`). A
    /// negative threshold in a rule means "not set".
    pub fn under(self, rule: Option<&MigrationRule>, consumer: &Url, applications: &[String]) -> Migration {
        let Some(rule) = rule else { return self };
        let service = rule.service_rule(consumer);
        let app = rule.application_rule(applications);
        let step = service
            .and_then(|r| r.values.step)
            .or_else(|| app.and_then(|r| r.values.step))
            .or(rule.values.step)
            .unwrap_or(self.step);
        let threshold = service
            .and_then(|r| r.values.threshold)
            .or_else(|| app.and_then(|r| r.values.threshold))
            .or(rule.values.threshold)
            .filter(|t| *t >= 0.0)
            .unwrap_or(self.threshold);
        Migration { step, threshold }
    }
}

/// A migration rule (`<application>.migration` in group [`RULE_GROUP`]), as Java's
/// `MigrationRule` reads it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MigrationRule {
    /// The consumer application the rule is for.
    pub key: Option<String>,
    /// The values for every reference of the application.
    #[serde(flatten)]
    pub values: RuleValues,
    /// Per service (`serviceKey`: the interface, `interface:version` or `group/interface:version`).
    pub interfaces: Vec<SubMigrationRule>,
    /// Per provider application (`serviceKey` names the application, as in Java).
    pub applications: Vec<SubMigrationRule>,
}

/// A rule's entry for one service or one provider application.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubMigrationRule {
    /// The service (or application) it is for.
    pub service_key: Option<String>,
    /// Its values.
    #[serde(flatten)]
    pub values: RuleValues,
}

/// What a rule, or one of its entries, sets. `proportion`, `delay` and `force` are read and
/// kept but do not change what zkdubbo does: switching here never drops a call, so there is
/// nothing to delay or force.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RuleValues {
    /// The step.
    #[serde(deserialize_with = "step")]
    pub step: Option<MigrationStep>,
    /// The threshold.
    pub threshold: Option<f32>,
    /// Java's rollout percentage (kept, not used).
    pub proportion: Option<i32>,
    /// Java's delay before switching, in seconds (kept, not used).
    pub delay: Option<i32>,
    /// Java's "switch even if the new level has fewer addresses" (kept, not used).
    pub force: Option<bool>,
}

/// Serialize as the `Display` text (Java's names, `interface`/`application`).
pub(crate) fn display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// [`display`] of an optional value (`null` when absent).
pub(crate) fn display_opt<T: fmt::Display, S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn step<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<MigrationStep>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| s.parse().map_err(serde::de::Error::custom)).transpose()
}

impl MigrationRule {
    /// Read a rule's YAML.
    ///
    /// # Errors
    /// [`DiscoveryError::TooLarge`] or [`DiscoveryError::Json`] (YAML's message, with line and
    /// column) naming what does not parse; an empty rule is an error too (Java ignores it).
    pub fn parse(text: &str) -> Result<MigrationRule, DiscoveryError> {
        const WHAT: &str = "migration rule";
        if text.len() > MAX_RULE_BYTES {
            return Err(DiscoveryError::TooLarge {
                what: WHAT,
                len: text.len(),
                max: MAX_RULE_BYTES,
            });
        }
        if text.trim().is_empty() {
            return Err(DiscoveryError::Json {
                what: WHAT,
                message: "empty".into(),
            });
        }
        serde_yaml_ng::from_str(text).map_err(|e| DiscoveryError::Json {
            what: WHAT,
            message: e.to_string(),
        })
    }

    /// The node path of `application`'s rule below the config root (`/dubbo/config`).
    pub fn path(config_root: &str, application: &str) -> String {
        format!(
            "{}/{RULE_GROUP}/{application}{RULE_SUFFIX}",
            config_root.trim_end_matches('/')
        )
    }

    fn service_rule(&self, consumer: &Url) -> Option<&SubMigrationRule> {
        let interface = consumer.interface();
        let display = match consumer.version() {
            Some(v) => format!("{interface}:{v}"),
            None => interface.to_owned(),
        };
        let full = consumer.service_key();
        self.interfaces.iter().find(|r| {
            r.service_key
                .as_deref()
                .is_some_and(|k| k == interface || k == display || k == full)
        })
    }

    fn application_rule(&self, applications: &[String]) -> Option<&SubMigrationRule> {
        self.applications.iter().find(|r| {
            r.service_key
                .as_deref()
                .is_some_and(|k| applications.iter().any(|a| a == k))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_comparison_is_javas() {
        assert!(!prefer_application(0, 0, 0.0));
        assert!(!prefer_application(0, 5, 0.0));
        assert!(prefer_application(1, 0, 10.0));
        assert!(prefer_application(1, 5, 0.0));
        assert!(prefer_application(5, 10, 0.5));
        assert!(!prefer_application(4, 10, 0.5));
    }

    #[test]
    fn steps_come_from_the_consumer_then_the_rule() {
        let consumer: Url =
            "consumer://10.0.0.1/com.foo.Bar?version=1.0&migration.step=FORCE_INTERFACE&migration.threshold=0.5"
                .parse()
                .unwrap();
        let own = Migration::of_consumer(&consumer);
        assert_eq!(own.step, MigrationStep::ForceInterface);
        assert_eq!(own.threshold, 0.5);
        let rule = MigrationRule::parse(
            "key: shop\nstep: APPLICATION_FIRST\nthreshold: 1.5\nproportion: 60\n\
             interfaces:\n  - serviceKey: com.foo.Bar:1.0\n    step: FORCE_APPLICATION\n\
             applications:\n  - serviceKey: billing\n    threshold: 0.2\n",
        )
        .unwrap();
        let apps = ["billing".to_owned()];
        let m = own.under(Some(&rule), &consumer, &apps);
        assert_eq!(m.step, MigrationStep::ForceApplication);
        assert_eq!(m.threshold, 0.2);
        let other: Url = "consumer://10.0.0.1/com.foo.Other".parse().unwrap();
        let m = Migration::of_consumer(&other).under(Some(&rule), &other, &[]);
        assert_eq!((m.step, m.threshold), (MigrationStep::ApplicationFirst, 1.5));
        assert_eq!(
            Migration::of_consumer(&other).under(None, &other, &[]).step,
            MigrationStep::ApplicationFirst
        );
    }

    #[test]
    fn bad_rules_and_steps_are_errors_naming_the_problem() {
        assert!(MigrationRule::parse("").is_err());
        let e = MigrationRule::parse("step: SOMETIMES").unwrap_err().to_string();
        assert!(e.contains("SOMETIMES"), "{e}");
        assert!(MigrationRule::parse("step: [").is_err());
        assert_eq!("force-application".parse(), Ok(MigrationStep::ForceApplication));
        assert_eq!(
            MigrationRule::path("/dubbo/config/", "shop"),
            "/dubbo/config/DUBBO_SERVICEDISCOVERY_MIGRATION/shop.migration"
        );
    }
}
