//! The compressed streams IDENTIFY negotiates: snappy's framing format and
//! raw deflate (`nsq_runtime_tokio::stream::{Snappy, Deflate}`), as both
//! nsqd and the client library decode what the peer sends.
//!
//! Input: `[codec: bit 0 deflate, the rest its level][cut seed][mode][bytes]`.
//! Mode bit 0 set: the bytes are a message stream, encoded in seeded pieces
//! with flushes between some of them, then decoded from seeded chunks — it
//! must come back exactly. Otherwise the bytes are what a peer sent:
//! decoding them whole, byte by byte and in chunks agrees (the same end,
//! output of one a prefix of the other's when the data is bad).

use crate::split::{self, Rng};
use bytes::BytesMut;
use nsq_runtime_tokio::stream::{Codec, Deflate, Snappy};

/// Output beyond this is not decoded further (a decompression bomb is the
/// peer's right, up to the reader's limits; the target stays fast).
const MAX_OUT: usize = 8 << 20;

fn codec(kind: u8) -> Box<dyn Codec> {
    if kind & 1 == 1 {
        Box::new(Deflate::new(u32::from(kind >> 1) % 10))
    } else {
        Box::new(Snappy::new())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub out: Vec<u8>,
    /// The stream failed (`Some(message)`) or ended (`None` and `ended`).
    pub error: Option<String>,
    pub ended: bool,
}

/// Decodes `chunks` as they arrive, as the compressed stream reads them.
pub fn decode(kind: u8, chunks: &[&[u8]]) -> Decoded {
    let mut c = codec(kind);
    let mut input = BytesMut::new();
    let mut out = BytesMut::new();
    let feeds = chunks.iter().copied().chain(std::iter::once(&[][..]));
    for chunk in feeds {
        input.extend_from_slice(chunk);
        loop {
            let (before_in, before_out) = (input.len(), out.len());
            match c.decode(&mut input, &mut out) {
                Err(e) => {
                    return Decoded {
                        out: out.to_vec(),
                        error: Some(e.to_string()),
                        ended: false,
                    }
                }
                Ok(true) => {
                    return Decoded {
                        out: out.to_vec(),
                        error: None,
                        ended: true,
                    }
                }
                Ok(false) if out.len() > MAX_OUT => {
                    return Decoded {
                        out: out.to_vec(),
                        error: None,
                        ended: false,
                    }
                }
                Ok(false) if input.len() == before_in && out.len() == before_out => break,
                Ok(false) => {}
            }
        }
    }
    Decoded {
        out: out.to_vec(),
        error: None,
        ended: false,
    }
}

fn round_trip(kind: u8, seed: u8, payload: &[u8]) {
    let mut c = codec(kind);
    let mut wire = BytesMut::new();
    let mut rng = Rng::new(u64::from(seed) + 1);
    for piece in split::chunks(payload, seed) {
        c.encode(piece, &mut wire).expect("encoding never fails");
        if rng.below(3) == 0 {
            c.flush(&mut wire).expect("flushing never fails");
        }
    }
    c.flush(&mut wire).expect("flushing never fails");
    let got = decode(kind, &split::chunks(&wire, seed.wrapping_add(1)));
    assert_eq!(got.error, None);
    assert!(!got.ended, "a flushed stream has not ended");
    assert!(
        got.out == payload,
        "round trip changed {} bytes into {}",
        payload.len(),
        got.out.len()
    );
}

pub fn run(data: &[u8]) {
    let (kind, rest) = split::seed_and_stream(data);
    let (seed, rest) = split::seed_and_stream(rest);
    let (mode, bytes) = split::seed_and_stream(rest);
    if mode & 1 == 1 {
        return round_trip(kind, seed, bytes);
    }
    let whole = decode(kind, &[bytes]);
    for other in [
        decode(kind, &split::chunks(bytes, seed)),
        decode(kind, &split::bytewise(bytes)),
    ] {
        assert_eq!(
            other.error.is_some(),
            whole.error.is_some(),
            "{:?} vs {:?}",
            other.error,
            whole.error
        );
        assert_eq!(other.ended, whole.ended);
        let n = other.out.len().min(whole.out.len());
        assert_eq!(other.out[..n], whole.out[..n], "decoded bytes differ");
        if whole.error.is_none() && whole.out.len() <= MAX_OUT && other.out.len() <= MAX_OUT {
            assert_eq!(other.out.len(), whole.out.len(), "decoded lengths differ");
        }
    }
}
