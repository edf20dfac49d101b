//! Reference settings from serde (TOML, YAML, JSON...) or from a Dubbo-style URL string.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkdubbo_common::{Url, keys};

use crate::reference::ReferenceBuilder;

/// Why settings could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL string does not parse.
    #[error("cannot read reference URL {input:?}: {message}")]
    BadUrl {
        /// The input.
        input: String,
        /// What is wrong.
        message: String,
    },
    /// A parameter has a value of the wrong form.
    #[error("parameter {key}={value:?}: {message}")]
    BadValue {
        /// The parameter.
        key: String,
        /// Its value.
        value: String,
        /// What was expected.
        message: String,
    },
}

/// The settings of a [`Reference`](crate::Reference), deserializable from any serde format.
///
/// ```
/// use zkdubbo::ReferenceConfig;
/// let json = r#"{
///     "interface": "org.apache.dubbo.samples.Greeter",
///     "registries": ["zookeeper://127.0.0.1:2181"],
///     "loadbalance": "roundrobin",
///     "retries": 1,
///     "timeout_ms": 3000,
///     "params": { "sayHello.retries": "0" }
/// }"#;
/// let config: ReferenceConfig = serde_json::from_str(json).unwrap();
/// let builder = config.into_builder();
/// let url = builder.consumer_url().unwrap();
/// assert_eq!(url.param("loadbalance"), Some("roundrobin"));
/// assert_eq!(url.param("timeout"), Some("3000"));
/// assert_eq!(url.method_param("sayHello", "retries"), Some("0"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReferenceConfig {
    /// The service interface.
    pub interface: String,
    /// Registry URLs (`zookeeper://host:port?...`); `registry` is accepted too.
    #[serde(alias = "registry")]
    pub registries: Vec<String>,
    /// The group (`a,b` or `*` for several).
    pub group: Option<String>,
    /// The version.
    pub version: Option<String>,
    /// The cluster strategy.
    pub cluster: Option<String>,
    /// The load balancer.
    pub loadbalance: Option<String>,
    /// Retries after a failed attempt.
    pub retries: Option<u32>,
    /// Call timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Fail the build without an available provider (default true).
    pub check: Option<bool>,
    /// The consumer's application.
    pub application: Option<String>,
    /// How several registries are joined (`zone-aware` or `available`).
    pub registry_cluster: Option<String>,
    /// Any other consumer parameter.
    pub params: BTreeMap<String, String>,
}

impl ReferenceConfig {
    /// Read settings from a Dubbo-style URL: `consumer://[host]/<interface>?key=value&...`
    /// (or just `<interface>?key=value&...`). `registry` holds one or more registry URLs
    /// separated by `|`, percent-encoded when they carry their own parameters; `timeout` is
    /// in ms; other keys are kept as parameters.
    ///
    /// ```
    /// use zkdubbo::ReferenceConfig;
    /// let config = ReferenceConfig::from_url(
    ///     "org.apache.dubbo.samples.Greeter?registry=zookeeper%3A%2F%2F127.0.0.1%3A2181%3Fzone%3Dhz|zookeeper://127.0.0.1:2182\
    ///      &cluster=failfast&timeout=500&check=false&sticky=true",
    /// )
    /// .unwrap();
    /// assert_eq!(config.interface, "org.apache.dubbo.samples.Greeter");
    /// assert_eq!(config.registries, vec!["zookeeper://127.0.0.1:2181?zone=hz", "zookeeper://127.0.0.1:2182"]);
    /// assert_eq!(config.cluster.as_deref(), Some("failfast"));
    /// assert_eq!(config.timeout_ms, Some(500));
    /// assert_eq!(config.check, Some(false));
    /// assert_eq!(config.params.get("sticky").map(String::as_str), Some("true"));
    /// ```
    ///
    /// # Errors
    /// [`ConfigError`] when the URL does not parse or a value has the wrong form.
    pub fn from_url(input: &str) -> Result<ReferenceConfig, ConfigError> {
        let trimmed = input.trim();
        let full = if trimmed.contains("://") && trimmed.find("://") < trimmed.find('?').or(Some(trimmed.len())) {
            trimmed.to_owned()
        } else {
            format!("consumer://localhost/{trimmed}")
        };
        let url: Url = full
            .parse()
            .map_err(|e: zkdubbo_common::UrlError| ConfigError::BadUrl {
                input: input.to_owned(),
                message: e.to_string(),
            })?;
        let mut config = ReferenceConfig {
            interface: url.interface().to_owned(),
            ..Default::default()
        };
        for (key, _) in url.params().iter() {
            let value = match url.param_decoded(key) {
                Some(Ok(v)) => v.into_owned(),
                Some(Err(e)) => {
                    return Err(ConfigError::BadValue {
                        key: key.to_owned(),
                        value: url.param(key).unwrap_or_default().to_owned(),
                        message: e.to_string(),
                    });
                }
                None => continue,
            };
            let bad = |message: &str| ConfigError::BadValue {
                key: key.to_owned(),
                value: value.clone(),
                message: message.to_owned(),
            };
            match key {
                "registry" | "registries" => config.registries.extend(
                    value
                        .split('|')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                ),
                keys::INTERFACE => config.interface = value,
                keys::GROUP => config.group = Some(value),
                keys::VERSION => config.version = Some(value),
                keys::CLUSTER => config.cluster = Some(value),
                keys::LOADBALANCE => config.loadbalance = Some(value),
                keys::RETRIES => config.retries = Some(value.parse().map_err(|_| bad("expected a whole number"))?),
                keys::TIMEOUT => {
                    config.timeout_ms = Some(value.parse().map_err(|_| bad("expected milliseconds"))?);
                }
                keys::CHECK => config.check = Some(value.parse().map_err(|_| bad("expected true or false"))?),
                keys::APPLICATION => config.application = Some(value),
                "registry.cluster" | "registry_cluster" => config.registry_cluster = Some(value),
                _ => {
                    config.params.insert(key.to_owned(), value);
                }
            }
        }
        Ok(config)
    }

    /// A [`ReferenceBuilder`] with these settings.
    pub fn into_builder(self) -> ReferenceBuilder {
        let mut b = ReferenceBuilder::default().interface(self.interface);
        for r in self.registries {
            b = b.registry(r);
        }
        if let Some(v) = self.group {
            b = b.group(v);
        }
        if let Some(v) = self.version {
            b = b.version(v);
        }
        if let Some(v) = self.cluster {
            b = b.cluster(v);
        }
        if let Some(v) = self.loadbalance {
            b = b.loadbalance(v);
        }
        if let Some(v) = self.retries {
            b = b.retries(v);
        }
        if let Some(v) = self.timeout_ms {
            b = b.timeout(Duration::from_millis(v));
        }
        if let Some(v) = self.check {
            b = b.check(v);
        }
        if let Some(v) = self.application {
            b = b.application(v);
        }
        if let Some(v) = self.registry_cluster {
            b = b.registry_cluster(v);
        }
        for (k, v) in self.params {
            b = b.param(k, v);
        }
        b
    }
}

impl ReferenceBuilder {
    /// A builder from a Dubbo-style URL; see [`ReferenceConfig::from_url`].
    ///
    /// # Errors
    /// As [`ReferenceConfig::from_url`].
    pub fn from_url(input: &str) -> Result<ReferenceBuilder, ConfigError> {
        ReferenceConfig::from_url(input).map(ReferenceConfig::into_builder)
    }

    /// A builder from deserialized settings.
    pub fn from_config(config: ReferenceConfig) -> ReferenceBuilder {
        config.into_builder()
    }
}
