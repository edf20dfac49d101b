//! Request and response bodies: consecutive Hessian2 values, no envelope.

use std::collections::BTreeMap;

use bytes::Bytes;
use zkdubbo_hessian::{Decoder, Encoder, Limits, Map, Value};

/// The protocol version Java 2.7+ consumers send (and that unlocks response attachments).
pub const DUBBO_VERSION: &str = "2.0.2";

/// Response flags: what follows the flag, and whether attachments follow it.
pub(crate) mod flag {
    pub(crate) const EXCEPTION: i32 = 0;
    pub(crate) const VALUE: i32 = 1;
    pub(crate) const NULL: i32 = 2;
    pub(crate) const WITH_ATTACHMENTS: i32 = 3;
}

/// A decoded request (what a provider receives).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The protocol version the consumer speaks (`2.0.2`).
    pub dubbo_version: String,
    /// The service path (the interface, unless the provider registered another path).
    pub path: String,
    /// The service version.
    pub version: Option<String>,
    /// The method.
    pub method: String,
    /// The parameter types, as Java names (`java.lang.String`, `int`).
    pub types: Vec<String>,
    /// The arguments (references in one may point into an earlier one).
    pub args: Vec<Value>,
    /// The attachments (`path`, `interface`, `version`, `group`, `timeout`, user keys).
    pub attachments: BTreeMap<String, String>,
}

/// Encode a request body: the header strings, then `args` (a Hessian stream holding the
/// parameter descriptor followed by each argument), then the attachments.
pub(crate) fn encode_request<'a>(
    path: &str,
    version: Option<&str>,
    method: &str,
    args: &[u8],
    attachments: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<u8> {
    let mut enc = Encoder::with_buffer(Vec::with_capacity(256 + path.len() + args.len()));
    enc.write_str(DUBBO_VERSION);
    enc.write_str(path);
    match version {
        Some(v) => enc.write_str(v),
        None => enc.write_null(),
    }
    enc.write_str(method);
    let mut buf = enc.into_bytes();
    buf.extend_from_slice(args);
    // A fresh encoder is exact: the attachments map refers to no earlier type or class.
    let mut enc = Encoder::with_buffer(buf);
    write_attachments(&mut enc, attachments);
    enc.into_bytes()
}

/// The attachments map; a key given twice is written twice, and a reader keeps the last, as
/// Java's `HashMap` does.
fn write_attachments<'a>(enc: &mut Encoder, attachments: impl IntoIterator<Item = (&'a str, &'a str)>) {
    // An untyped map of strings cannot fail to encode.
    let _ = enc.write_map_begin(None);
    for (k, v) in attachments {
        enc.write_str(k);
        enc.write_str(v);
    }
    enc.write_end();
}

/// Decode a request body.
pub fn decode_request(body: &[u8], limits: Limits) -> Result<Request, String> {
    let mut dec = Decoder::with_limits(body, limits).map_err(|e| e.to_string())?;
    let string = |dec: &mut Decoder<'_>, what: &str| -> Result<Option<String>, String> {
        dec.read_string().map_err(|e| format!("{what}: {e}"))
    };
    let dubbo_version = string(&mut dec, "dubbo version")?.unwrap_or_default();
    let path = string(&mut dec, "service path")?.ok_or("service path is null")?;
    let version = string(&mut dec, "service version")?;
    let method = string(&mut dec, "method")?.ok_or("method is null")?;
    let desc = string(&mut dec, "parameter types")?.unwrap_or_default();
    let types = crate::descriptor::parse_descriptor(&desc).ok_or_else(|| format!("bad parameter types {desc:?}"))?;
    let mut args = Vec::with_capacity(types.len().min(body.len()));
    for i in 0..types.len() {
        args.push(dec.read_value().map_err(|e| format!("argument {i}: {e}"))?);
    }
    let attachments = if dec.is_at_end() {
        BTreeMap::new()
    } else {
        match dec.read_value().map_err(|e| format!("attachments: {e}"))? {
            Value::Map(m) => string_map(&m),
            Value::Null => BTreeMap::new(),
            other => return Err(format!("attachments are a {}, not a map", other.kind())),
        }
    };
    Ok(Request {
        dubbo_version,
        path,
        version,
        method,
        types,
        args,
        attachments,
    })
}

/// String entries of a map; other values as their text (Dubbo 3 may send objects).
fn string_map(m: &Map) -> BTreeMap<String, String> {
    m.entries
        .iter()
        .filter_map(|(k, v)| {
            let k = k.as_str()?.to_owned();
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                Value::Long(l) => l.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Double(d) => d.to_string(),
                _ => return None,
            };
            Some((k, v))
        })
        .collect()
}

