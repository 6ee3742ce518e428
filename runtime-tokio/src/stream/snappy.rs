//! Snappy's framing format (what Go's `snappy.NewReader`/`NewWriter`
//! speak), with the `snap` crate doing the work. The decoder is only ever
//! given whole chunks, so it never sees a chunk cut by the network.

use super::compress::Codec;
use bytes::BytesMut;
use std::io::{self, Read, Write};

/// The longest chunk a conforming stream holds (snap refuses longer ones).
fn max_chunk_len() -> usize {
    snap::raw::max_compress_len(1 << 16)
}

pub struct Snappy {
    enc: snap::write::FrameEncoder<Vec<u8>>,
    dec: snap::read::FrameDecoder<WholeChunks>,
    scratch: Box<[u8]>,
}

impl Snappy {
    pub fn new() -> Self {
        Snappy {
            enc: snap::write::FrameEncoder::new(Vec::new()),
            dec: snap::read::FrameDecoder::new(WholeChunks(BytesMut::new())),
            scratch: vec![0; 1 << 16].into_boxed_slice(),
        }
    }

    fn take_encoded(&mut self, out: &mut BytesMut) {
        let v = self.enc.get_mut();
        out.extend_from_slice(v);
        v.clear();
    }
}

impl Default for Snappy {
    fn default() -> Self {
        Self::new()
    }
}

/// The decoder's source: complete chunks only; empty reads as the end.
struct WholeChunks(BytesMut);

impl Read for WholeChunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.len().min(buf.len());
        buf[..n].copy_from_slice(&self.0.split_to(n));
        Ok(n)
    }
}

impl Codec for Snappy {
    fn decode(&mut self, input: &mut BytesMut, out: &mut BytesMut) -> io::Result<bool> {
        let max = max_chunk_len();
        while input.len() >= 4 {
            let len =
                usize::from(input[1]) | usize::from(input[2]) << 8 | usize::from(input[3]) << 16;
            if len > max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("snappy: chunk of {len} bytes is too long"),
                ));
            }
            if input.len() < 4 + len {
                break;
            }
            self.dec
                .get_mut()
                .0
                .extend_from_slice(&input.split_to(4 + len));
        }
        loop {
            let n = self.dec.read(&mut self.scratch)?;
            if n == 0 {
                return Ok(false);
            }
            out.extend_from_slice(&self.scratch[..n]);
        }
    }

    fn encode(&mut self, data: &[u8], out: &mut BytesMut) -> io::Result<()> {
        self.enc.write_all(data)?;
        self.take_encoded(out);
        Ok(())
    }

    fn flush(&mut self, out: &mut BytesMut) -> io::Result<()> {
        self.enc.flush()?;
        self.take_encoded(out);
        Ok(())
    }
}
