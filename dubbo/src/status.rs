//! Response status bytes, as Dubbo's `Response` defines them.

/// The call went through (the body says whether it returned or threw).
pub const OK: u8 = 20;
/// The request or response could not be (de)serialized.
pub const SERIALIZATION_ERROR: u8 = 25;
/// The consumer gave up waiting.
pub const CLIENT_TIMEOUT: u8 = 30;
/// The provider gave up.
pub const SERVER_TIMEOUT: u8 = 31;
/// The channel closed.
pub const CHANNEL_INACTIVE: u8 = 35;
/// The request could not be understood.
pub const BAD_REQUEST: u8 = 40;
/// The response could not be understood.
pub const BAD_RESPONSE: u8 = 50;
/// The provider does not export the service asked for.
pub const SERVICE_NOT_FOUND: u8 = 60;
/// The service failed.
pub const SERVICE_ERROR: u8 = 70;
/// The provider failed.
pub const SERVER_ERROR: u8 = 80;
/// The consumer failed.
pub const CLIENT_ERROR: u8 = 90;
/// The provider's thread pool is exhausted.
pub const SERVER_THREADPOOL_EXHAUSTED_ERROR: u8 = 100;

/// The status's name, for messages.
pub fn name(status: u8) -> &'static str {
    match status {
        OK => "OK",
        SERIALIZATION_ERROR => "SERIALIZATION_ERROR",
        CLIENT_TIMEOUT => "CLIENT_TIMEOUT",
        SERVER_TIMEOUT => "SERVER_TIMEOUT",
        CHANNEL_INACTIVE => "CHANNEL_INACTIVE",
        BAD_REQUEST => "BAD_REQUEST",
        BAD_RESPONSE => "BAD_RESPONSE",
        SERVICE_NOT_FOUND => "SERVICE_NOT_FOUND",
        SERVICE_ERROR => "SERVICE_ERROR",
        SERVER_ERROR => "SERVER_ERROR",
        CLIENT_ERROR => "CLIENT_ERROR",
        SERVER_THREADPOOL_EXHAUSTED_ERROR => "SERVER_THREADPOOL_EXHAUSTED_ERROR",
        _ => "UNKNOWN",
    }
}
