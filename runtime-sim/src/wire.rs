//! A bare protocol V2 client over the simulated network, built from core's
//! encoders and frame decoder: simulated consumers use it to see exactly
//! which frame arrived when (the client library hides that).

use bytes::BytesMut;
use nsq_core::wire::command::encode;
use nsq_core::wire::frame::{Frame, FrameDecoder};
use nsq_runtime_tokio::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// The reading half: frames in order.
pub struct Reader {
    rd: ReadHalf<TcpStream>,
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl Reader {
    /// The next frame; `None` at end of stream.
    pub async fn next(&mut self) -> io::Result<Option<Frame>> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(f)) => return Ok(Some(f)),
                Ok(None) => {}
                Err(e) => return Err(protocol_error(e.to_string())),
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(64 * 1024);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// The next frame, which must be a response (heartbeats are skipped).
    pub async fn response(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match self.next().await? {
                Some(Frame::Response(r)) if &r[..] == b"_heartbeat_" => {}
                Some(Frame::Response(r)) => return Ok(r.to_vec()),
                Some(Frame::Error(e)) => {
                    return Err(protocol_error(String::from_utf8_lossy(&e).into_owned()))
                }
                Some(Frame::Message(_)) => return Err(protocol_error("unexpected message")),
                None => return Err(io::ErrorKind::UnexpectedEof.into()),
            }
        }
    }
}

/// The writing half: each call sends at once (madsim sends on flush).
pub struct Writer {
    wr: WriteHalf<TcpStream>,
    out: BytesMut,
}

impl Writer {
    pub async fn send(&mut self, f: impl FnOnce(&mut BytesMut)) -> io::Result<()> {
        self.out.clear();
        f(&mut self.out);
        self.wr.write_all(&self.out).await?;
        self.wr.flush().await
    }
}

/// Connects, sends the magic and IDENTIFY (`identify` is its JSON body),
/// and reads IDENTIFY's answer.
pub async fn connect(addr: SocketAddr, identify: &[u8]) -> io::Result<(Reader, Writer, Vec<u8>)> {
    let stream = nsq_runtime_tokio::net::connect(addr).await?;
    let (rd, wr) = tokio::io::split(stream);
    let mut r = Reader {
        rd,
        buf: BytesMut::with_capacity(64 * 1024),
        decoder: FrameDecoder::default(),
    };
    let mut w = Writer {
        wr,
        out: BytesMut::new(),
    };
    w.send(|o| {
        o.extend_from_slice(encode::MAGIC_V2);
        encode::identify(o, identify);
    })
    .await?;
    let answer = r.response().await?;
    Ok((r, w, answer))
}
