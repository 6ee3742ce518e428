//! Protocol V2 frames: `[4-byte BE size][4-byte BE type][data]`, where size
//! counts the type and the data.

use super::message::{DecodeError, Message};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The three frame types of protocol V2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Response = 0,
    Error = 1,
    Message = 2,
}

impl FrameType {
    pub fn from_i32(v: i32) -> Option<Self> {
        match v {
            0 => Some(FrameType::Response),
            1 => Some(FrameType::Error),
            2 => Some(FrameType::Message),
            _ => None,
        }
    }
}

/// Response frame data NSQ uses.
pub const OK: &[u8] = b"OK";
pub const HEARTBEAT: &[u8] = b"_heartbeat_";
pub const CLOSE_WAIT: &[u8] = b"CLOSE_WAIT";

/// Appends a frame carrying `data`.
pub fn put_frame<B: BufMut>(out: &mut B, ty: FrameType, data: &[u8]) {
    out.put_u32(data.len() as u32 + 4);
    out.put_i32(ty as i32);
    out.put_slice(data);
}

/// Appends a message frame for `msg`.
pub fn put_message_frame<B: BufMut>(out: &mut B, msg: &Message) {
    out.put_u32(msg.encoded_len() as u32 + 4);
    out.put_i32(FrameType::Message as i32);
    msg.encode_into(out);
}

/// Length of the message frame for `msg`.
pub fn message_frame_len(msg: &Message) -> usize {
    8 + msg.encoded_len()
}

/// A decoded frame (client side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Response(Bytes),
    Error(Bytes),
    Message(Message),
}

/// Why a byte stream is not a valid frame stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The size field is below 4 or above the decoder's limit.
    BadSize(u32),
    UnknownType(i32),
    BadMessage(DecodeError),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::BadSize(n) => write!(f, "invalid frame size {n}"),
            FrameError::UnknownType(t) => write!(f, "unknown frame type {t}"),
            FrameError::BadMessage(e) => write!(f, "bad message frame: {e}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Incremental decoder of the frames a server sends (used by clients, the
/// bench tools and tests). Bytes may arrive split anywhere.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_size: u32,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        // nsqd's largest frame is a message of --max-msg-size; leave room
        // for servers configured far above the default.
        FrameDecoder {
            max_size: 256 * 1024 * 1024,
        }
    }
}

impl FrameDecoder {
    pub fn with_max_size(max_size: u32) -> Self {
        FrameDecoder { max_size }
    }

    /// Takes one complete frame off the front of `buf`, if there is one.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if !(4..=self.max_size).contains(&size) {
            return Err(FrameError::BadSize(size));
        }
        let total = 4 + size as usize;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let mut frame = buf.split_to(total).freeze();
        frame.advance(4);
        let ty = frame.get_i32();
        match FrameType::from_i32(ty) {
            Some(FrameType::Response) => Ok(Some(Frame::Response(frame))),
            Some(FrameType::Error) => Ok(Some(Frame::Error(frame))),
            Some(FrameType::Message) => Message::decode(frame)
                .map(|m| Some(Frame::Message(m)))
                .map_err(FrameError::BadMessage),
            None => Err(FrameError::UnknownType(ty)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::message::MessageId;
    use quickcheck::quickcheck;

    #[test]
    fn ok_frame_bytes() {
        let mut v = Vec::new();
        put_frame(&mut v, FrameType::Response, OK);
        assert_eq!(v, [0, 0, 0, 6, 0, 0, 0, 0, b'O', b'K']);
    }

    #[test]
    fn rejects_bad_sizes_and_types() {
        let d = FrameDecoder::default();
        let mut b = BytesMut::from(&[0u8, 0, 0, 3, 0, 0, 0][..]);
        assert_eq!(d.decode(&mut b), Err(FrameError::BadSize(3)));
        let mut b = BytesMut::from(&[0u8, 0, 0, 4, 0, 0, 0, 9][..]);
        assert_eq!(d.decode(&mut b), Err(FrameError::UnknownType(9)));
        let mut b = BytesMut::from(&[0u8, 0, 0, 5, 0, 0, 0, 2, 1][..]);
        assert!(matches!(d.decode(&mut b), Err(FrameError::BadMessage(_))));
    }

    quickcheck! {
        fn frames_decode_whatever_the_split(bodies: Vec<Vec<u8>>, cut: usize) -> bool {
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            for (i, body) in bodies.iter().enumerate() {
                if i % 2 == 0 {
                    let m = Message { id: MessageId::from_guid(i as u64), timestamp: i as i64, attempts: 1, body: Bytes::from(body.clone()), origin: 0 };
                    put_message_frame(&mut wire, &m);
                    expected.push(Frame::Message(m));
                } else {
                    put_frame(&mut wire, FrameType::Response, body);
                    expected.push(Frame::Response(Bytes::from(body.clone())));
                }
            }
            let cut = if wire.is_empty() { 0 } else { cut % wire.len() };
            let d = FrameDecoder::default();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                buf.extend_from_slice(part);
                while let Some(f) = d.decode(&mut buf).unwrap() {
                    got.push(f);
                }
            }
            got == expected && buf.is_empty()
        }
    }
}
