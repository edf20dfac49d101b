//! The exchange layer's frame: a 16-byte header and a body, read with every length bounded.
//!
//! ```text
//! 0xda 0xbb | flags | status | request id (i64) | body length (i32) | body
//! flags: 0x80 request, 0x40 two-way, 0x20 event, low 5 bits the serialization (2 = hessian2)
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The two magic bytes every frame starts with.
pub const MAGIC: [u8; 2] = [0xda, 0xbb];
/// Header length.
pub const HEADER_LEN: usize = 16;
/// The serialization id of Hessian2, the only one spoken here.
pub const HESSIAN2: u8 = 2;
/// Dubbo's default `payload` limit: 8 MiB.
pub const DEFAULT_PAYLOAD: usize = 8 * 1024 * 1024;

const FLAG_REQUEST: u8 = 0x80;
const FLAG_TWO_WAY: u8 = 0x40;
const FLAG_EVENT: u8 = 0x20;
const SERIALIZATION_MASK: u8 = 0x1f;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The request id (a response carries its request's).
    pub id: i64,
    /// Request or response, and its flags.
    pub kind: Kind,
    /// The serialization id.
    pub serialization: u8,
    /// The body.
    pub body: Bytes,
}

/// Whether a frame is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request.
    Request {
        /// The sender waits for a response.
        two_way: bool,
        /// A heartbeat or read-only event, not a call.
        event: bool,
    },
    /// A response.
    Response {
        /// Its status byte.
        status: u8,
        /// The answer to an event.
        event: bool,
    },
}

/// Why a frame could not be read.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or closed mid-frame.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The frame does not start with `0xdabb`.
    #[error("not a dubbo frame: starts with {0:02x?}")]
    BadMagic([u8; 2]),
    /// A body longer than the limit (or negative).
    #[error("body of {len} bytes is over the payload limit of {limit}")]
    TooLarge {
        /// The length the header announced.
        len: i64,
        /// The limit.
        limit: usize,
    },
}

impl Frame {
    /// The 16-byte header followed by `body`, in one buffer.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(HEADER_LEN + self.body.len());
        self.put_header(&mut b, self.body.len());
        b.extend_from_slice(&self.body);
        b.freeze()
    }

    /// Write the header for a body of `len` bytes.
    pub fn put_header(&self, b: &mut BytesMut, len: usize) {
        let (flags, status) = match self.kind {
            Kind::Request { two_way, event } => (
                FLAG_REQUEST | if two_way { FLAG_TWO_WAY } else { 0 } | if event { FLAG_EVENT } else { 0 },
                0,
            ),
            Kind::Response { status, event } => (if event { FLAG_EVENT } else { 0 }, status),
        };
        b.put_slice(&MAGIC);
        b.put_u8(flags | (self.serialization & SERIALIZATION_MASK));
        b.put_u8(status);
        b.put_i64(self.id);
        b.put_i32(len as i32);
    }

    /// Whether this is a heartbeat or other event.
    pub fn is_event(&self) -> bool {
        matches!(
            self.kind,
            Kind::Request { event: true, .. } | Kind::Response { event: true, .. }
        )
    }
}

/// Read one frame; `Ok(None)` at a clean end of stream (between frames). The body length is
/// checked against `limit` before anything is allocated for it.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, limit: usize) -> Result<Option<Frame>, FrameError> {
    let mut h = [0u8; HEADER_LEN];
    match r.read_exact(&mut h[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    r.read_exact(&mut h[1..]).await?;
    if h[..2] != MAGIC {
        return Err(FrameError::BadMagic([h[0], h[1]]));
    }
    let flags = h[2];
    let id = i64::from_be_bytes(h[4..12].try_into().unwrap_or_default());
    let len = i32::from_be_bytes(h[12..16].try_into().unwrap_or_default());
    if len < 0 || len as usize > limit {
        return Err(FrameError::TooLarge {
            len: i64::from(len),
            limit,
        });
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).await?;
    let event = flags & FLAG_EVENT != 0;
    let kind = if flags & FLAG_REQUEST != 0 {
        Kind::Request {
            two_way: flags & FLAG_TWO_WAY != 0,
            event,
        }
    } else {
        Kind::Response { status: h[3], event }
    };
    Ok(Some(Frame {
        id,
        kind,
        serialization: flags & SERIALIZATION_MASK,
        body: body.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn heartbeat_bytes_are_dubbo_s() {
        let hb = Frame {
            id: 7,
            kind: Kind::Request {
                two_way: true,
                event: true,
            },
            serialization: HESSIAN2,
            body: Bytes::from_static(b"N"),
        };
        let bytes = hb.encode();
        assert_eq!(&bytes[..4], &[0xda, 0xbb, 0xe2, 0x00]);
        assert_eq!(&bytes[12..16], &[0, 0, 0, 1]);
        let back = read_frame(&mut &bytes[..], DEFAULT_PAYLOAD).await.unwrap().unwrap();
        assert_eq!(back, hb);
    }

    #[tokio::test]
    async fn oversized_and_garbage_frames_are_refused() {
        let mut big = vec![0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff];
        let err = read_frame(&mut &big[..], 1024).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { limit: 1024, .. }), "{err}");
        big[0] = b'G';
        assert!(matches!(
            read_frame(&mut &big[..], 1024).await,
            Err(FrameError::BadMagic(_))
        ));
        // Truncated body.
        let cut = [0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, b'N'];
        assert!(matches!(read_frame(&mut &cut[..], 1024).await, Err(FrameError::Io(_))));
        assert!(read_frame(&mut &[][..], 1024).await.unwrap().is_none());
    }
}
