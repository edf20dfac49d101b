//! gRPC message framing and the pass-through codec used by the client.
//!
//! A gRPC message on the wire is a 5-byte prefix (1 byte "compressed" flag, 4 bytes big-endian
//! length) followed by the message bytes. The client hands already-encoded protobuf bytes to
//! tonic through [`BytesCodec`]; the server decodes and encodes frames with [`encode_frame`]
//! and [`decode_unary_request`].

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Size of the gRPC message prefix: compressed flag + big-endian `u32` length.
pub const FRAME_HEADER_LEN: usize = 5;

/// A tonic [`Codec`] that sends and receives message bodies as raw [`Bytes`], unchanged.
///
/// This is what lets the transport carry payloads that were encoded elsewhere (an
/// [`Invocation`](zkdubbo_common::Invocation)'s payload) without knowing their type.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len)))
    }
}

/// Frame one uncompressed message: `0x00`, its length as big-endian `u32`, then the bytes.
///
/// ```
/// let frame = zkdubbo_triple::codec::encode_frame(b"\x0a\x03Bob").unwrap();
/// assert_eq!(&frame[..], b"\x00\x00\x00\x00\x05\x0a\x03Bob");
/// ```
///
/// Fails with `RESOURCE_EXHAUSTED` when `message` is longer than `u32::MAX` bytes, which
/// gRPC cannot frame.
pub fn encode_frame(message: &[u8]) -> Result<Bytes, Status> {
    let len = u32::try_from(message.len())
        .map_err(|_| Status::resource_exhausted(format!("message of {} bytes is too large for gRPC", message.len())))?;
    let mut buf = BytesMut::with_capacity(FRAME_HEADER_LEN + message.len());
    buf.put_u8(0);
    buf.put_u32(len);
    buf.put_slice(message);
    Ok(buf.freeze())
}

/// Extract the single request message of a unary call from the whole request body.
///
/// The first frame is the message (it may legitimately be empty: a protobuf message whose
/// fields all have default values encodes to zero bytes). Zero-length frames after it are
/// ignored, as some clients (dubbo-python) send one before ending the stream; an empty body
/// is treated as one empty message. Errors are the gRPC status to answer with.
///
/// ```
/// use zkdubbo_triple::codec::{decode_unary_request, encode_frame};
/// let mut body = encode_frame(b"hi").unwrap().to_vec();
/// body.extend_from_slice(&encode_frame(b"").unwrap());
/// assert_eq!(&decode_unary_request(body.into()).unwrap()[..], b"hi");
/// ```
pub fn decode_unary_request(mut body: Bytes) -> Result<Bytes, Status> {
    if body.is_empty() {
        return Ok(Bytes::new());
    }
    let message = next_frame(&mut body)?;
    while !body.is_empty() {
        let extra = next_frame(&mut body)?;
        if !extra.is_empty() {
            return Err(Status::invalid_argument(
                "unary call carried more than one request message",
            ));
        }
    }
    Ok(message)
}

fn next_frame(body: &mut Bytes) -> Result<Bytes, Status> {
    if body.len() < FRAME_HEADER_LEN {
        return Err(Status::invalid_argument(format!(
            "truncated gRPC frame header ({} bytes)",
            body.len()
        )));
    }
    let compressed = body.get_u8();
    let len = body.get_u32() as usize;
    if compressed != 0 {
        return Err(Status::unimplemented(
            "compressed gRPC messages are not supported (send grpc-encoding identity)",
        ));
    }
    if body.len() < len {
        return Err(Status::invalid_argument(format!(
            "truncated gRPC message: header says {len} bytes, {} present",
            body.len()
        )));
    }
    Ok(body.split_to(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frame = encode_frame(b"abc").unwrap();
        assert_eq!(&frame[..], b"\x00\x00\x00\x00\x03abc");
        assert_eq!(&decode_unary_request(frame).unwrap()[..], b"abc");
    }

    #[test]
    fn empty_message_and_empty_body() {
        assert!(decode_unary_request(encode_frame(b"").unwrap()).unwrap().is_empty());
        assert!(decode_unary_request(Bytes::new()).unwrap().is_empty());
    }

    #[test]
    fn trailing_empty_frames_are_ignored() {
        let mut body = encode_frame(b"x").unwrap().to_vec();
        body.extend_from_slice(&encode_frame(b"").unwrap());
        body.extend_from_slice(&encode_frame(b"").unwrap());
        assert_eq!(&decode_unary_request(body.into()).unwrap()[..], b"x");
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        let err = decode_unary_request(Bytes::from_static(b"\x00\x00")).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let err = decode_unary_request(Bytes::from_static(b"\x00\x00\x00\x00\x09ab")).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let err = decode_unary_request(Bytes::from_static(b"\x01\x00\x00\x00\x01a")).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);
        let mut two = encode_frame(b"a").unwrap().to_vec();
        two.extend_from_slice(&encode_frame(b"b").unwrap());
        let err = decode_unary_request(two.into()).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
}
