//! serde → Hessian: Rust types written as Java expects them.
//!
//! The mapping is in [`Encoder::serialize`](crate::Encoder::serialize).

use serde::ser::{self, Serialize};

use crate::encode::Encoder;
use crate::error::Error;

/// The serde name of [`crate::Date`]: its `i64` is written as a date.
pub(crate) const DATE: &str = "$hessian::Date";
/// The serde name of an `int[]`: its sequence is written as a list typed `[int`.
pub(crate) const INT_ARRAY: &str = "$hessian::IntArray";

/// Whether a serde type name is a Java class name (has a package).
fn is_java_class(name: &str) -> bool {
    name.contains('.')
}

/// Writes one serde value with an [`Encoder`].
#[derive(Debug)]
pub(crate) struct Serializer<'e> {
    pub(crate) enc: &'e mut Encoder,
    date: bool,
    /// The Java type of the next list (an array).
    list_type: Option<&'static str>,
}

impl<'e> Serializer<'e> {
    pub(crate) fn new(enc: &'e mut Encoder) -> Self {
        Serializer {
            enc,
            date: false,
            list_type: None,
        }
    }

    fn nested(&mut self) -> Serializer<'_> {
        Serializer::new(self.enc)
    }
}

/// A list, map or object being written.
#[derive(Debug)]
pub(crate) struct Compound<'a, 'e> {
    ser: &'a mut Serializer<'e>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A list or map that needs its end tag.
    Ended,
    /// A fixed-length list.
    Fixed,
    /// A map of the struct's fields.
    StructMap,
    /// An object of a known class: the next field must be `expected[next]`.
    Known {
        class: &'static str,
        index: usize,
        next: usize,
    },
    /// The first object of its class: the definition is inserted at `at` once every field
    /// name is known.
    First {
        index: usize,
        at: usize,
        fields: Vec<String>,
    },
    /// An enum variant written as a one-entry map whose value is a list or a map.
    Variant { inner_ended: bool },
}

