//! Which provider URLs a consumer URL accepts (Dubbo's `UrlUtils.isMatch`), and the glob
//! patterns routers use (`UrlUtils.isMatchGlobPattern`).

use crate::keys;
use crate::url::Url;

/// Whether `provider` (a URL from any category) is meant for `consumer` (ARCHITECTURE: URLs and matching):
/// interface equal or `*`; category accepted; enabled unless the consumer says `enabled=*`;
/// group, version and classifier accepted.
///
/// ```
/// use zkdubbo_common::{Url, is_match};
/// let consumer: Url = "consumer://10.0.0.1/com.foo.Bar?group=a,b&version=1.0".parse().unwrap();
/// let provider: Url = "dubbo://10.0.0.5:20880/com.foo.Bar?group=b&version=1.0".parse().unwrap();
/// assert!(is_match(&consumer, &provider));
/// ```
pub fn is_match(consumer: &Url, provider: &Url) -> bool {
    let ci = consumer.interface();
    let pi = provider.interface();
    if !(ci == keys::ANY_VALUE || pi == keys::ANY_VALUE || ci == pi) {
        return false;
    }
    if !is_match_category(provider.category(), consumer.param(keys::CATEGORY)) {
        return false;
    }
    if !provider.param_bool(keys::ENABLED, true) && consumer.param(keys::ENABLED) != Some(keys::ANY_VALUE) {
        return false;
    }
    let group_ok = match (consumer.group(), provider.group()) {
        (Some(keys::ANY_VALUE), _) => true,
        (None, None) => true,
        (Some(c), Some(p)) => c == p || list_contains(c, p),
        _ => false,
    };
    let version_ok = match consumer.version() {
        Some(keys::ANY_VALUE) => true,
        c => c == provider.version(),
    };
    let classifier_ok = match consumer.param(keys::CLASSIFIER).filter(|c| !c.is_empty()) {
        None | Some(keys::ANY_VALUE) => true,
        Some(c) => provider.param(keys::CLASSIFIER) == Some(c),
    };
    group_ok && version_ok && classifier_ok
}

/// Whether `category` is accepted by the consumer's `categories` list: none or empty →
/// `providers` only; a `*` entry → all; `-x` entries exclude `x`; otherwise membership.
pub fn is_match_category(category: &str, categories: Option<&str>) -> bool {
    let Some(list) = categories.filter(|c| !c.is_empty()) else {
        return category == keys::DEFAULT_CATEGORY;
    };
    let items = || list.split(',').map(str::trim);
    if items().any(|c| c == keys::ANY_VALUE) {
        return true;
    }
    if items().any(|c| c.starts_with(keys::REMOVE_VALUE_PREFIX)) {
        return !items().any(|c| c.strip_prefix(keys::REMOVE_VALUE_PREFIX) == Some(category));
    }
    items().any(|c| c == category)
}

/// Whether the comma list `list` has `value` as one of its entries.
pub fn list_contains(list: &str, value: &str) -> bool {
    list.split(',').any(|v| v.trim() == value)
}

/// Glob matching as Dubbo's routers do it: `*` matches everything; otherwise the LAST `*`
/// splits the pattern into a prefix and a suffix that must both match (so one `*` works at the
/// start, end or middle); no `*` means equality. An empty pattern matches only an empty value.
///
/// ```
/// use zkdubbo_common::is_match_glob;
/// assert!(is_match_glob("10.20.*", "10.20.153.10"));
/// assert!(is_match_glob("*Service", "com.foo.BarService"));
/// assert!(is_match_glob("get*Id", "getUserId"));
/// assert!(!is_match_glob("get*Id", "getUser"));
/// ```
pub fn is_match_glob(pattern: &str, value: &str) -> bool {
    if pattern == keys::ANY_VALUE {
        return true;
    }
    if pattern.is_empty() || value.is_empty() {
        return pattern.is_empty() && value.is_empty();
    }
    match pattern.rfind('*') {
        None => value == pattern,
        Some(i) => value.starts_with(&pattern[..i]) && value.ends_with(&pattern[i + 1..]),
    }
}

