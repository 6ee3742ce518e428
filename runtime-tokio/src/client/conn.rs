//! One client connection to nsqd: dial, the handshake (magic, IDENTIFY, the
//! steps its answer calls for, AUTH), then a writer task that flushes an
//! output buffer any task may append commands to, and a read loop that hands
//! each frame to the connection's owner.

use super::transport::{upgrade, BoxStream};
use super::Error;
use bytes::BytesMut;
use nsq_core::consumer::handshake::{
    identify_body, parse_auth_answer, parse_identify_answer, steps, Negotiated, Step,
};
use nsq_core::consumer::{classify, Config, ConnId, Incoming};
use nsq_core::wire::command::encode;
use nsq_core::wire::frame::{Frame, FrameDecoder, OK};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Notify;

const READ_CHUNK: usize = 64 * 1024;

/// The shared, writable side of a connection.
#[derive(Debug)]
pub(crate) struct ConnIo {
    pub id: ConnId,
    pub addr: String,
    out: Mutex<BytesMut>,
    writer_wake: Notify,
    /// The writer flushes what is left, shuts the socket and stops.
    closing: AtomicBool,
    /// nsqd acknowledged CLS: close once nothing is in flight.
    close_wait: AtomicBool,
    /// The connection is dead (a write failed or the reader stopped).
    dead: AtomicBool,
    dead_wake: Notify,
}

impl ConnIo {
    pub fn new(id: ConnId, addr: &str) -> Self {
        ConnIo {
            id,
            addr: addr.to_string(),
            out: Mutex::new(BytesMut::new()),
            writer_wake: Notify::new(),
            closing: AtomicBool::new(false),
            close_wait: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            dead_wake: Notify::new(),
        }
    }

    fn out(&self) -> MutexGuard<'_, BytesMut> {
        // a panic while appending cannot leave the buffer invalid
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a command (false when the connection is gone).
    pub fn send(&self, f: impl FnOnce(&mut BytesMut)) -> bool {
        if self.is_dead() {
            return false;
        }
        let mut out = self.out();
        let was_empty = out.is_empty();
        f(&mut out);
        drop(out);
        if was_empty {
            self.writer_wake.notify_one();
        }
        true
    }

    /// Flush what is queued, then close the socket.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.writer_wake.notify_one();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn set_close_wait(&self) {
        self.close_wait.store(true, Ordering::Release);
    }

    pub fn close_wait(&self) -> bool {
        self.close_wait.load(Ordering::Acquire)
    }

    pub fn kill(&self) {
        self.dead.store(true, Ordering::Release);
        self.dead_wake.notify_waiters();
        self.writer_wake.notify_one();
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }
}

/// A connection that finished its handshake.
pub(crate) struct Established {
    pub stream: BoxStream,
    /// Bytes read past the handshake (frames that came early).
    pub leftover: BytesMut,
    pub negotiated: Negotiated,
}

/// Dials `addr` and runs the handshake; `first` (e.g. `SUB`), if given, is
/// sent right after it and must be answered `OK`.
pub(crate) async fn dial(
    addr: &str,
    cfg: &Config,
    first: Option<&[u8]>,
) -> Result<Established, Error> {
    let tcp = tokio::time::timeout(cfg.dial_timeout, crate::net::connect(addr))
        .await
        .map_err(|_| Error::Timeout("dial"))??;
    let _ = tcp.set_nodelay(true);
    let mut stream: BoxStream = Box::new(tcp);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut hello = BytesMut::new();
    hello.extend_from_slice(encode::MAGIC_V2);
    encode::identify(&mut hello, &identify_body(cfg));
    write(&mut stream, &hello, cfg.write_timeout).await?;
    let negotiated = match read_handshake_frame(&mut stream, &mut buf, cfg).await? {
        Frame::Response(data) => {
            parse_identify_answer(&data).map_err(|e| Error::Protocol(format!("IDENTIFY: {e}")))?
        }
        Frame::Error(e) => {
            return Err(Error::Protocol(format!(
                "IDENTIFY refused: {}",
                String::from_utf8_lossy(&e)
            )))
        }
        Frame::Message(_) => return Err(Error::Protocol("message during IDENTIFY".into())),
    };
    for step in steps(&negotiated, cfg).map_err(Error::Protocol)? {
        if step == Step::Auth {
            let mut cmd = BytesMut::new();
            encode::auth(&mut cmd, cfg.auth_secret.as_bytes());
            write(&mut stream, &cmd, cfg.write_timeout).await?;
            match read_handshake_frame(&mut stream, &mut buf, cfg).await? {
                Frame::Response(data) => {
                    let a = parse_auth_answer(&data).map_err(Error::Protocol)?;
                    tracing::info!(
                        "({addr}) Auth accepted. Identity: {:?} {} Permissions: {}",
                        a.identity,
                        a.identity_url,
                        a.permission_count
                    );
                }
                other => return Err(Error::Refused(format!("Error authenticating {other:?}"))),
            }
            continue;
        }
        stream = upgrade(stream, step, cfg, addr, &mut buf).await?;
        match read_handshake_frame(&mut stream, &mut buf, cfg).await? {
            Frame::Response(d) if &d[..] == OK => {}
            _ => return Err(Error::Protocol(format!("invalid response from {step:?}"))),
        }
    }
    if let Some(cmd) = first {
        write(&mut stream, cmd, cfg.write_timeout).await?;
        match read_handshake_frame(&mut stream, &mut buf, cfg).await? {
            Frame::Response(d) if &d[..] == OK => {}
            Frame::Error(e) => return Err(Error::Refused(String::from_utf8_lossy(&e).into())),
            other => return Err(Error::Protocol(format!("unexpected answer {other:?}"))),
        }
    }
    Ok(Established {
        stream,
        leftover: buf,
        negotiated,
    })
}

