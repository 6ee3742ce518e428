//! A connection's two halves: plain TCP (or unix socket) halves (split without a lock), or
//! the halves of an upgraded stream (TLS, compression), which can be
//! reunited for the next upgrade.

use crate::net::TcpStream;
use crate::stream::BoxStream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};

#[cfg(not(madsim))]
type PlainRead = tokio::net::tcp::OwnedReadHalf;
#[cfg(not(madsim))]
type PlainWrite = tokio::net::tcp::OwnedWriteHalf;
#[cfg(madsim)]
type PlainRead = ReadHalf<TcpStream>;
#[cfg(madsim)]
type PlainWrite = WriteHalf<TcpStream>;

#[cfg(not(madsim))]
pub(crate) fn split(s: TcpStream) -> (PlainRead, PlainWrite) {
    s.into_split()
}

#[cfg(madsim)]
pub(crate) fn split(s: TcpStream) -> (PlainRead, PlainWrite) {
    tokio::io::split(s)
}

#[cfg(not(madsim))]
fn reunite_plain(r: PlainRead, w: PlainWrite) -> Option<TcpStream> {
    r.reunite(w).ok()
}

#[cfg(madsim)]
fn reunite_plain(r: PlainRead, w: PlainWrite) -> Option<TcpStream> {
    Some(r.unsplit(w))
}

pub(crate) enum Reader {
    Plain(PlainRead),
    /// A unix socket's half (nsqd's `--tcp-address=<path>`).
    #[cfg(not(madsim))]
    Unix(tokio::net::unix::OwnedReadHalf),
    Boxed(ReadHalf<BoxStream>),
}

pub(crate) enum Writer {
    Plain(PlainWrite),
    #[cfg(not(madsim))]
    Unix(tokio::net::unix::OwnedWriteHalf),
    Boxed(WriteHalf<BoxStream>),
}

/// The halves of an accepted connection (TCP without Nagle's delay).
pub(crate) fn split_conn(conn: crate::listen::Conn) -> (Reader, Writer) {
    match conn {
        crate::listen::Conn::Tcp(s) => {
            let _ = s.set_nodelay(true);
            let (r, w) = split(s);
            (Reader::Plain(r), Writer::Plain(w))
        }
        #[cfg(not(madsim))]
        crate::listen::Conn::Unix(s) => {
            let (r, w) = s.into_split();
            (Reader::Unix(r), Writer::Unix(w))
        }
    }
}

pub(crate) fn split_boxed(s: BoxStream) -> (Reader, Writer) {
    let (r, w) = tokio::io::split(s);
    (Reader::Boxed(r), Writer::Boxed(w))
}

/// The whole stream again, or `None` if the halves do not belong together.
pub(crate) fn reunite(r: Reader, w: Writer) -> Option<BoxStream> {
    match (r, w) {
        (Reader::Plain(r), Writer::Plain(w)) => {
            reunite_plain(r, w).map(|s| Box::new(s) as BoxStream)
        }
        #[cfg(not(madsim))]
        (Reader::Unix(r), Writer::Unix(w)) => r.reunite(w).ok().map(|s| Box::new(s) as BoxStream),
        (Reader::Boxed(r), Writer::Boxed(w)) if r.is_pair_of(&w) => Some(r.unsplit(w)),
        _ => None,
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Reader::Plain(r) => Pin::new(r).poll_read(cx, buf),
            #[cfg(not(madsim))]
            Reader::Unix(r) => Pin::new(r).poll_read(cx, buf),
            Reader::Boxed(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Writer::Plain(w) => Pin::new(w).poll_write(cx, data),
            #[cfg(not(madsim))]
            Writer::Unix(w) => Pin::new(w).poll_write(cx, data),
            Writer::Boxed(w) => Pin::new(w).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Writer::Plain(w) => Pin::new(w).poll_flush(cx),
            #[cfg(not(madsim))]
            Writer::Unix(w) => Pin::new(w).poll_flush(cx),
            Writer::Boxed(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Writer::Plain(w) => Pin::new(w).poll_shutdown(cx),
            #[cfg(not(madsim))]
            Writer::Unix(w) => Pin::new(w).poll_shutdown(cx),
            Writer::Boxed(w) => Pin::new(w).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Writer::Plain(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            #[cfg(not(madsim))]
            Writer::Unix(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            Writer::Boxed(w) => Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Writer::Plain(w) => w.is_write_vectored(),
            #[cfg(not(madsim))]
            Writer::Unix(w) => w.is_write_vectored(),
            Writer::Boxed(w) => w.is_write_vectored(),
        }
    }
}
