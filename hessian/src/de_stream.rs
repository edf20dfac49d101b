//! Hessian → serde straight from the bytes, without building [`Value`]s first: what
//! [`from_slice`](crate::from_slice) uses.
//!
//! A back-reference is read by reading the referenced value's bytes again (every list, map
//! and object's span is recorded as it is read); nothing read again is numbered or defined
//! anew. A reference to a value still being read (a cycle) reads as unit/`None`. The bytes
//! read again are bounded, so references to references cannot make a small input expand
//! without limit.

use std::borrow::Cow;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use crate::decode::Decoder;
use crate::error::Error;
use crate::tag;
use crate::value::Value;

pub(crate) struct StreamDe<'d, 'a> {
    pub(crate) dec: &'d mut Decoder<'a>,
}

impl<'a> StreamDe<'_, 'a> {
    /// The next value's tag, after any class definitions before it (read and kept).
    fn skip_defs(&mut self) -> Result<u8, Error> {
        loop {
            let t = self.dec.peek("a value")?;
            if t != tag::CLASS_DEF {
                return Ok(t);
            }
            self.dec.byte("a class definition")?;
            self.dec.class_def()?;
        }
    }

    /// Reference `index` read at `at`: its span, or `None` for a value still being read.
    fn span_of(&mut self, at: usize) -> Result<Option<(usize, usize)>, Error> {
        let index = self.dec.read_int()?;
        let known = self.dec.ref_count();
        let span = usize::try_from(index)
            .ok()
            .filter(|&i| i < known)
            .and_then(|i| self.dec.spans.get(i).copied())
            .ok_or(Error::BadReference {
                offset: at,
                index: i64::from(index),
                known,
            })?;
        Ok((span.1 != 0).then_some(span))
    }

    /// Read the value spanning `span` again with `f`, then come back.
    fn replay<R>(
        &mut self,
        span: (usize, usize),
        f: impl FnOnce(StreamDe<'_, 'a>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let len = span.1 - span.0;
        self.dec.replay_budget = self
            .dec
            .replay_budget
            .checked_sub(len)
            .ok_or_else(|| Error::Message("references expand past the limit".into()))?;
        let back = self.dec.position();
        self.dec.seek(span.0);
        self.dec.replay += 1;
        let r = f(StreamDe { dec: &mut *self.dec });
        self.dec.replay -= 1;
        self.dec.seek(back);
        r
    }

    fn skip_value(&mut self) -> Result<(), Error> {
        self.dec.read_value().map(drop)
    }
}

