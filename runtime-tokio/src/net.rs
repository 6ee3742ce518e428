//! The TCP stream every connection uses: tokio's in production; under the
//! simulator, madsim's wrapped with TCP's flow control ([`FlowStream`]).
//!
//! madsim's stream never pushes back: a write always succeeds at once and
//! the bytes wait in the simulated network, however long the peer does not
//! read. A real socket stops taking bytes once the peer's receive window and
//! our send buffer are full, and that is what makes a client that stops
//! reading cost nsqd memory. The wrapper gives the simulated connections a
//! window, so that the simulation sees what a real network does.

use std::io;
use std::net::SocketAddr;

#[cfg(not(madsim))]
pub type TcpStream = tokio::net::TcpStream;

#[cfg(madsim)]
pub type TcpStream = flow::FlowStream;

/// Connects to `addr`.
pub async fn connect(addr: impl tokio::net::ToSocketAddrs) -> io::Result<TcpStream> {
    let s = tokio::net::TcpStream::connect(addr).await?;
    Ok(wrap(s))
}

/// Accepts the next connection of `l`.
pub async fn accept(l: &tokio::net::TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let (s, a) = l.accept().await?;
    Ok((wrap(s), a))
}

#[cfg(not(madsim))]
fn wrap(s: tokio::net::TcpStream) -> TcpStream {
    s
}

#[cfg(madsim)]
fn wrap(s: tokio::net::TcpStream) -> TcpStream {
    flow::FlowStream::new(s)
}

#[cfg(madsim)]
pub mod flow {
    //! A window per direction, as TCP has: the sender may have at most
    //! [`WINDOW`] bytes that the receiving application has not read yet;
    //! beyond that its writes wait. Each side runs a pump task that owns the
    //! simulated stream (so acknowledgements flow whatever the application
    //! does, as a kernel's would), framing data and window updates.

    use bytes::{Buf, BufMut, BytesMut};
    use std::io;
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::task::{Context, Poll, Waker};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
    use tokio::sync::Notify;

    /// Bytes one side may have in flight and unread by the other (a small
    /// receive buffer, so back-pressure shows early in simulated runs).
    pub const WINDOW: usize = 16 * 1024;

    const DATA: u8 = 0;
    const CREDIT: u8 = 1;

    #[derive(Default)]
    struct State {
        /// Received, not read by the application yet.
        rx: BytesMut,
        /// Read by the application, not credited back to the peer yet.
        read_uncredited: usize,
        /// Bytes we may still send.
        window: usize,
        /// Frames for the pump to send.
        out: BytesMut,
        /// The peer closed (or the stream failed).
        eof: bool,
        /// Dropped: the pump sends what is left and closes the stream.
        closed: bool,
        /// Shut for writing (the simulated stream has no half-close: only
        /// further writes fail).
        write_shut: bool,
        read_waker: Option<Waker>,
        write_waker: Option<Waker>,
    }

    struct Shared {
        state: Mutex<State>,
        pump: Notify,
    }

    impl Shared {
        fn st(&self) -> MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// A simulated TCP stream with flow control.
    pub struct FlowStream {
        shared: Arc<Shared>,
        local: io::Result<SocketAddr>,
        peer: io::Result<SocketAddr>,
    }

    impl std::fmt::Debug for FlowStream {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FlowStream")
                .field("peer", &self.peer.as_ref().ok())
                .finish()
        }
    }

