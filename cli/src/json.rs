//! Hessian values as JSON and back: what `zkdubbo call` sends and prints, and what
//! `zkdubbo hessian decode` prints.

use base64::Engine;
use serde_json::{Map as JsonMap, Value as Json, json};
use zkdubbo::hessian::{List, Map, Value};

/// The largest integer a JSON number holds exactly (2^53).
const EXACT: i64 = 1 << 53;

/// `v` as JSON: numbers as numbers (longs beyond ±2^53 as strings), binary as base64, dates
/// as ISO-8601 (UTC, milliseconds), lists as arrays, maps as objects (non-string keys as
/// their JSON text), objects as maps with a `class` entry first, references as
/// `{"$ref": n}`. With `typed`, every value is `{"type": <Java type>, "value": ...}`.
pub fn to_json(v: &Value, typed: bool) -> Json {
    let (ty, plain): (String, Json) = match v {
        Value::Null => ("null".into(), Json::Null),
        Value::Bool(b) => ("boolean".into(), json!(b)),
        Value::Int(i) => ("int".into(), json!(i)),
        Value::Long(l) if (-EXACT..=EXACT).contains(l) => ("long".into(), json!(l)),
        Value::Long(l) => ("long".into(), json!(l.to_string())),
        Value::Double(d) if d.is_finite() => ("double".into(), json!(d)),
        Value::Double(d) => ("double".into(), json!(d.to_string())),
        Value::Date(ms) => ("java.util.Date".into(), json!(iso8601(*ms))),
        Value::String(s) => ("java.lang.String".into(), json!(s)),
        Value::Binary(b) => (
            "byte[]".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(b)),
        ),
        Value::List(l) => (
            l.r#type.clone().unwrap_or_else(|| "java.util.List".into()),
            Json::Array(l.items.iter().map(|x| to_json(x, typed)).collect()),
        ),
        Value::Map(m) => {
            let mut o = JsonMap::new();
            for (k, x) in &m.entries {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => to_json(other, false).to_string(),
                };
                o.insert(key, to_json(x, typed));
            }
            (
                m.r#type.clone().unwrap_or_else(|| "java.util.Map".into()),
                Json::Object(o),
            )
        }
        Value::Object(obj) => {
            let mut o = JsonMap::new();
            o.insert("class".into(), json!(&*obj.class));
            for (k, x) in &obj.fields {
                o.insert(k.to_string(), to_json(x, typed));
            }
            (obj.class.to_string(), Json::Object(o))
        }
        Value::Ref(n) => ("reference".into(), json!({ "$ref": n })),
    };
    if typed {
        json!({ "type": ty, "value": plain })
    } else {
        plain
    }
}

/// The Java type `zkdubbo call` infers for a JSON argument without `--types`.
pub fn infer_type(j: &Json) -> &'static str {
    match j {
        Json::String(_) => "java.lang.String",
        Json::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "int",
            Some(_) => "long",
            None if n.as_u64().is_some() => "long",
            None => "double",
        },
        Json::Bool(_) => "boolean",
        Json::Array(_) => "java.util.List",
        Json::Object(_) => "java.util.Map",
        Json::Null => "java.lang.Object",
    }
}

/// A JSON argument as the Hessian value a parameter of Java type `ty` takes.
pub fn from_json(j: &Json, ty: &str) -> anyhow::Result<Value> {
    let number = || {
        j.as_f64()
            .ok_or_else(|| anyhow::anyhow!("{j} is not a number (parameter type {ty})"))
    };
    Ok(match ty {
        "int" | "java.lang.Integer" | "short" | "java.lang.Short" | "byte" | "java.lang.Byte" => {
            let i = j
                .as_i64()
                .ok_or_else(|| anyhow::anyhow!("{j} is not an integer (parameter type {ty})"))?;
            Value::Int(i32::try_from(i).map_err(|_| anyhow::anyhow!("{i} does not fit a Java {ty}"))?)
        }
        "long" | "java.lang.Long" => Value::Long(
            j.as_i64()
                .or_else(|| j.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| anyhow::anyhow!("{j} is not a long (parameter type {ty})"))?,
        ),
        "double" | "java.lang.Double" | "float" | "java.lang.Float" => Value::Double(number()?),
        "boolean" | "java.lang.Boolean" => Value::Bool(
            j.as_bool()
                .ok_or_else(|| anyhow::anyhow!("{j} is not true or false (parameter type {ty})"))?,
        ),
        "java.lang.String" | "char" | "java.lang.Character" => match j {
            Json::String(s) => Value::String(s.clone()),
            Json::Null => Value::Null,
            other => Value::String(other.to_string()),
        },
        "java.util.Date" => Value::Date(
            j.as_i64()
                .ok_or_else(|| anyhow::anyhow!("a Date is given as ms since the epoch"))?,
        ),
        _ => plain(j),
    })
}

/// JSON with no type to follow: integers as int (long when they do not fit), objects as maps
/// (a `class` entry makes Java's generic call build that class).
fn plain(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => i32::try_from(i).map_or(Value::Long(i), Value::Int),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::List(List::untyped(a.iter().map(plain).collect())),
        Json::Object(o) => Value::Map(Map::untyped(
            o.iter().map(|(k, v)| (Value::String(k.clone()), plain(v))).collect(),
        )),
    }
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
pub fn iso8601(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn inference_follows_the_help_text() {
        for (j, t) in [
            (json!("x"), "java.lang.String"),
            (json!(5), "int"),
            (json!(5_000_000_000i64), "long"),
            (json!(1.5), "double"),
            (json!(true), "boolean"),
            (json!([1]), "java.util.List"),
            (json!({"a": 1}), "java.util.Map"),
        ] {
            assert_eq!(infer_type(&j), t, "{j}");
        }
    }

    #[test]
    fn longs_beyond_2_pow_53_are_strings() {
        assert_eq!(to_json(&Value::Long(1 << 60), false), json!("1152921504606846976"));
        assert_eq!(to_json(&Value::Long(7), true), json!({"type": "long", "value": 7}));
        assert!(from_json(&json!(1i64 << 40), "int").is_err());
        assert_eq!(
            from_json(&json!("1152921504606846976"), "long").unwrap(),
            Value::Long(1 << 60)
        );
    }
}
