//! Editing rule documents the way dubbo-admin writes them (SnakeYAML's `dumpAsMap`: keys in
//! alphabetical order, nulls left out), keeping whatever else the document holds. Each edit
//! takes the node's current text (`None`: no node) and returns the new text (`None`: delete
//! the node, because nothing is left and an empty rule would not parse).

use serde_yaml_ng::{Mapping, Value};

use crate::condition::ConditionRule;
use crate::configurator::parse_configurators;
use crate::error::RuleParseError;
use crate::tag::TagRule;
use crate::yaml;

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn list(items: impl IntoIterator<Item = String>) -> Value {
    Value::Sequence(items.into_iter().map(Value::String).collect())
}

/// The document in `current` (a new empty mapping when absent).
fn load(current: Option<&str>) -> Result<Mapping, RuleParseError> {
    match current {
        None => Ok(Mapping::new()),
        Some(t) if t.trim().is_empty() => Ok(Mapping::new()),
        Some(t) => yaml::load(t),
    }
}

/// Keys sorted recursively, as SnakeYAML's bean dump writes them.
fn sorted(v: Value) -> Value {
    match v {
        Value::Mapping(m) => {
            let mut entries: Vec<(Value, Value)> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            entries.sort_by_key(|(k, _)| yaml::scalar(k));
            Value::Mapping(entries.into_iter().collect())
        }
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn dump(doc: Mapping) -> Result<String, RuleParseError> {
    serde_yaml_ng::to_string(&sorted(Value::Mapping(doc))).map_err(|e| RuleParseError::Invalid {
        field: "(document)".into(),
        message: e.to_string(),
    })
}

fn configs(doc: &mut Mapping) -> Result<&mut Vec<Value>, RuleParseError> {
    let entry = doc.entry(s("configs")).or_insert_with(|| Value::Sequence(Vec::new()));
    match entry {
        Value::Sequence(items) => Ok(items),
        other => Err(RuleParseError::WrongType {
            field: "configs".into(),
            expected: "a list",
            found: yaml::kind(other),
        }),
    }
}

fn field<'a>(item: &'a Value, key: &str) -> Option<&'a Value> {
    item.as_mapping().and_then(|m| m.get(key))
}

fn strings_of(item: &Value, key: &str) -> Vec<String> {
    match field(item, key) {
        Some(Value::Sequence(v)) => v.iter().filter_map(yaml::scalar).collect(),
        _ => Vec::new(),
    }
}

/// The service-scope header dubbo-admin writes on a new configurators node.
fn service_header(doc: &mut Mapping, key: &str) {
    if doc.is_empty() {
        doc.insert(s("enabled"), Value::Bool(false));
        doc.insert(s("key"), s(key));
        doc.insert(s("scope"), s("service"));
    }
}

/// Set the weight of the provider at `address` in a service's configurators document, as
/// dubbo-admin's weight page does (`type: weight`, `side: provider`); an earlier weight
/// item for that address is replaced. `key` is the node's service key
/// (`interface:version:group`).
///
/// ```
/// let yaml = zkdubbo_governance::write::set_weight(None, "com.foo.Bar::", "10.0.0.5:20880", 200).unwrap();
/// let rules = zkdubbo_governance::parse_configurators(&yaml).unwrap();
/// assert_eq!(rules[0].url.param("weight"), Some("200"));
/// assert_eq!(rules[0].url.param("side"), Some("provider"));
/// ```
pub fn set_weight(current: Option<&str>, key: &str, address: &str, weight: u32) -> Result<String, RuleParseError> {
    let mut doc = load(current)?;
    service_header(&mut doc, key);
    let items = configs(&mut doc)?;
    items.retain(|item| {
        !(field(item, "type").and_then(yaml::scalar).as_deref() == Some("weight")
            && strings_of(item, "addresses") == [address])
    });
    let mut item = Mapping::new();
    item.insert(s("addresses"), list([address.to_owned()]));
    item.insert(s("enabled"), Value::Bool(true));
    let mut params = Mapping::new();
    params.insert(s("weight"), Value::Number(weight.into()));
    item.insert(s("parameters"), Value::Mapping(params));
    item.insert(s("side"), s("provider"));
    item.insert(s("type"), s("weight"));
    items.push(Value::Mapping(item));
    let text = dump(doc)?;
    parse_configurators(&text)?;
    Ok(text)
}

