//! Frames from a server (`FrameDecoder`), as clients and tools read them.
//!
//! Input: `[cut seed][size-limit selector][server byte stream]`.
//! Checks: decoding one-shot, byte by byte and in seeded chunks gives the
//! same frames and the same end; the frames, encoded again with
//! `put_frame` / `put_message_frame`, are exactly the bytes they came from.

use crate::split;
use bytes::BytesMut;
use nsq_core::wire::frame::{put_frame, put_message_frame, FrameError};
use nsq_core::wire::{Frame, FrameDecoder, FrameType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub frames: Vec<Frame>,
    pub error: Option<FrameError>,
    pub left: Vec<u8>,
}

pub fn decode_all(chunks: &[&[u8]], dec: &FrameDecoder) -> Decoded {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => {
                    return Decoded {
                        frames,
                        error: Some(e),
                        left: buf.to_vec(),
                    }
                }
            }
        }
    }
    Decoded {
        frames,
        error: None,
        left: buf.to_vec(),
    }
}

pub fn encode(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        match f {
            Frame::Response(d) => put_frame(&mut out, FrameType::Response, d),
            Frame::Error(d) => put_frame(&mut out, FrameType::Error, d),
            Frame::Message(m) => put_message_frame(&mut out, m),
        }
    }
    out
}

pub fn run(data: &[u8]) {
    let (seed, rest) = split::seed_and_stream(data);
    let (selector, stream) = split::seed_and_stream(rest);
    let dec = match selector % 3 {
        0 => FrameDecoder::default(),
        1 => FrameDecoder::with_max_size(u32::from(selector)),
        _ => FrameDecoder::with_max_size(1 << 20),
    };
    let whole = decode_all(&[stream], &dec);
    // Split streams stop at an error before later bytes arrive, so what is
    // left over may differ; frames and error may not.
    let same = |d: Decoded| (d.frames, d.error);
    let expected = same(whole.clone());
    assert_eq!(
        same(decode_all(&split::chunks(stream, seed), &dec)),
        expected
    );
    assert_eq!(same(decode_all(&split::bytewise(stream), &dec)), expected);
    let again = encode(&whole.frames);
    assert_eq!(
        &again[..],
        &stream[..again.len()],
        "frames re-encode to their bytes"
    );
    let rest = &stream[again.len()..];
    match &whole.error {
        None => {
            assert_eq!(rest, &whole.left[..], "the rest is left");
            let clean = decode_all(&[&again], &dec);
            assert_eq!(clean.frames, whole.frames);
            assert!(clean.error.is_none() && clean.left.is_empty());
        }
        // A bad size is refused before the frame is taken off the buffer.
        Some(FrameError::BadSize(n)) => {
            assert_eq!(rest, &whole.left[..]);
            assert_eq!(rest[..4], n.to_be_bytes());
        }
        // A bad type or message is found after the frame was taken.
        Some(_) => {
            let size = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            assert_eq!(&rest[4 + size..], &whole.left[..]);
        }
    }
}
