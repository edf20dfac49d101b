//! The Dubbo URL: `protocol://[user[:password]@]host[:port][/path][?k=v&...]`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::encoding;
use crate::error::UrlError;
use crate::keys;
use crate::params::Params;

/// A Dubbo URL, immutable in spirit and cheap to clone (strings and parameters are shared).
///
/// Parsing follows Java Dubbo's `URL.valueOf`: a query part without `=` means `key=key`, the
/// port is the text after the last `:` of the authority, and an IPv6 host keeps its brackets
/// (`[::1]`), as in Java. [`Display`](fmt::Display) writes the full string with the parameters
/// in key order, exactly as Java's `toFullString` does, and [`Url::to_node_name`] encodes that
/// into the ZooKeeper node name.
///
/// ```
/// use zkdubbo_common::Url;
/// let url: Url = "dubbo://10.0.0.5:20880/com.foo.Bar?weight=200&side=provider".parse().unwrap();
/// assert_eq!(url.address(), "10.0.0.5:20880");
/// assert_eq!(url.param("weight"), Some("200"));
/// assert_eq!(url.to_string(), "dubbo://10.0.0.5:20880/com.foo.Bar?side=provider&weight=200");
/// let node = url.to_node_name();
/// assert_eq!(Url::from_node_name(&node).unwrap(), url);
/// ```
#[derive(Clone)]
pub struct Url(Arc<Parts>);

/// The parts of a [`Url`], shared by its clones: a clone is one reference count, and a URL
/// compared with a clone of itself is equal at the first pointer.
#[derive(Clone)]
struct Parts {
    protocol: Arc<str>,
    username: Option<Arc<str>>,
    password: Option<Arc<str>>,
    host: Arc<str>,
    port: Option<u16>,
    path: Arc<str>,
    params: Params,
}

impl Url {
    /// A URL with no credentials and no parameters. `path` is given without its leading `/`.
    pub fn new(protocol: &str, host: &str, port: Option<u16>, path: &str) -> Self {
        Url::from_parts(Parts {
            protocol: protocol.into(),
            username: None,
            password: None,
            host: host.into(),
            port,
            path: path.into(),
            params: Params::new(),
        })
    }

    fn from_parts(parts: Parts) -> Url {
        Url(Arc::new(parts))
    }

    /// The parts to change: copied first if another clone shares them.
    fn parts_mut(&mut self) -> &mut Parts {
        Arc::make_mut(&mut self.0)
    }

    /// Parse the plain form (`protocol://host:port/path?k=v`).
    pub fn parse(input: &str) -> Result<Url, UrlError> {
        let (rest, query) = match input.find('?') {
            Some(i) => (&input[..i], Some(&input[i + 1..])),
            None => (input, None),
        };
        if rest.is_empty() {
            return Err(UrlError::Empty);
        }
        let params = query.map(parse_query).unwrap_or_default();

        let missing = || UrlError::MissingProtocol {
            input: input.to_owned(),
        };
        let (protocol, rest, mut offset) = if let Some(i) = rest.find("://") {
            (&rest[..i], &rest[i + 3..], i + 3)
        } else if let Some(i) = rest.find(":/") {
            // `file:/path/to/file`
            (&rest[..i], &rest[i + 1..], i + 1)
        } else {
            return Err(missing());
        };
        if protocol.is_empty() {
            return Err(missing());
        }

        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (username, password, hostport) = match authority.rfind('@') {
            Some(i) => {
                let userinfo = &authority[..i];
                offset += i + 1;
                match userinfo.find(':') {
                    Some(j) => (Some(&userinfo[..j]), Some(&userinfo[j + 1..]), &authority[i + 1..]),
                    None => (Some(userinfo), None, &authority[i + 1..]),
                }
            }
            None => (None, None, authority),
        };
        let (host, port) = split_host_port(input, hostport, offset)?;

        Ok(Url::from_parts(Parts {
            protocol: protocol.into(),
            username: username.filter(|s| !s.is_empty()).map(Into::into),
            password: password.filter(|s| !s.is_empty()).map(Into::into),
            host: host.into(),
            port,
            path: path.into(),
            params,
        }))
    }

