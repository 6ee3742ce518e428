//! Byte streams under a protocol V2 connection, shared by nsqd and the
//! client library: any duplex stream boxed, a stream that first replays
//! bytes already read, and the compressed streams IDENTIFY can negotiate
//! (snappy's framing format, raw deflate). TLS is in [`crate::tls`].

mod compress;
mod deflate;
mod prefixed;
mod snappy;

pub use compress::{Codec, Compressed};
pub use deflate::Deflate;
pub use prefixed::Prefixed;
pub use snappy::Snappy;

use tokio::io::{AsyncRead, AsyncWrite};

/// Any duplex byte stream (TCP, TLS, compression over either).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub type BoxStream = Box<dyn Stream>;

/// `stream` speaking snappy's framing format both ways.
pub fn snappy(stream: BoxStream) -> BoxStream {
    Box::new(Compressed::new(stream, Snappy::new()))
}

/// `stream` speaking raw deflate (RFC 1951, as Go's `compress/flate`)
/// both ways, compressing at `level` (0-9).
pub fn deflate(stream: BoxStream, level: u32) -> BoxStream {
    Box::new(Compressed::new(stream, Deflate::new(level)))
}

#[cfg(test)]
mod tests;