impl<'a, 'e> ser::Serializer for &'a mut Serializer<'e> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'e>;
    type SerializeTuple = Compound<'a, 'e>;
    type SerializeTupleStruct = Compound<'a, 'e>;
    type SerializeTupleVariant = Compound<'a, 'e>;
    type SerializeMap = Compound<'a, 'e>;
    type SerializeStruct = Compound<'a, 'e>;
    type SerializeStructVariant = Compound<'a, 'e>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.enc.write_bool(v);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i32(i32::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i32(i32::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.enc.write_int(v);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        if std::mem::take(&mut self.date) {
            self.enc.write_date(v);
        } else {
            self.enc.write_long(v);
        }
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_i32(i32::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_i32(i32::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        let v = i64::try_from(v).map_err(|_| Error::Message(format!("{v} does not fit a Java long")))?;
        self.serialize_i64(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.enc.write_double(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut b = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut b))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.enc.write_str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.enc.write_binary(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.enc.write_null();
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        if is_java_class(name) {
            self.enc.write_object_begin(name, &["name"]);
        }
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, name: &'static str, value: &T) -> Result<(), Error> {
        if name == INT_ARRAY {
            self.list_type = Some("[int");
            return value.serialize(self);
        }
        if name == DATE {
            self.date = true;
            let r = value.serialize(&mut *self);
            if std::mem::take(&mut self.date) {
                return Err(Error::Message("a Date must hold an i64 of milliseconds".into()));
            }
            return r;
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.enc.write_map_begin(None)?;
        self.enc.write_str(variant);
        value.serialize(&mut self.nested())?;
        self.enc.write_end();
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'e>, Error> {
        let ty = self.list_type.take();
        self.enc.write_list_begin(len, ty)?;
        let kind = if len.is_some() { Kind::Fixed } else { Kind::Ended };
        Ok(Compound { ser: self, kind })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'e>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, 'e>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'e>, Error> {
        self.enc.write_map_begin(None)?;
        self.enc.write_str(variant);
        self.enc.write_list_begin(Some(len), None)?;
        Ok(Compound {
            ser: self,
            kind: Kind::Variant { inner_ended: false },
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 'e>, Error> {
        self.enc.write_map_begin(None)?;
        Ok(Compound {
            ser: self,
            kind: Kind::Ended,
        })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a, 'e>, Error> {
        if !is_java_class(name) {
            self.enc.write_map_begin(None)?;
            return Ok(Compound {
                ser: self,
                kind: Kind::StructMap,
            });
        }
        let kind = match self.enc.known_class(name, len) {
            Some(index) => {
                self.enc.write_instance_of(index);
                Kind::Known {
                    class: name,
                    index,
                    next: 0,
                }
            }
            None => {
                let at = self.enc.buf.len();
                let index = self.enc.reserve_class(name);
                Kind::First {
                    index,
                    at,
                    fields: Vec::with_capacity(len),
                }
            }
        };
        Ok(Compound { ser: self, kind })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'e>, Error> {
        self.enc.write_map_begin(None)?;
        self.enc.write_str(variant);
        self.enc.write_map_begin(None)?;
        Ok(Compound {
            ser: self,
            kind: Kind::Variant { inner_ended: true },
        })
    }
}

impl Compound<'_, '_> {
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut self.ser.nested())
    }

    fn finish(self) -> Result<(), Error> {
        match self.kind {
            Kind::Ended | Kind::StructMap => self.ser.enc.write_end(),
            Kind::Fixed | Kind::Known { .. } => {}
            Kind::First { index, at, fields } => self.ser.enc.define_reserved(index, fields, at),
            Kind::Variant { inner_ended } => {
                if inner_ended {
                    self.ser.enc.write_end();
                }
                self.ser.enc.write_end();
            }
        }
        Ok(())
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        match &mut self.kind {
            Kind::StructMap | Kind::Variant { .. } => self.ser.enc.write_str(key),
            Kind::Known { class, index, next } => {
                let expected = self.ser.enc.class_field(*index, *next);
                if expected != Some(key) {
                    return Err(Error::Message(format!(
                        "{class} wrote field {key:?} where its first instance had {expected:?}: a Hessian class \
                         definition fixes the fields, so skip_serializing_if cannot change which ones are written"
                    )));
                }
                *next += 1;
            }
            Kind::First { fields, .. } => fields.push(key.to_owned()),
            Kind::Ended | Kind::Fixed => {}
        }
        self.element(value)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        self.element(key)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Writes the elements of a tuple or sequence one after the other, with no list around them.
#[derive(Debug)]
pub(crate) struct Spread<'e>(pub(crate) &'e mut Encoder);

/// The elements being written by [`Spread`].
#[derive(Debug)]
pub(crate) struct SpreadSeq<'e>(&'e mut Encoder);

impl<'e> SpreadSeq<'e> {
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut Serializer::new(self.0))
    }

    fn finish(self) -> Result<(), Error> {
        Ok(())
    }
}

fn not_a_sequence() -> Error {
    Error::Message("arguments must be a tuple or a sequence, e.g. (\"ada\", 36)".into())
}

macro_rules! refuse {
    ($($name:ident($($t:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $t),*) -> Result<(), Error> { Err(not_a_sequence()) })*
    };
}

impl<'e> ser::Serializer for Spread<'e> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SpreadSeq<'e>;
    type SerializeTuple = SpreadSeq<'e>;
    type SerializeTupleStruct = SpreadSeq<'e>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );
    fn serialize_none(self) -> Result<(), Error> {
        Err(not_a_sequence())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        // No arguments.
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), Error> {
        Err(not_a_sequence())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Result<(), Error> {
        Err(not_a_sequence())
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(not_a_sequence())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<SpreadSeq<'e>, Error> {
        Ok(SpreadSeq(self.0))
    }
    fn serialize_tuple(self, _: usize) -> Result<SpreadSeq<'e>, Error> {
        Ok(SpreadSeq(self.0))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<SpreadSeq<'e>, Error> {
        Ok(SpreadSeq(self.0))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_sequence())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_sequence())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_sequence())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_sequence())
    }
}

/// The serde traits of sequence-like values for `$ty`: each element through its `element`,
/// the end through its `finish`.
macro_rules! sequence_traits {
    ($ty:ty; $($tr:ident::$method:ident),+) => {
        $(impl ser::$tr for $ty {
            type Ok = ();
            type Error = Error;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        })+
    };
}

sequence_traits!(Compound<'_, '_>; SerializeSeq::serialize_element, SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field, SerializeTupleVariant::serialize_field);
sequence_traits!(SpreadSeq<'_>; SerializeSeq::serialize_element, SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field);
