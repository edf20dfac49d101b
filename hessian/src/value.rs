//! [`Value`]: any Hessian 2.0 value, as it appeared in the stream.

use std::sync::Arc;

/// One Hessian value.
///
/// The tree is faithful to the stream: Java `int` and `long` stay apart, a typed list keeps its
/// type, and a back-reference (`0x51`, Java writing the same object twice, or an object that
/// contains itself such as an exception whose `cause` is itself) stays a [`Value::Ref`] with the
/// stream's index. [`crate::from_value`] resolves references when it deserializes.
///
/// ```
/// use zkdubbo_hessian::{Object, Value};
/// let user = Value::from(
///     Object::new("com.example.User").field("name", "ada").field("age", Value::Int(36)),
/// );
/// let bytes = zkdubbo_hessian::encode(&user).unwrap();
/// assert_eq!(zkdubbo_hessian::decode(&bytes).unwrap(), user);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `boolean`.
    Bool(bool),
    /// A 32-bit `int` (Java `int`, `Integer`, `short`, `byte`).
    Int(i32),
    /// A 64-bit `long`.
    Long(i64),
    /// A `double` (Java `float` too).
    Double(f64),
    /// A `java.util.Date`: milliseconds since the Unix epoch, UTC.
    Date(i64),
    /// A string (Java `String`, and `char`).
    String(String),
    /// A `byte[]`.
    Binary(Vec<u8>),
    /// A list or array.
    List(List),
    /// A map (and the form of an object whose class the reader does not know).
    Map(Map),
    /// An instance of a Java class.
    Object(Object),
    /// A reference to the n-th list, map or object of the stream (counted from 0, in the
    /// order they began).
    Ref(u32),
}

/// A list: a Java array (`[int`, `[java.lang.String`...), a typed collection or an untyped one
/// (`java.util.ArrayList`, which Java writes without a type).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct List {
    /// The Java type Hessian names, if the writer sent one.
    pub r#type: Option<String>,
    /// The elements.
    pub items: Vec<Value>,
}

/// A map, in stream order (keys may be any value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    /// The Java type, if the writer sent one (a `java.util.HashMap` is sent untyped).
    pub r#type: Option<String>,
    /// The entries, in stream order.
    pub entries: Vec<(Value, Value)>,
}

/// An instance of a Java class: its name and its fields in declaration order.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The fully qualified Java class name.
    pub class: Arc<str>,
    /// Field names and values, in the order of the class definition.
    pub fields: Vec<(Arc<str>, Value)>,
}

impl Object {
    /// An instance of `class` with no fields yet.
    pub fn new(class: impl Into<Arc<str>>) -> Self {
        Object {
            class: class.into(),
            fields: Vec::new(),
        }
    }

    /// Append a field.
    pub fn field(mut self, name: impl Into<Arc<str>>, value: impl Into<Value>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| &**n == name).map(|(_, v)| v)
    }
}

impl List {
    /// An untyped list (what Java writes for an `ArrayList`).
    pub fn untyped(items: Vec<Value>) -> Self {
        List { r#type: None, items }
    }

    /// A list of Java type `ty` (e.g. `[java.lang.String` for a `String[]`).
    pub fn typed(ty: impl Into<String>, items: Vec<Value>) -> Self {
        List {
            r#type: Some(ty.into()),
            items,
        }
    }
}

impl Map {
    /// An untyped map (what Java writes for a `HashMap`).
    pub fn untyped(entries: Vec<(Value, Value)>) -> Self {
        Map { r#type: None, entries }
    }

    /// The value of the first entry whose key is the string `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, Value::String(s) if s == key))
            .map(|(_, v)| v)
    }
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `int` or a `long`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i64::from(*i)),
            Value::Long(l) => Some(*l),
            _ => None,
        }
    }

    /// What kind of value this is, as an error message names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "int",
            Value::Long(_) => "long",
            Value::Double(_) => "double",
            Value::Date(_) => "date",
            Value::String(_) => "string",
            Value::Binary(_) => "binary",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
            Value::Ref(_) => "reference",
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i)
    }
}
impl From<i64> for Value {
    fn from(l: i64) -> Self {
        Value::Long(l)
    }
}
impl From<f64> for Value {
    fn from(d: f64) -> Self {
        Value::Double(d)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Binary(b)
    }
}
impl From<List> for Value {
    fn from(l: List) -> Self {
        Value::List(l)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(m)
    }
}
impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Object(o)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}
