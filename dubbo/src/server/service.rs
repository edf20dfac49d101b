//! What a provider serves: the [`Service`] capability and [`DubboMethods`], typed handlers
//! keyed by method name and parameter types (the way Java picks an overload).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zkdubbo_hessian::{JavaException, Value};

/// One call as a provider receives it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method.
    pub method: String,
    /// The parameter types (Java names).
    pub types: Vec<String>,
    /// The arguments.
    pub args: Vec<Value>,
    /// The consumer's attachments.
    pub attachments: BTreeMap<String, String>,
}

/// The future a handler returns: the Hessian bytes of one value (`None` for null), or the
/// exception to send back.
pub type ServiceFuture = Pin<Box<dyn Future<Output = Result<Option<Vec<u8>>, JavaException>> + Send>>;

/// A service a dubbo:// server exports.
pub trait Service: Send + Sync + 'static {
    /// The method names (registered as `methods=`).
    fn methods(&self) -> Vec<String>;
    /// Serve one call.
    fn call(&self, call: Call) -> ServiceFuture;
}

type Handler = Arc<dyn Fn(Call) -> ServiceFuture + Send + Sync>;

/// Handlers by method name and parameter types.
///
/// ```
/// use zkdubbo_dubbo::DubboMethods;
/// let methods = DubboMethods::new()
///     .method("sayHello", &["java.lang.String"], |(name,): (String,)| async move {
///         Ok(format!("Hello, {name}!"))
///     })
///     .method("add", &["int", "int"], |(a, b): (i32, i32)| async move { Ok(a + b) });
/// ```
#[derive(Clone, Default)]
pub struct DubboMethods {
    entries: Vec<(String, String, Handler)>,
}

impl std::fmt::Debug for DubboMethods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(m, d, _)| format!("{m}({d})")))
            .finish()
    }
}

impl DubboMethods {
    /// No methods yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serve `name` with parameters of Java `types`: the arguments are read into `A` (a
    /// tuple), the result written from `R`.
    pub fn method<A, R, F, Fut>(self, name: &str, types: &[&str], f: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, JavaException>> + Send + 'static,
    {
        let f = Arc::new(f);
        let label = name.to_owned();
        self.raw(name, types, move |call: Call| {
            let f = f.clone();
            let label = label.clone();
            async move {
                let args: A = zkdubbo_hessian::from_args(&call.args).map_err(|e| {
                    exception(
                        "java.lang.IllegalArgumentException",
                        format!("arguments of {label}{:?}: {e}", call.types),
                    )
                })?;
                let r = f(args).await?;
                zkdubbo_hessian::to_bytes(&r)
                    .map(Some)
                    .map_err(|e| exception("java.lang.IllegalStateException", format!("result of {label}: {e}")))
            }
        })
    }

    /// Serve `name` with a handler of the raw call, answering a [`Value`] (`Null` for null).
    pub fn raw<F, Fut>(mut self, name: &str, types: &[&str], f: F) -> Self
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<Vec<u8>>, JavaException>> + Send + 'static,
    {
        let desc = crate::descriptor(types);
        self.entries.retain(|(m, d, _)| !(m == name && *d == desc));
        self.entries.push((
            name.to_owned(),
            desc,
            Arc::new(move |call| Box::pin(f(call)) as ServiceFuture),
        ));
        self
    }

    /// Serve `name` answering a [`Value`] computed from the arguments.
    pub fn value<F, Fut>(self, name: &str, types: &[&str], f: F) -> Self
    where
        F: Fn(Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, JavaException>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.raw(name, types, move |call: Call| {
            let f = f.clone();
            async move {
                let v = f(call.args).await?;
                zkdubbo_hessian::encode(&v)
                    .map(Some)
                    .map_err(|e| exception("java.lang.IllegalStateException", e.to_string()))
            }
        })
    }
}

impl Service for DubboMethods {
    fn methods(&self) -> Vec<String> {
        let mut names: Vec<String> = self.entries.iter().map(|(m, _, _)| m.clone()).collect();
        names.dedup();
        names
    }

    fn call(&self, call: Call) -> ServiceFuture {
        let desc = crate::descriptor(&call.types);
        match self.entries.iter().find(|(m, d, _)| *m == call.method && *d == desc) {
            Some((_, _, h)) => h(call),
            None => {
                let known: Vec<String> = self.entries.iter().map(|(m, d, _)| format!("{m}({d})")).collect();
                let message = format!(
                    "no method {}({desc}) in this service; it has {}",
                    call.method,
                    known.join(", ")
                );
                Box::pin(async move { Err(exception("java.lang.NoSuchMethodException", message)) })
            }
        }
    }
}

/// An exception of Java class `class` with `message` and no cause.
pub fn exception(class: &str, message: impl Into<String>) -> JavaException {
    JavaException {
        class: class.to_owned(),
        message: Some(message.into()),
        cause: None,
    }
}
