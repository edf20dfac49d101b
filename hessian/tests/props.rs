//! Property tests: every generated value survives a round trip, and no byte string — random
//! or a mutated valid stream — makes the decoder panic.

use proptest::prelude::*;
use zkdubbo_hessian::{Decoder, Limits, List, Map, Object, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::Int),
        any::<i64>().prop_map(Value::Long),
        // -0.0 is written as 0.0 by Java (and us); NaN never equals itself: both become 0.0
        // (mapped, not filtered, so a long run does not run out of accepted cases).
        any::<f64>()
            .prop_map(|d| if d.is_nan() || d == 0.0 { 0.0 } else { d })
            .prop_map(Value::Double),
        any::<i64>().prop_map(Value::Date),
        any::<String>().prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Value::Binary),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 10, |inner| {
        prop_oneof![
            (
                proptest::option::of("[a-z.\\[]{1,12}"),
                proptest::collection::vec(inner.clone(), 0..12)
            )
                .prop_map(|(t, items)| Value::List(List { r#type: t, items })),
            (
                proptest::option::of("[a-z.]{1,12}"),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..6)
            )
                .prop_map(|(t, entries)| Value::Map(Map { r#type: t, entries })),
            (
                "[a-z]{1,5}\\.[A-Z][a-z]{0,6}",
                proptest::collection::vec(("[a-z]{1,6}", inner), 0..5)
            )
                .prop_map(|(class, fields)| {
                    let mut o = Object::new(class);
                    for (n, v) in fields {
                        o = o.field(n, v);
                    }
                    Value::Object(o)
                }),
        ]
    })
}

proptest! {
    // 512 cases in CI; scripts/fuzz.sh sets PROPTEST_CASES for a long run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn round_trip(v in value()) {
        let bytes = zkdubbo_hessian::encode(&v).unwrap();
        prop_assert_eq!(zkdubbo_hessian::decode(&bytes).unwrap(), v);
    }

    #[test]
    fn consecutive_values_share_definitions(a in value(), b in value()) {
        let mut enc = zkdubbo_hessian::Encoder::new();
        enc.write_value(&a).unwrap();
        enc.write_value(&b).unwrap();
        let bytes = enc.into_bytes();
        let all = zkdubbo_hessian::decode_all(&bytes, Limits::default()).unwrap();
        prop_assert_eq!(all, vec![a, b]);
    }

    /// Reading straight from the bytes and reading through a Value agree.
    #[test]
    fn streaming_and_value_deserializers_agree(v in value()) {
        let bytes = zkdubbo_hessian::encode(&v).unwrap();
        let streamed = zkdubbo_hessian::from_slice::<serde_json::Value>(&bytes);
        let via_value = zkdubbo_hessian::from_value::<serde_json::Value>(&v);
        match (streamed, via_value) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "streamed {:?}, via a Value {:?}", a, b),
        }
    }

    /// Runs of strings between numbers, mostly ASCII (read from a stretch of the input
    /// validated once), some not, short and long (past the compact forms and the stretch's
    /// look-ahead), read back owned and borrowed.
    #[test]
    fn runs_of_strings_between_numbers_read_back(
        items in proptest::collection::vec(
            (
                prop_oneof![3 => "[ -~]{0,40}", 1 => any::<String>(), 1 => "[a-z]{500,1200}"],
                any::<i64>(),
                any::<bool>(),
            ),
            0..40,
        )
    ) {
        let bytes = zkdubbo_hessian::to_bytes(&items).unwrap();
        let owned: Vec<(String, i64, bool)> = zkdubbo_hessian::from_slice(&bytes).unwrap();
        prop_assert_eq!(&owned, &items);
        let bmp_only = items.iter().all(|(s, _, _)| s.chars().all(|c| (c as u32) < 0x10000));
        let borrowed = zkdubbo_hessian::from_slice::<Vec<(&str, i64, bool)>>(&bytes);
        prop_assert_eq!(borrowed.is_ok(), bmp_only);
        if let Ok(borrowed) = borrowed {
            let strings: Vec<&str> = borrowed.iter().map(|(s, _, _)| *s).collect();
            let expected: Vec<&str> = items.iter().map(|(s, _, _)| s.as_str()).collect();
            prop_assert_eq!(strings, expected);
        }
    }

    #[test]
    fn strings_borrow_when_their_bytes_are_utf8(s in any::<String>()) {
        #[derive(serde::Deserialize)]
        struct Holder<'a> {
            #[serde(borrow)]
            s: std::borrow::Cow<'a, str>,
        }
        let bytes = zkdubbo_hessian::to_bytes(&std::collections::BTreeMap::from([("s", &s)])).unwrap();
        let owned: std::collections::BTreeMap<String, String> = zkdubbo_hessian::from_slice(&bytes).unwrap();
        prop_assert_eq!(&owned["s"], &s);
        let held: Holder<'_> = zkdubbo_hessian::from_slice(&bytes).unwrap();
        prop_assert_eq!(&*held.s, &*s);
        // Java writes a character outside the BMP as two 3-byte surrogates, which are not
        // UTF-8: only those strings are copied.
        let bmp_only = s.chars().all(|c| (c as u32) < 0x10000);
        prop_assert_eq!(matches!(held.s, std::borrow::Cow::Borrowed(_)), bmp_only);
        let borrowed = zkdubbo_hessian::from_slice::<std::collections::BTreeMap<&str, &str>>(&bytes);
        prop_assert_eq!(borrowed.is_ok(), bmp_only);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = zkdubbo_hessian::decode_all(&bytes, Limits::default());
        let _ = zkdubbo_hessian::from_slice::<serde_json_like::Any>(&bytes);
    }

    #[test]
    fn mutated_streams_never_panic(v in value(), edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6)) {
        let mut bytes = zkdubbo_hessian::encode(&v).unwrap();
        for (at, b, op) in edits {
            if bytes.is_empty() { break; }
            let i = at % bytes.len();
            match op {
                0 => bytes[i] = b,
                1 => bytes.truncate(i),
                _ => bytes.insert(i, b),
            }
        }
        let _ = zkdubbo_hessian::from_slice::<serde_json_like::Any>(&bytes);
        if let Ok(values) = zkdubbo_hessian::decode_all(&bytes, Limits::default()) {
            for i in 0..values.len() {
                let _ = zkdubbo_hessian::from_values::<serde_json_like::Any>(&values, i);
            }
        }
    }
}

