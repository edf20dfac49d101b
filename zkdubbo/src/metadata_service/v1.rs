//! MetadataService V1: `org.apache.dubbo.metadata.MetadataService`, version 1.0.0, group = the
//! application, over dubbo://. `getMetadataInfo(String revision)` answers a
//! `org.apache.dubbo.metadata.MetadataInfo` (fields `app`, `revision`, `services`: a map of
//! `MetadataInfo$ServiceInfo` with `port`, `name`, `group`, `version`, `protocol`, `path`,
//! `params`, as Java declares them), or null for a revision the provider does not have.

use zkdubbo_discovery::{MetadataInfo, ServiceInstance};
use zkdubbo_dubbo::hessian::Value;
use zkdubbo_dubbo::{DubboInvokerFactory, PROTOCOL, reply, value_invocation};

use super::Endpoint;

/// The interface of MetadataService V1.
pub(crate) const INTERFACE: &str = "org.apache.dubbo.metadata.MetadataService";
/// Its version.
pub(crate) const VERSION: &str = "1.0.0";
/// Java's classes.
const METADATA_CLASS: &str = "org.apache.dubbo.metadata.MetadataInfo";
const SERVICE_INFO_CLASS: &str = "org.apache.dubbo.metadata.MetadataInfo$ServiceInfo";
const METHOD: &str = "getMetadataInfo";
const TYPES: [&str; 1] = ["java.lang.String"];

/// The key `application`'s MetadataService is served under on a dubbo:// port
/// (`<application>/org.apache.dubbo.metadata.MetadataService:1.0.0`).
pub(crate) fn service_key(application: &str) -> String {
    zkdubbo_common::service_key(INTERFACE, Some(application), Some(VERSION))
}

/// Whether a key of a dubbo:// port's services is a MetadataService's.
pub(crate) fn is_metadata_service(key: &str) -> bool {
    key.split_once('/').map_or(key, |(_, rest)| rest) == format!("{INTERFACE}:{VERSION}")
}

/// The MetadataService of `application`: the metadata this process publishes for it.
pub(crate) fn service(application: &str) -> zkdubbo_dubbo::DubboMethods {
    let application = application.to_owned();
    zkdubbo_dubbo::DubboMethods::new().value(METHOD, &TYPES, move |args| {
        let application = application.clone();
        async move {
            let revision = match args.first() {
                Some(Value::String(r)) => r.clone(),
                _ => return Ok(Value::Null),
            };
            Ok(crate::discovery::metadata_of(&application, &revision).map_or(Value::Null, |m| metadata_value(&m)))
        }
    })
}

/// `info` as the Java object `getMetadataInfo` answers (fields in the order Java's Hessian
/// writes them: primitives first, then the others in declaration order).
pub(crate) fn metadata_value(info: &MetadataInfo) -> Value {
    use zkdubbo_dubbo::hessian::{Map, Object};
    let string_or_null = |s: &Option<String>| s.as_deref().map_or(Value::Null, Value::from);
    let services = info
        .services
        .iter()
        .map(|(key, s)| {
            let params = Map {
                r#type: None,
                entries: s
                    .params
                    .iter()
                    .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
                    .collect(),
            };
            let mut o = Object::new(SERVICE_INFO_CLASS);
            o.fields = vec![
                ("port".into(), Value::Int(s.port)),
                ("name".into(), Value::from(s.name.as_str())),
                ("group".into(), string_or_null(&s.group)),
                ("version".into(), string_or_null(&s.version)),
                ("protocol".into(), Value::from(s.protocol.as_str())),
                ("path".into(), Value::from(s.path.as_str())),
                ("params".into(), Value::Map(params)),
            ];
            (Value::from(key.as_str()), Value::Object(o))
        })
        .collect();
    let mut o = Object::new(METADATA_CLASS);
    o.fields = vec![
        ("app".into(), Value::from(info.app.as_str())),
        ("revision".into(), Value::from(info.revision.as_str())),
        (
            "services".into(),
            Value::Map(Map {
                r#type: None,
                entries: services,
            }),
        ),
    ];
    Value::Object(o)
}

/// The client: calls of the MetadataService V1 of instances.
#[derive(Default)]
pub(crate) struct Client {
    factory: DubboInvokerFactory,
}

impl Client {
    /// `getMetadataInfo(revision)` of the MetadataService at `endpoint`.
    pub(crate) async fn fetch(
        &self,
        endpoint: &Endpoint,
        instance: &ServiceInstance,
        revision: &str,
    ) -> Result<MetadataInfo, String> {
        let url = endpoint.url(PROTOCOL, INTERFACE, instance, VERSION);
        let inv = value_invocation(METHOD, &TYPES, &[Value::from(revision)]).map_err(|e| e.to_string())?;
        let response = super::client::call_once(&self.factory, &url, &inv).await?;
        let info: Option<MetadataInfo> =
            reply(&response).map_err(|e| format!("getMetadataInfo on {}: {e}", url.address()))?;
        info.ok_or_else(|| format!("{} has no metadata of revision {revision}", url.address()))
    }
}
