//! What the console shows, kept from ZooKeeper notifications: the services under the root and
//! their providers and consumers (one subscription to every interface), and the URL-style
//! rules of the services whose pages were asked for (one subscription each); pages read it
//! from memory, so a page of 10,000 services costs no ZooKeeper reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use zkdubbo_common::Url;
use zkdubbo_registry::{Category, Notification};

/// Lists as last notified, per service.
#[derive(Debug, Default)]
pub struct Model {
    /// Bumped on every change (the page asks again when it moves).
    pub version: u64,
    services: BTreeMap<String, Lists>,
}

/// ZooKeeper's default `jute.maxbuffer`: a children list whose reply is larger cannot be read
/// (by any client, Java's included) unless every client and server raises it.
const JUTE_MAXBUFFER: usize = 0xfffff;

/// A list's reply counted as "near" the limit from this fraction of it on.
const NEAR_LIMIT: f64 = 0.75;

#[derive(Debug, Default, Clone)]
struct Lists {
    /// The size of the providers list's reply, as ZooKeeper sends it (each name with its
    /// 4-byte length), estimated from the URLs.
    provider_bytes: usize,
    providers: Arc<[Url]>,
    consumers: Arc<[Url]>,
    /// URL-style rules (`route://`, `condition://`, `override://`, ...), of the services
    /// whose pages were asked for.
    routers: Arc<[Url]>,
    configurators: Arc<[Url]>,
    /// The model's version at the lists' last change.
    changed: u64,
}

impl Lists {
    /// A service is shown while it has providers or consumers (or is known by name only, its
    /// lists not read yet); URL-style rules alone do not make one.
    fn shown(&self) -> bool {
        !self.providers.is_empty() || !self.consumers.is_empty() || self.changed == 0
    }
}

/// A row of the services page.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ServiceRow {
    /// The interface.
    pub name: String,
    /// Providers registered.
    pub providers: usize,
    /// Consumers registered.
    pub consumers: usize,
    /// Protocols of the providers.
    pub protocols: Vec<String>,
    /// Applications of the providers.
    pub applications: Vec<String>,
    /// What an operator should look at.
    pub warnings: Vec<String>,
}

/// A provider as the service page shows it.
#[derive(Debug, Serialize)]
pub struct ProviderView {
    /// `host:port`.
    pub address: String,
    /// The protocol.
    pub protocol: String,
    /// The application.
    pub application: String,
    /// The registered weight (Dubbo's default, 100, when none is registered).
    pub weight: u32,
    /// Whether the registered URL says `disabled=true`.
    pub disabled: bool,
    /// The provider's own tag (`dubbo.tag`), if any; tag routes add theirs.
    pub tag: String,
    /// Group and version, as the consumer matches them.
    pub group: String,
    /// The version.
    pub version: String,
    /// The whole registered URL.
    pub url: String,
}

/// A consumer as the service page shows it.
#[derive(Debug, Serialize)]
pub struct ConsumerView {
    /// The consumer's host.
    pub host: String,
    /// The application.
    pub application: String,
    /// The whole registered URL.
    pub url: String,
}

/// The service page.
#[derive(Debug, Serialize)]
pub struct ServiceView {
    /// The interface.
    pub name: String,
    /// Its providers, by address.
    pub providers: Vec<ProviderView>,
    /// Its consumers.
    pub consumers: Vec<ConsumerView>,
    /// URL-style routers (`route://`, ...), followed from the page's first visit.
    pub routers: Vec<String>,
    /// URL-style configurators (`override://`, ...), followed from the page's first visit.
    pub configurators: Vec<String>,
    /// The YAML rules of `/dubbo/config` that name the service (filled by the server).
    pub rules: Vec<RuleView>,
}

/// A YAML rule node and its text.
#[derive(Debug, Serialize)]
pub struct RuleView {
    /// The node.
    pub path: String,
    /// Its text.
    pub text: String,
}

impl Model {
    /// Take in a notification; whether anything changed.
    pub fn apply(&mut self, n: &Notification) -> bool {
        let urls: Arc<[Url]> = n.non_empty_urls().to_vec().into();
        if urls.is_empty() && !self.services.contains_key(&*n.interface) {
            // Nothing listed for a service not known: nothing to show (the config group's
            // node under the root, for one, is no service).
            return false;
        }
        let lists = self.services.entry(n.interface.to_string()).or_default();
        let slot = match n.category {
            Category::Providers => &mut lists.providers,
            Category::Consumers => &mut lists.consumers,
            Category::Routers => &mut lists.routers,
            Category::Configurators => &mut lists.configurators,
        };
        if slot[..] == urls[..] {
            return false;
        }
        *slot = urls;
        if n.category == Category::Providers {
            lists.provider_bytes = lists
                .providers
                .iter()
                .map(|u| 4 + zkdubbo_common::encoding::encode(&u.to_string()).len())
                .sum();
        }
        self.version += 1;
        lists.changed = self.version;
        if !lists.shown() && lists.routers.is_empty() && lists.configurators.is_empty() {
            self.services.remove(&*n.interface);
        }
        true
    }