async fn write(stream: &mut BoxStream, bytes: &[u8], timeout: Duration) -> Result<(), Error> {
    tokio::time::timeout(timeout, async {
        stream.write_all(bytes).await?;
        stream.flush().await
    })
    .await
    .map_err(|_| Error::Timeout("write"))??;
    Ok(())
}

/// The next frame during the handshake (heartbeats cannot come yet).
async fn read_handshake_frame(
    stream: &mut BoxStream,
    buf: &mut BytesMut,
    cfg: &Config,
) -> Result<Frame, Error> {
    let decoder = FrameDecoder::default();
    loop {
        if let Some(f) = decoder
            .decode(buf)
            .map_err(|e| Error::Protocol(e.to_string()))?
        {
            return Ok(f);
        }
        let n = tokio::time::timeout(cfg.read_timeout, stream.read_buf(buf))
            .await
            .map_err(|_| Error::Timeout("read"))??;
        if n == 0 {
            return Err(Error::Protocol("connection closed during handshake".into()));
        }
    }
}

/// Splits the stream and starts the writer task.
pub(crate) fn start(
    est: Established,
    io: std::sync::Arc<ConnIo>,
    write_timeout: Duration,
) -> (ReadHalf<BoxStream>, BytesMut) {
    let (rd, wr) = tokio::io::split(est.stream);
    tokio::spawn(write_loop(io, wr, write_timeout));
    (rd, est.leftover)
}

async fn write_loop(io: std::sync::Arc<ConnIo>, mut wr: WriteHalf<BoxStream>, timeout: Duration) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        std::mem::swap(&mut *io.out(), &mut buf);
        if buf.is_empty() {
            if io.is_closing() || io.is_dead() {
                break;
            }
            let wake = io.writer_wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if io.out().is_empty() && !io.is_closing() && !io.is_dead() {
                wake.await;
            }
            continue;
        }
        let ok = tokio::time::timeout(timeout, async {
            wr.write_all(&buf).await?;
            wr.flush().await
        })
        .await;
        buf.clear();
        if !matches!(ok, Ok(Ok(()))) {
            tracing::error!("({}) write failed, closing", io.addr);
            io.kill();
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// What the owner of a connection does with a frame.
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Reads frames until the connection ends, the owner stops it, or nothing
/// (not even a heartbeat) arrives for `read_timeout`. Heartbeats are
/// answered with NOP here.
pub(crate) async fn read_loop(
    io: &ConnIo,
    mut rd: impl AsyncRead + Unpin,
    mut buf: BytesMut,
    read_timeout: Duration,
    mut on_frame: impl FnMut(Incoming) -> Flow,
) -> Result<(), Error> {
    let decoder = FrameDecoder::default();
    loop {
        while let Some(f) = decoder
            .decode(&mut buf)
            .map_err(|e| Error::Protocol(e.to_string()))?
        {
            match classify(f) {
                Incoming::Heartbeat => {
                    io.send(encode::nop);
                }
                other => {
                    if let Flow::Stop = on_frame(other) {
                        return Ok(());
                    }
                }
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        // registered before the check, so a kill in between still wakes us
        let dead = io.dead_wake.notified();
        tokio::pin!(dead);
        dead.as_mut().enable();
        if io.is_dead() {
            return Err(Error::NotConnected);
        }
        let n = tokio::select! {
            biased; // a fixed order, so simulated runs repeat (README: Simulation)
            r = tokio::time::timeout(read_timeout, rd.read_buf(&mut buf)) => {
                r.map_err(|_| Error::Timeout("read"))??
            }
            _ = dead => return Err(Error::NotConnected),
        };
        if n == 0 {
            return Ok(());
        }
    }
}