/// Disable (or, with `disabled` false, enable again) the provider at `address` for every
/// consumer: a `side: consumer` item with `providerAddresses: [address]` and
/// `disabled: true` (what Dubbo skips; dubbo-admin has no page for it). Enabling removes
/// that item; `None` when nothing is left.
pub fn set_disabled(
    current: Option<&str>,
    key: &str,
    address: &str,
    disabled: bool,
) -> Result<Option<String>, RuleParseError> {
    let mut doc = load(current)?;
    if doc.is_empty() {
        if !disabled {
            return Ok(None);
        }
        doc.insert(s("configVersion"), s("v2.7"));
        doc.insert(s("enabled"), Value::Bool(true));
        doc.insert(s("key"), s(key));
        doc.insert(s("scope"), s("service"));
    }
    if disabled {
        // Dubbo applies a general item (as this one) only while the rule's own `enabled` is
        // true, and a weight written first leaves it false: the disable must take effect.
        // (Other general items of the node switched off with it come back on; the report
        // shows the whole rule.)
        doc.insert(s("enabled"), Value::Bool(true));
    }
    let items = configs(&mut doc)?;
    items.retain(|item| {
        let params = field(item, "parameters").and_then(Value::as_mapping);
        let disables = params.is_some_and(|p| p.len() == 1 && p.contains_key("disabled"));
        !(disables && strings_of(item, "providerAddresses") == [address])
    });
    if disabled {
        let mut item = Mapping::new();
        item.insert(s("addresses"), list([zkdubbo_common::keys::ANYHOST_VALUE.to_owned()]));
        let mut params = Mapping::new();
        params.insert(s("disabled"), Value::Bool(true));
        item.insert(s("parameters"), Value::Mapping(params));
        item.insert(s("providerAddresses"), list([address.to_owned()]));
        item.insert(s("side"), s("consumer"));
        items.push(Value::Mapping(item));
    }
    if items.is_empty() {
        return Ok(None);
    }
    let text = dump(doc)?;
    parse_configurators(&text)?;
    Ok(Some(text))
}

/// The condition route dubbo-admin writes (`RoutingRule`): `conditions`, `enabled`, `force`,
/// `key`, `priority`, `runtime`, `scope`, replacing the conditions of `current` and keeping
/// its other fields.
pub fn set_conditions(
    current: Option<&str>,
    scope: &str,
    key: &str,
    conditions: &[String],
    force: bool,
    priority: i32,
    runtime: bool,
) -> Result<String, RuleParseError> {
    let mut doc = load(current)?;
    doc.insert(s("conditions"), list(conditions.iter().cloned()));
    doc.insert(s("enabled"), Value::Bool(true));
    doc.insert(s("force"), Value::Bool(force));
    doc.insert(s("key"), s(key));
    doc.insert(s("priority"), Value::Number(priority.into()));
    doc.insert(s("runtime"), Value::Bool(runtime));
    doc.insert(s("scope"), s(scope));
    let text = dump(doc)?;
    ConditionRule::parse(&text)?;
    Ok(text)
}

/// Put the providers at `addresses` under tag `tag` in an application's tag rule (as
/// dubbo-admin's `TagRoute`), replacing that tag's addresses.
pub fn set_tag(
    current: Option<&str>,
    application: &str,
    tag: &str,
    addresses: &[String],
) -> Result<String, RuleParseError> {
    let mut doc = load(current)?;
    if doc.is_empty() {
        doc.insert(s("enabled"), Value::Bool(true));
        doc.insert(s("force"), Value::Bool(false));
        doc.insert(s("key"), s(application));
        doc.insert(s("priority"), Value::Number(0.into()));
        doc.insert(s("runtime"), Value::Bool(false));
    }
    let tags = match doc.entry(s("tags")).or_insert_with(|| Value::Sequence(Vec::new())) {
        Value::Sequence(t) => t,
        other => {
            return Err(RuleParseError::WrongType {
                field: "tags".into(),
                expected: "a list",
                found: yaml::kind(other),
            });
        }
    };
    tags.retain(|t| field(t, "name").and_then(yaml::scalar).as_deref() != Some(tag));
    let mut entry = Mapping::new();
    entry.insert(s("addresses"), list(addresses.iter().cloned()));
    entry.insert(s("name"), s(tag));
    tags.push(Value::Mapping(entry));
    let text = dump(doc)?;
    TagRule::parse(&text)?;
    Ok(text)
}

