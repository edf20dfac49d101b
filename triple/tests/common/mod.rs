//! What the tests share.

use bytes::Bytes;

/// One uncompressed gRPC message as the wire carries it: flag, big-endian length, bytes (for
/// tests that speak HTTP/2 by hand, as other implementations' clients and servers do).
pub(crate) fn frame(message: &[u8]) -> Bytes {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(message);
    Bytes::from(frame)
}
