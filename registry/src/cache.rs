//! The registry cache file, in Java Dubbo's format (ARCHITECTURE: Registry resilience): a Java `Properties` file, one
//! line per subscription, key = the consumer's service key, value = the space-separated full
//! URLs of every category last notified (`empty://` markers included).
//!
//! Written by one writer task, debounced, atomically (a temporary file in the same directory,
//! fsync, rename), so that processes sharing a file never read a torn one. When several
//! processes share a file, each writes the entries it owns over what the file holds at that
//! moment. Files written by zkdubbo carry a checksum comment (Java ignores comments): a file
//! whose checksum does not match (truncated, edited, corrupt) is reported with a warning naming
//! it and ignored. Nothing here ever deletes the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{Notify, watch};
use zkdubbo_common::Url;
use zkdubbo_common::sync::lock;

/// The first comment line, as Java Dubbo writes it.
const HEADER: &str = "#Dubbo Registry Cache";
/// Prefix of the checksum comment zkdubbo writes.
const CHECKSUM_PREFIX: &str = "#zkdubbo checksum=";

/// Why a cache file could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Reading or writing the file failed.
    #[error("cache file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid properties file, or its checksum does not match.
    #[error("cache file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the line number when known).
        reason: String,
    },
}

/// Java Dubbo's default cache path for a registry URL:
/// `~/.dubbo/dubbo-registry-<application>-<host>-<port>.cache` (`application` is the registry
/// URL's param; Java writes `null` when it is missing). `None` without a home directory.
pub fn default_path(registry_url: &Url) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let application = registry_url
        .param("application")
        .filter(|a| !a.is_empty())
        .unwrap_or("null");
    let address = registry_url.address().replace(':', "-");
    let name = format!("dubbo-registry-{application}-{address}.cache");
    let name: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    Some(PathBuf::from(home).join(".dubbo").join(name))
}

/// Parse a Java properties text (comments, `key=value` / `key:value` / `key value`, line
/// continuations, `\` escapes including `\uXXXX`). A zkdubbo checksum comment, if present, must
/// match.
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut expected_checksum = None;
    let mut checked = String::new();
    let mut entries = BTreeMap::new();
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((n, raw)) = lines.next() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start_matches([' ', '\t', '\x0c']);
        if let Some(sum) = trimmed.strip_prefix(CHECKSUM_PREFIX)
            && expected_checksum.is_none()
        {
            expected_checksum = Some(sum.split_whitespace().next().unwrap_or("").to_owned());
            continue;
        }
        if expected_checksum.is_some() && !raw.is_empty() {
            checked.push_str(line);
            checked.push('\n');
        }
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // Join continuation lines (an odd number of trailing backslashes).
        let mut logical = trimmed.to_owned();
        while logical.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
            logical.pop();
            match lines.next() {
                Some((_, next)) => {
                    let next = next.strip_suffix('\r').unwrap_or(next);
                    if expected_checksum.is_some() {
                        checked.push_str(next);
                        checked.push('\n');
                    }
                    logical.push_str(next.trim_start_matches([' ', '\t', '\x0c']));
                }
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        let key = unescape(key).map_err(|e| format!("line {}: {e}", n + 1))?;
        let value = unescape(value).map_err(|e| format!("line {}: {e}", n + 1))?;
        entries.insert(key, value);
    }
    if let Some(expected) = expected_checksum {
        let actual = checksum(&checked);
        if expected != actual {
            return Err(format!(
                "checksum {actual} does not match the recorded {expected} (truncated or modified)"
            ));
        }
    }
    Ok(entries)
}

/// Format entries as Java's `Properties.store` does (escaping included), with Dubbo's header
/// and a checksum comment.
pub fn format_properties(entries: &BTreeMap<String, String>) -> String {
    let mut body = String::new();
    for (k, v) in entries {
        escape_into(&mut body, k, true);
        body.push('=');
        escape_into(&mut body, v, false);
        body.push('\n');
    }
    let mut out = String::with_capacity(body.len() + 80);
    let _ = writeln!(out, "{HEADER}");
    let _ = writeln!(out, "{CHECKSUM_PREFIX}{} entries={}", checksum(&body), entries.len());
    out.push_str(&body);
    out
}

/// Read and parse a cache file. A missing file is an empty one.
pub fn read_file(path: &Path) -> Result<BTreeMap<String, String>, CacheError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(CacheError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    // Java writes ISO-8859-1 with `\u` escapes; read bytes as Latin-1 when not UTF-8.
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    parse_properties(&text).map_err(|reason| CacheError::Corrupt {
        path: path.to_owned(),
        reason,
    })
}