impl<'de> de::Deserializer<'de> for StreamDe<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let (at, t) = loop {
            let at = self.dec.position();
            let t = self.dec.byte("a value")?;
            if t != tag::CLASS_DEF {
                break (at, t);
            }
            self.dec.class_def()?;
        };
        match t {
            tag::LIST_VARIABLE
            | tag::LIST_FIXED
            | tag::LIST_VARIABLE_UNTYPED
            | tag::LIST_FIXED_UNTYPED
            | 0x70..=0x7f => {
                let (_, len) = self.dec.list_header(t)?;
                let index = self.dec.enter(at)?;
                let mut left = len;
                let mut ended = false;
                let r = visitor.visit_seq(Seq {
                    dec: &mut *self.dec,
                    left: &mut left,
                    ended: &mut ended,
                })?;
                // Elements the visitor did not take.
                match left {
                    Some(n) => (0..n).try_for_each(|_| self.skip_value())?,
                    None if !ended => {
                        while !self.dec.at_end_tag("a list element or its end")? {
                            self.skip_value()?;
                        }
                    }
                    None => {}
                }
                self.dec.exit(index);
                Ok(r)
            }
            tag::MAP | tag::MAP_UNTYPED => {
                if t == tag::MAP {
                    self.dec.read_type()?;
                }
                let index = self.dec.enter(at)?;
                let mut ended = false;
                let r = visitor.visit_map(Entries {
                    dec: &mut *self.dec,
                    ended: &mut ended,
                })?;
                if !ended {
                    while !self.dec.at_end_tag("a map key or its end")? {
                        self.skip_value()?;
                        self.skip_value()?;
                    }
                }
                self.dec.exit(index);
                Ok(r)
            }
            0x60..=0x6f | tag::OBJECT => {
                // The field names are read from the decoder's class table as they are needed:
                // sharing them would cost two atomic operations per object.
                let class = self.dec.object_class(t, at)?;
                let index = self.dec.enter(at)?;
                let mut next = 0;
                let r = visitor.visit_map(Fields {
                    dec: &mut *self.dec,
                    class,
                    next: &mut next,
                })?;
                (next..self.dec.field_count(class)).try_for_each(|_| self.skip_value())?;
                self.dec.exit(index);
                Ok(r)
            }
            tag::REF => match self.span_of(at)? {
                Some(span) => self.replay(span, |de| de.deserialize_any(visitor)),
                None => visitor.visit_unit(),
            },
            // The common scalars without going through a `Value`.
            0x00..=0x1f | 0x30..=0x33 | tag::STRING | tag::STRING_CHUNK => match self.dec.str_from(t)? {
                Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
                Cow::Owned(s) => visitor.visit_string(s),
            },
            0x80..=0xd7 | tag::INT => match self.dec.int_from(t) {
                Some(i) => visitor.visit_i32(i?),
                None => Err(Error::Message(format!("unexpected byte 0x{t:02x} at byte {at}"))),
            },
            0xd8..=0xff | 0x38..=0x3f | tag::LONG_INT | tag::LONG => visitor.visit_i64(self.dec.long_from(t)?),
            tag::DOUBLE_ZERO..=tag::DOUBLE_MILL | tag::DOUBLE => visitor.visit_f64(self.dec.double_from(t)?),
            tag::DATE | tag::DATE_MINUTE => visitor.visit_i64(self.dec.date_from(t)?),
            tag::NULL => visitor.visit_unit(),
            _ => match self.dec.scalar_from(t, at)? {
                Value::Null => visitor.visit_unit(),
                Value::Bool(b) => visitor.visit_bool(b),
                Value::Int(i) => visitor.visit_i32(i),
                Value::Long(l) | Value::Date(l) => visitor.visit_i64(l),
                Value::Double(d) => visitor.visit_f64(d),
                Value::String(s) => visitor.visit_string(s),
                Value::Binary(b) => visitor.visit_byte_buf(b),
                other => Err(Error::Message(format!("unexpected {} at byte {at}", other.kind()))),
            },
        }
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        match self.skip_defs()? {
            tag::NULL => {
                self.dec.byte("null")?;
                visitor.visit_none()
            }
            tag::REF => {
                let back = self.dec.position();
                self.dec.byte("a reference")?;
                if self.span_of(back)?.is_none() {
                    return visitor.visit_none();
                }
                self.dec.seek(back);
                visitor.visit_some(self)
            }
            _ => visitor.visit_some(self),
        }
    }

    /// A string straight from its tag: the commonest value, spared `deserialize_any`'s
    /// dispatch.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.dec.peek("a value")? {
            t @ (0x00..=0x1f | 0x30..=0x33 | tag::STRING) => {
                self.dec.byte("a string")?;
                match self.dec.str_from(t)? {
                    Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
                    Cow::Owned(s) => visitor.visit_string(s),
                }
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if matches!(self.skip_defs()?, 0x00..=0x1f | 0x30..=0x33 | tag::STRING | tag::STRING_CHUNK) {
            let s = self.dec.read_string()?.unwrap_or_default();
            return visitor.visit_enum(s.into_deserializer());
        }
        // A Java enum object or a tagged map: rare, read through a Value.
        let v = self.dec.read_value()?;
        crate::de::enum_from_value(&v, name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        self.skip_defs()?;
        self.skip_value()?;
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct Seq<'d, 'a, 'x> {
    dec: &'d mut Decoder<'a>,
    left: &'x mut Option<usize>,
    ended: &'x mut bool,
}

impl<'a> de::SeqAccess<'a> for Seq<'_, 'a, '_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.left {
            Some(0) => return Ok(None),
            Some(n) => *n -= 1,
            None => {
                if *self.ended || self.dec.at_end_tag("a list element or its end")? {
                    *self.ended = true;
                    return Ok(None);
                }
            }
        }
        seed.deserialize(StreamDe { dec: &mut *self.dec }).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        *self.left
    }
}

struct Entries<'d, 'a, 'x> {
    dec: &'d mut Decoder<'a>,
    ended: &'x mut bool,
}

impl<'a> de::MapAccess<'a> for Entries<'_, 'a, '_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        if *self.ended || self.dec.at_end_tag("a map key or its end")? {
            *self.ended = true;
            return Ok(None);
        }
        seed.deserialize(StreamDe { dec: &mut *self.dec }).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(StreamDe { dec: &mut *self.dec })
    }
}

struct Fields<'d, 'a, 'x> {
    dec: &'d mut Decoder<'a>,
    class: usize,
    next: &'x mut usize,
}

impl<'a> de::MapAccess<'a> for Fields<'_, 'a, '_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some(name) = self.dec.field_name(self.class, *self.next) else {
            return Ok(None);
        };
        *self.next += 1;
        seed.deserialize(StrDeserializer::<Error>::new(name)).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(StreamDe { dec: &mut *self.dec })
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.dec.field_count(self.class).saturating_sub(*self.next))
    }
}
