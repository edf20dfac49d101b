//! Instance nodes: `/services/<application>/<ip>:<port>`, whose data is the JSON Curator's
//! x-discovery `JsonInstanceSerializer` writes (its default, compatible form: no `enabled`),
//! with Dubbo's `ZookeeperInstance` as payload. Java reads the payload back by its `@class`,
//! so the class name must be exactly Dubbo's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DiscoveryError;

/// The payload class Curator records and casts to on read.
pub const INSTANCE_PAYLOAD_CLASS: &str = "org.apache.dubbo.registry.zookeeper.ZookeeperInstance";
/// Metadata key: the instance's protocols and ports, a JSON array of `{"port","protocol"}`.
pub const ENDPOINTS_KEY: &str = "dubbo.endpoints";
/// Metadata key: the revision of the instance's metadata.
pub const REVISION_KEY: &str = "dubbo.metadata.revision";
/// Metadata key: where the metadata is, `local` (the instance's MetadataService) or `remote`.
pub const METADATA_STORAGE_TYPE_KEY: &str = "dubbo.metadata.storage-type";
/// Metadata key: the version of the MetadataService the instance serves (`2.0.0`: V2 over
/// Triple; absent: V1).
pub const METADATA_SERVICE_VERSION_KEY: &str = "meta-v";
/// Metadata key: the MetadataService URL parameters, a JSON map (with `port`, `protocol`).
pub const METADATA_SERVICE_URL_PARAMS_KEY: &str = "dubbo.metadata-service.url-params";
/// The largest instance node read (ZooKeeper's default `jute.maxbuffer`).
pub const MAX_INSTANCE_BYTES: usize = 0xfffff;

const WHAT: &str = "instance node";

/// One application instance, as its node holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    /// The application.
    pub name: String,
    /// `<ip>:<port>`, also the node's name.
    pub id: String,
    /// The host.
    pub address: String,
    /// The port (of the first protocol; others are in [`ENDPOINTS_KEY`]).
    pub port: u16,
    /// When the instance registered, ms since the epoch.
    pub registration_time_utc: i64,
    /// Instance metadata, sorted by key as Java's `getSortedMetadata` writes it.
    pub metadata: BTreeMap<String, String>,
}

/// One entry of [`ENDPOINTS_KEY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its port.
    pub port: u16,
    /// Its protocol (`dubbo`, `tri`).
    pub protocol: String,
}

/// Where an instance's metadata is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageType {
    /// Served by the instance itself (its MetadataService): Dubbo's default.
    Local,
    /// In the metadata report: `/dubbo/metadata/<application>/<revision>`.
    Remote,
}

/// Curator's `ServiceInstance`, in its field order.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    name: String,
    id: String,
    address: String,
    port: Option<i64>,
    #[serde(default)]
    ssl_port: Option<i64>,
    payload: Option<Payload>,
    #[serde(rename = "registrationTimeUTC", default)]
    registration_time_utc: i64,
    #[serde(default = "dynamic")]
    service_type: String,
    #[serde(default)]
    uri_spec: Option<serde_json::Value>,
}

/// serde_json's compact output, but with characters outside the BMP written as Jackson
/// writes them (escaped UTF-16 surrogates, `\uD83D\uDE00`), so the node is byte for byte
/// Curator's. Other escapes already agree (`\n`, `\"`, `\u001F`...).
struct JacksonFormatter;

impl serde_json::ser::Formatter for JacksonFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if u32::from(c) >= 0x1_0000 {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04X}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

fn dynamic() -> String {
    "DYNAMIC".to_owned()
}

#[derive(Serialize, Deserialize)]
struct Payload {
    #[serde(rename = "@class", default)]
    class: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, Option<String>>>,
}

impl ServiceInstance {
    /// An instance of `application` at `address:port`, registered now.
    pub fn new(application: &str, address: &str, port: u16, metadata: BTreeMap<String, String>) -> Self {
        let registration_time_utc = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        ServiceInstance {
            name: application.to_owned(),
            id: format!("{address}:{port}"),
            address: address.to_owned(),
            port,
            registration_time_utc,
            metadata,
        }
    }