/// Remove tag `tag` from an application's tag rule; `None` when no tag is left.
pub fn delete_tag(current: Option<&str>, tag: &str) -> Result<Option<String>, RuleParseError> {
    let mut doc = load(current)?;
    if let Some(Value::Sequence(tags)) = doc.get_mut("tags") {
        tags.retain(|t| field(t, "name").and_then(yaml::scalar).as_deref() != Some(tag));
        if tags.is_empty() {
            return Ok(None);
        }
    } else {
        return Ok(None);
    }
    let text = dump(doc)?;
    TagRule::parse(&text)?;
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsed, so flow and block styles compare equal.
    fn yaml(t: &str) -> Value {
        serde_yaml_ng::from_str(t).unwrap()
    }

    #[test]
    fn weight_is_what_admin_writes_and_replaces_the_previous_weight() {
        let first = set_weight(
            None,
            "org.apache.dubbo.demo.DemoService:1.0.0:g1",
            "192.168.1.10:20880",
            100,
        )
        .unwrap();
        let second = set_weight(Some(&first), "ignored", "192.168.1.10:20880", 200).unwrap();
        // The reference's example, field for field.
        let admin = "configs:\n- addresses: [192.168.1.10:20880]\n  enabled: true\n  parameters: {weight: 200}\n  side: provider\n  \
                     type: weight\nenabled: false\nkey: org.apache.dubbo.demo.DemoService:1.0.0:g1\nscope: service\n";
        assert_eq!(yaml(&second), yaml(admin));
        // Keys come out in SnakeYAML's (alphabetical) order.
        let keys: Vec<&str> = second
            .lines()
            .filter(|l| !l.starts_with([' ', '-']))
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(keys, ["configs", "enabled", "key", "scope"]);
        // Another provider's weight is kept.
        let third = set_weight(Some(&second), "k", "192.168.1.11:20880", 50).unwrap();
        assert_eq!(parse_configurators(&third).unwrap().len(), 2);
    }

    #[test]
    fn a_disable_after_a_weight_takes_effect() {
        // The weight's node has `enabled: false` at its top: a general item under it would be
        // written but never applied.
        let weighted = set_weight(None, "com.foo.Bar::", "10.0.0.6:20880", 7).unwrap();
        let disabled = set_disabled(Some(&weighted), "com.foo.Bar::", "10.0.0.5:20880", true)
            .unwrap()
            .unwrap();
        let rules = parse_configurators(&disabled).unwrap();
        let disable = rules
            .iter()
            .find(|r| r.url.param("disabled") == Some("true"))
            .expect("the disable item");
        assert_eq!(disable.url.param("enabled"), Some("true"), "{}", disable.url);
        assert_eq!(rules.len(), 2, "the weight stays");
    }

    #[test]
    fn disable_then_enable_leaves_no_node() {
        let d = set_disabled(None, "com.foo.Bar::", "10.0.0.5:20880", true)
            .unwrap()
            .unwrap();
        let want = "configVersion: v2.7\nscope: service\nkey: 'com.foo.Bar::'\nenabled: true\nconfigs:\n- addresses: [0.0.0.0]\n  \
                    providerAddresses: [10.0.0.5:20880]\n  side: consumer\n  parameters: {disabled: true}\n";
        assert_eq!(yaml(&d), yaml(want));
        let with_weight = set_weight(Some(&d), "k", "10.0.0.6:20880", 7).unwrap();
        let enabled = set_disabled(Some(&with_weight), "k", "10.0.0.5:20880", false)
            .unwrap()
            .unwrap();
        assert_eq!(parse_configurators(&enabled).unwrap().len(), 1, "the weight stays");
        assert_eq!(set_disabled(Some(&d), "k", "10.0.0.5:20880", false).unwrap(), None);
    }

    #[test]
    fn condition_and_tag_documents() {
        let r = set_conditions(
            None,
            "service",
            "org.apache.dubbo.demo.DemoService",
            &["=> host != 172.22.3.91".into()],
            true,
            0,
            false,
        )
        .unwrap();
        let admin = "conditions: ['=> host != 172.22.3.91']\nenabled: true\nforce: true\nkey: org.apache.dubbo.demo.DemoService\n\
                     priority: 0\nruntime: false\nscope: service\n";
        assert_eq!(yaml(&r), yaml(admin));
        let t = set_tag(None, "demo-provider", "tag1", &["192.168.0.1:20881".into()]).unwrap();
        let admin = "enabled: true\nforce: false\nkey: demo-provider\npriority: 0\nruntime: false\ntags:\n- addresses: [192.168.0.1:20881]\n  \
                     name: tag1\n";
        assert_eq!(yaml(&t), yaml(admin));
        let two = set_tag(Some(&t), "demo-provider", "tag2", &["192.168.0.2:20881".into()]).unwrap();
        let one = delete_tag(Some(&two), "tag1").unwrap().unwrap();
        assert_eq!(TagRule::parse(&one).unwrap().tags[0].name, "tag2");
        assert_eq!(delete_tag(Some(&one), "tag2").unwrap(), None);
    }

    #[test]
    fn a_document_of_the_wrong_shape_is_refused_not_overwritten() {
        assert!(set_weight(Some("configs: 3\n"), "k", "a:1", 1).is_err());
        assert!(set_tag(Some("tags: {a: 1}\n"), "app", "t", &[]).is_err());
        assert!(set_weight(Some("key: [\n"), "k", "a:1", 1).is_err());
    }
}
