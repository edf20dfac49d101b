//! Property tests: no text, random or a mutated valid rule, makes a rule parser panic; a
//! parsed configurator always yields URLs that name the rule's interface.

use proptest::prelude::*;
use zkdubbo_governance::{ConditionRule, TagRule, parse_configurators};

const VALID: [&str; 4] = [
    "configs:\n- addresses: [192.168.1.10:20880]\n  enabled: true\n  parameters: {weight: 200}\n  side: provider\n  \
     type: weight\nenabled: false\nkey: org.apache.dubbo.demo.DemoService:1.0.0:g1\nscope: service\n",
    "configVersion: v3.0\nscope: service\nkey: g1/org.apache.dubbo.demo.DemoService:1.0.0\nconfigs:\n- side: consumer\n  \
     match:\n    app: {oneof: [{exact: demo-consumer}]}\n    param: [{key: region, value: {exact: hz}}]\n  \
     parameters: {timeout: 3000}\n",
    "conditions:\n- host != 3.3.3.3,4.4.* =>\n- host = 1.1.1.1,2.2.2.2 =>\nenabled: true\nforce: false\n\
     key: org.apache.dubbo.demo.DemoService\npriority: 0\nruntime: false\nscope: service\n",
    "enabled: true\nforce: false\nkey: demo-provider\npriority: 0\nruntime: false\ntags:\n- addresses: [192.168.0.1:20881]\n  \
     name: tag1\n",
];

fn parse_all(text: &str) {
    let _ = parse_configurators(text);
    let _ = ConditionRule::parse(text);
    let _ = TagRule::parse(text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        parse_all(&text);
    }

    #[test]
    fn mutated_rules_never_panic(which in 0usize..4, edits in proptest::collection::vec((any::<usize>(), any::<char>(), 0u8..3), 1..6)) {
        let mut chars: Vec<char> = VALID[which].chars().collect();
        for (at, c, op) in edits {
            let at = at % (chars.len() + 1);
            match op {
                0 => chars.insert(at, c),
                1 if at < chars.len() => { chars.remove(at); }
                _ if at < chars.len() => chars[at] = c,
                _ => {}
            }
        }
        parse_all(&chars.into_iter().collect::<String>());
    }

    #[test]
    fn configurator_urls_name_the_interface(interface in "[a-z]{1,8}(\\.[A-Z][a-z]{0,6}){1,3}", weight in 0u32..10_000) {
        let text = format!("key: {interface}\nconfigs:\n- addresses: [0.0.0.0]\n  side: consumer\n  parameters: {{weight: {weight}}}\n");
        let rules = parse_configurators(&text).unwrap();
        prop_assert_eq!(rules.len(), 1);
        prop_assert_eq!(rules[0].url.path(), interface.as_str());
        let w = weight.to_string();
        prop_assert_eq!(rules[0].url.param("weight"), Some(w.as_str()));
    }
}