    fn copy_err(r: &io::Result<SocketAddr>) -> io::Result<SocketAddr> {
        match r {
            Ok(a) => Ok(*a),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }

    impl FlowStream {
        pub fn new(inner: tokio::net::TcpStream) -> Self {
            let shared = Arc::new(Shared {
                state: Mutex::new(State {
                    window: WINDOW,
                    ..State::default()
                }),
                pump: Notify::new(),
            });
            let (local, peer) = (inner.local_addr(), inner.peer_addr());
            tokio::spawn(pump(inner, Arc::clone(&shared)));
            FlowStream {
                shared,
                local,
                peer,
            }
        }

        pub fn set_nodelay(&self, _: bool) -> io::Result<()> {
            Ok(())
        }

        pub fn local_addr(&self) -> io::Result<SocketAddr> {
            copy_err(&self.local)
        }

        pub fn peer_addr(&self) -> io::Result<SocketAddr> {
            copy_err(&self.peer)
        }
    }

    impl Drop for FlowStream {
        fn drop(&mut self) {
            self.shared.st().closed = true;
            self.shared.pump.notify_one();
        }
    }

    /// Moves frames between the simulated stream and the state.
    async fn pump(inner: tokio::net::TcpStream, shared: Arc<Shared>) {
        let (mut rd, mut wr) = tokio::io::split(inner);
        let reader_shared = Arc::clone(&shared);
        let reader = async move {
            let mut buf = BytesMut::with_capacity(WINDOW);
            loop {
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let mut st = reader_shared.st();
                while buf.len() >= 5 {
                    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
                    match buf[0] {
                        CREDIT => {
                            buf.advance(5);
                            st.window += len;
                            if let Some(w) = st.write_waker.take() {
                                w.wake();
                            }
                        }
                        _ if buf.len() >= 5 + len => {
                            buf.advance(5);
                            let data = buf.split_to(len);
                            st.rx.extend_from_slice(&data);
                            if let Some(w) = st.read_waker.take() {
                                w.wake();
                            }
                        }
                        _ => break,
                    }
                }
            }
        };
        let writer_shared = Arc::clone(&shared);
        let writer = async move {
            let shared = writer_shared;
            loop {
                let notified = shared.pump.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let (out, closed) = {
                    let mut st = shared.st();
                    (st.out.split(), st.closed)
                };
                if !out.is_empty()
                    && (wr.write_all(&out).await.is_err() || wr.flush().await.is_err())
                {
                    break;
                }
                if closed && shared.st().out.is_empty() {
                    break;
                }
                if out.is_empty() {
                    notified.await;
                }
            }
        };
        // Dropped (and flushed) or closed by the peer: the simulated stream
        // goes, and with it the connection, for both ends.
        tokio::select! {
            biased; // a fixed order, so simulated runs repeat
            _ = writer => {}
            _ = reader => {}
        }
        // However it ended (closed by the peer, a failed write, dropped),
        // the application sees the end: reads give EOF, writes fail.
        let mut st = shared.st();
        st.eof = true;
        for w in [st.read_waker.take(), st.write_waker.take()]
            .into_iter()
            .flatten()
        {
            w.wake();
        }
    }

    impl AsyncRead for FlowStream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let mut st = self.shared.st();
            if st.rx.is_empty() {
                if st.eof {
                    return Poll::Ready(Ok(()));
                }
                st.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = st.rx.len().min(buf.remaining());
            buf.put_slice(&st.rx[..n]);
            st.rx.advance(n);
            st.read_uncredited += n;
            // Credit back in quarters of the window (as TCP's window updates).
            if st.read_uncredited >= WINDOW / 4 || st.rx.is_empty() {
                let credit = std::mem::take(&mut st.read_uncredited);
                st.out.put_u8(CREDIT);
                st.out.put_u32(credit as u32);
                drop(st);
                self.shared.pump.notify_one();
            }
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for FlowStream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let mut st = self.shared.st();
            if st.eof || st.closed || st.write_shut {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "connection closed",
                )));
            }
            if st.window == 0 {
                st.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = data.len().min(st.window);
            st.window -= n;
            st.out.put_u8(DATA);
            st.out.put_u32(n as u32);
            st.out.extend_from_slice(&data[..n]);
            drop(st);
            self.shared.pump.notify_one();
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            // What was written is the pump's to send (as a kernel's would be).
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shared.st().write_shut = true;
            Poll::Ready(Ok(()))
        }
    }
}
