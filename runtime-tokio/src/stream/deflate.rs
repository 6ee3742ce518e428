//! Raw deflate (RFC 1951, no zlib header), as Go's `compress/flate`
//! speaks it, with `flate2`. A flush is a sync flush (an empty stored
//! block), like Go's `flate.Writer.Flush`.

use super::compress::Codec;
use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io;

const CHUNK: usize = 64 * 1024;
/// Decoded bytes produced per call at most (a small input can inflate a lot).
const MAX_DECODED: usize = 256 * 1024;

pub struct Deflate {
    enc: Compress,
    dec: Decompress,
    scratch: Vec<u8>,
}

impl Deflate {
    pub fn new(level: u32) -> Self {
        Deflate {
            enc: Compress::new(Compression::new(level.min(9)), false),
            dec: Decompress::new(false),
            scratch: Vec::with_capacity(CHUNK),
        }
    }
}

fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl Codec for Deflate {
    fn decode(&mut self, input: &mut BytesMut, out: &mut BytesMut) -> io::Result<bool> {
        let start = out.len();
        loop {
            self.scratch.clear();
            let before = self.dec.total_in();
            let status = self
                .dec
                .decompress_vec(&input[..], &mut self.scratch, FlushDecompress::None)
                .map_err(invalid)?;
            let used = (self.dec.total_in() - before) as usize;
            let _ = input.split_to(used);
            out.extend_from_slice(&self.scratch);
            if status == Status::StreamEnd {
                return Ok(true);
            }
            if (used == 0 && self.scratch.is_empty()) || out.len() - start >= MAX_DECODED {
                return Ok(false);
            }
        }
    }

    fn encode(&mut self, mut data: &[u8], out: &mut BytesMut) -> io::Result<()> {
        while !data.is_empty() {
            self.scratch.clear();
            let before = self.enc.total_in();
            self.enc
                .compress_vec(data, &mut self.scratch, FlushCompress::None)
                .map_err(invalid)?;
            let used = (self.enc.total_in() - before) as usize;
            if used == 0 && self.scratch.is_empty() {
                return Err(io::Error::other("deflate: no progress"));
            }
            data = &data[used..];
            out.extend_from_slice(&self.scratch);
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut BytesMut) -> io::Result<()> {
        loop {
            self.scratch.clear();
            self.enc
                .compress_vec(&[], &mut self.scratch, FlushCompress::Sync)
                .map_err(invalid)?;
            out.extend_from_slice(&self.scratch);
            // The flush is done once it no longer fills the buffer.
            if self.scratch.len() < self.scratch.capacity() {
                return Ok(());
            }
        }
    }
}
