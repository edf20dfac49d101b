//! Hessian → serde: [`Value`]s read into Rust types, references resolved.
//!
//! A Java object arrives as a map of its fields, so a struct with the same field names reads
//! it whatever its class; `int` and `long` read into any Rust integer they fit; a
//! [`Value::Ref`] is read as the value it points to, except a reference to a value that
//! contains it (an exception whose `cause` is itself), which reads as `None`/unit. The work
//! references can cause is bounded, so a stream of references to references cannot make a
//! small input expand without limit.

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use crate::error::Error;
use crate::value::Value;

/// Deserialize a `T` from `value`, a whole stream's only value.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    from_values(std::slice::from_ref(value), 0)
}

/// Deserialize a `T` from `values[index]`, where `values` are the consecutive values of one
/// stream (so a reference in one may point into an earlier one).
pub fn from_values<T: DeserializeOwned>(values: &[Value], index: usize) -> Result<T, Error> {
    let v = values
        .get(index)
        .ok_or_else(|| Error::Message(format!("no value #{index}: the stream has {}", values.len())))?;
    let mut cx = Context {
        roots: values,
        table: None,
        ancestors: Vec::new(),
        budget: 0,
    };
    T::deserialize(ValueDe { v, cx: &mut cx })
}

/// Deserialize a `T` that reads a sequence (a tuple, a `Vec`) from `values`, the consecutive
/// values of one stream: how a provider reads a call's arguments as `(String, i32)`.
pub fn from_args<T: DeserializeOwned>(values: &[Value]) -> Result<T, Error> {
    let mut cx = Context {
        roots: values,
        table: None,
        ancestors: Vec::new(),
        budget: 0,
    };
    T::deserialize(ArgsDe { values, cx: &mut cx })
}

struct ArgsDe<'a, 'v> {
    values: &'v [Value],
    cx: &'a mut Context<'v>,
}

impl<'de> de::Deserializer<'de> for ArgsDe<'_, '_> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Seq {
            items: self.values.iter(),
            cx: self.cx,
        })
    }
    /// `()`: a call without arguments.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.values.is_empty() {
            visitor.visit_unit()
        } else {
            Err(Error::Message(format!(
                "{} arguments where none were expected",
                self.values.len()
            )))
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Read enum `name` from a decoded value (a Java enum object or a tagged map).
pub(crate) fn enum_from_value<'de, V: Visitor<'de>>(
    v: &Value,
    name: &'static str,
    variants: &'static [&'static str],
    visitor: V,
) -> Result<V::Value, Error> {
    let roots = std::slice::from_ref(v);
    let mut cx = Context {
        roots,
        table: None,
        ancestors: Vec::new(),
        budget: 0,
    };
    de::Deserializer::deserialize_enum(ValueDe { v, cx: &mut cx }, name, variants, visitor)
}

/// What resolving references needs: every list, map and object in stream order, and the
/// containers being read.
#[derive(Debug)]
struct Context<'v> {
    roots: &'v [Value],
    table: Option<Vec<&'v Value>>,
    ancestors: Vec<*const Value>,
    budget: usize,
}

impl<'v> Context<'v> {
    /// The value reference `index` points to, or `None` for a cycle.
    fn resolve(&mut self, index: u32) -> Result<Option<&'v Value>, Error> {
        if self.table.is_none() {
            let table = crate::refs::table(self.roots);
            // Every value may be read through references a few times over, no more.
            self.budget = table.len().saturating_mul(4).saturating_add(65_536);
            self.table = Some(table);
        }
        let table = self.table.as_deref().unwrap_or_default();
        let target = *table
            .get(index as usize)
            .ok_or_else(|| Error::Message(format!("reference #{index} to nothing")))?;
        if self.ancestors.contains(&(target as *const Value)) {
            return Ok(None);
        }
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or_else(|| Error::Message("references expand past the limit".into()))?;
        Ok(Some(target))
    }
}

#[derive(Debug)]
struct ValueDe<'a, 'v> {
    v: &'v Value,
    cx: &'a mut Context<'v>,
}

