//! [`Encoder`]: writes Hessian 2.0 bytes exactly as Caucho's `Hessian2Output` does for the
//! same values (compact forms, chunk sizes, class-definition and type reuse).

use std::collections::HashMap;

use crate::error::Error;
use crate::tag;
use crate::value::{List, Map, Object, Value};

/// A class definition the stream already holds: its name and field names.
#[derive(Debug)]
struct ClassDef {
    name: String,
    fields: Option<Vec<String>>,
}

/// Writes values into one stream; class definitions and type names written once are reused
/// by index for the rest of the stream, as Java's writer does.
///
/// ```
/// use zkdubbo_hessian::Encoder;
/// let mut enc = Encoder::new();
/// enc.write_str("2.0.2");
/// enc.write_int(47);
/// assert_eq!(enc.into_bytes(), b"\x052.0.2\xbf");
/// ```
#[derive(Debug, Default)]
pub struct Encoder {
    pub(crate) buf: Vec<u8>,
    classes: Vec<ClassDef>,
    types: HashMap<String, i32>,
}

impl Encoder {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty stream writing after `buf`'s contents (e.g. a frame header).
    pub fn with_buffer(buf: Vec<u8>) -> Self {
        Encoder { buf, ..Self::default() }
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// `null`.
    pub fn write_null(&mut self) {
        self.buf.push(tag::NULL);
    }

    /// A boolean.
    pub fn write_bool(&mut self, b: bool) {
        self.buf.push(if b { tag::TRUE } else { tag::FALSE });
    }

    /// An `int`, in its most compact form.
    pub fn write_int(&mut self, v: i32) {
        if (tag::INT_DIRECT.0..=tag::INT_DIRECT.1).contains(&v) {
            self.buf.push((v + tag::INT_ZERO) as u8);
        } else if (tag::INT_BYTE.0..=tag::INT_BYTE.1).contains(&v) {
            self.buf.push((tag::INT_BYTE_ZERO + (v >> 8)) as u8);
            self.buf.push(v as u8);
        } else if (tag::INT_SHORT.0..=tag::INT_SHORT.1).contains(&v) {
            self.buf.push((tag::INT_SHORT_ZERO + (v >> 16)) as u8);
            self.buf.extend_from_slice(&[(v >> 8) as u8, v as u8]);
        } else {
            self.buf.push(tag::INT);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A `long`, in its most compact form.
    pub fn write_long(&mut self, v: i64) {
        if (tag::LONG_DIRECT.0..=tag::LONG_DIRECT.1).contains(&v) {
            self.buf.push((v + tag::LONG_ZERO) as u8);
        } else if (tag::LONG_BYTE.0..=tag::LONG_BYTE.1).contains(&v) {
            self.buf.push((tag::LONG_BYTE_ZERO + (v >> 8)) as u8);
            self.buf.push(v as u8);
        } else if (tag::LONG_SHORT.0..=tag::LONG_SHORT.1).contains(&v) {
            self.buf.push((tag::LONG_SHORT_ZERO + (v >> 16)) as u8);
            self.buf.extend_from_slice(&[(v >> 8) as u8, v as u8]);
        } else if let Ok(i) = i32::try_from(v) {
            self.buf.push(tag::LONG_INT);
            self.buf.extend_from_slice(&i.to_be_bytes());
        } else {
            self.buf.push(tag::LONG);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A `double`, in Java's compact forms: whole numbers in a byte or a short, values with
    /// at most three decimals as an int of thousandths (as Caucho does; `-0.0` becomes `0.0`
    /// there too).
    pub fn write_double(&mut self, v: f64) {
        // `as` saturates and maps NaN to 0, exactly like Java's (int) cast.
        let int = v as i32;
        if f64::from(int) == v {
            match int {
                0 => return self.buf.push(tag::DOUBLE_ZERO),
                1 => return self.buf.push(tag::DOUBLE_ONE),
                -0x80..=0x7f => {
                    self.buf.extend_from_slice(&[tag::DOUBLE_BYTE, int as u8]);
                    return;
                }
                -0x8000..=0x7fff => {
                    self.buf.push(tag::DOUBLE_SHORT);
                    self.buf.extend_from_slice(&(int as i16).to_be_bytes());
                    return;
                }
                _ => {}
            }
        }
        let mills = (v * 1000.0) as i32;
        if 0.001 * f64::from(mills) == v {
            self.buf.push(tag::DOUBLE_MILL);
            self.buf.extend_from_slice(&mills.to_be_bytes());
            return;
        }
        self.buf.push(tag::DOUBLE);
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    /// A `java.util.Date` (milliseconds since the epoch); whole minutes take 5 bytes.
    pub fn write_date(&mut self, ms: i64) {
        if ms % 60_000 == 0 {
            let minutes = ms / 60_000;
            if let Ok(m) = i32::try_from(minutes) {
                self.buf.push(tag::DATE_MINUTE);
                self.buf.extend_from_slice(&m.to_be_bytes());
                return;
            }
        }
        self.buf.push(tag::DATE);
        self.buf.extend_from_slice(&ms.to_be_bytes());
    }

    /// A string, its length counted in UTF-16 units and characters beyond the BMP written as
    /// two 3-byte surrogates, chunked every 32,768 units as Java does.
    pub fn write_str(&mut self, s: &str) {
        if s.is_ascii() {
            return self.write_ascii(s.as_bytes());
        }
        let units: usize = s.chars().map(char::len_utf16).sum();
        let mut rest = s;
        let mut remaining = units;
        while remaining > tag::STRING_CHUNK_UNITS {
            // A chunk never ends between the two halves of a surrogate pair.
            let (mut n, mut split) = (0usize, 0usize);
            for (i, c) in rest.char_indices() {
                if n + c.len_utf16() > tag::STRING_CHUNK_UNITS {
                    split = i;
                    break;
                }
                n += c.len_utf16();
            }
            self.buf.push(tag::STRING_CHUNK);
            self.buf.extend_from_slice(&(n as u16).to_be_bytes());
            self.write_java_utf8(&rest[..split]);
            rest = &rest[split..];
            remaining -= n;
        }
        self.write_string_len(remaining);
        self.write_java_utf8(rest);
    }

    fn write_ascii(&mut self, mut bytes: &[u8]) {
        while bytes.len() > tag::STRING_CHUNK_UNITS {
            self.buf.push(tag::STRING_CHUNK);
            self.buf
                .extend_from_slice(&(tag::STRING_CHUNK_UNITS as u16).to_be_bytes());
            self.buf.extend_from_slice(&bytes[..tag::STRING_CHUNK_UNITS]);
            bytes = &bytes[tag::STRING_CHUNK_UNITS..];
        }
        self.write_string_len(bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    fn write_string_len(&mut self, len: usize) {
        if len <= tag::STRING_DIRECT_MAX {
            self.buf.push(len as u8);
        } else if len <= tag::STRING_SHORT_MAX {
            self.buf
                .extend_from_slice(&[tag::STRING_SHORT + (len >> 8) as u8, len as u8]);
        } else {
            self.buf.push(tag::STRING);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        }
    }

    /// UTF-8 for the BMP; a supplementary character as its two surrogates, 3 bytes each.
    fn write_java_utf8(&mut self, s: &str) {
        for c in s.chars() {
            if (c as u32) < 0x10000 {
                let mut b = [0u8; 4];
                self.buf.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let u = *u;
                    self.buf.extend_from_slice(&[
                        0xe0 | (u >> 12) as u8,
                        0x80 | ((u >> 6) & 0x3f) as u8,
                        0x80 | (u & 0x3f) as u8,
                    ]);
                }
            }
        }
    }

    /// A `byte[]`, chunked every 32,768 bytes.
    pub fn write_binary(&mut self, mut b: &[u8]) {
        while b.len() > tag::BINARY_CHUNK_BYTES {
            self.buf.push(tag::BINARY_CHUNK);
            self.buf
                .extend_from_slice(&(tag::BINARY_CHUNK_BYTES as u16).to_be_bytes());
            self.buf.extend_from_slice(&b[..tag::BINARY_CHUNK_BYTES]);
            b = &b[tag::BINARY_CHUNK_BYTES..];
        }
        let len = b.len();
        if len <= tag::BINARY_DIRECT_MAX {
            self.buf.push(tag::BINARY_DIRECT + len as u8);
        } else if len <= tag::BINARY_SHORT_MAX {
            self.buf
                .extend_from_slice(&[tag::BINARY_SHORT + (len >> 8) as u8, len as u8]);
        } else {
            self.buf.push(tag::BINARY);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        }
        self.buf.extend_from_slice(b);
    }

    /// The start of a list of `len` elements (or of unknown length, ended by
    /// [`Encoder::write_end`]); `ty` is its Java type, `None` for an `ArrayList`.
    pub fn write_list_begin(&mut self, len: Option<usize>, ty: Option<&str>) -> Result<(), Error> {
        match (len, ty) {
            (None, Some(t)) => {
                self.buf.push(tag::LIST_VARIABLE);
                self.write_type(t)?;
            }
            (None, None) => self.buf.push(tag::LIST_VARIABLE_UNTYPED),
            (Some(n), Some(t)) if n <= tag::LIST_DIRECT_MAX => {
                self.buf.push(tag::LIST_DIRECT + n as u8);
                self.write_type(t)?;
            }
            (Some(n), None) if n <= tag::LIST_DIRECT_MAX => self.buf.push(tag::LIST_DIRECT_UNTYPED + n as u8),
            (Some(n), t) => {
                let n = i32::try_from(n).map_err(|_| Error::Message(format!("a list of {n} elements")))?;
                match t {
                    Some(t) => {
                        self.buf.push(tag::LIST_FIXED);
                        self.write_type(t)?;
                    }
                    None => self.buf.push(tag::LIST_FIXED_UNTYPED),
                }
                self.write_int(n);
            }
        }
        Ok(())
    }

    /// The start of a map (entries follow as key, value; then [`Encoder::write_end`]).
    pub fn write_map_begin(&mut self, ty: Option<&str>) -> Result<(), Error> {
        match ty {
            Some(t) => {
                self.buf.push(tag::MAP);
                self.write_type(t)
            }
            None => {
                self.buf.push(tag::MAP_UNTYPED);
                Ok(())
            }
        }
    }

    /// The end of a map or of a list of unknown length.
    pub fn write_end(&mut self) {
        self.buf.push(tag::END);
    }

    /// A back-reference to the `index`-th list, map or object of the stream.
    pub fn write_ref(&mut self, index: u32) {
        self.buf.push(tag::REF);
        self.write_int(index as i32);
    }

    fn write_type(&mut self, ty: &str) -> Result<(), Error> {
        if ty.is_empty() {
            return Err(Error::Message("an empty type name".into()));
        }
        if let Some(&index) = self.types.get(ty) {
            self.write_int(index);
        } else {
            let next = self.types.len() as i32;
            self.types.insert(ty.to_owned(), next);
            self.write_str(ty);
        }
        Ok(())
    }

    /// The start of an instance of `class` with `fields` (values follow in that order): the
    /// class definition is written the first time that class and field list appear.
    pub fn write_object_begin<S: AsRef<str>>(&mut self, class: &str, fields: &[S]) {
        self.object_begin(class, fields.iter().map(AsRef::as_ref));
    }

    /// [`Encoder::write_object_begin`] over any listing of the field names, so that a
    /// [`Value`] object is written without collecting its names first.
    fn object_begin<'f>(&mut self, class: &str, fields: impl ExactSizeIterator<Item = &'f str> + Clone) {
        let found = self.classes.iter().position(|d| {
            d.name == class
                && d.fields
                    .as_ref()
                    .is_some_and(|f| f.len() == fields.len() && f.iter().zip(fields.clone()).all(|(a, b)| a == b))
        });
        let index = match found {
            Some(i) => i,
            None => {
                self.buf.push(tag::CLASS_DEF);
                self.write_str(class);
                self.write_int(fields.len() as i32);
                for f in fields.clone() {
                    self.write_str(f);
                }
                self.classes.push(ClassDef {
                    name: class.to_owned(),
                    fields: Some(fields.map(str::to_owned).collect()),
                });
                self.classes.len() - 1
            }
        };
        self.write_instance(index);
    }

    fn write_instance(&mut self, index: usize) {
        if index <= tag::OBJECT_DIRECT_MAX {
            self.buf.push(tag::OBJECT_DIRECT + index as u8);
        } else {
            self.buf.push(tag::OBJECT);
            self.write_int(index as i32);
        }
    }

    /// For serde: the definition index of `class` with exactly `len` fields, if the stream
    /// has one.
    pub(crate) fn known_class(&self, class: &str, len: usize) -> Option<usize> {
        self.classes
            .iter()
            .position(|d| d.name == class && d.fields.as_ref().is_some_and(|f| f.len() == len))
    }

    /// For serde: field `n` of definition `index`.
    pub(crate) fn class_field(&self, index: usize, n: usize) -> Option<&str> {
        self.classes.get(index)?.fields.as_ref()?.get(n).map(String::as_str)
    }

    /// For serde: reserve the next definition index for `class`, whose fields are learned
    /// while its first instance is written.
    pub(crate) fn reserve_class(&mut self, class: &str) -> usize {
        self.classes.push(ClassDef {
            name: class.to_owned(),
            fields: None,
        });
        self.classes.len() - 1
    }

    /// For serde: complete a reserved definition and insert it, with the instance tag, at
    /// `at` (where the instance began).
    pub(crate) fn define_reserved(&mut self, index: usize, fields: Vec<String>, at: usize) {
        let mut head = Encoder::new();
        head.buf.push(tag::CLASS_DEF);
        // Type names are not referenced from a class definition, so a plain string is exact.
        head.write_str(&self.classes[index].name);
        head.write_int(fields.len() as i32);
        for f in &fields {
            head.write_str(f);
        }
        head.write_instance(index);
        self.buf.splice(at..at, head.buf);
        self.classes[index].fields = Some(fields);
    }

    /// For serde: the instance tag of a known definition.
    pub(crate) fn write_instance_of(&mut self, index: usize) {
        self.write_instance(index);
    }

    /// Any [`Value`].
    pub fn write_value(&mut self, v: &Value) -> Result<(), Error> {
        match v {
            Value::Null => self.write_null(),
            Value::Bool(b) => self.write_bool(*b),
            Value::Int(i) => self.write_int(*i),
            Value::Long(l) => self.write_long(*l),
            Value::Double(d) => self.write_double(*d),
            Value::Date(ms) => self.write_date(*ms),
            Value::String(s) => self.write_str(s),
            Value::Binary(b) => self.write_binary(b),
            Value::List(List { r#type, items }) => {
                self.write_list_begin(Some(items.len()), r#type.as_deref())?;
                for item in items {
                    self.write_value(item)?;
                }
            }
            Value::Map(Map { r#type, entries }) => {
                self.write_map_begin(r#type.as_deref())?;
                for (k, v) in entries {
                    self.write_value(k)?;
                    self.write_value(v)?;
                }
                self.write_end();
            }
            Value::Object(Object { class, fields }) => {
                self.object_begin(class, fields.iter().map(|(n, _)| &**n));
                for (_, v) in fields {
                    self.write_value(v)?;
                }
            }
            Value::Ref(i) => self.write_ref(*i),
        }
        Ok(())
    }
}
