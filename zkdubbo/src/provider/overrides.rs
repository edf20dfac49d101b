//! A provider's registration kept configured by the override rules that target it, as Java's
//! `RegistryProtocol.OverrideListener` does: URL-style rules under
//! `/dubbo/<interface>/configurators`, then the provider application's and the service's
//! config-center rules (the last wins). When they change the registered URL (a weight set in
//! dubbo-admin is a `side: provider` rule), the new URL is registered before the old one is
//! removed, so consumers never see the provider missing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use zkdubbo_common::{Url, keys};
use zkdubbo_directory::Configurators;
use zkdubbo_governance::{CONFIGURATORS_SUFFIX, parse_configurators, rule_path, service_rule_key};
use zkdubbo_registry::{NodeState, NodeWatch, Registration, Registry, RegistryError, Subscription};

/// How long registering waits for the rules in force before registering the URL they make
/// (the rules are still applied when they arrive later).
const FIRST_READ: Duration = Duration::from_secs(3);

/// One registry's registration of a provider, kept configured by its override rules.
pub(crate) struct Governed {
    registry: Arc<dyn Registry>,
    current: Arc<Mutex<Option<Registration>>>,
    task: JoinHandle<()>,
}

/// The rules a provider follows and the URL they make.
struct Rules {
    original: Url,
    url_style: Configurators,
    app: Configurators,
    service: Configurators,
    subscription: Option<Subscription>,
    /// Whether the URL-style rules were delivered once.
    url_style_seen: bool,
    app_watch: Option<(String, NodeWatch)>,
    service_watch: Option<(String, NodeWatch)>,
}

impl Rules {
    /// The URL the rules make of the original one. At a provider, only rules for every host
    /// (`0.0.0.0`) or for this provider's address apply (Java's `configureDeprecated` on the
    /// provider side).
    fn configured(&self) -> Url {
        Configurators::chain([&self.url_style, &self.app, &self.service])
            .apply(self.original.clone(), keys::ANYHOST_VALUE)
    }

    /// Take in the latest state of a rule node; whether the rules changed.
    fn read_node(path: &str, watch: &mut NodeWatch, into: &mut Configurators) -> bool {
        let state = watch.borrow_and_update().clone();
        let next = match state {
            NodeState::Unknown => return false,
            NodeState::Absent => Configurators::new(),
            NodeState::Present { text, .. } => match parse_configurators(&text) {
                Ok(rules) => {
                    let (c, errors) = Configurators::from_overrides(&rules, path);
                    if let Some(e) = errors.first() {
                        tracing::warn!(node = %path, error = %e, "ignoring a configurator rule; the previous rules stay in force");
                        return false;
                    }
                    c
                }
                Err(e) => {
                    tracing::warn!(node = %path, error = %e, "ignoring a configurator rule; the previous rules stay in force");
                    return false;
                }
            },
        };
        *into = next;
        true
    }

    fn known(watch: &Option<(String, NodeWatch)>) -> bool {
        watch.as_ref().is_none_or(|(_, w)| *w.borrow() != NodeState::Unknown)
    }

