//! The registry URL: `zookeeper://host:port[,host:port...]?backup=...&group=...&session=...`.

use std::path::PathBuf;
use std::time::Duration;

use zkdubbo_common::Url;

use crate::error::RegistryError;

/// The protocol of a ZooKeeper registry URL.
pub const ZOOKEEPER_PROTOCOL: &str = "zookeeper";
/// Default ZooKeeper client port, used when an address has none.
pub const DEFAULT_PORT: u16 = 2181;
/// Registry URL parameter replacing the whole config-center root (Dubbo's key).
pub const CONFIG_ROOT_PATH_KEY: &str = "dubbo.config-center.root-path";
/// Registry URL parameter naming the config-center path under the root (default `/config`).
pub const CONFIG_BASE_PATH_KEY: &str = "dubbo.config-center.base-path";
/// Registry URL parameter choosing how category lists are followed: `auto` (default),
/// `persistent` or `children`.
pub const WATCH_KEY: &str = "watch";

/// Environment variable giving the watch mode of registry URLs without a `watch` parameter
/// (to run a whole program, or a test suite, in one mode).
pub const WATCH_ENV: &str = "ZKDUBBO_WATCH";

/// How a subscription follows the lists of its category paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// Persistent recursive watches (ZooKeeper 3.6+), or one-shot child watches on a server
    /// that refuses them (said once in an info log).
    Auto,
    /// Persistent recursive watches only: connecting fails on a server that refuses them.
    Persistent,
    /// One-shot child watches re-armed on every change, each change re-listing the category
    /// (what Java Dubbo, Curator and dubbo-go do).
    Children,
}

/// Default root group (`/dubbo`).
pub const DEFAULT_GROUP: &str = "dubbo";
/// Default requested session timeout (`session`), in ms.
pub const DEFAULT_SESSION_TIMEOUT_MS: u64 = 60_000;
/// Default bound of every single ZooKeeper call (`timeout`), in ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Default cap of the retry backoff (`retry.period`), in ms.
pub const DEFAULT_RETRY_PERIOD_MS: u64 = 5_000;
/// Default period of the check that own ephemeral nodes still exist
/// (`registry.check.period`), in ms.
pub const DEFAULT_CHECK_PERIOD_MS: u64 = 30_000;

/// Registry param turning empty protection on.
pub const EMPTY_PROTECTION_KEY: &str = "empty.protection";
/// Dubbo 3.2's name of the same switch, accepted as well.
pub const DUBBO_EMPTY_PROTECTION_KEY: &str = "enable-empty-protection";

/// Everything [`ZookeeperRegistry`](super::ZookeeperRegistry) takes from its registry URL.
///
/// ```
/// use zkdubbo_registry::ZookeeperConfig;
/// let cfg: ZookeeperConfig =
///     "zookeeper://127.0.0.1:2181?backup=127.0.0.1:2182,127.0.0.1:2183&group=dubbo&session=60000&timeout=5000"
///         .parse()
///         .unwrap();
/// assert_eq!(cfg.connect_string(), "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183");
/// assert_eq!(cfg.root, "/dubbo");
/// assert_eq!(cfg.session_timeout.as_millis(), 60_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZookeeperConfig {
    /// `host:port` of every server: the URL's address(es), then the `backup` list.
    pub servers: Vec<String>,
    /// Root path: `/` + `group` (default `/dubbo`); a group starting with `/` is used as is.
    pub root: String,
    /// The config-center root for rules stored as node data (`/dubbo/config`): the URL's
    /// `dubbo.config-center.root-path`, else the root plus `dubbo.config-center.base-path`
    /// (default `/config`), as Dubbo computes it when the registry serves as config center.
    pub config_root: String,
    /// Requested session timeout (`session`; the server clamps it to 2–20 × its tickTime).
    pub session_timeout: Duration,
    /// Bound of every single ZooKeeper call and of each connection attempt (`timeout`); also
    /// how long a silent connection lasts before it counts as lost (when that is below 3/5 of
    /// the session timeout).
    pub timeout: Duration,
    /// Digest user (URL user info or `username` param).
    pub username: Option<String>,
    /// Digest password (URL user info or `password` param).
    pub password: Option<String>,
    /// Cap of the exponential backoff of retried operations (`retry.period`).
    pub retry_period: Duration,
    /// Period of the self-check of own ephemeral nodes (`registry.check.period`).
    pub check_period: Duration,
    /// `check=true`: [`ZookeeperRegistry::connect`](super::ZookeeperRegistry::connect) fails
    /// when no session can be established at once (default false: connect in the background).
    pub check: bool,
    /// The cache file (`file` param, else Java's default path, see
    /// [`cache::default_path`](crate::cache::default_path)); `None` with `file.cache=false`.
    pub file: Option<PathBuf>,
    /// Empty protection (`empty.protection`, or Dubbo 3's `enable-empty-protection`; default
    /// false): subscribers keep the last non-empty provider list when the registry reports
    /// none (see [`SinkOptions`](crate::SinkOptions)).
    pub empty_protection: bool,
    /// `acl.repair=true` (default false): with credentials, a parent of this registry's nodes
    /// found open to anyone gets the creator-only ACL of these credentials (instead of only a
    /// warning). Off by default: every application using that parent must then use the same
    /// credentials.
    pub acl_repair: bool,
    /// How subscriptions follow category lists (`watch` param): [`WatchMode::Auto`] by
    /// default.
    pub watch: WatchMode,
    /// TLS to ZooKeeper's `secureClientPort` (`tls=true`), with the CA and client identity
    /// PEM files given by `tls.ca-file`, `tls.cert-file` and `tls.key-file`.
    pub tls: Option<TlsFiles>,
    /// `sasl=digest`: authenticate with SASL DIGEST-MD5 using the URL's user and password,
    /// instead of ZooKeeper's digest auth scheme.
    pub sasl_digest: bool,
}

