//! The ZooKeeper layout (ARCHITECTURE: ZooKeeper layout): `<root>/<interface>/<category>/<encoded URL>`.

use zkdubbo_common::{Url, keys};

use crate::error::RegistryError;
use crate::notification::Category;

/// Where everything lives below the root (`/dubbo` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The root path (`/dubbo`), or `/`.
    root: String,
}

/// Where one registration is filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePath {
    /// The interface it is filed under.
    pub interface: String,
    /// Its category.
    pub category: Category,
    /// The category path (the leaf's parent).
    pub parent: String,
    /// The full leaf path.
    pub leaf: String,
}

impl Layout {
    /// The layout below `root` (`/dubbo`, or `/` for the top level).
    pub fn new(root: &str) -> Layout {
        Layout { root: root.to_owned() }
    }

    /// The root path.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `<root>/<interface>`.
    pub fn service(&self, interface: &str) -> String {
        if self.root == "/" {
            format!("/{interface}")
        } else {
            format!("{}/{interface}", self.root)
        }
    }

    /// `<root>/<interface>/<category>`.
    pub fn category(&self, interface: &str, category: Category) -> String {
        format!("{}/{}", self.service(interface), category.as_str())
    }

    /// Where `url` is registered: under its interface and its category, named
    /// [`Url::to_node_name`].
    pub fn node(&self, url: &Url, op: &'static str) -> Result<NodePath, RegistryError> {
        let invalid = |reason: String| RegistryError::InvalidUrl {
            op,
            url: url.to_string(),
            reason,
        };
        let interface = url.interface();
        check_interface(interface).map_err(invalid)?;
        let category = Category::of(url).ok_or_else(|| invalid(format!("unknown category {:?}", url.category())))?;
        let parent = self.category(interface, category);
        let leaf = format!("{parent}/{}", url.to_node_name());
        Ok(NodePath {
            interface: interface.to_owned(),
            category,
            parent,
            leaf,
        })
    }

    /// The persistent paths from the root down to `path` inclusive (`/dubbo`,
    /// `/dubbo/x`, `/dubbo/x/providers`).
    pub fn chain(path: &str) -> Vec<String> {
        path.char_indices()
            .filter(|&(i, c)| c == '/' && i > 0)
            .map(|(i, _)| path[..i].to_owned())
            .chain(std::iter::once(path.to_owned()))
            .filter(|p| p != "/" && !p.is_empty())
            .collect()
    }
}

/// The parent and the top ancestor of an own node with data at `path`, or why `path` cannot
/// be one.
pub(super) fn data_node(path: &str) -> Result<(String, String), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("not an absolute path".into());
    };
    if rest.is_empty() || rest.ends_with('/') || rest.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("empty, `.` or `..` path components".into());
    }
    if path.chars().any(|c| c.is_control()) {
        return Err("control characters".into());
    }
    let parent = match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    };
    let top = match rest.find('/') {
        Some(i) => path[..=i].trim_end_matches('/').to_owned(),
        None => path.to_owned(),
    };
    Ok((parent, top))
}

/// Whether `interface` can be a single ZooKeeper path component under the root.
pub(super) fn check_interface(interface: &str) -> Result<(), String> {
    if interface.is_empty() {
        return Err("no interface (neither an `interface` param nor a path)".into());
    }
    if interface == keys::ANY_VALUE {
        return Err("interface `*` can only be subscribed to".into());
    }
    if interface.contains('/') || interface == "." || interface == ".." {
        return Err(format!("interface {interface:?} is not a single path component"));
    }
    if interface.chars().any(|c| c.is_control()) {
        return Err(format!("interface {interface:?} contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_urls_by_interface_and_category() {
        let layout = Layout::new("/dubbo");
        let url: Url = "override://0.0.0.0/com.foo.Bar?category=configurators&dynamic=false"
            .parse()
            .unwrap();
        let node = layout.node(&url, "register").unwrap();
        assert_eq!(node.parent, "/dubbo/com.foo.Bar/configurators");
        assert_eq!(
            node.leaf,
            "/dubbo/com.foo.Bar/configurators/override%3A%2F%2F0.0.0.0%2Fcom.foo.Bar%3Fcategory%3Dconfigurators%26dynamic%3Dfalse"
        );
        assert_eq!(
            Layout::chain(&node.parent),
            ["/dubbo", "/dubbo/com.foo.Bar", "/dubbo/com.foo.Bar/configurators"]
        );
        assert_eq!(Layout::new("/").category("x", Category::Routers), "/x/routers");
        assert_eq!(Layout::chain("/x/routers"), ["/x", "/x/routers"]);
    }

    #[test]
    fn data_nodes_need_a_clean_absolute_path() {
        assert_eq!(
            data_node("/services/app/10.0.0.1:20880"),
            Ok(("/services/app".to_owned(), "/services".to_owned()))
        );
        assert_eq!(data_node("/x"), Ok(("/".to_owned(), "/x".to_owned())));
        for bad in ["", "/", "x/y", "/x/", "//x", "/x/../y", "/x\n"] {
            assert!(data_node(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_urls_without_a_usable_interface_or_category() {
        let layout = Layout::new("/dubbo");
        for bad in [
            "dubbo://h:1",
            "dubbo://h:1/*",
            "dubbo://h:1/a?interface=a/b",
            "dubbo://h:1/a?category=bogus",
        ] {
            let url: Url = bad.parse().unwrap();
            assert!(
                matches!(layout.node(&url, "register"), Err(RegistryError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }
}
