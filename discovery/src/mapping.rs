//! Service-name mapping: `/dubbo/mapping/<interface>` holds the applications that provide an
//! interface, comma-separated. Providers append themselves (compare-and-set on the node's
//! version, as Java's `MetadataServiceNameMapping` does) and never remove themselves.

/// The applications a mapping node names, in order, each once (blank entries skipped).
pub fn applications(data: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for app in data.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        if !out.iter().any(|a| a == app) {
            out.push(app.to_owned());
        }
    }
    out
}

/// The node's new data with `application` added, or `None` when it is there already: the
/// old content with `,<application>` appended, as Java writes it.
pub fn with_application(old: Option<&str>, application: &str) -> Option<String> {
    match old.filter(|o| !o.trim().is_empty()) {
        None => Some(application.to_owned()),
        Some(old) if old.split(',').any(|a| a.trim() == application) => None,
        Some(old) => Some(format!("{old},{application}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applications_are_listed_once_in_order() {
        assert_eq!(applications("a, b,,a ,c"), ["a", "b", "c"]);
        assert!(applications("").is_empty());
    }

    #[test]
    fn an_application_is_appended_once() {
        assert_eq!(with_application(None, "app").as_deref(), Some("app"));
        assert_eq!(with_application(Some(""), "app").as_deref(), Some("app"));
        assert_eq!(with_application(Some("a,b"), "app").as_deref(), Some("a,b,app"));
        assert_eq!(with_application(Some("a, app"), "app"), None);
        // A name containing another is not it.
        assert_eq!(with_application(Some("myapp"), "app").as_deref(), Some("myapp,app"));
    }
}