/// The PEM files of a TLS connection to ZooKeeper (read at each connection, so rotated
/// certificates are picked up by the next session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificates the server's certificate must chain to (`tls.ca-file`); without
    /// it, the system's web roots.
    pub ca_file: Option<PathBuf>,
    /// The client certificate chain (`tls.cert-file`), for servers that require one.
    pub cert_file: Option<PathBuf>,
    /// The client private key (`tls.key-file`).
    pub key_file: Option<PathBuf>,
}

impl ZookeeperConfig {
    /// Read the configuration from a parsed registry URL. The host part may hold a comma list
    /// of addresses (`zookeeper://a:2181,b:2181`) as long as the last one has a port; use
    /// [`str::parse`] for arbitrary lists.
    pub fn from_url(url: &Url) -> Result<ZookeeperConfig, RegistryError> {
        let invalid = |reason: String| RegistryError::InvalidRegistryUrl {
            url: url.redacted().to_string(),
            reason,
        };
        if url.protocol() != ZOOKEEPER_PROTOCOL {
            return Err(invalid(format!(
                "protocol {:?} is not {ZOOKEEPER_PROTOCOL:?}",
                url.protocol()
            )));
        }
        let mut servers = Vec::new();
        let address = url.address();
        add_servers(&mut servers, &address);
        if let Some(backup) = url.param("backup") {
            add_servers(&mut servers, backup);
        }
        if servers.is_empty() {
            return Err(invalid("no ZooKeeper address".into()));
        }

        let group = url.param("group").map(str::trim).filter(|g| !g.is_empty());
        let root = root_path(group.unwrap_or(DEFAULT_GROUP));
        if root
            .split('/')
            .skip(1)
            .any(|part| part.is_empty() || part == "." || part == "..")
            && root != "/"
        {
            return Err(invalid(format!(
                "group {:?} is not a valid ZooKeeper path",
                group.unwrap_or("")
            )));
        }

        let config_root = match url.param(CONFIG_ROOT_PATH_KEY).map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => root_path(r),
            None => {
                let base = url.param(CONFIG_BASE_PATH_KEY).unwrap_or("/config").trim_matches('/');
                root_path(&format!("{}/{base}", root.trim_end_matches('/')))
            }
        };