/// [`is_match_glob`], where a pattern `$key` is first replaced by `key`'s value in `params`
/// (a missing key matches only an empty value).
pub fn is_match_glob_with(pattern: &str, value: &str, params: &Url) -> bool {
    match pattern.strip_prefix('$') {
        Some(key) => {
            let resolved = params.raw_param(key);
            is_match_glob(resolved.as_deref().unwrap_or(""), value)
        }
        None => is_match_glob(pattern, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn one_case_per_matching_rule() {
        let p = "dubbo://10.0.0.5:20880/com.foo.Bar";
        // (rule, consumer, provider, expected)
        let cases: &[(&str, &str, String, bool)] = &[
            ("interface equal", "consumer://c/com.foo.Bar", p.to_string(), true),
            ("interface differs", "consumer://c/com.foo.Baz", p.to_string(), false),
            (
                "interface param wins over path",
                "consumer://c/x?interface=com.foo.Bar",
                p.to_string(),
                true,
            ),
            ("consumer interface *", "consumer://c/*", p.to_string(), true),
            (
                "provider interface *",
                "consumer://c/com.foo.Baz",
                "dubbo://h:1/*".into(),
                true,
            ),
            (
                "default category providers",
                "consumer://c/com.foo.Bar",
                format!("{p}?category=providers"),
                true,
            ),
            (
                "routers not seen by default",
                "consumer://c/com.foo.Bar",
                format!("{p}?category=routers"),
                false,
            ),
            (
                "category list",
                "consumer://c/com.foo.Bar?category=providers,routers",
                format!("{p}?category=routers"),
                true,
            ),
            (
                "category list excludes",
                "consumer://c/com.foo.Bar?category=providers",
                format!("{p}?category=configurators"),
                false,
            ),
            (
                "category *",
                "consumer://c/com.foo.Bar?category=*",
                format!("{p}?category=consumers"),
                true,
            ),
            (
                "category -x excludes x",
                "consumer://c/com.foo.Bar?category=-routers",
                format!("{p}?category=routers"),
                false,
            ),
            (
                "category -x keeps others",
                "consumer://c/com.foo.Bar?category=-routers",
                format!("{p}?category=configurators"),
                true,
            ),
            (
                "category list is not substring",
                "consumer://c/com.foo.Bar?category=providersx",
                p.to_string(),
                false,
            ),
            (
                "disabled provider rejected",
                "consumer://c/com.foo.Bar",
                format!("{p}?enabled=false"),
                false,
            ),
            (
                "enabled=* sees disabled",
                "consumer://c/com.foo.Bar?enabled=*",
                format!("{p}?enabled=false"),
                true,
            ),
            ("no groups", "consumer://c/com.foo.Bar", p.to_string(), true),
            (
                "consumer without group, provider with",
                "consumer://c/com.foo.Bar",
                format!("{p}?group=a"),
                false,
            ),
            (
                "consumer with group, provider without",
                "consumer://c/com.foo.Bar?group=a",
                p.to_string(),
                false,
            ),
            (
                "group equal",
                "consumer://c/com.foo.Bar?group=a",
                format!("{p}?group=a"),
                true,
            ),
            (
                "group differs",
                "consumer://c/com.foo.Bar?group=a",
                format!("{p}?group=b"),
                false,
            ),
            (
                "group list contains",
                "consumer://c/com.foo.Bar?group=a,b",
                format!("{p}?group=b"),
                true,
            ),
            (
                "group list is not substring",
                "consumer://c/com.foo.Bar?group=ab",
                format!("{p}?group=b"),
                false,
            ),
            (
                "group *",
                "consumer://c/com.foo.Bar?group=*",
                format!("{p}?group=z"),
                true,
            ),
            (
                "version equal",
                "consumer://c/com.foo.Bar?version=1.0",
                format!("{p}?version=1.0"),
                true,
            ),
            (
                "version differs",
                "consumer://c/com.foo.Bar?version=1.0",
                format!("{p}?version=2.0"),
                false,
            ),
            (
                "version missing on consumer",
                "consumer://c/com.foo.Bar",
                format!("{p}?version=1.0"),
                false,
            ),
            (
                "version *",
                "consumer://c/com.foo.Bar?version=*",
                format!("{p}?version=2.0"),
                true,
            ),
            (
                "classifier default *",
                "consumer://c/com.foo.Bar",
                format!("{p}?classifier=x"),
                true,
            ),
            (
                "classifier equal",
                "consumer://c/com.foo.Bar?classifier=x",
                format!("{p}?classifier=x"),
                true,
            ),
            (
                "classifier differs",
                "consumer://c/com.foo.Bar?classifier=x",
                format!("{p}?classifier=y"),
                false,
            ),
        ];
        for (rule, c, p, want) in cases {
            assert_eq!(is_match(&url(c), &url(p)), *want, "rule: {rule}");
        }
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "anything", true),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("x", "", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("10.20.*", "10.20.153.10", true),
            ("10.20.*", "10.21.153.10", false),
            ("*.10", "10.20.153.10", true),
            ("*.10", "10.20.153.11", false),
            ("get*Id", "getUserId", true),
            ("get*Id", "getUser", false),
            ("a*b*c", "a*bxc", true),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(is_match_glob(pattern, value), want, "{pattern:?} ~ {value:?}");
        }
    }

    #[test]
    fn glob_dollar_reads_the_consumer() {
        let consumer = url("consumer://10.0.0.1/com.foo.Bar?application=shop");
        assert!(is_match_glob_with("$host", "10.0.0.1", &consumer));
        assert!(!is_match_glob_with("$host", "10.0.0.2", &consumer));
        assert!(is_match_glob_with("$application", "shop", &consumer));
        assert!(!is_match_glob_with("$missing", "shop", &consumer));
        assert!(is_match_glob_with("sh*", "shop", &consumer));
    }
}
