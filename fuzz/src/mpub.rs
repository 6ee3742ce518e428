//! MPUB bodies (`split_mpub`).
//!
//! Input: `[limits selector][MPUB body]`.
//! Checks: accepted bodies split into exactly the announced number of
//! non-empty messages, each within --max-msg-size, that tile the body after
//! the count with their size prefixes; `encode::mpub` of those messages
//! gives back the very same body. Refusals carry NSQ's codes.

use crate::command::limits;
use crate::split;
use bytes::BytesMut;
use nsq_core::wire::command::{encode, split_mpub};

pub fn run(data: &[u8]) {
    let (selector, body) = split::seed_and_stream(data);
    let limits = limits(selector);
    match split_mpub(body, &limits) {
        Ok(spans) => {
            let count = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            assert_eq!(spans.len() as i64, i64::from(count));
            let mut at = 4;
            for &(s, e) in &spans {
                assert_eq!(s, at + 4, "messages tile the body");
                let size = u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
                assert_eq!(e - s, size as usize);
                assert!(e > s && (e - s) as i64 <= limits.max_msg_size);
                at = e;
            }
            assert_eq!(at, body.len(), "nothing beyond the messages");
            let bodies: Vec<&[u8]> = spans.iter().map(|&(s, e)| &body[s..e]).collect();
            let mut wire = BytesMut::new();
            encode::mpub(&mut wire, "t", &bodies);
            assert_eq!(
                &wire[wire.len() - body.len()..],
                body,
                "encode::mpub differs"
            );
        }
        Err(e) => assert!(
            e.fatal && matches!(e.code, "E_BAD_BODY" | "E_BAD_MESSAGE"),
            "{e:?}"
        ),
    }
}