    /// Stop keeping a service's URL-style rules (no longer followed).
    pub fn forget_rules(&mut self, name: &str) {
        if let Some(lists) = self.services.get_mut(name) {
            lists.routers = Arc::from([]);
            lists.configurators = Arc::from([]);
            if !lists.shown() {
                self.services.remove(name);
            }
        }
    }

    /// Know these services by name before their lists are read (one read of the root: the
    /// page can show them at once, their counts following).
    pub fn seed_names(&mut self, names: impl IntoIterator<Item = String>) {
        for name in names {
            self.services.entry(name).or_default();
        }
        self.version += 1;
    }

    /// Take in every list at once (a pipelined read at start, before the subscription's own
    /// reads arrive).
    pub fn seed(&mut self, urls: Vec<Url>) {
        let mut lists: BTreeMap<(String, Category), Vec<Url>> = BTreeMap::new();
        for url in urls {
            if let Some(category) = Category::of(&url) {
                lists
                    .entry((url.interface().to_owned(), category))
                    .or_default()
                    .push(url);
            }
        }
        for ((interface, category), urls) in lists {
            self.apply(&Notification {
                interface: interface.into(),
                category,
                urls: urls.into(),
                version: None,
                source: zkdubbo_registry::Source::Live,
            });
        }
    }

    /// Every service, sorted by name.
    pub fn rows(&self) -> Vec<ServiceRow> {
        self.services
            .iter()
            .filter(|(_, lists)| lists.shown())
            .map(|(name, lists)| {
                let mut protocols: Vec<String> = lists.providers.iter().map(|u| u.protocol().to_owned()).collect();
                protocols.sort();
                protocols.dedup();
                let mut applications: Vec<String> = lists
                    .providers
                    .iter()
                    .filter_map(|u| u.param("application").map(str::to_owned))
                    .collect();
                applications.sort();
                applications.dedup();
                let mut warnings = Vec::new();
                if lists.providers.is_empty() && !lists.consumers.is_empty() {
                    warnings.push("no provider".to_owned());
                } else if !lists.providers.is_empty() && lists.providers.iter().all(|u| u.param_bool("disabled", false))
                {
                    warnings.push("every provider disabled".to_owned());
                }
                if lists.provider_bytes as f64 >= NEAR_LIMIT * JUTE_MAXBUFFER as f64 {
                    warnings.push(format!(
                        "providers list of {} KiB, near jute.maxbuffer ({} KiB)",
                        lists.provider_bytes / 1024,
                        JUTE_MAXBUFFER / 1024
                    ));
                }
                ServiceRow {
                    name: name.clone(),
                    providers: lists.providers.len(),
                    consumers: lists.consumers.len(),
                    protocols,
                    applications,
                    warnings,
                }
            })
            .collect()
    }

    /// The model's version at the last change of a service's lists or URL-style rules, if it
    /// is known.
    pub fn changed(&self, name: &str) -> Option<u64> {
        self.services.get(name).map(|l| l.changed)
    }