/// Write `entries` to `path` atomically: a temporary file beside it, fsync, rename.
pub fn write_file(path: &Path, entries: &BTreeMap<String, String>) -> Result<(), CacheError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |source| CacheError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(format_properties(entries).as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename durable; not every platform can sync a directory.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[derive(Default)]
struct State {
    entries: BTreeMap<String, String>,
    /// Keys this process wrote (they win over what another process wrote to the file).
    own: BTreeSet<String>,
    dirty: bool,
}

/// One registry's cache file: loaded at start, updated on every live notification, written
/// by [`CacheFile::run_writer`].
pub struct CacheFile {
    path: PathBuf,
    state: Mutex<State>,
    wake: Notify,
}

impl CacheFile {
    /// Load `path`. A missing file is empty; an unreadable or corrupt one is reported with a
    /// warning naming it and treated as empty (it is overwritten only by the next write).
    pub fn load(path: PathBuf) -> CacheFile {
        let entries = match read_file(&path) {
            Ok(entries) => {
                tracing::debug!(path = %path.display(), entries = entries.len(), "cache file loaded");
                entries
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring the registry cache file");
                BTreeMap::new()
            }
        };
        CacheFile {
            path,
            state: Mutex::new(State {
                entries,
                ..State::default()
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The URLs cached for `service_key`, if any; URLs that do not parse are skipped with a
    /// warning.
    pub fn urls(&self, service_key: &str) -> Option<Vec<Url>> {
        let value = self.lock().entries.get(service_key).cloned()?;
        let mut urls = Vec::new();
        for part in value.split_whitespace() {
            match part.parse::<Url>() {
                Ok(u) => urls.push(u),
                Err(e) => tracing::warn!(
                    path = %self.path.display(), key = %service_key, url = %part, error = %e,
                    "skipping a cached URL that does not parse"
                ),
            }
        }
        Some(urls)
    }

    /// Record the URLs last notified for `service_key` and schedule a write.
    pub fn store(&self, service_key: &str, urls: &[Url]) {
        let mut value = String::new();
        for u in urls {
            if !value.is_empty() {
                value.push(' ');
            }
            let _ = write!(value, "{u}");
        }
        {
            let mut st = self.lock();
            if st.entries.get(service_key) == Some(&value) {
                return;
            }
            st.entries.insert(service_key.to_owned(), value);
            st.own.insert(service_key.to_owned());
            st.dirty = true;
        }
        self.wake.notify_one();
    }

    /// Write now if anything changed: this process's entries over what the file holds now.
    /// Blocking file I/O.
    pub fn flush(&self) -> Result<(), CacheError> {
        let (own, snapshot) = {
            let mut st = self.lock();
            if !st.dirty {
                return Ok(());
            }
            st.dirty = false;
            let own: BTreeMap<String, String> = st
                .own
                .iter()
                .filter_map(|k| st.entries.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            (own, st.entries.clone())
        };
        let mut merged = match read_file(&self.path) {
            Ok(on_disk) => on_disk,
            // Not ours to repair: start from what we know.
            Err(_) => snapshot,
        };
        merged.extend(own);
        let written = write_file(&self.path, &merged);
        crate::metrics::cache_written(written.is_ok());
        let mut st = self.lock();
        match &written {
            Ok(()) => {
                // Learn what other processes wrote, without losing newer own entries.
                for (k, v) in merged {
                    if !st.own.contains(&k) {
                        st.entries.insert(k, v);
                    }
                }
            }
            Err(_) => st.dirty = true,
        }
        written
    }

    /// The writer task: waits for changes, lets them settle for `debounce`, writes; writes a
    /// last time when `shutdown` turns true.
    pub async fn run_writer(self: Arc<Self>, debounce: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            let stopping = tokio::select! {
                _ = self.wake.notified() => false,
                _ = shutdown.wait_for(|s| *s) => true,
            };
            if !stopping {
                tokio::select! {
                    _ = tokio::time::sleep(debounce) => {}
                    _ = shutdown.wait_for(|s| *s) => {}
                }
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot write the registry cache file"),
                Err(e) => tracing::warn!(error = %e, "the cache file writer failed"),
            }
            if stopping || *shutdown.borrow() {
                return;
            }
        }
    }
}

impl std::fmt::Debug for CacheFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheFile").field("path", &self.path).finish()
    }
}

/// FNV-1a 64 of `text`, hex.
fn checksum(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut key_end = line.len();
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => {
                key_end = i;
                break;
            }
            _ => i += 1,
        }
    }
    let key_end = key_end.min(line.len());
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    let mut pending_high: Option<u16> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let unit = (hex.len() == 4)
                    .then(|| u16::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\u escape {hex:?}"))?;
                match (pending_high.take(), unit) {
                    (None, 0xD800..=0xDBFF) => pending_high = Some(unit),
                    (Some(high), 0xDC00..=0xDFFF) => {
                        out.extend(char::decode_utf16([high, unit]).map(|r| r.unwrap_or('\u{FFFD}')));
                    }
                    (high, unit) => {
                        if high.is_some() {
                            out.push('\u{FFFD}');
                        }
                        out.push(char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}'));
                    }
                }
                continue;
            }
            Some(other) => out.push(other),
        }
        if pending_high.take().is_some() {
            out.push('\u{FFFD}');
        }
    }
    if pending_high.is_some() {
        out.push('\u{FFFD}');
    }
    Ok(out)
}