    /// Parse a ZooKeeper node name: decode it as Java's `URLDecoder` does, then parse.
    pub fn from_node_name(node_name: &str) -> Result<Url, UrlError> {
        Url::parse(&encoding::decode(node_name)?)
    }

    /// The ZooKeeper node name of this URL: the full string encoded as Java's `URLEncoder`.
    pub fn to_node_name(&self) -> String {
        encoding::encode(&self.to_string())
    }

    /// The protocol (`dubbo`, `tri`, `consumer`, `override`, `empty`...).
    pub fn protocol(&self) -> &str {
        &self.0.protocol
    }

    /// The user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.0.username.as_deref()
    }

    /// The password, if any.
    pub fn password(&self) -> Option<&str> {
        self.0.password.as_deref()
    }

    /// The host as written (an IPv6 host keeps its brackets); may be empty.
    pub fn host(&self) -> &str {
        &self.0.host
    }

    /// The port, if the URL has one.
    pub fn port(&self) -> Option<u16> {
        self.0.port
    }

    /// The path without its leading `/` (usually the interface name); may be empty.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// All parameters, in key order.
    pub fn params(&self) -> &Params {
        &self.0.params
    }

    /// The raw value of `key` (possibly empty), if present.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.0.params.get(key)
    }

    /// The value of `key`, or `default` when it is missing or empty (Java's
    /// `getParameter(key, default)`).
    pub fn param_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        non_empty(self.0.params.get(key)).unwrap_or(default)
    }

    /// The value of `key` parsed as `T`, or `default` when missing, empty or unparsable.
    ///
    /// ```
    /// # use zkdubbo_common::Url;
    /// let url: Url = "dubbo://h:1/s?weight=50&retries=x".parse().unwrap();
    /// assert_eq!(url.param_as("weight", 100u32), 50);
    /// assert_eq!(url.param_as("retries", 2u32), 2);
    /// ```
    pub fn param_as<T: FromStr>(&self, key: &str, default: T) -> T {
        non_empty(self.0.params.get(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }

    /// `key` as a boolean (`true`/`false`, case-insensitive), or `default`.
    pub fn param_bool(&self, key: &str, default: bool) -> bool {
        match non_empty(self.0.params.get(key)) {
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            _ => default,
        }
    }

    /// The value of `<method>.<key>`, falling back to `key` (Dubbo's method parameters).
    /// Empty values count as missing. Does not allocate.
    pub fn method_param(&self, method: &str, key: &str) -> Option<&str> {
        non_empty(self.0.params.get_concat(&[method, ".", key])).or_else(|| non_empty(self.0.params.get(key)))
    }

    /// [`Url::method_param`] parsed as `T`, or `default`.
    pub fn method_param_as<T: FromStr>(&self, method: &str, key: &str, default: T) -> T {
        self.method_param(method, key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }

    /// `key` URL-decoded (how Dubbo reads a condition router's `rule`).
    pub fn param_decoded(&self, key: &str) -> Option<Result<Cow<'_, str>, UrlError>> {
        self.0.params.get(key).map(encoding::decode)
    }

    /// A parameter or one of the URL's parts by name, as Java's `getRawParameter` does:
    /// `protocol`, `username`, `password`, `host`, `port` and `path` name the parts.
    pub fn raw_param(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "protocol" => Some(Cow::Borrowed(self.protocol())),
            "username" => self.username().map(Cow::Borrowed),
            "password" => self.password().map(Cow::Borrowed),
            "host" => Some(Cow::Borrowed(self.host())),
            "port" => self.0.port.map(|p| Cow::Owned(p.to_string())),
            "path" => Some(Cow::Borrowed(self.path())),
            _ => self.param(key).map(Cow::Borrowed),
        }
    }

    /// The service interface: the `interface` parameter, else the path.
    pub fn interface(&self) -> &str {
        non_empty(self.param(keys::INTERFACE)).unwrap_or(&self.0.path)
    }

    /// The `group` parameter, if set and non-empty.
    pub fn group(&self) -> Option<&str> {
        non_empty(self.param(keys::GROUP))
    }

    /// The `version` parameter, if set and non-empty.
    pub fn version(&self) -> Option<&str> {
        non_empty(self.param(keys::VERSION))
    }

    /// The `category` parameter, default `providers`.
    pub fn category(&self) -> &str {
        self.param_or(keys::CATEGORY, keys::DEFAULT_CATEGORY)
    }

    /// The `side` parameter, if set.
    pub fn side(&self) -> Option<&str> {
        non_empty(self.param(keys::SIDE))
    }

    /// The service key `[group/]interface[:version]`.
    pub fn service_key(&self) -> String {
        service_key(self.interface(), self.group(), self.version())
    }

    /// `host:port`, or `host` when there is no port.
    pub fn address(&self) -> String {
        match self.0.port {
            Some(p) => format!("{}:{p}", self.0.host),
            None => self.0.host.to_string(),
        }
    }

    /// `protocol://host:port/path`: what identifies a provider endpoint, without parameters
    /// or credentials.
    pub fn identity(&self) -> String {
        let mut s = format!("{}://", self.0.protocol);
        self.write_host_port(&mut s);
        if !self.0.path.is_empty() {
            s.push('/');
            s.push_str(&self.0.path);
        }
        s
    }

    /// This URL with `key=value` set. Copies the parameter list only if it is shared.
    ///
    /// ```
    /// # use zkdubbo_common::Url;
    /// let url = Url::new("dubbo", "10.0.0.1", Some(20880), "com.foo.Bar").with_param("weight", "50");
    /// assert_eq!(url.to_string(), "dubbo://10.0.0.1:20880/com.foo.Bar?weight=50");
    /// ```
    pub fn with_param(mut self, key: impl Into<Box<str>>, value: impl Into<Box<str>>) -> Self {
        self.parts_mut().params.insert(key, value);
        self
    }

    /// This URL with every pair of `params` set.
    pub fn with_params<K, V>(mut self, params: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<Box<str>>,
        V: Into<Box<str>>,
    {
        for (k, v) in params {
            self.parts_mut().params.insert(k, v);
        }
        self
    }

    /// This URL without `key`.
    pub fn without_param(mut self, key: &str) -> Self {
        self.parts_mut().params.remove(key);
        self
    }

    /// Set `key=value` in place.
    pub fn set_param(&mut self, key: impl Into<Box<str>>, value: impl Into<Box<str>>) {
        self.parts_mut().params.insert(key, value);
    }

    /// Remove `key` in place, returning its value.
    pub fn remove_param(&mut self, key: &str) -> Option<Box<str>> {
        if !self.0.params.contains_key(key) {
            return None;
        }
        self.parts_mut().params.remove(key)
    }

    /// This URL with another parameter map.
    pub fn with_param_map(mut self, params: Params) -> Self {
        self.parts_mut().params = params;
        self
    }

    /// This URL with another protocol.
    pub fn with_protocol(mut self, protocol: &str) -> Self {
        self.parts_mut().protocol = protocol.into();
        self
    }

    /// This URL with another host.
    pub fn with_host(mut self, host: &str) -> Self {
        self.parts_mut().host = host.into();
        self
    }

    /// This URL with another port.
    pub fn with_port(mut self, port: Option<u16>) -> Self {
        self.parts_mut().port = port;
        self
    }

    /// This URL with another path (without leading `/`).
    pub fn with_path(mut self, path: &str) -> Self {
        self.parts_mut().path = path.into();
        self
    }

    /// This URL with credentials (empty strings mean none).
    pub fn with_credentials(mut self, username: Option<&str>, password: Option<&str>) -> Self {
        let parts = self.parts_mut();
        parts.username = username.filter(|s| !s.is_empty()).map(Into::into);
        parts.password = password.filter(|s| !s.is_empty()).map(Into::into);
        self
    }

    /// This URL with its password hidden (`user:***@`, and a `password` parameter as
    /// `***`): the one form in which a URL that may carry credentials (a registry's) is shown
    /// in messages, logs and JSON.
    ///
    /// ```
    /// use zkdubbo_common::Url;
    /// let url: Url = "zookeeper://alice:s3cr3t@10.0.0.1:2181?backup=10.0.0.2:2181".parse().unwrap();
    /// assert_eq!(url.redacted().to_string(), "zookeeper://alice:***@10.0.0.1:2181?backup=10.0.0.2:2181");
    /// let url: Url = "zookeeper://10.0.0.1:2181?username=alice&password=s3cr3t".parse().unwrap();
    /// assert!(!url.redacted().to_string().contains("s3cr3t"));
    /// ```
    pub fn redacted(&self) -> Url {
        let mut u = self.clone();
        if u.0.password.is_some() {
            u.parts_mut().password = Some("***".into());
        }
        if u.param("password").is_some() {
            u.set_param("password", "***");
        }
        u
    }

    fn write_host_port(&self, s: &mut String) {
        use fmt::Write;
        s.push_str(&self.0.host);
        if let Some(p) = self.0.port {
            let _ = write!(s, ":{p}");
        }
    }
}

/// `[group/]interface[:version]`, the key Dubbo files subscriptions and cache entries under.
pub fn service_key(interface: &str, group: Option<&str>, version: Option<&str>) -> String {
    let mut s = String::with_capacity(interface.len() + 16);
    if let Some(g) = group.filter(|g| !g.is_empty()) {
        s.push_str(g);
        s.push('/');
    }
    s.push_str(interface);
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        s.push(':');
        s.push_str(v);
    }
    s
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !v.is_empty())
}

