//! Percent-encoding byte-identical to Java's `URLEncoder.encode(s, "UTF-8")` and
//! `URLDecoder.decode(s, "UTF-8")`, which is how Dubbo turns a URL into a ZooKeeper node name.
//!
//! `application/x-www-form-urlencoded` serialisation is exactly Java's rule (letters, digits and
//! `.-_*` unchanged, space → `+`, everything else `%XX` in upper-case hex), so encoding is done
//! by the `form_urlencoded` crate. Decoding is strict, unlike `form_urlencoded::parse`: a
//! truncated or non-hex escape and bytes that are not UTF-8 are errors, not replacement
//! characters, so garbage node names are reported instead of silently mangled.

use std::borrow::Cow;

use crate::error::UrlError;

/// Encode `s` as Java's `URLEncoder.encode(s, "UTF-8")` does.
///
/// ```
/// use zkdubbo_common::encoding::encode;
/// assert_eq!(encode("dubbo://10.0.0.5:20880/a?x=1 2&y=~"), "dubbo%3A%2F%2F10.0.0.5%3A20880%2Fa%3Fx%3D1+2%26y%3D%7E");
/// ```
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Decode `s` as Java's `URLDecoder.decode(s, "UTF-8")` does (`+` is a space), but strictly:
/// truncated or invalid `%` escapes and invalid UTF-8 are errors.
///
/// Borrows when there is nothing to decode.
///
/// ```
/// use zkdubbo_common::encoding::decode;
/// assert_eq!(decode("a%3Db+c").unwrap(), "a=b c");
/// assert!(decode("abc%4").is_err());
/// ```
pub fn decode(s: &str) -> Result<Cow<'_, str>, UrlError> {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                if i + 2 >= bytes.len() {
                    return Err(UrlError::TruncatedEscape {
                        input: s.to_owned(),
                        position: i,
                    });
                }
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => {
                        return Err(UrlError::InvalidEscape {
                            input: s.to_owned(),
                            position: i,
                        });
                    }
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|e| UrlError::InvalidUtf8 {
            input: s.to_owned(),
            position: e.utf8_error().valid_up_to(),
        })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn java_urlencoder_table() {
        // Each pair is what java.net.URLEncoder.encode(in, "UTF-8") returns.
        let cases = [
            ("", ""),
            ("abcXYZ019", "abcXYZ019"),
            (".-_*", ".-_*"),
            (" ", "+"),
            ("~", "%7E"),
            ("+", "%2B"),
            ("%", "%25"),
            (":/?=&,", "%3A%2F%3F%3D%26%2C"),
            ("é", "%C3%A9"),
            ("中", "%E4%B8%AD"),
            ("😀", "%F0%9F%98%80"),
            ("!'()", "%21%27%28%29"),
        ];
        for (input, want) in cases {
            assert_eq!(encode(input), want, "encode({input:?})");
            assert_eq!(decode(want).unwrap(), input, "decode({want:?})");
        }
    }

    #[test]
    fn decode_accepts_lower_case_hex_and_plus() {
        assert_eq!(decode("%3a%2f+x").unwrap(), ":/ x");
    }

    #[test]
    fn decode_borrows_when_nothing_to_do() {
        assert!(matches!(decode("plain").unwrap(), Cow::Borrowed("plain")));
    }

    #[test]
    fn malformed_escapes_are_errors_with_position() {
        assert_eq!(
            decode("ab%").unwrap_err(),
            UrlError::TruncatedEscape {
                input: "ab%".into(),
                position: 2
            }
        );
        assert_eq!(
            decode("ab%4").unwrap_err(),
            UrlError::TruncatedEscape {
                input: "ab%4".into(),
                position: 2
            }
        );
        assert_eq!(
            decode("%zz").unwrap_err(),
            UrlError::InvalidEscape {
                input: "%zz".into(),
                position: 0
            }
        );
        assert_eq!(
            decode("a%C3%28").unwrap_err(),
            UrlError::InvalidUtf8 {
                input: "a%C3%28".into(),
                position: 1
            }
        );
        assert!(matches!(decode("%FF"), Err(UrlError::InvalidUtf8 { .. })));
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(s in any::<String>()) {
            let encoded = encode(&s);
            prop_assert_eq!(decode(&encoded).unwrap(), s.as_str());
        }

        #[test]
        fn encoded_text_uses_only_java_safe_characters(s in any::<String>()) {
            let e = encode(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_*+%".contains(&b)));
            // Upper-case hex only, as Java writes it.
            prop_assert!(!e.split('%').skip(1).any(|part| part.bytes().take(2).any(|b| b.is_ascii_lowercase())));
        }

        #[test]
        fn decode_never_panics(s in any::<String>()) {
            let _ = decode(&s);
        }
    }
}
