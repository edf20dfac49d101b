//! Governance rules written where and as dubbo-admin writes them (node data under
//! `<root>/config/dubbo/`, by a plain ZooKeeper client), seen by zkdubbo providers and
//! consumers on a real ZooKeeper: a weight reaching consumers through the provider, a
//! disabled provider, an application-scope rule, a route per method, a tag route, broken
//! YAML and deletion.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::*;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::{Methods, message_invocation};
use zkdubbo::{Invocation, Reference, SERVED_BY, ServiceBuilder, TripleService};
use zookeeper_client::{Acls, Client, CreateMode};

const IFACE: &str = "org.apache.dubbo.samples.GovernedGreeter";
const SAY_GOODBYE: &str = "sayGoodbye";

struct World {
    env: Env,
    raw: Client,
    a: TripleService,
    b: TripleService,
}

impl World {
    async fn start(prefix: &str) -> World {
        let env = env(prefix);
        let raw = env.raw().await;
        let a = provider(&env).await;
        let b = provider(&env).await;
        World { env, raw, a, b }
    }

    /// Both providers' addresses, sorted.
    fn both(&self) -> Vec<String> {
        sorted(&self.a.url().address(), &self.b.url().address())
    }

    /// A reference (round robin, application `shop`) once calls reach both providers.
    async fn calling_both(&self) -> Reference {
        let reference = self.reference(&[]).await;
        let both = self.both();
        let both: Vec<&str> = both.iter().map(String::as_str).collect();
        until_served_by(&reference, &call(greeter::SAY_HELLO), &both).await;
        reference
    }

    fn registry(&self) -> String {
        self.env.registry_url(&self.env.addr, "")
    }

    async fn reference(&self, extra: &[(&str, &str)]) -> Reference {
        let mut builder = Reference::builder()
            .interface(IFACE)
            .registry(self.registry())
            .application("shop")
            .loadbalance("roundrobin");
        for (k, v) in extra {
            builder = builder.param(*k, *v);
        }
        builder.build().await.expect("reference builds")
    }

    fn node(&self, key: &str) -> String {
        format!("{}/config/dubbo/{key}", self.env.root)
    }

    /// Write `yaml` at rule `key` as dubbo-admin does (create or set, plain client).
    async fn put(&self, key: &str, yaml: &str) {
        let path = self.node(key);
        mkdirs(&self.raw, &format!("{}/config/dubbo", self.env.root)).await;
        match self.raw.set_data(&path, yaml.as_bytes(), None).await {
            Ok(_) => {}
            Err(zookeeper_client::Error::NoNode) => {
                self.raw
                    .create(
                        &path,
                        yaml.as_bytes(),
                        &CreateMode::Persistent.with_acls(Acls::anyone_all()),
                    )
                    .await
                    .unwrap();
            }
            Err(e) => panic!("{path}: {e}"),
        }
    }

    async fn delete(&self, key: &str) {
        self.raw.delete(&self.node(key), None).await.unwrap();
    }
}

async fn provider(env: &Env) -> TripleService {
    let methods: Methods = greeter::service().unary(SAY_GOODBYE, |r: GreeterRequest, _| async move {
        Ok::<_, zkdubbo::triple::Status>(GreeterReply {
            message: format!("Bye, {}!", r.name),
        })
    });
    ServiceBuilder::new(IFACE)
        .registry(env.registry_url(&env.addr, ""))
        .application("demo-provider")
        // No warm-up: weights count in full at once.
        .param("warmup", "0")
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .method(SAY_GOODBYE)
        .serve_triple(methods, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("provider starts and registers")
}

fn call(method: &str) -> Invocation {
    message_invocation(method, &GreeterRequest { name: "gov".into() })
}

/// Who served `n` calls of `inv`, by address.
async fn served(reference: &Reference, inv: &Invocation, n: usize) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for _ in 0..n {
        let r = reference.invoke(inv).await.expect("call succeeds");
        *by.entry(r.attachments[SERVED_BY].clone()).or_insert(0) += 1;
    }
    by
}

