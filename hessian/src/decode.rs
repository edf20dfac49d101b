//! [`Decoder`]: reads a Hessian 2.0 stream into [`Value`]s, bounded on untrusted input.
//!
//! Every length read from the stream is checked against the bytes that remain before
//! anything is allocated (each element takes at least one byte), nesting is limited, and every
//! failure is an [`Error`] naming the byte offset: the decoder never panics on input.

use std::borrow::Cow;
use std::sync::Arc;

use crate::error::Error;
use crate::tag;
use crate::value::{List, Map, Object, Value};

/// Bounds the decoder enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Lists, maps and objects nested deeper than this are refused (default 256: real
    /// payloads nest a few levels, and 256 levels of decoding and deserializing fit the
    /// 2 MiB stack of a Tokio worker or test thread even in a debug build).
    pub max_depth: usize,
    /// Streams longer than this are refused before decoding (default 8 MiB, Dubbo's
    /// default `payload`).
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The field names of a class definition, shared by its instances.
pub(crate) type FieldNames = Arc<[Arc<str>]>;

/// A class definition read from the stream.
#[derive(Debug, Clone)]
struct ClassDef {
    name: Arc<str>,
    fields: FieldNames,
}

/// Reads consecutive values of one stream (class definitions, type names and reference
/// numbers carry over from one value to the next, as in a Dubbo request body).
///
/// ```
/// use zkdubbo_hessian::{Decoder, Value};
/// let mut dec = Decoder::new(b"\x052.0.2\xbf").unwrap();
/// assert_eq!(dec.read_value().unwrap(), Value::from("2.0.2"));
/// assert_eq!(dec.read_value().unwrap(), Value::Int(47));
/// assert!(dec.is_at_end());
/// ```
#[derive(Debug)]
pub struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    limits: Limits,
    depth: usize,
    classes: Vec<ClassDef>,
    types: Vec<String>,
    refs: usize,
    /// Where each list, map and object (by reference number) starts and ends (0: not yet),
    /// so serde can read a referenced value again.
    pub(crate) spans: Vec<(usize, usize)>,
    /// Above 0 while a referenced value is read again: nothing read is numbered or defined
    /// anew.
    pub(crate) replay: u32,
    /// Bytes that may still be read again through references.
    pub(crate) replay_budget: usize,
    /// A stretch of the input known to be ASCII, validated as a `&str` once, starting at byte
    /// `ascii_at`: strings inside it are sliced from it rather than validated one by one (the
    /// strings of a payload are mostly short and ASCII, and run together between its numbers;
    /// checking each costs more than finding it).
    ascii: &'a str,
    ascii_at: usize,
}

/// How far past a string's start an ASCII stretch is looked for (bounded, so that one short
/// string does not pay for a long text after it; the decoder moves forward, so the rest is
/// read with the strings that follow).
const ASCII_LOOKAHEAD: usize = 512;

impl<'a> Decoder<'a> {
    /// A decoder of `input` with the default [`Limits`].
    pub fn new(input: &'a [u8]) -> Result<Self, Error> {
        Self::with_limits(input, Limits::default())
    }

    /// A decoder of `input` with `limits`.
    pub fn with_limits(input: &'a [u8], limits: Limits) -> Result<Self, Error> {
        if input.len() > limits.max_bytes {
            return Err(Error::TooLarge {
                len: input.len(),
                limit: limits.max_bytes,
            });
        }
        Ok(Decoder {
            input,
            pos: 0,
            limits,
            depth: 0,
            classes: Vec::new(),
            types: Vec::new(),
            refs: 0,
            // About one list, map or object per 32 bytes in typical payloads: grown once or
            // twice instead of a dozen times.
            spans: Vec::with_capacity((input.len() / 32).min(1 << 16)),
            replay: 0,
            replay_budget: input.len().saturating_mul(4).saturating_add(65_536),
            ascii: "",
            ascii_at: 0,
        })
    }

