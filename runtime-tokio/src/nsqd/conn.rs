//! One TCP client: a reader task that parses and executes commands, and a
//! writer task that flushes the connection's output buffer (which topics
//! fill with message frames directly).

use super::ops::{ConnOps, Durability};
use super::registry::TopicCell;
use super::shared::{ConnShared, Handle};
use super::Inner;
use crate::clock;
use bytes::BytesMut;
use nsq_core::broker::{Client, Reply, TickAction};
use nsq_core::wire::command::{CommandParser, ParseError};
use nsq_core::wire::frame::{put_frame, FrameType, HEARTBEAT};
use nsq_core::wire::ClientError;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const READ_CHUNK: usize = 64 * 1024;
/// Stop reading commands while this much output waits (a client that does
/// not read its responses gets back-pressure instead of growing our memory).
const MAX_PENDING_OUTPUT: usize = 4 * 1024 * 1024;

#[cfg(not(madsim))]
fn split(s: TcpStream) -> (impl AsyncRead + Unpin, impl AsyncWrite + Unpin) {
    s.into_split()
}

#[cfg(madsim)]
fn split(s: TcpStream) -> (impl AsyncRead + Unpin, impl AsyncWrite + Unpin) {
    tokio::io::split(s)
}

pub(crate) async fn serve(inner: Arc<Inner>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = split(stream);
    let mut magic = [0u8; 4];
    let silent_limit =
        std::time::Duration::from_nanos(inner.client_cfg.default_heartbeat.max(0) as u64 * 2);
    match tokio::time::timeout(silent_limit, rd.read_exact(&mut magic)).await {
        Ok(Ok(_)) => {}
        _ => return,
    }
    if &magic != b"  V2" {
        tracing::error!(
            "client({peer}) bad protocol magic '{}'",
            String::from_utf8_lossy(&magic)
        );
        let mut frame = Vec::new();
        put_frame(&mut frame, FrameType::Error, b"E_BAD_PROTOCOL");
        let _ = wr.write_all(&frame).await;
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
        return;
    }
    let id = inner.next_client_id();
    let shared: Handle = Arc::new(ConnShared::new(id));
    inner.add_conn(&shared);
    tracing::info!("TCP: new client({peer})");
    let writer = tokio::spawn(write_loop(Arc::clone(&shared), wr));
    let mut session = Session::new(&inner, &shared, peer);
    session.read_loop(&mut rd).await;
    session.leave();
    shared.set_reader_done();
    let _ = writer.await;
    inner.remove_conn(id);
    tracing::info!("PROTOCOL(V2): [{peer}] exiting");
}

async fn write_loop(shared: Handle, mut wr: impl AsyncWrite + Unpin) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        shared.take_output(&mut buf);
        if buf.is_empty() {
            if shared.reader_done() {
                break;
            }
            shared.writer_wakeup().await;
            continue;
        }
        let ok = wr.write_all(&buf).await.is_ok() && wr.flush().await.is_ok();
        buf.clear();
        shared.notify_drained();
        if !ok {
            shared.set_writer_failed();
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// The reader side of a connection.
struct Session<'a> {
    inner: &'a Inner,
    shared: &'a Handle,
    peer: SocketAddr,
    client: Client,
    parser: CommandParser,
    sub_cell: Option<Arc<TopicCell>>,
    pub_cell: Option<Arc<TopicCell>>,
}

enum Flow {
    Continue,
    Close,
    /// A publish appended to disk: answer once it is durable, then go on.
    Wait(Durability, Reply, &'static str),
}

impl<'a> Session<'a> {
    fn new(inner: &'a Inner, shared: &'a Handle, peer: SocketAddr) -> Self {
        let cfg = Arc::clone(&inner.client_cfg);
        Session {
            inner,
            shared,
            peer,
            parser: CommandParser::new(cfg.limits),
            client: Client::new(shared.id, cfg, &peer.ip().to_string(), clock::now()),
            sub_cell: None,
            pub_cell: None,
        }
    }

    async fn read_loop(&mut self, rd: &mut (impl AsyncRead + Unpin)) {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            while self.shared.pending() > MAX_PENDING_OUTPUT && !self.shared.close_requested() {
                self.shared.reader_wakeup().await;
            }
            if self.shared.close_requested() {
                return;
            }
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            let deadline = self.client.next_deadline();
            let flow = tokio::select! {
                biased;
                _ = self.shared.reader_wakeup() => Flow::Continue,
                _ = sleep_until(deadline) => self.on_timer(),
                r = rd.read_buf(&mut buf) => match r {
                    Ok(0) | Err(_) => {
                        if let Some(e) = self.parser.eof_error(&buf) {
                            self.send_error(&e);
                        }
                        Flow::Close
                    }
                    Ok(_) => {
                        self.client.on_read(clock::now());
                        self.run_commands(&mut buf)
                    }
                },
            };
            if !self.settle(flow, &mut buf).await {
                return;
            }
        }
    }