        let ms = |key: &str, default: u64| -> Result<Duration, RegistryError> {
            match url.param(key).map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Duration::from_millis(n)),
                    _ => Err(invalid(format!("{key}={v:?} is not a positive number of milliseconds"))),
                },
            }
        };
        let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        let username = non_empty(url.username()).or_else(|| non_empty(url.param("username")));
        let password = non_empty(url.password()).or_else(|| non_empty(url.param("password")));
        if password.is_some() && username.is_none() {
            return Err(invalid("a password without a username".into()));
        }
        let has_credentials = username.is_some() && password.is_some();
        Ok(ZookeeperConfig {
            servers,
            root,
            config_root,
            session_timeout: ms("session", DEFAULT_SESSION_TIMEOUT_MS)?,
            timeout: ms("timeout", DEFAULT_TIMEOUT_MS)?,
            username,
            password,
            retry_period: ms("retry.period", DEFAULT_RETRY_PERIOD_MS)?,
            check_period: ms("registry.check.period", DEFAULT_CHECK_PERIOD_MS)?,
            check: url.param_bool("check", false),
            acl_repair: url.param_bool("acl.repair", false),
            watch: match url
                .param(WATCH_KEY)
                .map(str::to_owned)
                .or_else(|| std::env::var(WATCH_ENV).ok())
                .as_deref()
                .map(str::trim)
                .filter(|w| !w.is_empty())
            {
                None | Some("auto") => WatchMode::Auto,
                Some("persistent") => WatchMode::Persistent,
                Some("children") => WatchMode::Children,
                Some(other) => {
                    return Err(invalid(format!(
                        "{WATCH_KEY}={other:?} is not auto, persistent or children"
                    )));
                }
            },
            tls: if url.param_bool("tls", false) {
                let file = |k: &str| url.param(k).map(str::trim).filter(|f| !f.is_empty()).map(PathBuf::from);
                let files = TlsFiles {
                    ca_file: file("tls.ca-file"),
                    cert_file: file("tls.cert-file"),
                    key_file: file("tls.key-file"),
                };
                if files.cert_file.is_some() != files.key_file.is_some() {
                    return Err(invalid("tls.cert-file and tls.key-file go together".into()));
                }
                Some(files)
            } else {
                None
            },
            sasl_digest: match url.param("sasl").map(str::trim) {
                None | Some("") => false,
                Some(m) if m.eq_ignore_ascii_case("digest") || m.eq_ignore_ascii_case("digest-md5") => {
                    if !has_credentials {
                        return Err(invalid("sasl=digest needs a user and a password".into()));
                    }
                    true
                }
                Some(other) => {
                    return Err(invalid(format!(
                        "sasl={other:?}: only digest (DIGEST-MD5) is supported"
                    )));
                }
            },
            empty_protection: url.param_bool(EMPTY_PROTECTION_KEY, false)
                || url.param_bool(DUBBO_EMPTY_PROTECTION_KEY, false),
            file: if url.param_bool("file.cache", true) {
                match url.param("file").map(str::trim).filter(|f| !f.is_empty()) {
                    Some(f) => Some(PathBuf::from(f)),
                    None => crate::cache::default_path(url),
                }
            } else {
                None
            },
        })
    }

    /// The connect string for the client: every server, comma separated.
    pub fn connect_string(&self) -> String {
        self.servers.join(",")
    }

    /// The digest credentials `user:password`, when a username is configured.
    pub fn digest(&self) -> Option<String> {
        self.username
            .as_ref()
            .map(|u| format!("{u}:{}", self.password.as_deref().unwrap_or("")))
    }
}

impl std::str::FromStr for ZookeeperConfig {
    type Err = RegistryError;

    /// Parse a registry address as [`registry_address`] reads it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ZookeeperConfig::from_url(&registry_address(s)?)
    }
}

