//! Rule parsers on untrusted text never panic: condition rules (as written in a `rule=`
//! parameter) and whole override/condition URLs read from ZooKeeper.

use proptest::prelude::*;
use zkdubbo_common::Url;
use zkdubbo_directory::{ConditionRouter, Configurators, RouterChain};

/// Rule-like text: the rule grammar's characters, so the parser gets past the first byte.
fn rule_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        "[a-z. =>!&,*$\\[\\]0-9$]{0,60}",
        "(host|method|arguments\\[0\\]|application) ?(=|!=) ?[a-z0-9.*,$]{0,10} ?(&|=>) ?[a-z0-9.= &*!]{0,20}",
    ]
}

proptest! {
    // 256 cases; PROPTEST_CASES (scripts/fuzz.sh) sets more.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn condition_rules_never_panic(rule in rule_text()) {
        let _ = ConditionRouter::parse(&rule);
    }

    #[test]
    fn rule_urls_never_panic(rule in rule_text(), params in "[a-z.]{1,8}=[a-zA-Z0-9.%*,:-]{0,12}(&[a-z.]{1,8}=[a-zA-Z0-9.%*,:-]{0,12}){0,4}") {
        let encoded: String = form_urlencoded::byte_serialize(rule.as_bytes()).collect();
        for text in [
            format!("condition://0.0.0.0/com.foo.Bar?category=routers&rule={encoded}&{params}"),
            format!("override://0.0.0.0/com.foo.Bar?category=configurators&{params}"),
            format!("override://10.0.0.1:20880/com.foo.Bar?{params}"),
        ] {
            if let Ok(url) = text.parse::<Url>() {
                let _ = RouterChain::parse(std::slice::from_ref(&url));
                let _ = Configurators::parse(std::slice::from_ref(&url));
            }
        }
    }
}