    /// Finishes what a batch of commands left pending; false = close.
    async fn settle(&mut self, mut flow: Flow, buf: &mut BytesMut) -> bool {
        loop {
            match flow {
                Flow::Continue => return true,
                Flow::Close => return false,
                Flow::Wait(durability, reply, code) => {
                    let synced = self.inner.opts.sync_every <= 1;
                    match durability.wait(synced).await {
                        Ok(()) => self.reply(reply),
                        Err(e) => {
                            let cmd = code.trim_start_matches("E_").trim_end_matches("_FAILED");
                            self.send_error(&ClientError::fatal(code, format!("{cmd} failed {e}")));
                            return false;
                        }
                    }
                    flow = self.run_commands(buf);
                }
            }
        }
    }

    fn reply(&self, reply: Reply) {
        match reply {
            Reply::Nothing => {}
            Reply::Response(data) => self.shared.push_frame(FrameType::Response, &data),
            // Upgrades are never offered by this runtime's ClientConfig.
            Reply::Identify { json, .. } => self.shared.push_frame(FrameType::Response, &json),
            Reply::Auth(_) | Reply::Reauth(_) => {}
        }
    }

    fn on_timer(&mut self) -> Flow {
        match self.client.tick(clock::now()) {
            Some(TickAction::SendHeartbeat) => {
                self.shared.push_frame(FrameType::Response, HEARTBEAT);
                Flow::Continue
            }
            Some(TickAction::Expired) => {
                tracing::info!("PROTOCOL(V2): [{}] heartbeat expired, closing", self.peer);
                Flow::Close
            }
            None => Flow::Continue,
        }
    }

    fn send_error(&self, e: &ClientError) {
        tracing::error!("[{}] - {e}", self.peer);
        self.shared.push_frame(FrameType::Error, &e.to_frame_data());
    }

    /// Executes every complete command in `buf`.
    fn run_commands(&mut self, buf: &mut BytesMut) -> Flow {
        // One clock read per batch: commands of one read share the instant.
        let now = clock::now();
        loop {
            let raw = match self.parser.next(buf, &mut self.client) {
                Ok(Some(raw)) => raw,
                Ok(None) => return Flow::Continue,
                Err(ParseError::LineTooLong) => {
                    tracing::error!("[{}] - command line too long", self.peer);
                    return Flow::Close;
                }
                Err(ParseError::Client(e)) => {
                    self.send_error(&e);
                    return Flow::Close;
                }
            };
            let code = match raw.name() {
                b"MPUB" => "E_MPUB_FAILED",
                b"DPUB" => "E_DPUB_FAILED",
                _ => "E_PUB_FAILED",
            };
            let mut ops = ConnOps {
                registry: &self.inner.registry,
                me: self.shared,
                sub_cell: &mut self.sub_cell,
                pub_cell: &mut self.pub_cell,
                pending: None,
            };
            let result = self.client.exec(raw, now, &mut ops);
            match (result, ops.pending.take()) {
                (Ok(reply), Some(durability)) => return Flow::Wait(durability, reply, code),
                (Ok(Reply::Auth(_)), None) => {
                    self.send_error(&ClientError::fatal("E_AUTH_FAILED", "AUTH failed"));
                    return Flow::Close;
                }
                (Ok(reply), None) => self.reply(reply),
                (Err(e), _) => {
                    self.send_error(&e);
                    if e.fatal {
                        return Flow::Close;
                    }
                }
            }
        }
    }

    /// The connection is over: leave the channel (ephemeral channels and
    /// topics vanish with their last consumer).
    fn leave(&mut self) {
        let (Some(sub), Some(cell)) = (&self.client.sub, &self.sub_cell) else {
            return;
        };
        let mut st = cell.lock();
        if st.deleted {
            return;
        }
        let gone = st.topic.unsubscribe(&sub.channel, sub.slot, self.client.id);
        cell.after_op(&mut st);
        if gone.channel_deleted {
            tracing::info!("TOPIC({}): deleting channel {}", cell.name, sub.channel);
        }
        if gone.topic_should_go {
            cell.mark_deleted(&mut st);
            drop(st);
            tracing::info!("TOPIC({}): deleting", cell.name);
            self.inner.registry.remove_if_same(cell);
        }
    }
}

async fn sleep_until(deadline: Option<nsq_core::io::Nanos>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(clock::instant_at(d)).await,
        None => std::future::pending().await,
    }
}
