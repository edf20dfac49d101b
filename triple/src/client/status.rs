//! gRPC status → [`RpcError`](zkdubbo_common::RpcError).

use std::error::Error as StdError;

use tonic::{Code, Status, TimeoutExpired};
use zkdubbo_common::{RemoteStatus, RpcError};

use super::*;

/// The gRPC name of a status code, e.g. `INVALID_ARGUMENT`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Map a failed call's status to an [`RpcError`].
///
/// Statuses tonic made up locally carry their cause as `source` (connection refused or reset,
/// an unexpected content type, tonic's own deadline): those are transport errors or timeouts.
/// Statuses the provider sent have none: `UNAVAILABLE` → transport, `DEADLINE_EXCEEDED` →
/// timeout, everything else is the application's answer → business.
pub(crate) fn map_status(status: &Status, timeout_ms: u64, context: String) -> RpcError {
    let code = code_name(status.code());
    if let Some(e) = find_source::<UnexpectedContentType>(status) {
        return RpcError::transport(e.to_string(), context);
    }
    if find_source::<TimeoutExpired>(status).is_some() {
        return RpcError::timeout(format!("no answer within {timeout_ms} ms"), context);
    }
    let mut message = if status.message().is_empty() {
        format!("{code}: {}", status.code().description())
    } else {
        format!("{code}: {}", status.message())
    };
    if StdError::source(status).is_some() {
        append_causes(&mut message, status);
        return RpcError::transport_caused_by(message, context, status.clone());
    }
    match status.code() {
        Code::DeadlineExceeded => RpcError::timeout(message, context),
        Code::Unavailable => RpcError::transport(message, context),
        _ => RpcError::remote(RemoteStatus::Grpc(status.code() as i32), message, context),
    }
}

pub(crate) fn find_source<E: StdError + 'static>(status: &Status) -> Option<&E> {
    let mut source = StdError::source(status);
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        source = err.source();
    }
    None
}

/// Append the messages of `status`'s cause chain that add something (e.g. "Connection
/// refused (os error 111)").
pub(crate) fn append_causes(message: &mut String, status: &Status) {
    let mut source = StdError::source(status);
    while let Some(err) = source {
        let text = err.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = err.source();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        let ctx = || "ctx".to_string();
        let e = map_status(&Status::not_found("no such user"), 1000, ctx());
        assert!(
            matches!(
                &e,
                RpcError::Business { status: RemoteStatus::Grpc(5), message, context }
                    if message == "NOT_FOUND: no such user" && context == "ctx"
            ),
            "{e:?}"
        );
        for code in [
            Code::Unknown,
            Code::Internal,
            Code::InvalidArgument,
            Code::Unimplemented,
        ] {
            assert!(map_status(&Status::new(code, "x"), 1000, ctx()).is_business());
        }
        assert!(matches!(
            map_status(&Status::unavailable("shutting down"), 1000, ctx()),
            RpcError::Transport { .. }
        ));
        assert!(matches!(
            map_status(&Status::deadline_exceeded(""), 1000, ctx()),
            RpcError::Timeout { .. }
        ));
        let local = Status::from_error(Box::new(TimeoutExpired(())));
        assert!(
            matches!(map_status(&local, 250, ctx()), RpcError::Timeout { message, .. } if message.contains("250 ms"))
        );
        let local = Status::from_error(Box::new(std::io::Error::other("connection reset")));
        let e = map_status(&local, 1000, ctx());
        assert!(
            matches!(&e, RpcError::Transport { message, .. } if message.contains("connection reset")),
            "{e}"
        );
    }
}
