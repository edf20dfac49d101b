//! Hessian 2.0 serialization exactly as Java writes and reads it (Caucho's `Hessian2Output`
//! and Dubbo's hessian-lite fork): the codec behind Dubbo's `dubbo://` protocol.
//!
//! Two ways in:
//! - a dynamic [`Value`] ([`encode`], [`decode`], [`Encoder`], [`Decoder`]) for generic calls
//!   and tools;
//! - serde ([`to_bytes`], [`from_slice`], [`from_value`]): name a struct after its Java class
//!   and it is written as an instance of that class.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! #[serde(rename = "com.example.User")]
//! struct User {
//!     name: String,
//!     age: i32,
//!     tags: Vec<String>,
//! }
//!
//! let ada = User { name: "Ada".into(), age: 36, tags: vec!["math".into()] };
//! let bytes = zkdubbo_hessian::to_bytes(&ada).unwrap();
//! // C "com.example.User" 3 "name" "age" "tags", then instance 0 (0x60) and the fields.
//! assert_eq!(bytes[0], b'C');
//! assert_eq!(zkdubbo_hessian::from_slice::<User>(&bytes).unwrap(), ada);
//! ```
//!
//! # Why our own
//! No Rust crate reads and writes what Java does: `hessian_rs` (GPL-3.0, unmaintained)
//! counts string lengths in bytes or chars instead of UTF-16 units, and `hessian2` (0.0.x,
//! "not ready for production") truncates characters beyond U+FFFF. This crate follows Caucho's
//! implementation where it departs from the specification's text (a `0x5f` double is an int of
//! thousandths; chunks never split a surrogate pair) and is checked byte for byte against
//! Caucho's jar in its tests.
//!
//! # Speed
//! Encoding runs about three times as fast as Caucho's in a warmed-up JVM, and decoding one
//! object about 1.7 times (BENCHMARKS.md). Decoding allocates each owned string, list and
//! map: a struct of `&str` (or `Cow<str>` with `#[serde(borrow)]`) borrows them from the
//! input instead, and a service that decodes large lists gains most from a fast global
//! allocator (mimalloc, jemalloc), since glibc's returns the memory of each decoded list to
//! the kernel and faults it back in for the next.
//!
//! # Untrusted input
//! Decoding never panics and never allocates from a length it has not checked against the
//! bytes left; nesting and stream size are bounded by [`Limits`]; every error names the byte
//! offset and what was expected there.

#![forbid(unsafe_code)]

mod bigint;
mod de;
mod de_stream;
mod decode;
mod encode;
mod error;
mod java;
mod refs;
mod ser;
mod tag;
mod value;

pub use bigint::BigInteger;
pub use de::{from_args, from_value, from_values};
pub use decode::{Decoder, Limits};
pub use encode::Encoder;
pub use error::Error;
pub use java::{BigDecimal, Date, JavaException};
pub use value::{List, Map, Object, Value};

/// The bytes of one value.
pub fn encode(value: &Value) -> Result<Vec<u8>, Error> {
    let mut enc = Encoder::new();
    enc.write_value(value)?;
    Ok(enc.into_bytes())
}

/// The one value `bytes` hold (trailing bytes are an error), with the default [`Limits`].
pub fn decode(bytes: &[u8]) -> Result<Value, Error> {
    let mut dec = Decoder::new(bytes)?;
    let v = dec.read_value()?;
    dec.finish()?;
    Ok(v)
}

/// Every value of a stream, in order.
pub fn decode_all(bytes: &[u8], limits: Limits) -> Result<Vec<Value>, Error> {
    let mut dec = Decoder::with_limits(bytes, limits)?;
    let mut out = Vec::new();
    while !dec.is_at_end() {
        out.push(dec.read_value()?);
    }
    Ok(out)
}

/// The bytes of a serde value (see [the mapping](Encoder::serialize)).
pub fn to_bytes<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut enc = Encoder::new();
    enc.serialize(value)?;
    Ok(enc.into_bytes())
}

/// A `T` from the one value `bytes` hold (read straight from the bytes; trailing bytes are
/// an error), with the default [`Limits`].
///
/// `T` may borrow from `bytes`: a `&str` (or `Cow<str>` with `#[serde(borrow)]`) field reads a
/// string that arrived in one chunk as valid UTF-8 without copying it.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct User<'a> {
///     name: &'a str,
/// }
/// let bytes = zkdubbo_hessian::to_bytes(&std::collections::BTreeMap::from([("name", "Ada")])).unwrap();
/// let user: User<'_> = zkdubbo_hessian::from_slice(&bytes).unwrap();
/// assert_eq!(user.name, "Ada");
/// ```
pub fn from_slice<'a, T: serde::de::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Error> {
    let mut dec = Decoder::new(bytes)?;
    let v = dec.deserialize()?;
    dec.finish()?;
    Ok(v)
}

impl<'a> Decoder<'a> {
    /// An error unless every byte has been read (a stream that should hold one value).
    fn finish(&self) -> Result<(), Error> {
        if self.is_at_end() {
            return Ok(());
        }
        Err(Error::Message(format!(
            "{} bytes after the value, from byte {}",
            self.remaining_len(),
            self.position()
        )))
    }

    /// Read the next value as a `T`, straight from the bytes (`T` may borrow strings from
    /// them, as with [`from_slice`]).
    pub fn deserialize<T: serde::de::Deserialize<'a>>(&mut self) -> Result<T, Error> {
        T::deserialize(de_stream::StreamDe { dec: self })
    }
}

impl Encoder {
    /// Write a serde value. Rust types map to Java's as follows:
    #[doc = include_str!("ser_table.md")]
    pub fn serialize<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut ser::Serializer::new(self))
    }

    /// Write each element of a tuple (or sequence) as a value of its own, with no list around
    /// them: how a call's arguments follow one another in a Dubbo request.
    ///
    /// ```
    /// let mut enc = zkdubbo_hessian::Encoder::new();
    /// enc.serialize_each(&("ada", 36)).unwrap();
    /// assert_eq!(enc.into_bytes(), b"\x03ada\xb4");
    /// ```
    pub fn serialize_each<T: serde::Serialize + ?Sized>(&mut self, values: &T) -> Result<(), Error> {
        values.serialize(ser::Spread(self))
    }
}
