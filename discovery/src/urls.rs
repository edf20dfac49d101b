//! Provider URLs from application instances: one per instance and exported service that a
//! consumer accepts, as Java's `InstanceAddressURL` presents them to the directory.

use zkdubbo_common::{Url, is_match, keys};

use crate::application::ResolvedInstance;
use crate::metadata::ServiceInfo;

/// The parameter marking a provider URL that came from application-level discovery (value
/// [`Level::Application`](crate::Level::Application)'s name); interface-level URLs do not
/// have it.
pub const LEVEL_KEY: &str = keys::DISCOVERY_LEVEL;

/// The provider URLs `consumer` gets from `instances`: each instance's services of the
/// consumer's interface, group and version (and protocol, when the consumer names some).
pub fn provider_urls(consumer: &Url, instances: &[ResolvedInstance]) -> Vec<Url> {
    let protocols = consumer.param(keys::PROTOCOL).filter(|p| !p.is_empty());
    let mut out = Vec::new();
    for resolved in instances {
        for service in resolved.metadata.services.values() {
            if service.name != consumer.interface() {
                continue;
            }
            if protocols.is_some_and(|p| !p.split(',').any(|p| p.trim() == service.protocol)) {
                continue;
            }
            let url = service_url(resolved, service);
            if is_match(consumer, &url) {
                out.push(url);
            }
        }
    }
    out
}

/// `service` at `resolved`'s address: the port of the instance's endpoint for the protocol,
/// else the service's own, else the instance's; `timestamp` the instance's registration time
/// when the metadata has none (warm-up counts from it).
fn service_url(resolved: &ResolvedInstance, service: &ServiceInfo) -> Url {
    let instance = &resolved.instance;
    let endpoint = instance
        .endpoints()
        .ok()
        .and_then(|list| list.into_iter().find(|e| e.protocol == service.protocol))
        .map(|e| e.port);
    let port = endpoint
        .or_else(|| u16::try_from(service.port).ok().filter(|p| *p != 0))
        .unwrap_or(instance.port);
    let protocol = if service.protocol.is_empty() {
        "dubbo"
    } else {
        &service.protocol
    };
    let path = if service.path.is_empty() {
        &service.name
    } else {
        &service.path
    };
    let mut url = Url::new(protocol, &instance.address, Some(port), path)
        .with_params(service.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if url.param(keys::INTERFACE).is_none() {
        url.set_param(keys::INTERFACE, service.name.as_str());
    }
    if let (None, Some(g)) = (url.param(keys::GROUP), &service.group) {
        url.set_param(keys::GROUP, g.as_str());
    }
    if let (None, Some(v)) = (url.param(keys::VERSION), &service.version) {
        url.set_param(keys::VERSION, v.as_str());
    }
    if url.param(keys::TIMESTAMP).is_none() && instance.registration_time_utc > 0 {
        url.set_param(keys::TIMESTAMP, instance.registration_time_utc.to_string());
    }
    url.set_param(LEVEL_KEY, crate::Level::Application.as_str());
    url
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::instance::{ENDPOINTS_KEY, ServiceInstance};
    use crate::metadata::MetadataInfo;

    fn resolved(address: &str, urls: &[&str]) -> ResolvedInstance {
        let urls: Vec<Url> = urls.iter().map(|u| u.parse().unwrap()).collect();
        let metadata = MetadataInfo::of("shop", &urls);
        let mut md = BTreeMap::new();
        md.insert(
            ENDPOINTS_KEY.to_owned(),
            r#"[{"port":20881,"protocol":"dubbo"}]"#.to_owned(),
        );
        ResolvedInstance {
            instance: Arc::new(ServiceInstance::new("shop", address, 20880, md)),
            metadata: Arc::new(metadata),
        }
    }

    #[test]
    fn each_matching_service_of_each_instance_becomes_a_provider() {
        let a = resolved(
            "10.0.0.1",
            &[
                "dubbo://10.0.0.1:20880/com.foo.Bar?interface=com.foo.Bar&version=1.0&weight=7&pid=12",
                "dubbo://10.0.0.1:20880/com.foo.Bar?interface=com.foo.Bar&version=2.0",
                "tri://10.0.0.1:50051/com.foo.Bar?interface=com.foo.Bar&version=1.0",
                "dubbo://10.0.0.1:20880/com.foo.Baz?interface=com.foo.Baz&version=1.0",
            ],
        );
        let b = resolved(
            "10.0.0.2",
            &["dubbo://10.0.0.2:20880/com.foo.Bar?interface=com.foo.Bar&version=1.0"],
        );
        let consumer: Url = "consumer://10.0.0.9/com.foo.Bar?version=1.0".parse().unwrap();
        let urls = provider_urls(&consumer, &[a.clone(), b]);
        let shown: Vec<String> = urls
            .iter()
            .map(|u| format!("{}://{}", u.protocol(), u.address()))
            .collect();
        assert_eq!(
            shown,
            [
                "dubbo://10.0.0.1:20881",
                "tri://10.0.0.1:50051",
                "dubbo://10.0.0.2:20881"
            ]
        );
        assert_eq!(urls[0].param("weight"), Some("7"));
        assert_eq!(urls[0].param("pid"), None, "per-process keys are not in metadata");
        assert_eq!(urls[0].param(LEVEL_KEY), Some("application"));
        assert!(urls[0].param(keys::TIMESTAMP).is_some());
        let dubbo_only: Url = "consumer://10.0.0.9/com.foo.Bar?version=1.0&protocol=dubbo"
            .parse()
            .unwrap();
        assert_eq!(provider_urls(&dubbo_only, &[a]).len(), 1);
    }
}
