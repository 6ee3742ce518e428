use super::*;
use bytes::BytesMut;
use quickcheck::{quickcheck, TestResult};
use std::io::{Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type NewCodec = Box<dyn Fn() -> Box<dyn Codec>>;

fn codecs() -> Vec<(&'static str, NewCodec)> {
    vec![
        (
            "snappy",
            Box::new(|| Box::new(Snappy::new()) as Box<dyn Codec>),
        ),
        (
            "deflate",
            Box::new(|| Box::new(Deflate::new(6)) as Box<dyn Codec>),
        ),
    ]
}

impl Codec for Box<dyn Codec> {
    fn decode(&mut self, input: &mut BytesMut, out: &mut BytesMut) -> std::io::Result<bool> {
        (**self).decode(input, out)
    }
    fn encode(&mut self, data: &[u8], out: &mut BytesMut) -> std::io::Result<()> {
        (**self).encode(data, out)
    }
    fn flush(&mut self, out: &mut BytesMut) -> std::io::Result<()> {
        (**self).flush(out)
    }
}

/// Feeds `wire` to a decoder in pieces cut at `cuts`, as a socket would.
fn decode_in_pieces(
    codec: &mut dyn Codec,
    wire: &[u8],
    cuts: &[usize],
) -> std::io::Result<Vec<u8>> {
    let mut input = BytesMut::new();
    let mut out = BytesMut::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(wire.len());
    for c in cuts {
        input.extend_from_slice(&wire[at..c.max(at)]);
        at = c.max(at);
        loop {
            let before = out.len();
            if codec.decode(&mut input, &mut out)? {
                return Ok(out.to_vec());
            }
            if out.len() == before {
                break;
            }
        }
    }
    Ok(out.to_vec())
}

fn encode_batches(codec: &mut dyn Codec, batches: &[Vec<u8>]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for b in batches {
        codec.encode(b, &mut out).unwrap();
        codec.flush(&mut out).unwrap();
    }
    out.to_vec()
}

quickcheck! {
    fn round_trips_whatever_the_cuts(batches: Vec<Vec<u8>>, cuts: Vec<usize>) -> bool {
        codecs().iter().all(|(_, new)| {
            let wire = encode_batches(&mut *new(), &batches);
            let got = decode_in_pieces(&mut *new(), &wire, &cuts).unwrap();
            got == batches.concat()
        })
    }

    fn decoders_never_panic_on_garbage(garbage: Vec<u8>, cuts: Vec<usize>) -> bool {
        for (_, new) in codecs() {
            let _ = decode_in_pieces(&mut *new(), &garbage, &cuts);
        }
        true
    }

    fn decoders_never_panic_on_a_damaged_stream(data: Vec<u8>, flips: Vec<(usize, u8)>, cuts: Vec<usize>) -> TestResult {
        if data.is_empty() {
            return TestResult::discard();
        }
        for (_, new) in codecs() {
            let mut wire = encode_batches(&mut *new(), std::slice::from_ref(&data));
            for (at, x) in &flips {
                let i = at % wire.len();
                wire[i] ^= x | 1;
            }
            let _ = decode_in_pieces(&mut *new(), &wire, &cuts);
        }
        TestResult::passed()
    }
}

#[test]
fn snappy_output_is_the_standard_framing_format() {
    let text = b"hello hello hello hello snappy".repeat(100);
    let wire = encode_batches(&mut Snappy::new(), std::slice::from_ref(&text));
    assert_eq!(
        &wire[..10],
        b"\xff\x06\x00\x00sNaPpY",
        "stream identifier first"
    );
    let mut got = Vec::new();
    snap::read::FrameDecoder::new(&wire[..])
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, text);
    // and what a standard encoder writes, ours reads
    let mut std_wire = snap::write::FrameEncoder::new(Vec::new());
    std_wire.write_all(&text).unwrap();
    let std_wire = std_wire.into_inner().unwrap();
    assert_eq!(
        decode_in_pieces(&mut Snappy::new(), &std_wire, &[3, 17]).unwrap(),
        text
    );
}

