//! What an instance exports: [`MetadataInfo`], the JSON of the metadata report node
//! `/dubbo/metadata/<application>/<revision>` and of the MetadataService's answer, and its
//! revision, computed exactly as Java's `MetadataInfo.calAndGetRevision` (Dubbo 3.3):
//! the MD5, in lower-case hex, of the application name followed by each service's
//! `matchKey + port + path + params` in match-key order, the parameters written as Java's
//! `TreeMap.toString` writes them (`{k1=v1, k2=v2}`); `"0"` with no service. Java consumers
//! cache metadata by revision, so an equal revision must mean equal metadata, and the same
//! services must give Java's revision.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use zkdubbo_common::{Url, java_cmp, service_key};

use crate::error::DiscoveryError;

/// The revision of metadata with no service.
pub const EMPTY_REVISION: &str = "0";
/// The largest metadata document read.
pub const MAX_METADATA_BYTES: usize = 4 * 1024 * 1024;

const WHAT: &str = "metadata";

/// Parameters Dubbo's default `MetadataParamsFilter` leaves out of a service's metadata (also
/// any key containing `.<one of them>`): per-process values that would change the revision of
/// identical services.
const EXCLUDED_SERVICE_PARAMS: [&str; 13] = [
    "monitor",
    "bind.ip",
    "bind.port",
    "qos.enable",
    "qos.host",
    "qos.port",
    "qos.accept.foreign.ip",
    "validation",
    "interfaces",
    "pid",
    "timestamp",
    "heartbeat.timeout",
    "ipv6",
];

/// One exported service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The interface.
    pub name: String,
    /// Its group, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Its version, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The protocol it is served on.
    #[serde(default)]
    pub protocol: String,
    /// The port (0 when the URL had none, as Java's `getPort`).
    #[serde(default)]
    pub port: i32,
    /// The URL's path (usually the interface).
    #[serde(default)]
    pub path: String,
    /// Its parameters, without the per-process ones.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

impl ServiceInfo {
    /// The metadata of a provider URL, as Java builds it from the exported URL with the
    /// default parameter filter.
    pub fn from_url(url: &Url) -> ServiceInfo {
        let params = url
            .params()
            .iter()
            .filter(|(k, _)| !excluded(k))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        ServiceInfo {
            name: url.interface().to_owned(),
            group: url.group().map(str::to_owned),
            version: url.version().map(str::to_owned),
            protocol: url.protocol().to_owned(),
            port: url.port().map_or(0, i32::from),
            path: url.path().to_owned(),
            params,
        }
    }

    /// `[group/]interface[:version]`.
    pub fn service_key(&self) -> String {
        service_key(&self.name, self.group.as_deref(), self.version.as_deref())
    }

    /// The key services are listed under: the service key, then `:protocol` (Java's
    /// `matchKey`).
    pub fn match_key(&self) -> String {
        let key = self.service_key();
        if self.protocol.is_empty() {
            key
        } else {
            format!("{key}:{}", self.protocol)
        }
    }

    /// Java's `toDescString`: what the revision is computed over.
    pub fn desc_string(&self) -> String {
        let mut params: Vec<(&String, &String)> = self.params.iter().collect();
        params.sort_by(|a, b| java_cmp(a.0, b.0));
        let mut out = format!("{}{}{}{{", self.match_key(), self.port, self.path);
        for (i, (k, v)) in params.into_iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{k}={v}");
        }
        out.push('}');
        out
    }
}

/// Whether Dubbo's default filter leaves `key` out.
fn excluded(key: &str) -> bool {
    EXCLUDED_SERVICE_PARAMS.iter().any(|x| {
        key.eq_ignore_ascii_case(x)
            || key
                .match_indices(x)
                .any(|(i, _)| i > 0 && key.as_bytes()[i - 1] == b'.')
    })
}

/// An application instance's services, by match key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataInfo {
    /// The application.
    pub app: String,
    /// The revision these services have (see [`MetadataInfo::compute_revision`]).
    pub revision: String,
    /// The services, by [`ServiceInfo::match_key`].
    #[serde(default)]
    pub services: BTreeMap<String, ServiceInfo>,
}

impl MetadataInfo {
    /// The metadata of `application` exporting `urls`, with its revision.
    pub fn of(application: &str, urls: &[Url]) -> MetadataInfo {
        let services = urls
            .iter()
            .map(ServiceInfo::from_url)
            .map(|s| (s.match_key(), s))
            .collect();
        let mut info = MetadataInfo {
            app: application.to_owned(),
            revision: String::new(),
            services,
        };
        info.revision = info.compute_revision();
        info
    }

    /// The revision of these services, as Java computes it.
    pub fn compute_revision(&self) -> String {
        if self.services.is_empty() {
            return EMPTY_REVISION.to_owned();
        }
        let mut keys: Vec<&String> = self.services.keys().collect();
        keys.sort_by(|a, b| java_cmp(a, b));
        let mut text = self.app.clone();
        for key in keys {
            text.push_str(&self.services[key].desc_string());
        }
        let digest = Md5::digest(text.as_bytes());
        digest.iter().fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// The JSON of the metadata report node and of `getMetadataInfo`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Read metadata JSON.
    ///
    /// # Errors
    /// [`DiscoveryError`] when it is too large or not metadata.
    pub fn from_json(data: &[u8]) -> Result<MetadataInfo, DiscoveryError> {
        if data.len() > MAX_METADATA_BYTES {
            return Err(DiscoveryError::TooLarge {
                what: WHAT,
                len: data.len(),
                max: MAX_METADATA_BYTES,
            });
        }
        serde_json::from_slice(data).map_err(|e| DiscoveryError::Json {
            what: WHAT,
            message: e.to_string(),
        })
    }
}