    /// Move to byte `pos` (serde reading a referenced value again).
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.input.len());
    }

    /// How many lists, maps and objects have begun so far.
    pub(crate) fn ref_count(&self) -> usize {
        self.refs
    }

    /// Whether every byte has been read.
    pub fn is_at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// How many bytes are left to read.
    pub(crate) fn remaining_len(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// The offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next value.
    pub fn read_value(&mut self) -> Result<Value, Error> {
        let t = self.byte("a value")?;
        self.value_from(t)
    }

    /// The next value, which must be a string (or null).
    pub fn read_string(&mut self) -> Result<Option<String>, Error> {
        let at = self.pos;
        match self.byte("a string")? {
            tag::NULL => Ok(None),
            t if is_string_tag(t) => self.string_from(t).map(Some),
            t => Err(unexpected(at, t, "a string")),
        }
    }

    /// The next value, which must be an int (any of its forms).
    pub fn read_int(&mut self) -> Result<i32, Error> {
        let at = self.pos;
        let t = self.byte("an int")?;
        self.int_from(t).ok_or_else(|| unexpected(at, t, "an int"))?
    }

    #[inline]
    pub(crate) fn byte(&mut self, expected: &'static str) -> Result<u8, Error> {
        let b = *self.input.get(self.pos).ok_or(Error::Eof {
            offset: self.pos,
            expected,
        })?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn peek(&self, expected: &'static str) -> Result<u8, Error> {
        self.input.get(self.pos).copied().ok_or(Error::Eof {
            offset: self.pos,
            expected,
        })
    }

    #[inline]
    fn take(&mut self, n: usize, expected: &'static str) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.input.len())
            .ok_or(Error::Eof {
                offset: self.input.len(),
                expected,
            })?;
        let s = &self.input[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    #[inline]
    fn array<const N: usize>(&mut self, expected: &'static str) -> Result<[u8; N], Error> {
        let s = self.take(N, expected)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// An int in any of its forms (a long that fits too, as Java's `readInt` accepts), or
    /// `None` when `t` does not start a number.
    pub(crate) fn int_from(&mut self, t: u8) -> Option<Result<i32, Error>> {
        let v = match t {
            0x80..=0xbf => Ok(i32::from(t) - tag::INT_ZERO),
            0xc0..=0xcf => self
                .byte("an int byte")
                .map(|b| ((i32::from(t) - tag::INT_BYTE_ZERO) << 8) + i32::from(b)),
            0xd0..=0xd7 => self
                .array::<2>("an int short")
                .map(|b| ((i32::from(t) - tag::INT_SHORT_ZERO) << 16) + (i32::from(b[0]) << 8) + i32::from(b[1])),
            tag::INT | tag::LONG_INT => self.array::<4>("an int").map(i32::from_be_bytes),
            0xd8..=0xef | 0xf0..=0xff | 0x38..=0x3f | tag::LONG => {
                let at = self.pos - 1;
                return Some(self.long_from(t).and_then(|l| {
                    i32::try_from(l).map_err(|_| Error::BadLength {
                        offset: at,
                        what: "int",
                        value: l,
                    })
                }));
            }
            _ => return None,
        };
        Some(v)
    }

    pub(crate) fn long_from(&mut self, t: u8) -> Result<i64, Error> {
        Ok(match t {
            0xd8..=0xef => i64::from(t) - tag::LONG_ZERO,
            0xf0..=0xff => ((i64::from(t) - tag::LONG_BYTE_ZERO) << 8) + i64::from(self.byte("a long byte")?),
            0x38..=0x3f => {
                let b = self.array::<2>("a long short")?;
                ((i64::from(t) - tag::LONG_SHORT_ZERO) << 16) + (i64::from(b[0]) << 8) + i64::from(b[1])
            }
            tag::LONG_INT => i64::from(i32::from_be_bytes(self.array::<4>("a long")?)),
            _ => i64::from_be_bytes(self.array::<8>("a long")?),
        })
    }

    /// A double after its tag `t` (one of `DOUBLE_ZERO..=DOUBLE_MILL` or `DOUBLE`).
    pub(crate) fn double_from(&mut self, t: u8) -> Result<f64, Error> {
        Ok(match t {
            tag::DOUBLE_ZERO => 0.0,
            tag::DOUBLE_ONE => 1.0,
            tag::DOUBLE_BYTE => f64::from(self.byte("a double byte")? as i8),
            tag::DOUBLE_SHORT => f64::from(i16::from_be_bytes(self.array("a double short")?)),
            tag::DOUBLE_MILL => 0.001 * f64::from(i32::from_be_bytes(self.array("a double")?)),
            _ => f64::from_bits(u64::from_be_bytes(self.array("a double")?)),
        })
    }

    /// A date (milliseconds since the epoch) after its tag `t` (`DATE` or `DATE_MINUTE`).
    pub(crate) fn date_from(&mut self, t: u8) -> Result<i64, Error> {
        Ok(if t == tag::DATE {
            i64::from_be_bytes(self.array("a date")?)
        } else {
            i64::from(i32::from_be_bytes(self.array("a date")?)) * 60_000
        })
    }

    /// Kept small: it is on the recursion path of nested values, whose depth the stack must
    /// hold (scalars are read out of line).
    fn value_from(&mut self, mut t: u8) -> Result<Value, Error> {
        loop {
            let at = self.pos - 1;
            return match t {
                tag::LIST_VARIABLE
                | tag::LIST_FIXED
                | tag::LIST_VARIABLE_UNTYPED
                | tag::LIST_FIXED_UNTYPED
                | 0x70..=0x7f => self.list_from(t, at),
                tag::MAP | tag::MAP_UNTYPED => self.map_from(t, at),
                0x60..=0x6f | tag::OBJECT => self.object_from(t, at),
                tag::CLASS_DEF => {
                    self.class_def()?;
                    t = self.byte("a value after a class definition")?;
                    continue;
                }
                _ => self.scalar_from(t, at),
            };
        }
    }

    #[inline(never)]
    pub(crate) fn scalar_from(&mut self, t: u8, at: usize) -> Result<Value, Error> {
        Ok(match t {
            tag::NULL => Value::Null,
            tag::TRUE => Value::Bool(true),
            tag::FALSE => Value::Bool(false),
            0x80..=0xd7 | tag::INT => match self.int_from(t) {
                Some(v) => Value::Int(v?),
                None => return Err(unexpected(at, t, "a value")),
            },
            0xd8..=0xff | 0x38..=0x3f | tag::LONG_INT | tag::LONG => Value::Long(self.long_from(t)?),
            tag::DOUBLE_ZERO..=tag::DOUBLE_MILL | tag::DOUBLE => Value::Double(self.double_from(t)?),
            tag::DATE | tag::DATE_MINUTE => Value::Date(self.date_from(t)?),
            t if is_string_tag(t) => Value::String(self.string_from(t)?),
            0x20..=0x2f | 0x34..=0x37 | tag::BINARY | tag::BINARY_CHUNK => Value::Binary(self.binary_from(t)?),
            tag::REF => {
                let index = self.read_int()?;
                if index < 0 || index as usize >= self.refs {
                    return Err(Error::BadReference {
                        offset: at,
                        index: i64::from(index),
                        known: self.refs,
                    });
                }
                Value::Ref(index as u32)
            }
            _ => return Err(unexpected(at, t, "a value")),
        })
    }

    /// Enter a list, map or object that began at `at`: its reference number (`None` when
    /// read again through a reference).
    pub(crate) fn enter(&mut self, at: usize) -> Result<Option<usize>, Error> {
        if self.depth >= self.limits.max_depth {
            return Err(Error::TooDeep {
                offset: at,
                limit: self.limits.max_depth,
            });
        }
        self.depth += 1;
        if self.replay > 0 {
            return Ok(None);
        }
        self.refs += 1;
        self.spans.push((at, 0));
        Ok(Some(self.refs - 1))
    }

    /// Leave what [`Decoder::enter`] entered.
    pub(crate) fn exit(&mut self, index: Option<usize>) {
        self.depth -= 1;
        if let Some(span) = index.and_then(|i| self.spans.get_mut(i)) {
            span.1 = self.pos;
        }
    }

    /// A count read from the stream, bounded by the bytes left (each item takes one byte at
    /// least) so nothing is allocated for a length the stream cannot hold.
    #[inline(never)]
    pub(crate) fn count(&mut self, what: &'static str) -> Result<usize, Error> {
        let at = self.pos;
        let n = self.read_int()?;
        if n < 0 || n as usize > self.remaining() {
            return Err(Error::BadLength {
                offset: at,
                what,
                value: i64::from(n),
            });
        }
        Ok(n as usize)
    }

    pub(crate) fn string_from(&mut self, t: u8) -> Result<String, Error> {
        self.str_from(t).map(Cow::into_owned)
    }

    /// A string after its tag `t`, borrowed from the input when it arrived in one chunk as
    /// valid UTF-8: what Java writes for any text without characters outside the BMP.
    ///
    /// Inlined for its commonest case, a short ASCII string inside the stretch known to be
    /// ASCII; the rest is [`Decoder::any_str_from`].
    #[inline]
    pub(crate) fn str_from(&mut self, t: u8) -> Result<Cow<'a, str>, Error> {
        if t <= 0x1f {
            let (start, end) = (self.pos, self.pos + usize::from(t));
            if start >= self.ascii_at
                && let Some(s) = self.ascii.get(start - self.ascii_at..end - self.ascii_at)
            {
                self.pos = end;
                return Ok(Cow::Borrowed(s));
            }
        }
        self.any_str_from(t)
    }

    #[inline(never)]
    fn any_str_from(&mut self, t: u8) -> Result<Cow<'a, str>, Error> {
        let after_tag = self.pos;
        let len = match t {
            0x00..=0x1f => usize::from(t),
            0x30..=0x33 => (usize::from(t - tag::STRING_SHORT) << 8) + usize::from(self.byte("a string length")?),
            tag::STRING => usize::from(u16::from_be_bytes(self.array("a string length")?)),
            _ => return self.string_chunks(t).map(Cow::Owned),
        };
        let start = self.pos;
        if let Some(s) = self.ascii_str(start, len) {
            self.pos += len;
            return Ok(Cow::Borrowed(s));
        }
        if let Some(end) = self.utf8_end(start, len)
            && let Ok(s) = std::str::from_utf8(&self.input[start..end])
        {
            self.pos = end;
            return Ok(Cow::Borrowed(s));
        }
        // Surrogates written one by one (Java's way for characters outside the BMP), or
        // malformed: the careful path.
        self.pos = after_tag;
        self.string_chunks(t).map(Cow::Owned)
    }

    /// The `len` bytes at `start` as a string, when they are ASCII: from the ASCII stretch
    /// known already, or one found from `start` on.
    fn ascii_str(&mut self, start: usize, len: usize) -> Option<&'a str> {
        let end = start.checked_add(len)?;
        let known = start >= self.ascii_at && end - self.ascii_at <= self.ascii.len();
        if !known {
            let limit = end.max(start.saturating_add(ASCII_LOOKAHEAD)).min(self.input.len());
            let ahead = self.input.get(start..limit)?;
            let mut run = 0;
            for chunk in ahead.chunks(16) {
                if chunk.is_ascii() {
                    run += chunk.len();
                } else {
                    run += chunk.iter().position(|b| !b.is_ascii()).unwrap_or(chunk.len());
                    break;
                }
            }
            if run < len {
                return None;
            }
            // ASCII is UTF-8: this validation cannot fail, and is done once for the stretch.
            self.ascii = std::str::from_utf8(&ahead[..run]).ok()?;
            self.ascii_at = start;
        }
        self.ascii.get(start - self.ascii_at..end - self.ascii_at)
    }

    /// The end of `units` UTF-16 units starting at byte `start`, counted by their lead bytes
    /// (`None` when the stream ends first or a byte cannot lead a character).
    fn utf8_end(&self, mut p: usize, units: usize) -> Option<usize> {
        let mut counted = 0;
        while counted < units {
            let (bytes, n) = match *self.input.get(p)? {
                0x00..=0x7f => (1, 1),
                0xc0..=0xdf => (2, 1),
                0xe0..=0xef => (3, 1),
                0xf0..=0xf7 => (4, 2),
                _ => return None,
            };
            p += bytes;
            counted += n;
        }
        (counted == units && p <= self.input.len()).then_some(p)
    }

    fn string_chunks(&mut self, mut t: u8) -> Result<String, Error> {
        let mut out = String::new();
        let mut high: Option<u16> = None;
        loop {
            let len = match t {
                0x00..=0x1f => usize::from(t),
                0x30..=0x33 => (usize::from(t - tag::STRING_SHORT) << 8) + usize::from(self.byte("a string length")?),
                tag::STRING | tag::STRING_CHUNK => usize::from(u16::from_be_bytes(self.array("a string length")?)),
                _ => return Err(unexpected(self.pos - 1, t, "a string chunk")),
            };
            self.units(len, &mut out, &mut high)?;
            if t != tag::STRING_CHUNK {
                break;
            }
            t = self.byte("the next string chunk")?;
        }
        if high.is_some() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
        Ok(out)
    }

    /// `n` UTF-16 units in Java's encoding. A lone surrogate becomes U+FFFD (Java strings may
    /// hold one; a Rust string cannot); a 4-byte UTF-8 sequence, which some non-Java writers
    /// send, is read as the two units it stands for.
    fn units(&mut self, n: usize, out: &mut String, high: &mut Option<u16>) -> Result<(), Error> {
        if n > self.remaining() {
            return Err(Error::BadLength {
                offset: self.pos,
                what: "string chunk",
                value: n as i64,
            });
        }
        let ascii = &self.input[self.pos..self.pos + n];
        if high.is_none() && ascii.is_ascii() {
            out.push_str(std::str::from_utf8(ascii).map_err(|_| Error::BadUtf8 { offset: self.pos })?);
            self.pos += n;
            return Ok(());
        }
        out.reserve(n);
        let mut left = n;
        while left > 0 {
            let at = self.pos;
            let b0 = self.byte("a character")?;
            let (unit, units) = match b0 {
                0x00..=0x7f => (u32::from(b0), 1),
                0xc0..=0xdf => {
                    let b1 = self.cont(at)?;
                    ((u32::from(b0 & 0x1f) << 6) | b1, 1)
                }
                0xe0..=0xef => {
                    let b1 = self.cont(at)?;
                    let b2 = self.cont(at)?;
                    ((u32::from(b0 & 0x0f) << 12) | (b1 << 6) | b2, 1)
                }
                0xf0..=0xf7 => {
                    let (b1, b2, b3) = (self.cont(at)?, self.cont(at)?, self.cont(at)?);
                    ((u32::from(b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3, 2)
                }
                _ => return Err(Error::BadUtf8 { offset: at }),
            };
            if units > left {
                return Err(Error::BadUtf8 { offset: at });
            }
            left -= units;
            push_unit(out, high, unit);
        }
        Ok(())
    }

    fn cont(&mut self, at: usize) -> Result<u32, Error> {
        let b = self.byte("a character")?;
        if b & 0xc0 != 0x80 {
            return Err(Error::BadUtf8 { offset: at });
        }
        Ok(u32::from(b & 0x3f))
    }

    fn binary_from(&mut self, mut t: u8) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        loop {
            let len = match t {
                0x20..=0x2f => usize::from(t - tag::BINARY_DIRECT),
                0x34..=0x37 => (usize::from(t - tag::BINARY_SHORT) << 8) + usize::from(self.byte("a binary length")?),
                tag::BINARY | tag::BINARY_CHUNK => usize::from(u16::from_be_bytes(self.array("a binary length")?)),
                _ => return Err(unexpected(self.pos - 1, t, "a binary chunk")),
            };
            out.extend_from_slice(self.take(len, "binary bytes")?);
            if t != tag::BINARY_CHUNK {
                return Ok(out);
            }
            t = self.byte("the next binary chunk")?;
        }
    }

    #[inline(never)]
    pub(crate) fn read_type(&mut self) -> Result<String, Error> {
        let at = self.pos;
        let t = self.byte("a type")?;
        if is_string_tag(t) {
            let ty = self.string_from(t)?;
            if self.replay == 0 {
                self.types.push(ty.clone());
            }
            return Ok(ty);
        }
        let index = self
            .int_from(t)
            .ok_or_else(|| unexpected(at, t, "a type name or index"))??;
        usize::try_from(index)
            .ok()
            .and_then(|i| self.types.get(i))
            .cloned()
            .ok_or(Error::UndefinedClass {
                offset: at,
                what: "type",
                index: i64::from(index),
                known: self.types.len(),
            })
    }

    /// A list's type and length (`None`: ended by `Z`), after its tag `t`.
    #[inline(never)]
    pub(crate) fn list_header(&mut self, t: u8) -> Result<(Option<String>, Option<usize>), Error> {
        let ty = match t {
            tag::LIST_VARIABLE | tag::LIST_FIXED | 0x70..=0x77 => Some(self.read_type()?),
            _ => None,
        };
        let len = match t {
            tag::LIST_FIXED | tag::LIST_FIXED_UNTYPED => Some(self.count("list length")?),
            0x70..=0x77 => Some(usize::from(t - tag::LIST_DIRECT)),
            0x78..=0x7f => Some(usize::from(t - tag::LIST_DIRECT_UNTYPED)),
            _ => None,
        };
        Ok((ty, len))
    }

    /// Whether the next byte ends a list or map; consumes it if so.
    pub(crate) fn at_end_tag(&mut self, expected: &'static str) -> Result<bool, Error> {
        if self.peek(expected)? == tag::END {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// The class and field names of an object whose tag `t` began at `at`.
    #[inline(never)]
    pub(crate) fn object_header(&mut self, t: u8, at: usize) -> Result<(Arc<str>, FieldNames), Error> {
        let class = self.object_class(t, at)?;
        let def = &self.classes[class]; // in range: object_class checked it
        Ok((def.name.clone(), def.fields.clone()))
    }

    /// The index of the class definition of an object whose tag `t` began at `at` (checked:
    /// [`Decoder::field_name`] and [`Decoder::field_count`] take it).
    pub(crate) fn object_class(&mut self, t: u8, at: usize) -> Result<usize, Error> {
        let index = if t == tag::OBJECT {
            i64::from(self.read_int()?)
        } else {
            i64::from(t - tag::OBJECT_DIRECT)
        };
        usize::try_from(index)
            .ok()
            .filter(|&i| i < self.classes.len())
            .ok_or(Error::UndefinedClass {
                offset: at,
                what: "class definition",
                index,
                known: self.classes.len(),
            })
    }

    /// Field `n` of class definition `class`.
    pub(crate) fn field_name(&self, class: usize, n: usize) -> Option<&str> {
        self.classes.get(class)?.fields.get(n).map(|f| &**f)
    }

    /// How many fields class definition `class` has.
    pub(crate) fn field_count(&self, class: usize) -> usize {
        self.classes.get(class).map_or(0, |c| c.fields.len())
    }

    fn list_from(&mut self, t: u8, at: usize) -> Result<Value, Error> {
        let (ty, len) = self.list_header(t)?;
        let index = self.enter(at)?;
        let items = match len {
            Some(n) => {
                let mut items = Vec::with_capacity(n.min(self.remaining()));
                for _ in 0..n {
                    items.push(self.read_value()?);
                }
                items
            }
            None => {
                let mut items = Vec::new();
                while self.peek("a list element or its end")? != tag::END {
                    items.push(self.read_value()?);
                }
                self.pos += 1;
                items
            }
        };
        self.exit(index);
        Ok(Value::List(List { r#type: ty, items }))
    }

    fn map_from(&mut self, t: u8, at: usize) -> Result<Value, Error> {
        let ty = if t == tag::MAP { Some(self.read_type()?) } else { None };
        let index = self.enter(at)?;
        let mut entries = Vec::new();
        while self.peek("a map key or its end")? != tag::END {
            let k = self.read_value()?;
            let v = self.read_value()?;
            entries.push((k, v));
        }
        self.pos += 1;
        self.exit(index);
        Ok(Value::Map(Map { r#type: ty, entries }))
    }

    #[inline(never)]
    pub(crate) fn class_def(&mut self) -> Result<(), Error> {
        // The same definition arrives in every message of a service: its parsed form is
        // shared from a process-wide cache keyed by its bytes, instead of allocating the class
        // and field names again each time.
        let cached = self.scan_class_def().map(|end| (self.pos, end));
        if let Some((start, end)) = cached
            && let Some(def) = cache::get(&self.input[start..end])
        {
            self.pos = end;
            if self.replay == 0 {
                self.classes.push(def);
            }
            return Ok(());
        }
        let name = self.read_string()?.ok_or(Error::Message(format!(
            "class definition without a name at byte {}",
            self.pos
        )))?;
        let n = self.count("class field count")?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            let at = self.pos;
            let f = self
                .read_string()?
                .ok_or(Error::Message(format!("null field name at byte {at}")))?;
            fields.push(Arc::from(f));
        }
        if self.replay > 0 {
            return Ok(());
        }
        let def = ClassDef {
            name: Arc::from(name),
            fields: fields.into(),
        };
        if let Some((start, end)) = cached {
            cache::put(&self.input[start..end], &def);
        }
        self.classes.push(def);
        Ok(())
    }

    /// Where the class definition starting at the current position ends, found without
    /// decoding it (`None` when it is not a plain one: then it is decoded the slow way).
    fn scan_class_def(&self) -> Option<usize> {
        let mut p = self.scan_string(self.pos)?;
        let (n, next) = self.scan_int(p)?;
        p = next;
        for _ in 0..usize::try_from(n).ok()? {
            p = self.scan_string(p)?;
        }
        Some(p)
    }

    fn scan_string(&self, mut p: usize) -> Option<usize> {
        loop {
            let t = *self.input.get(p)?;
            p += 1;
            let len = match t {
                0x00..=0x1f => usize::from(t),
                0x30..=0x33 => {
                    let b = *self.input.get(p)?;
                    p += 1;
                    (usize::from(t - tag::STRING_SHORT) << 8) | usize::from(b)
                }
                tag::STRING | tag::STRING_CHUNK => {
                    let len = u16::from_be_bytes([*self.input.get(p)?, *self.input.get(p + 1)?]);
                    p += 2;
                    usize::from(len)
                }
                _ => return None,
            };
            p = self.utf8_end(p, len)?;
            if t != tag::STRING_CHUNK {
                return Some(p);
            }
        }
    }

    fn scan_int(&self, p: usize) -> Option<(i32, usize)> {
        let t = *self.input.get(p)?;
        let b = |i: usize| self.input.get(p + i).copied().map(i32::from);
        Some(match t {
            0x80..=0xbf => (i32::from(t) - tag::INT_ZERO, p + 1),
            0xc0..=0xcf => (((i32::from(t) - tag::INT_BYTE_ZERO) << 8) + b(1)?, p + 2),
            0xd0..=0xd7 => (
                ((i32::from(t) - tag::INT_SHORT_ZERO) << 16) + (b(1)? << 8) + b(2)?,
                p + 3,
            ),
            tag::INT => (
                i32::from_be_bytes(self.input.get(p + 1..p + 5)?.try_into().ok()?),
                p + 5,
            ),
            _ => return None,
        })
    }

    fn object_from(&mut self, t: u8, at: usize) -> Result<Value, Error> {
        let (class, names) = self.object_header(t, at)?;
        let index = self.enter(at)?;
        let mut fields = Vec::with_capacity(names.len());
        for name in names.iter() {
            fields.push((name.clone(), self.read_value()?));
        }
        self.exit(index);
        Ok(Value::Object(Object { class, fields }))
    }
}

fn push_unit(out: &mut String, high: &mut Option<u16>, unit: u32) {
    if unit > 0xffff {
        // A 4-byte sequence: a whole supplementary character.
        if high.take().is_some() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
        out.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
        return;
    }
    let u = unit as u16;
    match (high.take(), u) {
        (Some(h), 0xdc00..=0xdfff) => {
            let c = 0x10000 + ((u32::from(h) - 0xd800) << 10) + (u32::from(u) - 0xdc00);
            out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        (prev, 0xd800..=0xdbff) => {
            if prev.is_some() {
                out.push(char::REPLACEMENT_CHARACTER);
            }
            *high = Some(u);
        }
        (prev, _) => {
            if prev.is_some() {
                out.push(char::REPLACEMENT_CHARACTER);
            }
            out.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
    }
}

fn is_string_tag(t: u8) -> bool {
    matches!(t, 0x00..=0x1f | 0x30..=0x33 | tag::STRING | tag::STRING_CHUNK)
}

fn unexpected(offset: usize, tag: u8, expected: &'static str) -> Error {
    Error::UnexpectedTag { offset, tag, expected }
}

/// Class definitions already decoded, by their bytes (shared by every decoder of the process).
/// Bounded: definitions longer than 1 KiB are not kept, and once 4,096 are kept no more are
/// added, so untrusted input cannot grow it past about 4 MiB.
mod cache {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use super::ClassDef;

    const MAX_ENTRIES: usize = 4096;
    const MAX_BYTES: usize = 1024;

    fn map() -> &'static Mutex<HashMap<Box<[u8]>, ClassDef>> {
        static MAP: OnceLock<Mutex<HashMap<Box<[u8]>, ClassDef>>> = OnceLock::new();
        MAP.get_or_init(Mutex::default)
    }

    pub(super) fn get(bytes: &[u8]) -> Option<ClassDef> {
        if bytes.len() > MAX_BYTES {
            return None;
        }
        map().lock().unwrap_or_else(|e| e.into_inner()).get(bytes).cloned()
    }

    pub(super) fn put(bytes: &[u8], def: &ClassDef) {
        if bytes.len() > MAX_BYTES {
            return;
        }
        let mut map = map().lock().unwrap_or_else(|e| e.into_inner());
        if map.len() < MAX_ENTRIES {
            map.insert(bytes.into(), def.clone());
        }
    }
}