fn escape_into(out: &mut String, s: &str, is_key: bool) {
    for (i, c) in s.chars().enumerate() {
        match c {
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if (' '..='~').contains(&c) => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04X}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn writes_what_java_writes_and_reads_it_back() {
        let entries = map(&[(
            "g/com.foo.Bar:1.0",
            "dubbo://10.0.0.5:20880/com.foo.Bar?a=b&x=é empty://10.0.0.1/com.foo.Bar?category=routers",
        )]);
        let text = format_properties(&entries);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#Dubbo Registry Cache");
        assert!(lines[1].starts_with("#zkdubbo checksum="));
        assert_eq!(
            lines[2],
            "g/com.foo.Bar\\:1.0=dubbo\\://10.0.0.5\\:20880/com.foo.Bar?a\\=b&x\\=\\u00E9 empty\\://10.0.0.1/com.foo.Bar?category\\=routers"
        );
        assert_eq!(parse_properties(&text).unwrap(), entries);
        let odd = map(&[(" key with spaces", " leading space\t#!\\ \u{1F600}")]);
        assert_eq!(parse_properties(&format_properties(&odd)).unwrap(), odd);
    }

    #[test]
    fn reads_java_written_files() {
        let java = "#Dubbo Registry Cache\n#Sat Nov 21 10:00:00 UTC 2026\n\
                    com.foo.Bar=dubbo\\://10.0.0.5\\:20880/com.foo.Bar?side\\=provider\r\n\
                    ! comment\n  other : v1 \\\n     v2\nbare\n";
        let m = parse_properties(java).unwrap();
        assert_eq!(m["com.foo.Bar"], "dubbo://10.0.0.5:20880/com.foo.Bar?side=provider");
        assert_eq!(m["other"], "v1 v2");
        assert_eq!(m["bare"], "");
    }

    #[test]
    fn truncated_or_modified_files_are_refused() {
        let text = format_properties(&map(&[("a", "dubbo://h:1/a"), ("b", "dubbo://h:2/b")]));
        let cut = &text[..text.len() - 5];
        assert!(parse_properties(cut).unwrap_err().contains("checksum"));
        let edited = text.replace("h:2", "h:3").replace("h\\:2", "h\\:3");
        assert!(parse_properties(&edited).is_err());
        assert!(parse_properties("k=\\u12").unwrap_err().contains("line 1"));
        assert_eq!(parse_properties("").unwrap(), BTreeMap::new());
    }

    #[test]
    fn default_path_is_javas() {
        let url: Url = "zookeeper://127.0.0.1:2181?application=demo".parse().unwrap();
        let p = default_path(&url).unwrap();
        assert!(p.ends_with(".dubbo/dubbo-registry-demo-127.0.0.1-2181.cache"), "{p:?}");
        let url: Url = "zookeeper://zk:2181".parse().unwrap();
        assert!(
            default_path(&url)
                .unwrap()
                .ends_with(".dubbo/dubbo-registry-null-zk-2181.cache")
        );
    }

    #[test]
    fn files_are_written_atomically_and_merged_between_writers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("c.cache");
        let a = CacheFile::load(path.clone());
        let b = CacheFile::load(path.clone());
        a.store("x", &["dubbo://h:1/x".parse().unwrap()]);
        a.flush().unwrap();
        b.store("y", &["dubbo://h:2/y".parse().unwrap()]);
        b.flush().unwrap();
        let on_disk = read_file(&path).unwrap();
        assert_eq!(on_disk.keys().collect::<Vec<_>>(), ["x", "y"], "b kept a's entry");
        assert_eq!(b.urls("x").unwrap()[0].to_string(), "dubbo://h:1/x");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);

        // A corrupt file is ignored with a warning, and replaced only by the next write.
        std::fs::write(&path, "#zkdubbo checksum=0000 entries=1\nx=dubbo\\://h\\:1/x\n").unwrap();
        let c = CacheFile::load(path.clone());
        assert!(c.urls("x").is_none());
        assert!(std::fs::read_to_string(&path).unwrap().contains("checksum=0000"));
    }
}