    /// Wait for the next change of any rule; `false` once nothing can change any more.
    async fn changed(&mut self) -> bool {
        async fn node(w: &mut Option<(String, NodeWatch)>) -> bool {
            match w {
                Some((_, w)) => w.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        }
        let original = self.original.clone();
        tokio::select! {
            n = async {
                match &mut self.subscription {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            } => match n {
                Some(n) => {
                    self.url_style_seen = true;
                    let (c, errors) = Configurators::parse(n.non_empty_urls());
                    for e in errors {
                        tracing::warn!(provider = %original, error = %e, "ignoring a configurator rule");
                    }
                    self.url_style = c;
                    true
                }
                None => {
                    self.subscription = None;
                    self.url_style_seen = true;
                    true
                }
            },
            alive = node(&mut self.app_watch) => {
                if !alive { self.app_watch = None; return true; }
                let (path, watch) = self.app_watch.as_mut().expect("polled only when set");
                Self::read_node(path, watch, &mut self.app)
            }
            alive = node(&mut self.service_watch) => {
                if !alive { self.service_watch = None; return true; }
                let (path, watch) = self.service_watch.as_mut().expect("polled only when set");
                Self::read_node(path, watch, &mut self.service)
            }
        }
    }
}

impl Governed {
    /// Read the rules that target `original` in `registry`, register the URL they make, and
    /// keep it configured as they change.
    pub(crate) async fn register(registry: Arc<dyn Registry>, original: Url) -> Result<Governed, RegistryError> {
        let mut rules = Rules {
            url_style: Configurators::new(),
            app: Configurators::new(),
            service: Configurators::new(),
            subscription: None,
            url_style_seen: false,
            app_watch: None,
            service_watch: None,
            original: original.clone(),
        };
        let subscribe_url = original
            .clone()
            .with_param(keys::CATEGORY, keys::CONFIGURATORS_CATEGORY)
            .with_param(keys::CHECK, "false");
        match registry.subscribe(&subscribe_url).await {
            Ok(s) => rules.subscription = Some(s),
            Err(e) => tracing::warn!(provider = %original, error = %e, "cannot follow URL-style override rules"),
        }
        if let Some(cc) = registry.config_center() {
            let root = cc.config_root();
            let service = service_rule_key(original.interface(), original.version(), original.group());
            let path = rule_path(root, &format!("{service}{CONFIGURATORS_SUFFIX}"));
            rules.service_watch = Some((path.clone(), cc.watch_node(&path)));
            if let Some(app) = original.param(keys::APPLICATION).filter(|a| !a.is_empty()) {
                let path = rule_path(root, &format!("{app}{CONFIGURATORS_SUFFIX}"));
                rules.app_watch = Some((path.clone(), cc.watch_node(&path)));
            }
        }
        // The rules in force first, so the first registration already carries them.
        let _ = tokio::time::timeout(FIRST_READ, async {
            while !(Rules::known(&rules.service_watch)
                && Rules::known(&rules.app_watch)
                && (rules.subscription.is_none() || rules.url_style_seen))
            {
                if !rules.changed().await {
                    break;
                }
            }
        })
        .await;
        if let Some((path, w)) = rules.service_watch.as_mut() {
            Rules::read_node(path, w, &mut rules.service);
        }
        if let Some((path, w)) = rules.app_watch.as_mut() {
            Rules::read_node(path, w, &mut rules.app);
        }
        let first = rules.configured();
        if first != original {
            tracing::info!(provider = %original, registered = %first, "override rules change the registered URL");
        }
        let registration = Registration::register(Arc::clone(&registry), first).await?;
        let current = Arc::new(Mutex::new(Some(registration)));
        let task = tokio::spawn(follow(rules, Arc::clone(&registry), Arc::clone(&current)));
        Ok(Governed {
            registry,
            current,
            task,
        })
    }

    /// The registry.
    pub(crate) fn registry(&self) -> &Arc<dyn Registry> {
        &self.registry
    }

    /// Stop following and unregister.
    pub(crate) async fn close(self) -> Result<(), RegistryError> {
        self.task.abort();
        let registration = self.current.lock().await.take();
        match registration {
            Some(r) => r.close().await,
            None => Ok(()),
        }
    }
}

impl Drop for Governed {
    fn drop(&mut self) {
        // The registration, dropped with the last `current`, unregisters in the background.
        self.task.abort();
    }
}

async fn follow(mut rules: Rules, registry: Arc<dyn Registry>, current: Arc<Mutex<Option<Registration>>>) {
    loop {
        if !rules.changed().await {
            return;
        }
        let wanted = rules.configured();
        let mut slot = current.lock().await;
        let Some(old) = slot.as_ref() else { return };
        if *old.url() == wanted {
            continue;
        }
        // The new URL first: consumers see two nodes of one provider for a moment (they keep
        // one), never none.
        match Registration::register(Arc::clone(&registry), wanted.clone()).await {
            Ok(new) => {
                tracing::info!(provider = %rules.original, registered = %wanted, "override rules changed the registered URL");
                if let Some(old) = slot.replace(new)
                    && let Err(e) = old.close().await
                {
                    tracing::warn!(error = %e, "cannot remove the provider's previous URL");
                }
            }
            Err(e) => tracing::warn!(provider = %rules.original, error = %e, "cannot register the overridden URL"),
        }
    }
}