/// What a provider answers (status OK).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The method returned this value (the Hessian bytes of one value; `N` for null).
    Value(Bytes),
    /// The method threw this exception (an object, Java's Throwable).
    Exception(Value),
}

/// Whether a consumer speaking `version` understands response attachments (flags 3–5): Dubbo
/// sends them when the version reads as an int in [2000200, 2009900] (2.0.2 to 2.0.99).
pub(crate) fn supports_attachments(version: &str) -> bool {
    let mut v: i64 = 0;
    let parts: Vec<&str> = version.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return false;
    }
    for i in 0..4 {
        let n = match parts.get(i) {
            Some(p) => match p.parse::<i64>() {
                Ok(n) if (0..100).contains(&n) => n,
                _ => return false,
            },
            None => 0,
        };
        v = v * 100 + n;
    }
    (2_000_200..=2_009_900).contains(&v)
}

/// Encode an OK response body: the flag, the value (the bytes of one self-contained value:
/// the flag before it is an int, which no reference counts, so appending it is exact) or the
/// exception, and the attachments when the consumer understands them.
pub(crate) fn encode_response(
    outcome: Result<Option<&[u8]>, &Value>,
    attachments: Option<&BTreeMap<String, String>>,
) -> Result<Vec<u8>, zkdubbo_hessian::Error> {
    let mut enc = Encoder::new();
    let extra = if attachments.is_some() {
        flag::WITH_ATTACHMENTS
    } else {
        0
    };
    match outcome {
        Ok(Some(value)) => {
            enc.write_int(flag::VALUE + extra);
            let mut buf = enc.into_bytes();
            buf.extend_from_slice(value);
            enc = Encoder::with_buffer(buf);
        }
        Ok(None) => enc.write_int(flag::NULL + extra),
        Err(exception) => {
            enc.write_int(flag::EXCEPTION + extra);
            enc.write_value(exception)?;
        }
    }
    if let Some(a) = attachments {
        write_attachments(&mut enc, a.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    Ok(enc.into_bytes())
}

/// Decode an OK response body.
pub fn decode_response(body: &Bytes, limits: Limits) -> Result<(Outcome, BTreeMap<String, String>), String> {
    let mut dec = Decoder::with_limits(body, limits).map_err(|e| e.to_string())?;
    let f = dec.read_int().map_err(|e| format!("response flag: {e}"))?;
    let (kind, with_attachments) = match f {
        0..=2 => (f, false),
        3..=5 => (f - flag::WITH_ATTACHMENTS, true),
        _ => return Err(format!("unknown response flag {f}")),
    };
    let outcome = match kind {
        flag::EXCEPTION => Outcome::Exception(dec.read_value().map_err(|e| format!("exception: {e}"))?),
        flag::VALUE => {
            let start = dec.position();
            dec.read_value().map_err(|e| format!("result: {e}"))?;
            Outcome::Value(body.slice(start..dec.position()))
        }
        _ => Outcome::Value(Bytes::from_static(b"N")),
    };
    let attachments = if with_attachments && !dec.is_at_end() {
        match dec.read_value().map_err(|e| format!("attachments: {e}"))? {
            Value::Map(m) => string_map(&m),
            _ => BTreeMap::new(),
        }
    } else {
        BTreeMap::new()
    };
    Ok((outcome, attachments))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_that_get_attachments() {
        assert!(supports_attachments("2.0.2"));
        assert!(supports_attachments("2.0.99"));
        assert!(!supports_attachments("2.0.1"));
        assert!(!supports_attachments("2.4.10"));
        assert!(!supports_attachments("3.2.0"));
        assert!(!supports_attachments(""));
        assert!(!supports_attachments("2.0.x"));
    }

    #[test]
    fn request_round_trip() {
        let mut args = Encoder::new();
        args.write_str("Ljava/lang/String;I");
        args.write_str("ada");
        args.write_int(3);
        let att = BTreeMap::from([("group".to_owned(), "g".to_owned())]);
        let body = encode_request(
            "com.foo.Bar",
            Some("1.0"),
            "hello",
            args.as_bytes(),
            att.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let r = decode_request(&body, Limits::default()).unwrap();
        assert_eq!(r.path, "com.foo.Bar");
        assert_eq!(r.version.as_deref(), Some("1.0"));
        assert_eq!(r.types, ["java.lang.String", "int"]);
        assert_eq!(r.args, [Value::from("ada"), Value::Int(3)]);
        assert_eq!(r.attachments, att);
    }
}
