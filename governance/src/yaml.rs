//! Reading rule fields out of parsed YAML, with errors that name the field.
//!
//! Java Dubbo reads rules with SnakeYAML into maps and casts: a field of the wrong type
//! either throws or is silently ignored (an `addresses` that is not a list then means "every
//! address"). Here every field of the wrong type is an error, so a typo never widens a rule.

use serde_yaml_ng::{Mapping, Value};

use crate::error::RuleParseError;

/// Parse `text` as one YAML document whose top level is a mapping.
pub(crate) fn load(text: &str) -> Result<Mapping, RuleParseError> {
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| RuleParseError::Yaml { message: e.to_string() })?;
    match value {
        Value::Mapping(m) => Ok(m),
        Value::Null => Err(RuleParseError::Empty),
        other => Err(RuleParseError::WrongType {
            field: "(top level)".into(),
            expected: "a mapping",
            found: kind(&other),
        }),
    }
}

/// What a value is, for messages.
pub(crate) fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// A scalar as Java's `toString` writes it (`200`, `true`, `1.5`); `None` for null, lists
/// and mappings.
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

/// The fields of one YAML mapping, found at `at` (`""` for the top level, `configs[0]`...).
pub(crate) struct Fields<'a> {
    map: &'a Mapping,
    at: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(map: &'a Mapping, at: impl Into<String>) -> Self {
        Fields { map, at: at.into() }
    }

    /// The path of field `key`, for messages.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.at)
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, expected: &'static str, v: &Value) -> RuleParseError {
        RuleParseError::WrongType {
            field: self.path(key),
            expected,
            found: kind(v),
        }
    }

    /// A string field (Java casts it to `String`: a number there is an error).
    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, RuleParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    /// A boolean field, read as Java's `Boolean.parseBoolean(value.toString())` does (only
    /// `true`, in any case, is true), but a list or mapping is an error.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, RuleParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match scalar(v) {
                Some(s) => Ok(Some(s.eq_ignore_ascii_case("true"))),
                None => Err(self.wrong(key, "true or false", v)),
            },
        }
    }

    /// An integer field (`priority`).
    pub(crate) fn integer(&self, key: &str) -> Result<Option<i64>, RuleParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match scalar(v).and_then(|s| s.trim().parse::<i32>().ok()) {
                Some(n) => Ok(Some(i64::from(n))),
                None => Err(self.wrong(key, "an integer", v)),
            },
        }
    }

    /// A list of scalars, each as its string (Java's `String.valueOf`).
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, RuleParseError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    scalar(v).ok_or_else(|| RuleParseError::WrongType {
                        field: format!("{}[{i}]", self.path(key)),
                        expected: "a string",
                        found: kind(v),
                    })
                })
                .collect(),
            Some(v) => Err(self.wrong(key, "a list", v)),
        }
    }

    /// A mapping of scalars, each value as its string (`parameters`), in the rule's order.
    pub(crate) fn string_map(&self, key: &str) -> Result<Vec<(String, String)>, RuleParseError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| {
                    let name = scalar(k).ok_or_else(|| self.wrong(key, "a mapping with plain keys", k))?;
                    let value = scalar(v).ok_or_else(|| RuleParseError::WrongType {
                        field: format!("{}.{name}", self.path(key)),
                        expected: "a plain value",
                        found: kind(v),
                    })?;
                    Ok((name, value))
                })
                .collect(),
            Some(v) => Err(self.wrong(key, "a mapping", v)),
        }
    }

    /// A list of mappings (`configs`, `tags`).
    pub(crate) fn mappings(&self, key: &str) -> Result<Option<Vec<&'a Mapping>>, RuleParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Mapping(m) => Ok(m),
                    other => Err(RuleParseError::WrongType {
                        field: format!("{}[{i}]", self.path(key)),
                        expected: "a mapping",
                        found: kind(other),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.wrong(key, "a list", v)),
        }
    }

    /// A mapping field.
    pub(crate) fn mapping(&self, key: &str) -> Result<Option<&'a Mapping>, RuleParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Mapping(m)) => Ok(Some(m)),
            Some(v) => Err(self.wrong(key, "a mapping", v)),
        }
    }
}

/// The `configVersion` of a rule as (major, minor), `None` when absent or not `vX.Y`.
pub(crate) fn version_number(version: Option<&str>) -> Option<(u32, u32)> {
    let v = version?.trim().strip_prefix(['v', 'V'])?;
    let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
    let minor = minor.split('.').next().unwrap_or("0");
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Refuse a `configVersion` newer than `max` (`supported` names it in the message).
pub(crate) fn check_version(
    version: Option<&str>,
    max: (u32, u32),
    supported: &'static str,
) -> Result<(), RuleParseError> {
    match (version, version_number(version)) {
        (Some(v), Some(n)) if n > max => Err(RuleParseError::UnsupportedVersion {
            version: v.to_owned(),
            supported,
        }),
        (Some(v), None) if !v.trim().is_empty() => Err(RuleParseError::UnsupportedVersion {
            version: v.to_owned(),
            supported,
        }),
        _ => Ok(()),
    }
}