    /// The node data, byte for byte as Curator writes it.
    pub fn to_json(&self) -> String {
        let metadata = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        let wire = Wire {
            name: self.name.clone(),
            id: self.id.clone(),
            address: self.address.clone(),
            port: Some(i64::from(self.port)),
            ssl_port: None,
            payload: Some(Payload {
                class: Some(INSTANCE_PAYLOAD_CLASS.to_owned()),
                id: Some(self.id.clone()),
                name: Some(self.name.clone()),
                metadata: Some(metadata),
            }),
            registration_time_utc: self.registration_time_utc,
            service_type: dynamic(),
            uri_spec: None,
        };
        let mut out = serde_json::Serializer::with_formatter(Vec::new(), JacksonFormatter);
        // Plain strings and maps of strings into a Vec: serializing cannot fail.
        if wire.serialize(&mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out.into_inner()).unwrap_or_default()
    }

    /// Read a node's data.
    ///
    /// # Errors
    /// [`DiscoveryError`] when it is too large, not JSON, or lacks what an instance needs (a
    /// port, the payload with its metadata); fields Curator may add are ignored.
    pub fn from_json(data: &[u8]) -> Result<ServiceInstance, DiscoveryError> {
        if data.len() > MAX_INSTANCE_BYTES {
            return Err(DiscoveryError::TooLarge {
                what: WHAT,
                len: data.len(),
                max: MAX_INSTANCE_BYTES,
            });
        }
        let wire: Wire = serde_json::from_slice(data).map_err(|e| DiscoveryError::Json {
            what: WHAT,
            message: e.to_string(),
        })?;
        let field = |field: &'static str, problem: String| DiscoveryError::Field {
            what: WHAT,
            field,
            problem,
        };
        let port = match wire.port {
            Some(p) => u16::try_from(p)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| field("port", format!("is {p}, not a port")))?,
            None => return Err(field("port", "is missing".to_owned())),
        };
        if wire.address.is_empty() {
            return Err(field("address", "is empty".to_owned()));
        }
        let payload = wire
            .payload
            .ok_or_else(|| field("payload", "is missing (Dubbo's ZookeeperInstance)".to_owned()))?;
        if let Some(class) = payload.class.as_deref().filter(|c| *c != INSTANCE_PAYLOAD_CLASS) {
            return Err(field("payload", format!("is a {class}, not Dubbo's ZookeeperInstance")));
        }
        let metadata = payload
            .metadata
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        Ok(ServiceInstance {
            name: wire.name,
            id: wire.id,
            address: wire.address,
            port,
            registration_time_utc: wire.registration_time_utc,
            metadata,
        })
    }

    /// The metadata revision (`dubbo.metadata.revision`), if any.
    pub fn revision(&self) -> Option<&str> {
        self.metadata
            .get(REVISION_KEY)
            .map(String::as_str)
            .filter(|r| !r.is_empty())
    }

    /// Where the metadata is: remote only when the instance says `remote`, as in Dubbo.
    pub fn storage_type(&self) -> StorageType {
        match self.metadata.get(METADATA_STORAGE_TYPE_KEY).map(String::as_str) {
            Some("remote") => StorageType::Remote,
            _ => StorageType::Local,
        }
    }

    /// The protocols and ports of [`ENDPOINTS_KEY`] (none when absent).
    ///
    /// # Errors
    /// [`DiscoveryError::Field`] when the value is not such a list.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>, DiscoveryError> {
        match self.metadata.get(ENDPOINTS_KEY) {
            None => Ok(Vec::new()),
            Some(text) => serde_json::from_str(text).map_err(|e| DiscoveryError::Field {
                what: WHAT,
                field: ENDPOINTS_KEY,
                problem: format!("is not a list of {{\"port\",\"protocol\"}}: {e}"),
            }),
        }
    }

    /// The port serving `protocol`: its endpoint's, else the instance's port.
    pub fn port_of(&self, protocol: &str) -> u16 {
        self.endpoints()
            .ok()
            .and_then(|list| list.into_iter().find(|e| e.protocol == protocol))
            .map_or(self.port, |e| e.port)
    }

    /// [`ENDPOINTS_KEY`]'s value for `endpoints`, as Java writes it.
    pub fn endpoints_value(endpoints: &[Endpoint]) -> String {
        serde_json::to_string(endpoints).unwrap_or_default()
    }
}