impl<'a, 'v> ValueDe<'a, 'v> {
    /// Follow references; `None` for a cycle.
    fn target(&mut self) -> Result<Option<&'v Value>, Error> {
        let mut v = self.v;
        while let Value::Ref(i) = v {
            match self.cx.resolve(*i)? {
                Some(t) => v = t,
                None => return Ok(None),
            }
        }
        Ok(Some(v))
    }

    fn with<R>(&mut self, v: &'v Value, f: impl FnOnce(&mut Context<'v>) -> R) -> R {
        self.cx.ancestors.push(v as *const Value);
        let r = f(self.cx);
        self.cx.ancestors.pop();
        r
    }
}

impl<'de, 'a, 'v> de::Deserializer<'de> for ValueDe<'a, 'v> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let Some(v) = self.target()? else {
            return visitor.visit_unit();
        };
        match v {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i32(*i),
            Value::Long(l) | Value::Date(l) => visitor.visit_i64(*l),
            Value::Double(d) => visitor.visit_f64(*d),
            Value::String(s) => visitor.visit_str(s),
            Value::Binary(b) => visitor.visit_bytes(b),
            Value::List(l) => self.with(v, |cx| {
                visitor.visit_seq(Seq {
                    items: l.items.iter(),
                    cx,
                })
            }),
            Value::Map(m) => self.with(v, |cx| {
                visitor.visit_map(Entries {
                    entries: m.entries.iter(),
                    value: None,
                    cx,
                })
            }),
            Value::Object(o) => self.with(v, |cx| {
                visitor.visit_map(Fields {
                    fields: o.fields.iter(),
                    value: None,
                    cx,
                })
            }),
            Value::Ref(_) => visitor.visit_unit(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        match self.target()? {
            None | Some(Value::Null) => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        match self.target()? {
            Some(Value::String(s)) if s.chars().count() == 1 => visitor.visit_char(s.chars().next().unwrap_or('\0')),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.target()? {
            Some(Value::String(s)) => visitor.visit_enum(s.as_str().into_deserializer()),
            // A Java enum: an object whose field `name` is the constant.
            Some(Value::Object(o)) => match o.get("name") {
                Some(Value::String(s)) => visitor.visit_enum(s.as_str().into_deserializer()),
                _ => Err(Error::Message(format!("{} is not an enum constant of {name}", o.class))),
            },
            Some(v @ Value::Map(m)) if m.entries.len() == 1 => {
                let (k, x) = &m.entries[0];
                let Value::String(variant) = k else {
                    return Err(Error::Message(format!("enum {name}: variant key is a {}", k.kind())));
                };
                self.with(v, |cx| visitor.visit_enum(Variant { variant, v: x, cx }))
            }
            other => Err(Error::Message(format!(
                "enum {name}: found a {}",
                other.map_or("cycle", Value::kind)
            ))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct Seq<'a, 'v> {
    items: std::slice::Iter<'v, Value>,
    cx: &'a mut Context<'v>,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, '_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(v) => seed.deserialize(ValueDe { v, cx: self.cx }).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Entries<'a, 'v> {
    entries: std::slice::Iter<'v, (Value, Value)>,
    value: Option<&'v Value>,
    cx: &'a mut Context<'v>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(ValueDe { v: k, cx: self.cx }).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let v = self
            .value
            .take()
            .ok_or_else(|| Error::Message("a map value without its key".into()))?;
        seed.deserialize(ValueDe { v, cx: self.cx })
    }
}

struct Fields<'a, 'v> {
    fields: std::slice::Iter<'v, (std::sync::Arc<str>, Value)>,
    value: Option<&'v Value>,
    cx: &'a mut Context<'v>,
}

impl<'de> de::MapAccess<'de> for Fields<'_, '_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.fields.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(StrDeserializer::<Error>::new(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let v = self
            .value
            .take()
            .ok_or_else(|| Error::Message("a field value without its name".into()))?;
        seed.deserialize(ValueDe { v, cx: self.cx })
    }
}

struct Variant<'a, 'v> {
    variant: &'v str,
    v: &'v Value,
    cx: &'a mut Context<'v>,
}

impl<'de, 'a, 'v> de::EnumAccess<'de> for Variant<'a, 'v> {
    type Error = Error;
    type Variant = ValueDe<'a, 'v>;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, ValueDe<'a, 'v>), Error> {
        let name = seed.deserialize(StrDeserializer::<Error>::new(self.variant))?;
        Ok((name, ValueDe { v: self.v, cx: self.cx }))
    }
}

impl<'de> de::VariantAccess<'de> for ValueDe<'_, '_> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}