    /// One service's page, if it is known (its YAML rules are for the caller to fill).
    pub fn service(&self, name: &str) -> Option<ServiceView> {
        let lists = self.services.get(name).filter(|l| l.shown())?;
        let mut providers: Vec<ProviderView> = lists
            .providers
            .iter()
            .map(|u| ProviderView {
                address: u.address(),
                protocol: u.protocol().to_owned(),
                application: u.param_or("application", "").to_owned(),
                weight: u.param_as("weight", 100u32),
                disabled: u.param_bool("disabled", false),
                tag: u.param_or("dubbo.tag", "").to_owned(),
                group: u.group().unwrap_or_default().to_owned(),
                version: u.version().unwrap_or_default().to_owned(),
                url: u.to_string(),
            })
            .collect();
        providers.sort_by(|a, b| a.address.cmp(&b.address));
        Some(ServiceView {
            name: name.to_owned(),
            providers,
            consumers: lists
                .consumers
                .iter()
                .map(|u| ConsumerView {
                    host: u.host().to_owned(),
                    application: u.param_or("application", "").to_owned(),
                    url: u.to_string(),
                })
                .collect(),
            routers: lists.routers.iter().map(Url::to_string).collect(),
            configurators: lists.configurators.iter().map(Url::to_string).collect(),
            rules: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use zkdubbo_registry::Source;

    use super::*;

    fn notification(category: Category, urls: &[&str]) -> Notification {
        Notification {
            interface: "com.foo.Bar".into(),
            category,
            urls: urls
                .iter()
                .map(|u| u.parse::<Url>().unwrap())
                .collect::<Vec<_>>()
                .into(),
            version: None,
            source: Source::Live,
        }
    }

    #[test]
    fn lists_make_rows_and_warnings_and_a_repeat_changes_nothing() {
        let mut model = Model::default();
        assert!(model.apply(&notification(
            Category::Consumers,
            &["consumer://10.0.0.9/com.foo.Bar?application=web"]
        )));
        assert_eq!(model.rows()[0].warnings, ["no provider"]);
        let providers = ["tri://10.0.0.1:50051/com.foo.Bar?application=a&disabled=true"];
        assert!(model.apply(&notification(Category::Providers, &providers)));
        let version = model.version;
        assert!(
            !model.apply(&notification(Category::Providers, &providers)),
            "same list"
        );
        assert_eq!(model.version, version);
        let row = &model.rows()[0];
        assert_eq!((row.providers, row.consumers), (1, 1));
        assert_eq!(row.warnings, ["every provider disabled"]);
        assert_eq!(row.protocols, ["tri"]);
        let view = model.service("com.foo.Bar").unwrap();
        assert!(view.providers[0].disabled);
        assert_eq!(view.providers[0].application, "a");
        // Every list empty: the service is gone.
        model.apply(&notification(
            Category::Providers,
            &["empty://10.0.0.1/com.foo.Bar?category=providers"],
        ));
        model.apply(&notification(
            Category::Consumers,
            &["empty://10.0.0.1/com.foo.Bar?category=consumers"],
        ));
        assert!(model.rows().is_empty());
        assert!(model.service("com.foo.Bar").is_none());
    }

    #[test]
    fn url_style_rules_are_kept_with_the_service_and_make_none_alone() {
        let mut model = Model::default();
        let route = "condition://0.0.0.0/com.foo.Bar?category=routers&rule=%3D%3E+host+%3D+10.0.0.1";
        assert!(model.apply(&notification(Category::Routers, &[route])));
        assert!(model.rows().is_empty(), "rules alone are no service");
        assert!(model.service("com.foo.Bar").is_none());
        model.apply(&notification(
            Category::Providers,
            &["dubbo://10.0.0.1:20880/com.foo.Bar?application=a"],
        ));
        let before = model.changed("com.foo.Bar").unwrap();
        let rule = "override://10.0.0.1:20880/com.foo.Bar?category=configurators&weight=7";
        assert!(model.apply(&notification(Category::Configurators, &[rule])));
        assert!(
            model.changed("com.foo.Bar").unwrap() > before,
            "a rule is a change of the service"
        );
        let view = model.service("com.foo.Bar").unwrap();
        assert_eq!(view.routers.len(), 1);
        assert!(view.configurators[0].contains("weight=7"), "{:?}", view.configurators);
        // The providers go and come back: the rules stayed.
        model.apply(&notification(
            Category::Providers,
            &["empty://10.0.0.1/com.foo.Bar?category=providers"],
        ));
        assert!(model.rows().is_empty());
        model.apply(&notification(
            Category::Providers,
            &["dubbo://10.0.0.1:20880/com.foo.Bar?application=a"],
        ));
        assert_eq!(model.service("com.foo.Bar").unwrap().configurators.len(), 1);
        // No longer followed: the rules are not shown stale.
        model.forget_rules("com.foo.Bar");
        assert!(model.service("com.foo.Bar").unwrap().configurators.is_empty());
        model.apply(&notification(Category::Configurators, &[rule]));
        // Every list and rule gone: nothing is kept.
        for category in [Category::Providers, Category::Routers, Category::Configurators] {
            model.apply(&notification(category, &["empty://10.0.0.1/com.foo.Bar"]));
        }
        assert!(model.services.is_empty());
    }

    #[test]
    fn a_providers_list_near_jute_maxbuffer_is_flagged() {
        let long = "x".repeat(120);
        let urls: Vec<String> = (0..6_000)
            .map(|i| {
                format!(
                    "tri://10.0.{}.{}:20880/com.foo.Bar?application=app&note={long}",
                    i / 250,
                    i % 250
                )
            })
            .collect();
        let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
        let mut model = Model::default();
        model.apply(&notification(Category::Providers, &refs[..1_000]));
        assert!(model.rows()[0].warnings.is_empty(), "{:?}", model.rows()[0].warnings);
        model.apply(&notification(Category::Providers, &refs));
        let warnings = &model.rows()[0].warnings;
        assert!(
            warnings.iter().any(|w| w.contains("near jute.maxbuffer")),
            "{warnings:?}"
        );
    }
}
