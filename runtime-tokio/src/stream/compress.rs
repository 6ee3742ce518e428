//! An async stream that compresses what is written and decompresses what
//! is read, with the codec doing the (synchronous) byte work. Writes are
//! compressed into a buffer; `flush` ends the codec's current block (so
//! the peer can decode everything sent so far) and writes the buffer out.

use bytes::{Buf, BytesMut};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One compression format, both directions.
pub trait Codec: Send + Unpin + 'static {
    /// Decodes what it can of `input` (removing what it used) into `out`.
    /// Called with an empty `input` too, to let out what it holds back.
    /// `Ok(true)`: the compressed stream has ended.
    fn decode(&mut self, input: &mut BytesMut, out: &mut BytesMut) -> io::Result<bool>;
    /// Compresses `data` into `out` (it may hold some back until `flush`).
    fn encode(&mut self, data: &[u8], out: &mut BytesMut) -> io::Result<()>;
    /// Writes out everything encoded so far, decodable on its own.
    fn flush(&mut self, out: &mut BytesMut) -> io::Result<()>;
}

/// Encoded output beyond this waits for the socket before taking more.
const HIGH_WATER: usize = 256 * 1024;
const READ_CHUNK: usize = 32 * 1024;

pub struct Compressed<S, C> {
    inner: S,
    codec: C,
    /// Compressed bytes read, not yet decoded.
    raw_in: BytesMut,
    /// Decoded bytes not yet handed to the reader.
    plain_in: BytesMut,
    scratch: Box<[u8]>,
    /// Encoded bytes not yet written.
    out: BytesMut,
    /// Bytes were encoded since the last flush.
    dirty: bool,
    read_done: bool,
}

impl<S, C> Compressed<S, C> {
    pub fn new(inner: S, codec: C) -> Self {
        Compressed {
            inner,
            codec,
            raw_in: BytesMut::new(),
            plain_in: BytesMut::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            out: BytesMut::new(),
            dirty: false,
            read_done: false,
        }
    }
}

impl<S: AsyncWrite + Unpin, C: Codec> Compressed<S, C> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin, C: Codec> AsyncRead for Compressed<S, C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.plain_in.is_empty() {
                let n = this.plain_in.len().min(buf.remaining());
                buf.put_slice(&this.plain_in[..n]);
                this.plain_in.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.read_done {
                return Poll::Ready(Ok(()));
            }
            if this.codec.decode(&mut this.raw_in, &mut this.plain_in)? {
                this.read_done = true;
                continue;
            }
            if !this.plain_in.is_empty() {
                continue;
            }
            let mut rb = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                // The peer closed; a cut-off block is simply the end.
                this.read_done = true;
                continue;
            }
            this.raw_in.extend_from_slice(rb.filled());
        }
    }
}

impl<S: AsyncWrite + Unpin, C: Codec> AsyncWrite for Compressed<S, C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.out.len() >= HIGH_WATER {
            ready!(this.poll_drain(cx))?;
        }
        this.codec.encode(data, &mut this.out)?;
        this.dirty = true;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.dirty {
            this.codec.flush(&mut this.out)?;
            this.dirty = false;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
