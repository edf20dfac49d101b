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

/// How messages of a call are compressed (`grpc-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Not compressed.
    #[default]
    Identity,
    /// gzip.
    Gzip,
}

/// What a server or client advertises in `grpc-accept-encoding`.
pub const ACCEPT_ENCODING: &str = "gzip,identity";

impl Encoding {
    /// The encoding a `grpc-encoding` value names; `None` for one not supported.
    pub fn from_header(value: &[u8]) -> Option<Encoding> {
        match value.trim_ascii() {
            b"identity" | b"" => Some(Encoding::Identity),
            b"gzip" => Some(Encoding::Gzip),
            _ => None,
        }
    }

    /// Whether a `grpc-accept-encoding` value lists this encoding.
    pub fn accepted_by(self, value: &[u8]) -> bool {
        let name: &[u8] = match self {
            Encoding::Identity => return true,
            Encoding::Gzip => b"gzip",
        };
        value.split(|&b| b == b',').any(|e| e.trim_ascii() == name)
    }

    /// The `grpc-encoding` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
        }
    }
}

/// Frame one message compressed with `encoding` (`0x01` and the compressed bytes; identity:
/// [`encode_frame`]).
///
/// ```
/// use zkdubbo_triple::codec::{Encoding, decode_unary_request_with, encode_frame_with};
/// let frame = encode_frame_with(b"hello hello hello", Encoding::Gzip).unwrap();
/// assert_eq!(frame[0], 1);
/// assert_eq!(&decode_unary_request_with(frame, Encoding::Gzip, 1024).unwrap()[..], b"hello hello hello");
/// ```
pub fn encode_frame_with(message: &[u8], encoding: Encoding) -> Result<Bytes, Status> {
    match encoding {
        Encoding::Identity => encode_frame(message),
        Encoding::Gzip => {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(message)
                .map_err(|e| Status::internal(format!("cannot gzip the message: {e}")))?;
            let compressed = gz
                .finish()
                .map_err(|e| Status::internal(format!("cannot gzip the message: {e}")))?;
            let mut frame = encode_frame(&compressed)?.to_vec();
            frame[0] = 1;
            Ok(Bytes::from(frame))
        }
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
pub fn decode_unary_request(body: Bytes) -> Result<Bytes, Status> {
    decode_unary_request_with(body, Encoding::Identity, usize::MAX)
}

/// [`decode_unary_request`] for a call whose `grpc-encoding` is `encoding`: a frame flagged
/// compressed is decompressed, to at most `max` bytes (`RESOURCE_EXHAUSTED` beyond: a small
/// compressed frame can expand to gigabytes).
pub fn decode_unary_request_with(mut body: Bytes, encoding: Encoding, max: usize) -> Result<Bytes, Status> {
    if body.is_empty() {
        return Ok(Bytes::new());
    }
    let message = next_frame(&mut body, encoding, max)?;
    while !body.is_empty() {
        let extra = next_frame(&mut body, encoding, max)?;
        if !extra.is_empty() {
            return Err(Status::invalid_argument(
                "unary call carried more than one request message",
            ));
        }
    }
    Ok(message)
}

/// `compressed` decompressed with `encoding`, at most `max` bytes.
fn decompress(compressed: &[u8], encoding: Encoding, max: usize) -> Result<Bytes, Status> {
    use std::io::Read;
    match encoding {
        Encoding::Identity => Err(Status::internal(
            "a message flagged compressed in a call without grpc-encoding",
        )),
        Encoding::Gzip => {
            let mut out = Vec::new();
            let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
            flate2::read::GzDecoder::new(compressed)
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| Status::internal(format!("cannot gunzip the message: {e}")))?;
            if out.len() > max {
                return Err(Status::resource_exhausted(format!(
                    "the message decompresses to more than the {max} bytes allowed"
                )));
            }
            Ok(Bytes::from(out))
        }
    }
}

fn next_frame(body: &mut Bytes, encoding: Encoding, max: usize) -> Result<Bytes, Status> {
    if body.len() < FRAME_HEADER_LEN {
        return Err(Status::invalid_argument(format!(
            "truncated gRPC frame header ({} bytes)",
            body.len()
        )));
    }
    let compressed = body.get_u8();
    let len = body.get_u32() as usize;
    if body.len() < len {
        return Err(Status::invalid_argument(format!(
            "truncated gRPC message: header says {len} bytes, {} present",
            body.len()
        )));
    }
    let message = body.split_to(len);
    match compressed {
        0 => Ok(message),
        1 => decompress(&message, encoding, max),
        flag => Err(Status::internal(format!("gRPC frame with compression flag {flag}"))),
    }
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
        // Flagged compressed without grpc-encoding: INTERNAL, as the gRPC spec says.
        let err = decode_unary_request(Bytes::from_static(b"\x01\x00\x00\x00\x01a")).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Internal);
        let mut two = encode_frame(b"a").unwrap().to_vec();
        two.extend_from_slice(&encode_frame(b"b").unwrap());
        let err = decode_unary_request(two.into()).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn gzip_frames_round_trip_and_are_bounded() {
        let message = vec![b'a'; 100_000];
        let frame = encode_frame_with(&message, Encoding::Gzip).unwrap();
        assert_eq!(frame[0], 1);
        assert!(frame.len() < 1_000, "compressed to {} bytes", frame.len());
        assert_eq!(
            &decode_unary_request_with(frame.clone(), Encoding::Gzip, 100_000).unwrap()[..],
            &message[..]
        );
        // A small frame that expands past the limit is refused, not inflated.
        let err = decode_unary_request_with(frame.clone(), Encoding::Gzip, 99_999).unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        // Flagged compressed in a call that said identity; garbage; an unknown flag.
        assert_eq!(decode_unary_request(frame).unwrap_err().code(), tonic::Code::Internal);
        let mut garbage = encode_frame(b"not gzip").unwrap().to_vec();
        garbage[0] = 1;
        assert_eq!(
            decode_unary_request_with(garbage.clone().into(), Encoding::Gzip, 1024)
                .unwrap_err()
                .code(),
            tonic::Code::Internal
        );
        garbage[0] = 7;
        assert!(decode_unary_request_with(garbage.into(), Encoding::Gzip, 1024).is_err());
    }

    #[test]
    fn encodings_are_read_from_headers() {
        assert_eq!(Encoding::from_header(b"gzip"), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_header(b"identity"), Some(Encoding::Identity));
        assert_eq!(Encoding::from_header(b"zstd"), None);
        assert!(Encoding::Gzip.accepted_by(b"identity, gzip"));
        assert!(!Encoding::Gzip.accepted_by(b"identity,deflate"));
    }
}
