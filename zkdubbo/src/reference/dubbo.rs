//! Calling dubbo:// providers through a [`Reference`]: typed (serde) and generic.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zkdubbo_common::{Response, RpcError};
use zkdubbo_hessian::Value;

use super::Reference;
use crate::SERVED_BY;

impl Reference {
    /// Call a Java method of a dubbo:// provider: `types` are its Java parameter types (they
    /// pick the overload), `args` a tuple of serde values (`()` for none), and the result is
    /// read into `R`.
    ///
    /// ```no_run
    /// # async fn run(demo: zkdubbo::Reference) -> Result<(), zkdubbo::RpcError> {
    /// let greeting: String = demo.call_dubbo("sayHello", &["java.lang.String"], &("Bob",)).await?;
    /// let sum: i32 = demo.call_dubbo("add", &["int", "int"], &(2, 3)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The cluster's [`RpcError`]; a remote exception is a business error naming its Java
    /// class; arguments or a result that do not (de)serialize are codec errors.
    pub async fn call_dubbo<A, R>(&self, method: &str, types: &[&str], args: &A) -> Result<R, RpcError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let inv = zkdubbo_dubbo::invocation(method, types, args)
            .map_err(|e| RpcError::codec(format!("arguments: {e}"), self.call_context(method, None)))?;
        let response = self.invoke(&inv).await?;
        self.read(method, &response, zkdubbo_dubbo::reply::<R>(&response))
    }

    /// Call any Java method without its classes (`$invoke`, `generic=true`): arguments and
    /// result are [`Value`]s, POJOs maps with a `class` entry.
    ///
    /// # Errors
    /// As [`Reference::call_dubbo`].
    pub async fn generic_call<S: AsRef<str>>(
        &self,
        method: &str,
        types: &[S],
        args: Vec<Value>,
    ) -> Result<Value, RpcError> {
        let inv = zkdubbo_dubbo::generic_invocation(method, types, args)
            .map_err(|e| RpcError::codec(format!("arguments: {e}"), self.call_context(method, None)))?;
        let response = self.invoke(&inv).await?;
        self.read(method, &response, zkdubbo_dubbo::reply_value(&response))
    }

    fn read<T>(&self, method: &str, response: &Response, r: Result<T, zkdubbo_hessian::Error>) -> Result<T, RpcError> {
        r.map_err(|e| RpcError::codec(format!("result: {e}"), self.call_context(method, Some(response))))
    }

    fn call_context(&self, method: &str, response: Option<&Response>) -> String {
        format!(
            "service {}, method {method}, provider {}",
            self.inner.consumer.service_key(),
            response
                .and_then(|r| r.attachments.get(SERVED_BY))
                .map_or("?", String::as_str)
        )
    }
}