/// The one reader of registry addresses, for every place that takes one (the builders, the
/// CLI's `--zk`, the examples).
///
/// Accepts a registry URL (`zookeeper://a:2181?session=..`) whose host part may be a comma
/// list (`zookeeper://a,b:2182,c`), or a bare comma list of `host[:port]` (`a:2181,b:2181`).
/// Returns the URL Dubbo would use: the first address as host, the others in `backup` (before
/// any `backup` already given), so every other part of zkdubbo sees one form.
///
/// ```
/// use zkdubbo_registry::registry_address;
/// let url = registry_address("10.0.0.1:2181, 10.0.0.2:2181").unwrap();
/// assert_eq!(url.to_string(), "zookeeper://10.0.0.1:2181?backup=10.0.0.2:2181");
/// let url = registry_address("zookeeper://a,b:2182?backup=c&session=5000").unwrap();
/// assert_eq!(url.address(), "a");
/// assert_eq!(url.param("backup"), Some("b:2182,c"));
/// assert!(registry_address("nacos://10.0.0.1:8848").is_err());
/// let chroot = registry_address("10.0.0.1:2181/apps").unwrap_err();
/// assert!(chroot.to_string().contains("chroot"), "{chroot}");
/// ```
///
/// # Errors
/// [`RegistryError::InvalidRegistryUrl`] when the address names no server, is not a URL, or
/// names another protocol than `zookeeper`.
pub fn registry_address(spec: &str) -> Result<Url, RegistryError> {
    let spec = spec.trim();
    let invalid = |reason: String| RegistryError::InvalidRegistryUrl {
        url: redact_address(spec),
        reason,
    };
    let full = if spec.contains("://") {
        spec.to_owned()
    } else {
        // A ZooKeeper connect string may end in a chroot (`host:2181/apps`); Dubbo's registry
        // URLs have none (the root is the `group` parameter), and reading it as the URL's
        // path would silently drop it.
        if let Some(chroot) = spec.find('/').map(|i| &spec[i..]) {
            return Err(invalid(format!(
                "a ZooKeeper chroot ({chroot:?}) is not supported: name the root with the registry \
                 URL's `group` parameter (the command line's --root)"
            )));
        }
        format!("{ZOOKEEPER_PROTOCOL}://{spec}")
    };
    let scheme_end = full.find("://").unwrap_or(0);
    if &full[..scheme_end] != ZOOKEEPER_PROTOCOL {
        return Err(invalid(format!(
            "protocol {:?} is not {ZOOKEEPER_PROTOCOL:?} (only ZooKeeper registries are supported)",
            &full[..scheme_end]
        )));
    }
    let after = &full[scheme_end + 3..];
    let auth_end = after.find(['/', '?']).unwrap_or(after.len());
    let authority = &after[..auth_end];
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(i) => (&authority[..=i], &authority[i + 1..]),
        None => ("", authority),
    };
    let mut parts = hosts.split(',').map(str::trim).filter(|h| !h.is_empty());
    let Some(first) = parts.next() else {
        return Err(invalid("no ZooKeeper address".into()));
    };
    let extra: Vec<&str> = parts.collect();
    let rebuilt = format!("{}{userinfo}{first}{}", &full[..scheme_end + 3], &after[auth_end..]);
    let mut url: Url = rebuilt.parse().map_err(|e| invalid(format!("{e}")))?;
    if !extra.is_empty() {
        let mut backup = extra.join(",");
        if let Some(given) = url.param("backup").filter(|b| !b.trim().is_empty()) {
            backup = format!("{backup},{given}");
        }
        url.set_param("backup", backup);
    }
    Ok(url)
}

/// A registry address as given (a URL or a bare `user:password@host:port` list), with its
/// password hidden: for a message about an address that may not even parse.
///
/// ```
/// use zkdubbo_registry::redact_address;
/// assert_eq!(redact_address("zookeeper://alice:pw@zk:2181?x=1"), "zookeeper://alice:***@zk:2181?x=1");
/// assert_eq!(redact_address("alice:pw@zk:2181,zk2:2181"), "alice:***@zk:2181,zk2:2181");
/// assert_eq!(redact_address("zk:2181?username=alice&password=pw"), "zk:2181?username=alice&password=***");
/// ```
pub fn redact_address(spec: &str) -> String {
    let start = spec.find("://").map_or(0, |i| i + 3);
    let auth_end = spec[start..].find(['/', '?']).map_or(spec.len(), |i| start + i);
    let mut out = match spec[start..auth_end].rfind('@') {
        Some(at) => match spec[start..start + at].find(':') {
            Some(colon) => format!("{}:***{}", &spec[..start + colon], &spec[start + at..]),
            None => spec.to_owned(),
        },
        None => spec.to_owned(),
    };
    if let Some(q) = out.find('?') {
        let query: Vec<String> = out[q + 1..]
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some(("password", _)) => "password=***".to_owned(),
                _ => kv.to_owned(),
            })
            .collect();
        out = format!("{}?{}", &out[..q], query.join("&"));
    }
    out
}

fn add_servers(out: &mut Vec<String>, list: &str) {
    for addr in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let addr = with_default_port(addr);
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
}

fn with_default_port(addr: &str) -> String {
    let has_port = if let Some(rest) = addr.strip_prefix('[') {
        rest.find(']').is_some_and(|i| rest[i + 1..].starts_with(':'))
    } else {
        addr.contains(':')
    };
    if has_port {
        addr.to_owned()
    } else {
        format!("{addr}:{DEFAULT_PORT}")
    }
}