#[test]
fn deflate_is_raw_and_each_flush_is_a_sync_flush() {
    let text = b"deflate me deflate me deflate me".repeat(50);
    let mut codec = Deflate::new(6);
    let mut out = BytesMut::new();
    codec.encode(&text, &mut out).unwrap();
    codec.flush(&mut out).unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "sync flush marker");
    let mut got = Vec::new();
    // a raw inflater (no zlib header) decodes everything up to the flush
    let mut d = flate2::Decompress::new(false);
    got.reserve(text.len() * 2);
    d.decompress_vec(&out, &mut got, flate2::FlushDecompress::Sync)
        .unwrap();
    assert_eq!(got, text);
}

#[test]
fn snappy_refuses_an_overlong_chunk_without_buffering_it() {
    let mut s = Snappy::new();
    let mut input = BytesMut::from(&b"\xff\x06\x00\x00sNaPpY\x00\xff\xff\xff"[..]);
    let err = s.decode(&mut input, &mut BytesMut::new()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn deflate_refuses_garbage() {
    let mut d = Deflate::new(6);
    let mut input = BytesMut::from(&[0xffu8; 64][..]);
    assert!(d.decode(&mut input, &mut BytesMut::new()).is_err());
}

#[tokio::test]
async fn compressed_streams_carry_both_directions() {
    for (name, level) in [("snappy", None), ("deflate", Some(1)), ("deflate", Some(9))] {
        let (a, b) = tokio::io::duplex(4096);
        let wrap = |s: tokio::io::DuplexStream| -> BoxStream {
            match level {
                None => snappy(Box::new(s)),
                Some(l) => deflate(Box::new(s), l),
            }
        };
        let (mut a, mut b) = (wrap(a), wrap(b));
        let msg: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sent = msg.clone();
        let writer = tokio::spawn(async move {
            a.write_all(&sent).await.unwrap();
            a.flush().await.unwrap();
            let mut back = [0u8; 5];
            a.read_exact(&mut back).await.unwrap();
            a.shutdown().await.unwrap();
            back
        });
        let mut got = vec![0u8; msg.len()];
        b.read_exact(&mut got).await.unwrap();
        assert!(got == msg, "{name} payload");
        b.write_all(b"pong!").await.unwrap();
        b.flush().await.unwrap();
        assert_eq!(&writer.await.unwrap(), b"pong!");
        let mut rest = Vec::new();
        assert_eq!(
            b.read_to_end(&mut rest).await.unwrap(),
            0,
            "{name} clean end"
        );
    }
}

#[tokio::test]
async fn prefixed_replays_then_reads_on() {
    let (a, mut b) = tokio::io::duplex(64);
    let mut p = Prefixed::new(BytesMut::from(&b"early "[..]), a);
    b.write_all(b"late").await.unwrap();
    drop(b);
    let mut s = String::new();
    p.read_to_string(&mut s).await.unwrap();
    assert_eq!(s, "early late");
}

#[test]
fn deflate_output_decodes_with_a_blocking_std_decoder() {
    // A reader that has only what was flushed so far, then would block.
    struct Flushed(std::io::Cursor<Vec<u8>>);
    impl Read for Flushed {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match Read::read(&mut self.0, buf)? {
                0 => Err(std::io::ErrorKind::WouldBlock.into()),
                n => Ok(n),
            }
        }
    }
    let mut codec = Deflate::new(6);
    let mut out = BytesMut::new();
    codec
        .encode(b"\x00\x00\x00\x06\x00\x00\x00\x00OK", &mut out)
        .unwrap();
    codec.flush(&mut out).unwrap();
    let mut d = flate2::read::DeflateDecoder::new(Flushed(std::io::Cursor::new(out.to_vec())));
    let mut got = [0u8; 10];
    d.read_exact(&mut got).unwrap();
    assert_eq!(&got[8..], b"OK");
}
