//! Messages: NSQ's 16-byte ASCII-hex ids and the binary message encoding
//! used both in message frames and in diskqueue records:
//! `[8-byte BE timestamp ns][2-byte BE attempts][16-byte id][body]`.

use bytes::{Buf, BufMut, Bytes};
use std::fmt;

/// Length of a message id on the wire.
pub const MSG_ID_LEN: usize = 16;
/// Smallest valid encoded message: timestamp + attempts + id.
pub const MIN_ENCODED_LEN: usize = 8 + 2 + MSG_ID_LEN;

/// A message id as it travels: 16 bytes, normally lowercase hex of a GUID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; MSG_ID_LEN]);

impl MessageId {
    /// The hex rendering of a 64-bit GUID, as NSQ formats it.
    pub fn from_guid(guid: u64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; MSG_ID_LEN];
        for (i, byte) in guid.to_be_bytes().iter().enumerate() {
            out[2 * i] = HEX[(byte >> 4) as usize];
            out[2 * i + 1] = HEX[(byte & 0xf) as usize];
        }
        MessageId(out)
    }

    /// Accepts any 16 bytes, as NSQ does (it never checks the hex).
    pub fn from_slice(raw: &[u8]) -> Option<Self> {
        <[u8; MSG_ID_LEN]>::try_from(raw).ok().map(MessageId)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

/// One message. The body is shared (reference counted) between every
/// channel copy of it, so fan-out never copies bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    /// Nanoseconds since the Unix epoch, set when the message was published.
    pub timestamp: i64,
    pub attempts: u16,
    pub body: Bytes,
    /// Where this copy came from in its queue's disk backend (the record's
    /// sequence number there; 0 = not from disk). Never on the wire.
    pub origin: u64,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .field("attempts", &self.attempts)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why bytes could not be decoded as a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub usize);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid message buffer size ({})", self.0)
    }
}

impl std::error::Error for DecodeError {}

impl Message {
    pub fn new(id: MessageId, timestamp: i64, body: Bytes) -> Self {
        Message {
            id,
            timestamp,
            attempts: 0,
            body,
            origin: 0,
        }
    }

    /// Length of the encoding.
    pub fn encoded_len(&self) -> usize {
        MIN_ENCODED_LEN + self.body.len()
    }

    /// Appends the encoding to `out`.
    pub fn encode_into<B: BufMut>(&self, out: &mut B) {
        out.put_i64(self.timestamp);
        out.put_u16(self.attempts);
        out.put_slice(&self.id.0);
        out.put_slice(&self.body);
    }

    /// The encoding as a fresh buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut v);
        v
    }

    /// Decodes an encoding; the body shares `raw`'s allocation.
    pub fn decode(mut raw: Bytes) -> Result<Message, DecodeError> {
        if raw.len() < MIN_ENCODED_LEN {
            return Err(DecodeError(raw.len()));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        let attempts = u16::from_be_bytes([raw[8], raw[9]]);
        let mut id = [0u8; MSG_ID_LEN];
        id.copy_from_slice(&raw[10..MIN_ENCODED_LEN]);
        // The body is what is left: advancing, not slicing, leaves the
        // shared buffer's reference count alone.
        raw.advance(MIN_ENCODED_LEN);
        Ok(Message {
            id: MessageId(id),
            timestamp: i64::from_be_bytes(ts),
            attempts,
            body: raw,
            origin: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[test]
    fn guid_hex_matches_nsq() {
        assert_eq!(
            MessageId::from_guid(0x18a3_7ba1_6e40_7000).to_string(),
            "18a37ba16e407000"
        );
    }

    #[test]
    fn decodes_the_fixture_frame_payload() {
        // payload of the message frame in tcp-samples/nsqd/24_message_frame
        let raw =
            hex("18ea27b88091775b00013138613337626131366534303730303068656c6c6f2066697874757265");
        let m = Message::decode(Bytes::from(raw.clone())).unwrap();
        assert_eq!(m.timestamp, 1795291074845046619);
        assert_eq!(m.attempts, 1);
        assert_eq!(m.id.to_string(), "18a37ba16e407000");
        assert_eq!(&m.body[..], b"hello fixture");
        assert_eq!(m.encode(), raw);
    }

    #[test]
    fn short_buffers_are_rejected() {
        assert_eq!(
            Message::decode(Bytes::from_static(&[0; 25])),
            Err(DecodeError(25))
        );
        assert!(Message::decode(Bytes::from_static(&[0; 26])).is_ok());
    }

    quickcheck! {
        fn encode_decode_round_trip(ts: i64, attempts: u16, id: u64, body: Vec<u8>) -> bool {
            let m = Message { id: MessageId::from_guid(id), timestamp: ts, attempts, body: Bytes::from(body), origin: 0 };
            Message::decode(Bytes::from(m.encode())) == Ok(m)
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