fn parse_query(query: &str) -> Params {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.find('=') {
            Some(j) => (&part[..j], &part[j + 1..]),
            None => (part, part),
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Split `host[:port]`; `offset` is where `hostport` starts in `input`, for error positions.
fn split_host_port<'a>(input: &str, hostport: &'a str, offset: usize) -> Result<(&'a str, Option<u16>), UrlError> {
    let port_start = if hostport.starts_with('[') {
        let close = hostport.find(']').ok_or_else(|| UrlError::UnterminatedIpv6 {
            input: input.to_owned(),
            position: offset,
        })?;
        match hostport[close + 1..].strip_prefix(':') {
            Some(_) => Some(close + 1),
            None if close + 1 == hostport.len() => None,
            None => {
                return Err(UrlError::InvalidPort {
                    input: input.to_owned(),
                    port: hostport[close + 1..].to_owned(),
                    position: offset + close + 1,
                });
            }
        }
    } else {
        match hostport.rfind(':') {
            // An IPv6 scope id (`fe80::1%en0`) after the last colon: no port, as in Java.
            Some(i) if hostport[i..].contains('%') => None,
            other => other,
        }
    };
    let Some(colon) = port_start else {
        return Ok((hostport, None));
    };
    let text = &hostport[colon + 1..];
    if text.is_empty() {
        // `host:` — Java ignores a trailing colon.
        return Ok((&hostport[..colon], None));
    }
    match text.parse::<u16>() {
        Ok(p) if text.bytes().all(|b| b.is_ascii_digit()) => Ok((&hostport[..colon], Some(p))),
        _ => Err(UrlError::InvalidPort {
            input: input.to_owned(),
            port: text.to_owned(),
            position: offset + colon + 1,
        }),
    }
}

impl fmt::Display for Url {
    /// The full string, parameters in key order (Java's `toFullString`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.0.protocol)?;
        if let Some(user) = &self.0.username {
            f.write_str(user)?;
            if let Some(pass) = &self.0.password {
                write!(f, ":{pass}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.0.host)?;
        if let Some(p) = self.0.port {
            write!(f, ":{p}")?;
        }
        if !self.0.path.is_empty() {
            write!(f, "/{}", self.0.path)?;
        }
        for (i, (k, v)) in self.0.params.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl PartialEq for Url {
    /// Equal parts and parameters. Parts shared by clones compare by pointer first, so
    /// comparing a URL with a clone of itself reads none of its strings.
    fn eq(&self, other: &Self) -> bool {
        fn same(a: &Arc<str>, b: &Arc<str>) -> bool {
            Arc::ptr_eq(a, b) || **a == **b
        }
        fn same_opt(a: &Option<Arc<str>>, b: &Option<Arc<str>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => same(a, b),
                (None, None) => true,
                _ => false,
            }
        }
        let (a, b) = (&*self.0, &*other.0);
        Arc::ptr_eq(&self.0, &other.0)
            || (a.port == b.port
                && same(&a.host, &b.host)
                && same(&a.path, &b.path)
                && same(&a.protocol, &b.protocol)
                && same_opt(&a.username, &b.username)
                && same_opt(&a.password, &b.password)
                && a.params == b.params)
    }
}

impl Eq for Url {}

impl std::hash::Hash for Url {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.protocol.hash(state);
        self.0.username.hash(state);
        self.0.password.hash(state);
        self.0.host.hash(state);
        self.0.port.hash(state);
        self.0.path.hash(state);
        self.0.params.hash(state);
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({self})")
    }
}

impl FromStr for Url {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Url::parse(s)
    }
}

impl serde::Serialize for Url {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Url {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        Url::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The example node name of ARCHITECTURE: ZooKeeper layout.
    const JAVA_NODE: &str = "dubbo%3A%2F%2F10.0.0.5%3A20880%2Fcom.foo.BarService%3Fanyhost%3Dtrue%26application%3Dbar-provider%26dubbo%3D2.0.2%26dynamic%3Dtrue%26generic%3Dfalse%26interface%3Dcom.foo.BarService%26methods%3Dget%2Cput%26pid%3D4242%26release%3D2.7.23%26side%3Dprovider%26timestamp%3D1700000000000";

    #[test]
    fn design_example_round_trips_byte_for_byte() {
        let url = Url::from_node_name(JAVA_NODE).unwrap();
        assert_eq!(url.protocol(), "dubbo");
        assert_eq!(url.host(), "10.0.0.5");
        assert_eq!(url.port(), Some(20880));
        assert_eq!(url.path(), "com.foo.BarService");
        assert_eq!(url.param("methods"), Some("get,put"));
        assert_eq!(url.param("timestamp"), Some("1700000000000"));
        assert_eq!(url.params().len(), 11);
        assert_eq!(url.to_node_name(), JAVA_NODE);
    }

    #[test]
    fn parses_every_part() {
        let url = Url::parse("tri://alice:s3cret@10.0.0.7:50051/a/b?x=1&flag&empty=").unwrap();
        assert_eq!(url.protocol(), "tri");
        assert_eq!(url.username(), Some("alice"));
        assert_eq!(url.password(), Some("s3cret"));
        assert_eq!(url.host(), "10.0.0.7");
        assert_eq!(url.port(), Some(50051));
        assert_eq!(url.path(), "a/b");
        assert_eq!(url.param("x"), Some("1"));
        assert_eq!(url.param("flag"), Some("flag"), "a part without = means key=key");
        assert_eq!(url.param("empty"), Some(""));
        assert_eq!(
            url.to_string(),
            "tri://alice:s3cret@10.0.0.7:50051/a/b?empty=&flag=flag&x=1"
        );
    }

    #[test]
    fn hosts_without_port_and_ipv6() {
        let url = Url::parse("consumer://10.0.0.1/com.foo.Bar?category=consumers").unwrap();
        assert_eq!(url.port(), None);
        assert_eq!(url.address(), "10.0.0.1");

        let url = Url::parse("dubbo://[::1]:20880/com.foo.Bar").unwrap();
        assert_eq!(url.host(), "[::1]");
        assert_eq!(url.port(), Some(20880));
        assert_eq!(url.address(), "[::1]:20880");
        assert_eq!(url.to_string(), "dubbo://[::1]:20880/com.foo.Bar");

        let url = Url::parse("dubbo://[fe80::1]/x").unwrap();
        assert_eq!((url.host(), url.port()), ("[fe80::1]", None));

        let url = Url::parse("dubbo://fe80:0:0:0:894:aeec:f37d:23e1%en0/x").unwrap();
        assert_eq!(url.port(), None);

        let url = Url::parse("file:/tmp/registry.cache").unwrap();
        assert_eq!(
            (url.protocol(), url.host(), url.path()),
            ("file", "", "tmp/registry.cache")
        );

        let url = Url::parse("empty://").unwrap();
        assert_eq!((url.protocol(), url.host()), ("empty", ""));
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        assert_eq!(Url::parse("").unwrap_err(), UrlError::Empty);
        assert_eq!(Url::parse("?a=b").unwrap_err(), UrlError::Empty);
        assert!(matches!(
            Url::parse("10.0.0.1:20880/x"),
            Err(UrlError::MissingProtocol { .. })
        ));
        assert!(matches!(
            Url::parse("://10.0.0.1:20880"),
            Err(UrlError::MissingProtocol { .. })
        ));
        assert!(matches!(Url::parse("not a url"), Err(UrlError::MissingProtocol { .. })));
        assert_eq!(
            Url::parse("dubbo://h:99999/x").unwrap_err(),
            UrlError::InvalidPort {
                input: "dubbo://h:99999/x".into(),
                port: "99999".into(),
                position: 10
            }
        );
        assert!(matches!(
            Url::parse("dubbo://u:p@h:8x/x"),
            Err(UrlError::InvalidPort { position: 14, .. })
        ));
        assert!(matches!(
            Url::parse("dubbo://h:-1/x"),
            Err(UrlError::InvalidPort { .. })
        ));
        assert!(matches!(
            Url::parse("dubbo://h:+1/x"),
            Err(UrlError::InvalidPort { .. })
        ));
        assert!(matches!(
            Url::parse("dubbo://[::1/x"),
            Err(UrlError::UnterminatedIpv6 { .. })
        ));
        assert!(matches!(
            Url::parse("dubbo://[::1]x/x"),
            Err(UrlError::InvalidPort { .. })
        ));
        assert!(matches!(
            Url::from_node_name("dubbo%3A%2F%2Fh%3"),
            Err(UrlError::TruncatedEscape { .. })
        ));
        assert!(matches!(
            Url::from_node_name("dubbo%3A%2F%2Fh%C3%28"),
            Err(UrlError::InvalidUtf8 { .. })
        ));
        assert!(matches!(
            Url::from_node_name("%zz"),
            Err(UrlError::InvalidEscape { .. })
        ));
    }

    #[test]
    fn accessors_and_defaults() {
        let url = Url::parse(
            "dubbo://h:1/path.Iface?interface=com.foo.Bar&group=g&version=1.0&timeout=500&sayHello.timeout=3000&sayHello.retries=&async=TRUE",
        )
        .unwrap();
        assert_eq!(url.interface(), "com.foo.Bar");
        assert_eq!(url.service_key(), "g/com.foo.Bar:1.0");
        assert_eq!(url.identity(), "dubbo://h:1/path.Iface");
        assert_eq!(url.category(), "providers");
        assert_eq!(url.method_param("sayHello", "timeout"), Some("3000"));
        assert_eq!(url.method_param("other", "timeout"), Some("500"));
        assert_eq!(url.method_param("sayHello", "retries"), None, "empty counts as missing");
        assert_eq!(url.method_param_as("sayHello", "timeout", 0u64), 3000);
        assert_eq!(url.param_as("timeout", 0u64), 500);
        assert_eq!(url.param_as("missing", 7u64), 7);
        assert!(url.param_bool("async", false));
        assert_eq!(url.param_or("missing", "d"), "d");
        assert_eq!(url.raw_param("host").as_deref(), Some("h"));
        assert_eq!(url.raw_param("port").as_deref(), Some("1"));

        let bare = Url::parse("tri://10.0.0.7:50051?service=com.foo.Bar").unwrap();
        assert_eq!(bare.interface(), "");
        assert_eq!(bare.service_key(), "");
        assert_eq!(bare.identity(), "tri://10.0.0.7:50051");
    }

    #[test]
    fn builders_copy_only_when_shared() {
        let a = Url::new("dubbo", "h", Some(1), "s").with_param("a", "1");
        let b = a.clone().with_param("b", "2");
        assert_eq!(a.to_string(), "dubbo://h:1/s?a=1");
        assert_eq!(b.to_string(), "dubbo://h:1/s?a=1&b=2");
        assert_eq!(b.clone().without_param("a").to_string(), "dubbo://h:1/s?b=2");
        let c = b.with_protocol("tri").with_host("x").with_port(None).with_path("");
        assert_eq!(c.to_string(), "tri://x?a=1&b=2");
    }

    #[test]
    fn decoded_param_reads_router_rules() {
        let rule = crate::encoding::encode("host = 10.20.153.10 => host = 10.20.153.11");
        let url = Url::parse(&format!("condition://0.0.0.0/com.foo?category=routers&rule={rule}")).unwrap();
        assert_eq!(
            url.param_decoded("rule").unwrap().unwrap(),
            "host = 10.20.153.10 => host = 10.20.153.11"
        );
        // The rule survives the node-name encoding (it is encoded twice there).
        let again = Url::from_node_name(&url.to_node_name()).unwrap();
        assert_eq!(again, url);
    }

    #[test]
    fn serde_as_string() {
        let url = Url::parse("dubbo://h:1/s?a=1").unwrap();
        let json = serde_json::to_string(&url).unwrap();
        assert_eq!(json, "\"dubbo://h:1/s?a=1\"");
        assert_eq!(serde_json::from_str::<Url>(&json).unwrap(), url);
        assert!(serde_json::from_str::<Url>("\"nope\"").is_err());
    }

    // Generators for URLs that the plain form can represent: parameter keys never contain
    // `=`, `&` or `?`, values never contain `&` (Dubbo has the same limits; values that need
    // them are URL-encoded once more, like router rules).
    fn text(forbidden: &'static str) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                proptest::char::range('a', 'z'),
                proptest::char::range('0', '9'),
                Just(' '),
                Just('~'),
                Just('*'),
                Just('+'),
                Just('%'),
                Just('.'),
                Just(','),
                Just('='),
                Just(':'),
                Just('é'),
                Just('中'),
                Just('😀'),
                Just('\u{FF21}'),
            ],
            0..12,
        )
        .prop_map(move |cs| cs.into_iter().filter(|c| !forbidden.contains(*c)).collect())
    }

    fn arb_url() -> impl Strategy<Value = Url> {
        let protocol = "[a-z][a-z0-9]{0,6}";
        let host = prop_oneof!["[a-z0-9.-]{1,15}", Just("[::1]".to_string()), Just(String::new())];
        let port = proptest::option::of(any::<u16>());
        let path = "[a-zA-Z0-9._/-]{0,20}";
        let user = proptest::option::of(("[a-z]{1,6}", proptest::option::of("[a-z0-9]{1,6}")));
        // An empty key gets a letter (mapped, not filtered: a long run would run out of
        // accepted cases).
        let key = text("=&?").prop_map(|k| if k.is_empty() { "k".to_owned() } else { k });
        let params = proptest::collection::vec((key, text("&")), 0..8);
        (protocol, host, port, path, user, params).prop_map(|(protocol, host, port, path, user, params)| {
            let path = path.trim_start_matches('/').to_string();
            let url = Url::new(&protocol, &host, port, &path).with_params(params);
            match user {
                Some((u, p)) => url.with_credentials(Some(&u), p.as_deref()),
                None => url,
            }
        })
    }

    proptest! {
        #[test]
        fn parse_inverts_format(url in arb_url()) {
            let text = url.to_string();
            prop_assert_eq!(Url::parse(&text).unwrap(), url.clone(), "{}", text);
            prop_assert_eq!(Url::from_node_name(&url.to_node_name()).unwrap(), url);
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = Url::parse(&s);
            let _ = Url::from_node_name(&s);
        }

        #[test]
        fn parse_never_panics_on_url_like_text(s in "[a-z:/@\\[\\]%?&=.0-9]{0,40}") {
            let _ = Url::parse(&s);
            let _ = Url::from_node_name(&s);
        }
    }
}