/// Wait (at most 10 s) until `n` calls of `inv` are served exactly by `want` (addresses).
async fn until_served_by(reference: &Reference, inv: &Invocation, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let by = served(reference, inv, 8).await;
        let got: Vec<&str> = by.keys().map(String::as_str).collect();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still served by {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sorted(a: &str, b: &str) -> Vec<String> {
    let mut v = vec![a.to_owned(), b.to_owned()];
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_weight_reaches_consumers_through_the_provider() {
    let w = World::start("gov-weight").await;
    let (a, b) = (w.a.url().address(), w.b.url().address());
    let reference = w.reference(&[]).await;
    let hello = call(greeter::SAY_HELLO);
    let even = served(&reference, &hello, 100).await;
    assert_eq!(even.values().copied().collect::<Vec<_>>(), [50, 50], "{even:?}");

    // Exactly what dubbo-admin's "weight" page writes for a new node (its YAML only).
    let yaml = format!(
        "configs:\n- addresses: [{a}]\n  enabled: true\n  parameters: {{weight: 900}}\n  side: provider\n  type: weight\n\
         enabled: false\nkey: '{IFACE}::'\nscope: service\n"
    );
    w.put(&format!("{IFACE}::.configurators"), &yaml).await;
    // The provider re-registers with weight 900; consumers see it like any provider change.
    let dir = reference.directories()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir
        .snapshot()
        .providers()
        .iter()
        .any(|m| m.url().address() == a && m.url().param("weight") == Some("900"))
    {
        assert!(Instant::now() < deadline, "weight 900 never reached the consumer");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let providers_path = w.env.path(IFACE, "providers");
    let nodes = children(&w.raw, &providers_path).await;
    assert_eq!(nodes.len(), 2, "the old node is gone, the new one is there: {nodes:?}");
    // Round robin over 900 : 100.
    let weighted = served(&reference, &hello, 1000).await;
    assert_eq!(weighted.get(&a), Some(&900), "{weighted:?}");
    assert_eq!(weighted.get(&b), Some(&100), "{weighted:?}");

    w.delete(&format!("{IFACE}::.configurators")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir
        .snapshot()
        .providers()
        .iter()
        .any(|m| m.url().param("weight") == Some("900"))
    {
        assert!(
            Instant::now() < deadline,
            "weight 900 stayed after the rule was deleted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let even = served(&reference, &hello, 100).await;
    assert_eq!(even.values().copied().collect::<Vec<_>>(), [50, 50], "{even:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_provider_gets_no_calls_and_broken_yaml_changes_nothing() {
    let w = World::start("gov-disable").await;
    let (a, b) = (w.a.url().address(), w.b.url().address());
    let reference = w.calling_both().await;
    let hello = call(greeter::SAY_HELLO);

    // The reference's hand-written "disable a provider" rule (dubbo-admin has no page for it).
    let disable = format!(
        "configVersion: v2.7\nscope: service\nkey: {IFACE}\nenabled: true\nconfigs:\n- addresses: [0.0.0.0]\n  \
         providerAddresses: [{a}]\n  side: consumer\n  parameters: {{disabled: true}}\n"
    );
    let key = format!("{IFACE}::.configurators");
    w.put(&key, &disable).await;
    until_served_by(&reference, &hello, &[&b]).await;
    assert_eq!(served(&reference, &hello, 50).await.get(&b), Some(&50));

    // Broken YAML: the consumer keeps the rule it had, and says so.
    w.put(&key, "configs: [ {").await;
    let dir = reference.directories()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.describe().warnings.iter().any(|w| w.contains("not valid YAML")) {
        assert!(Instant::now() < deadline, "no warning about the broken rule");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = log_text();
    assert!(
        text.contains(&w.node(&key)) && text.contains("not valid YAML"),
        "{text}"
    );
    assert_eq!(
        served(&reference, &hello, 20).await.get(&b),
        Some(&20),
        "the previous rule stays"
    );

    w.delete(&key).await;
    let both = w.both();
    until_served_by(&reference, &hello, &both.iter().map(String::as_str).collect::<Vec<_>>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_rules_and_routes_per_method() {
    let w = World::start("gov-app-route").await;
    let (a, b) = (w.a.url().address(), w.b.url().address());
    let reference = w.calling_both().await;
    let hello = call(greeter::SAY_HELLO);
    let bye = call(SAY_GOODBYE);
    let both = w.both();
    let both: Vec<&str> = both.iter().map(String::as_str).collect();

    // The consumer application's configurator disables b for this application only.
    w.put(
        "shop.configurators",
        &format!(
            "configVersion: v2.7\nscope: application\nkey: shop\nconfigs:\n- side: consumer\n  providerAddresses: [{b}]\n  \
             parameters: {{disabled: true}}\n"
        ),
    )
    .await;
    until_served_by(&reference, &hello, &[&a]).await;
    w.delete("shop.configurators").await;
    until_served_by(&reference, &hello, &both).await;

    // A service condition route, as dubbo-admin writes it, for one method.
    w.put(
        &format!("{IFACE}::.condition-router"),
        &format!(
            "conditions:\n- method = {SAY_GOODBYE} => address = {b}\nenabled: true\nforce: false\nkey: {IFACE}\npriority: 0\n\
             runtime: false\nscope: service\n"
        ),
    )
    .await;
    until_served_by(&reference, &bye, &[&b]).await;
    until_served_by(&reference, &hello, &both).await;
    w.delete(&format!("{IFACE}::.condition-router")).await;
    until_served_by(&reference, &bye, &both).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_route_of_the_provider_application() {
    let w = World::start("gov-tag").await;
    let (a, b) = (w.a.url().address(), w.b.url().address());
    let reference = w.calling_both().await;
    let hello = call(greeter::SAY_HELLO);
    let both = w.both();
    let both: Vec<&str> = both.iter().map(String::as_str).collect();

    // As dubbo-admin writes a tag route for the providers' application.
    w.put(
        "demo-provider.tag-router",
        &format!(
            "enabled: true\nforce: false\nkey: demo-provider\npriority: 0\nruntime: false\ntags:\n- addresses: [{a}]\n  name: gray\n"
        ),
    )
    .await;
    let tagged = |tag: &str| {
        let mut inv = call(greeter::SAY_HELLO);
        inv.set_attachment("dubbo.tag", tag);
        inv
    };
    until_served_by(&reference, &tagged("gray"), &[&a]).await;
    // Untagged calls avoid tagged providers; an unknown tag falls back to untagged ones.
    assert_eq!(served(&reference, &hello, 10).await.get(&b), Some(&10));
    assert_eq!(served(&reference, &tagged("blue"), 10).await.get(&b), Some(&10));
    // Forced, an unknown tag gets nothing.
    let mut forced = tagged("blue");
    forced.set_attachment("dubbo.force.tag", "true");
    let err = reference.invoke(&forced).await.unwrap_err();
    assert!(err.to_string().contains("tag"), "{err}");

    w.delete("demo-provider.tag-router").await;
    until_served_by(&reference, &tagged("gray"), &both).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v31_condition_rule_splits_traffic_by_its_weights() {
    let w = World::start("gov-v31").await;
    let (a, b) = (w.a.url().address(), w.b.url().address());
    let reference = w.reference(&[]).await;
    let hello = call(greeter::SAY_HELLO);
    w.put(
        &format!("{IFACE}::.condition-router"),
        &format!(
            "configVersion: v3.1\nscope: service\nkey: {IFACE}\nforce: false\nconditions:\n- from: {{match: ''}}\n  to:\n  \
             - {{match: 'address={a}', weight: 900}}\n  - {{match: 'address={b}', weight: 100}}\n"
        ),
    )
    .await;
    let dir = reference.directories()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.describe().routers.iter().any(|r| r.name.contains("(900)")) {
        assert!(Instant::now() < deadline, "the v3.1 rule never came into force");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // 2,000 calls at 9 : 1: 1,800 expected, σ ≈ 13; the bounds are 5σ away.
    let by = served(&reference, &hello, 2000).await;
    let to_a = by.get(&a).copied().unwrap_or(0);
    assert!((1733..=1867).contains(&to_a), "{by:?}");
    assert_eq!(to_a + by.get(&b).copied().unwrap_or(0), 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_style_then_application_then_service_rules_the_last_wins() {
    let w = World::start("gov-precedence").await;
    let a = w.a.url().address();
    let reference = w.reference(&[]).await;
    let dir = reference.directories()[0].clone();
    let timeout_of_a = || {
        dir.snapshot()
            .providers()
            .iter()
            .find(|m| m.url().address() == a)
            .and_then(|m| m.url().param("timeout").map(str::to_owned))
    };
    let until = |want: &'static str| {
        let timeout_of_a = &timeout_of_a;
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while timeout_of_a().as_deref() != Some(want) {
                assert!(
                    Instant::now() < deadline,
                    "timeout stays {:?}, want {want}",
                    timeout_of_a()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // A URL-style rule, as Dubbo 2.6 tools write it.
    let url_rule = format!("override://0.0.0.0/{IFACE}?category=configurators&dynamic=false&timeout=1111");
    let path = format!("{}/{IFACE}/configurators", w.env.root);
    mkdirs(&w.raw, &path).await;
    let node = format!("{path}/{}", url(&url_rule).to_node_name());
    create(&w.raw, &node, CreateMode::Persistent).await;
    until("1111").await;
    let rule = |scope: &str, key: &str, t: u32| {
        format!(
            "configVersion: v2.7\nscope: {scope}\nkey: {key}\nconfigs:\n- side: consumer\n  parameters: {{timeout: {t}}}\n"
        )
    };
    w.put("shop.configurators", &rule("application", "shop", 2222)).await;
    until("2222").await;
    w.put(&format!("{IFACE}::.configurators"), &rule("service", IFACE, 3333))
        .await;
    until("3333").await;
    w.delete(&format!("{IFACE}::.configurators")).await;
    until("2222").await;
    w.delete("shop.configurators").await;
    until("1111").await;
}