fn root_path(group: &str) -> String {
    let path = if group.starts_with('/') {
        group.to_owned()
    } else {
        format!("/{group}")
    };
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(s: &str) -> ZookeeperConfig {
        s.parse().unwrap()
    }

    #[test]
    fn reads_every_setting() {
        let c = cfg(
            "zookeeper://127.0.0.1:2181?backup=127.0.0.1:2182,127.0.0.1:2183&group=dubbo&session=60000&timeout=5000",
        );
        assert_eq!(c.servers, ["127.0.0.1:2181", "127.0.0.1:2182", "127.0.0.1:2183"]);
        assert_eq!(c.root, "/dubbo");
        assert_eq!(c.config_root, "/dubbo/config");
        assert_eq!(cfg("zookeeper://zk?watch=children").watch, WatchMode::Children);
        assert_eq!(cfg("zookeeper://zk?watch=persistent").watch, WatchMode::Persistent);
        assert_eq!(cfg("zookeeper://zk?watch=auto").watch, WatchMode::Auto);
        assert!("zookeeper://zk?watch=often".parse::<ZookeeperConfig>().is_err());
        assert_eq!(
            cfg("zookeeper://zk?dubbo.config-center.root-path=/rules/").config_root,
            "/rules"
        );
        assert_eq!(
            cfg("zookeeper://zk?dubbo.config-center.base-path=/cfg").config_root,
            "/dubbo/cfg"
        );
        assert_eq!(c.session_timeout, Duration::from_millis(60_000));
        assert_eq!(c.timeout, Duration::from_millis(5_000));
        assert_eq!(c.retry_period, Duration::from_millis(DEFAULT_RETRY_PERIOD_MS));
        assert_eq!(c.digest(), None);
        assert!(!c.check);
        assert!(!c.empty_protection);
        assert!(cfg("zookeeper://zk?empty.protection=true").empty_protection);
        assert!(cfg("zookeeper://zk?enable-empty-protection=true").empty_protection);
        assert!(!cfg("zookeeper://zk?empty.protection=false").empty_protection);

        let c = cfg("zookeeper://u:p@zk1,zk2:2182,[::1]?group=/apps/dubbo/&retry.period=200&check=true");
        assert_eq!(c.servers, ["zk1:2181", "zk2:2182", "[::1]:2181"]);
        assert_eq!(c.root, "/apps/dubbo");
        assert_eq!(c.config_root, "/apps/dubbo/config");
        assert_eq!(c.digest().as_deref(), Some("u:p"));
        assert_eq!(c.retry_period, Duration::from_millis(200));
        assert!(c.check);

        let c = cfg("zookeeper://zk?file=/tmp/x.cache");
        assert_eq!(c.file, Some(PathBuf::from("/tmp/x.cache")));
        assert_eq!(cfg("zookeeper://zk?file=/tmp/x.cache&file.cache=false").file, None);

        let c = cfg("zookeeper://zk?username=admin&password=secret&group=other");
        assert_eq!(c.root, "/other");
        assert_eq!(c.digest().as_deref(), Some("admin:secret"));
    }

    #[test]
    fn comma_hosts_in_a_parsed_url() {
        let url: Url = "zookeeper://10.0.0.1:2181,10.0.0.2:2181".parse().unwrap();
        let c = ZookeeperConfig::from_url(&url).unwrap();
        assert_eq!(c.servers, ["10.0.0.1:2181", "10.0.0.2:2181"]);
    }

    #[test]
    fn rejects_bad_settings_and_hides_passwords() {
        for bad in [
            "redis://127.0.0.1:6379",
            "zookeeper://zk?session=abc",
            "zookeeper://zk?timeout=0",
            "zookeeper://zk?group=a//b",
            "zookeeper://zk?password=x",
        ] {
            assert!(
                matches!(
                    bad.parse::<ZookeeperConfig>(),
                    Err(RegistryError::InvalidRegistryUrl { .. })
                ),
                "{bad}"
            );
        }
        let err = "zookeeper://u:hunter2@zk?session=x"
            .parse::<ZookeeperConfig>()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!("zookeeper://".parse::<ZookeeperConfig>().is_err());
    }
}
#[cfg(test)]
mod tls_tests {
    use super::*;

    #[test]
    fn tls_and_sasl_params() {
        let c: ZookeeperConfig = "zookeeper://127.0.0.1:2181?tls=true&tls.ca-file=/x/ca.pem"
            .parse()
            .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsFiles {
                ca_file: Some("/x/ca.pem".into()),
                cert_file: None,
                key_file: None
            })
        );
        let err = "zookeeper://127.0.0.1:2181?tls=true&tls.cert-file=/c"
            .parse::<ZookeeperConfig>()
            .unwrap_err();
        assert!(err.to_string().contains("go together"), "{err}");
        let c: ZookeeperConfig = "zookeeper://u:p@127.0.0.1:2181?sasl=digest".parse().unwrap();
        assert!(c.sasl_digest);
        let err = "zookeeper://127.0.0.1:2181?sasl=digest"
            .parse::<ZookeeperConfig>()
            .unwrap_err();
        assert!(err.to_string().contains("needs a user"), "{err}");
        let err = "zookeeper://u:p@127.0.0.1:2181?sasl=gssapi"
            .parse::<ZookeeperConfig>()
            .unwrap_err();
        assert!(err.to_string().contains("only digest"), "{err}");
    }
}