/// Any serde value, to drive the deserializer over whatever decoded.
mod serde_json_like {
    use serde::Deserialize;
    use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    #[derive(Debug)]
    pub(crate) struct Any;

    impl<'de> Deserialize<'de> for Any {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(AnyVisitor)
        }
    }

    struct AnyVisitor;
    impl<'de> Visitor<'de> for AnyVisitor {
        type Value = Any;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("anything")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Any, E> {
            Ok(Any)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Any, E> {
            Ok(Any)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Any, E> {
            Ok(Any)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Any, E> {
            Ok(Any)
        }
        fn visit_str<E>(self, _: &str) -> Result<Any, E> {
            Ok(Any)
        }
        fn visit_bytes<E>(self, _: &[u8]) -> Result<Any, E> {
            Ok(Any)
        }
        fn visit_unit<E>(self) -> Result<Any, E> {
            Ok(Any)
        }
        fn visit_none<E>(self) -> Result<Any, E> {
            Ok(Any)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Any, D::Error> {
            Any::deserialize(d)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Any, A::Error> {
            while a.next_element::<Any>()?.is_some() {}
            Ok(Any)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Any, A::Error> {
            while a.next_entry::<Any, IgnoredAny>()?.is_some() {}
            Ok(Any)
        }
    }
}

#[test]
fn depth_limit_is_an_error_not_a_stack_overflow() {
    // Just under the limit decodes and deserializes on a 2 MiB stack (a Tokio worker's).
    let ok = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let mut bytes = vec![0x79u8; 255];
            bytes.push(0x90);
            let v = zkdubbo_hessian::decode(&bytes).unwrap();
            zkdubbo_hessian::from_value::<serde_json_like::Any>(&v).is_ok()
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(ok);
    // 100,000 nested one-element lists: far past the default limit of 256.
    let mut bytes = vec![0x79u8; 100_000];
    bytes.push(0x90);
    let err = zkdubbo_hessian::decode(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            zkdubbo_hessian::Error::TooDeep {
                limit: 256,
                offset: 256
            }
        ),
        "{err}"
    );
}

#[test]
fn lengths_past_the_end_are_refused_before_allocating() {
    // A list claiming 2^31-1 elements in a 7-byte stream.
    let err = zkdubbo_hessian::decode(&[0x58, b'I', 0x7f, 0xff, 0xff, 0xff, 0x90]).unwrap_err();
    assert!(
        matches!(
            err,
            zkdubbo_hessian::Error::BadLength {
                what: "list length",
                ..
            }
        ),
        "{err}"
    );
    // A string chunk of 65,535 units with 3 bytes left.
    let err = zkdubbo_hessian::decode(&[b'S', 0xff, 0xff, b'a', b'b', b'c']).unwrap_err();
    assert!(matches!(err, zkdubbo_hessian::Error::BadLength { .. }), "{err}");
    // A class definition with a billion fields.
    let err = zkdubbo_hessian::decode(&[b'C', 0x01, b'x', b'I', 0x40, 0, 0, 0]).unwrap_err();
    assert!(matches!(err, zkdubbo_hessian::Error::BadLength { .. }), "{err}");
}

#[test]
fn errors_name_the_offset_and_what_was_expected() {
    let err = zkdubbo_hessian::decode(&[0x79, 0x51, 0x91]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "hessian: reference #1 at byte 1, but only 1 lists, maps and objects came before"
    );
    let err = zkdubbo_hessian::decode(&[0x61]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "hessian: class definition #1 at byte 0, but only 0 were defined"
    );
    let err = zkdubbo_hessian::decode(&[0x78 + 2, 0x90]).unwrap_err();
    assert_eq!(err.to_string(), "hessian: stream ends at byte 2, expected a value");
    let err = zkdubbo_hessian::decode(&[0x40]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "hessian: unexpected byte 0x40 at byte 0, expected a value"
    );
    let big = vec![0u8; 9 * 1024 * 1024];
    assert!(matches!(
        zkdubbo_hessian::decode(&big),
        Err(zkdubbo_hessian::Error::TooLarge { .. })
    ));
    let deep = Decoder::with_limits(
        &[0x79, 0x79, 0x90],
        Limits {
            max_depth: 1,
            max_bytes: 10,
        },
    )
    .unwrap()
    .read_value()
    .unwrap_err();
    assert!(matches!(deep, zkdubbo_hessian::Error::TooDeep { limit: 1, .. }));
}

#[test]
fn reference_bombs_are_bounded() {
    // L0 = [1]; Ln = [ref(n-1), ref(n-1)]: 2^40 elements once expanded.
    let mut enc = zkdubbo_hessian::Encoder::new();
    enc.write_list_begin(Some(41), None).unwrap();
    enc.write_list_begin(Some(1), None).unwrap();
    enc.write_int(1);
    for n in 1..=40u32 {
        enc.write_list_begin(Some(2), None).unwrap();
        enc.write_ref(n);
        enc.write_ref(n);
    }
    let bytes = enc.into_bytes();
    let err = zkdubbo_hessian::from_slice::<Vec<serde_json_like::Any>>(&bytes).unwrap_err();
    assert!(err.to_string().contains("references expand past the limit"), "{err}");
}

#[test]
fn chunked_strings_are_read_whole_but_not_borrowed() {
    let long = "ab€".repeat(30_000); // 90,000 UTF-16 units: three chunks
    let bytes = zkdubbo_hessian::to_bytes(&long).unwrap();
    assert_eq!(zkdubbo_hessian::from_slice::<String>(&bytes).unwrap(), long);
    let err = zkdubbo_hessian::from_slice::<&str>(&bytes).unwrap_err();
    assert!(err.to_string().contains("borrowed string"), "{err}");
}

#[test]
fn references_read_the_same_streamed_or_through_a_value() {
    let shared = Object::new("com.example.P")
        .field("name", "x")
        .field("tags", List::untyped(vec![1.into()]));
    // [P, ref P, [ref P.tags], self]
    let v = Value::List(List::untyped(vec![
        shared.into(),
        Value::Ref(1),
        Value::List(List::untyped(vec![Value::Ref(2)])),
        Value::Ref(0),
    ]));
    let bytes = zkdubbo_hessian::encode(&v).unwrap();
    let streamed: serde_json::Value = zkdubbo_hessian::from_slice(&bytes).unwrap();
    let via_value: serde_json::Value = zkdubbo_hessian::from_value(&v).unwrap();
    assert_eq!(streamed, via_value);
    assert_eq!(
        streamed,
        serde_json::json!([
            {"name": "x", "tags": [1]},
            {"name": "x", "tags": [1]},
            [[1]],
            null
        ])
    );
}
