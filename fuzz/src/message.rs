//! Message encodings (`Message::decode`), as carried by message frames and
//! diskqueue records.
//!
//! Input: an encoded message.
//! Checks: whatever decodes encodes back to the same bytes, with a body
//! sharing the input's allocation; only buffers shorter than the header are
//! refused, and the error says how long they were.

use bytes::Bytes;
use nsq_core::wire::message::{DecodeError, MIN_ENCODED_LEN};
use nsq_core::wire::Message;

pub fn run(data: &[u8]) {
    let raw = Bytes::copy_from_slice(data);
    match Message::decode(raw.clone()) {
        Ok(m) => {
            assert!(data.len() >= MIN_ENCODED_LEN);
            assert_eq!(m.encoded_len(), data.len());
            assert_eq!(m.encode(), data);
            assert_eq!(m.origin, 0, "the origin never comes off the wire");
            if !m.body.is_empty() {
                assert_eq!(
                    m.body.as_ptr(),
                    raw[MIN_ENCODED_LEN..].as_ptr(),
                    "the body is a slice of the input"
                );
            }
        }
        Err(e) => {
            assert!(data.len() < MIN_ENCODED_LEN);
            assert_eq!(e, DecodeError(data.len()));
        }
    }
}
