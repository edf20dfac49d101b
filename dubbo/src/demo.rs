//! Dubbo's sample `DemoService`, served over dubbo:// by the examples and tests (feature
//! `samples`).
//!
//! ```java
//! package org.apache.dubbo.samples;
//! public interface DemoService {
//!     String sayHello(String name);            // "Hello, <name>!"
//!     int add(int a, int b);
//!     Object echo(Object value);               // the same value
//!     com.example.User getUser(String name);   // IllegalArgumentException for ""
//! }
//! ```

use serde::{Deserialize, Serialize};
use zkdubbo_hessian::{Date, Value};

use crate::{DubboMethods, exception};

/// The interface name.
pub const INTERFACE: &str = "org.apache.dubbo.samples.DemoService";

/// `com.example.User`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "com.example.User")]
pub struct User {
    /// The name.
    pub name: String,
    /// The age.
    pub age: i32,
    /// Tags.
    pub tags: Vec<String>,
    /// When the user was created.
    pub created: Option<Date>,
}

/// The user `getUser(name)` answers.
pub fn user(name: &str) -> User {
    User {
        name: name.to_owned(),
        age: 36,
        tags: vec!["demo".into(), "zkdubbo".into()],
        created: Some(Date(1_700_000_000_000)),
    }
}

/// The service's handlers.
pub fn service() -> DubboMethods {
    DubboMethods::new()
        .method("sayHello", &["java.lang.String"], |(name,): (String,)| async move {
            Ok(format!("Hello, {name}!"))
        })
        .method("add", &["int", "int"], |(a, b): (i32, i32)| async move {
            a.checked_add(b)
                .ok_or_else(|| exception("java.lang.ArithmeticException", format!("{a} + {b} overflows an int")))
        })
        .value("echo", &["java.lang.Object"], |args: Vec<Value>| async move {
            Ok(args.into_iter().next().unwrap_or(Value::Null))
        })
        .method("getUser", &["java.lang.String"], |(name,): (String,)| async move {
            if name.is_empty() {
                return Err(exception("java.lang.IllegalArgumentException", "the name is empty"));
            }
            Ok(user(&name))
        })
}
