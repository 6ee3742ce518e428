//! One TCP client, driven for its protocol session (`nsq_core::protocol`,
//! where every rule of the connection is decided): a reader task that feeds
//! the session the bytes it reads and carries out what it asks (broker
//! operations under one topic's lock, waits for durability and the auth
//! server, stream upgrades, closing), and a writer task that flushes the
//! connection's output buffer (which topics fill with message frames
//! directly).
//!
//! An upgrade (TLS, then snappy or deflate): the reader takes the write half
//! back from the writer (after it flushed what came before), reunites the
//! halves, wraps the stream, splits it again and restarts the writer; the
//! session's `OK` then goes out through the upgraded stream.

use super::ops::{ConnOps, Durability};
use super::registry::TopicCell;
use super::shared::{ConnShared, Deliver, Handle};
use super::transport::{reunite, split_boxed, split_conn, Writer};
use super::Inner;
use crate::clock;
use crate::listen::{Conn, Peer};
use crate::stream::{self, BoxStream, Prefixed};
use bytes::BytesMut;
use nsq_core::api::config::LogLevel;
use nsq_core::protocol::session::MAX_PENDING_RESPONSES;
use nsq_core::protocol::{Op, Output, Session, UpgradeStep, Upgraded};
use nsq_core::stats::ClientIdentity;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

pub(crate) const READ_CHUNK: usize = 64 * 1024;

pub(crate) async fn serve(inner: Arc<Inner>, stream: Conn, peer: Peer) {
    let (mut rd, mut wr) = split_conn(stream);
    tracing::info!("TCP: new client({peer})");
    let id = inner.next_client_id();
    let shared: Handle = Arc::new(ConnShared::new(id));
    let mut conn = Connection::new(&inner, &shared, peer.clone());
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        let writer = tokio::spawn(write_loop(Arc::clone(&shared), wr));
        let Some(step) = conn.run(&mut rd, &mut buf).await else {
            conn.leave();
            shared.set_reader_done();
            let _ = writer.await;
            break;
        };
        // Everything before the upgrade (the IDENTIFY answer) goes out first.
        shared.request_hand_back(true);
        let back = writer.await.ok().flatten();
        shared.request_hand_back(false);
        // (IDENTIFY happens before SUB: there is no channel to leave here.)
        let Some(stream) = back.and_then(|w| reunite(rd, w)) else {
            break;
        };
        match conn.upgrade(stream, step, &mut buf).await {
            Some(s) => (rd, wr) = split_boxed(s),
            None => break,
        }
    }
    if conn.registered {
        inner.conns.remove(id);
        tracing::info!("PROTOCOL(V2): [{peer}] exiting ioloop");
    }
}

/// Flushes the output buffer until the reader is done (then shuts the
/// stream) or wants the write half back for an upgrade (then returns it).
async fn write_loop(shared: Handle, mut wr: Writer) -> Option<Writer> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        let msg_bytes = shared.take_output(&mut buf);
        if buf.is_empty() {
            if shared.reader_done() {
                break;
            }
            if shared.hand_back_requested() {
                return Some(wr);
            }
            shared.writer_wakeup().await;
            continue;
        }
        shared.set_in_write(buf.len(), msg_bytes);
        let ok = wr.write_all(&buf).await.is_ok() && wr.flush().await.is_ok();
        shared.set_in_write(0, 0);
        buf.clear();
        if ok {
            shared.add_written(msg_bytes);
        }
        shared.notify_drained();
        if !ok {
            shared.set_writer_failed();
            return None;
        }
    }
    let _ = wr.shutdown().await;
    None
}

/// What to do after the session's outputs are carried out.
enum Next {
    Read,
    Upgrade(UpgradeStep),
    Close,
}

/// The reader side of a connection: its protocol session and what the
/// session's operations need.
struct Connection<'a> {
    inner: &'a Inner,
    shared: &'a Handle,
    session: Session,
    sub_cell: Option<Arc<TopicCell>>,
    pub_cell: Option<Arc<TopicCell>>,
    /// The records the last publish waits for (with `Output::WaitDurable`).
    durability: Option<Durability>,
    /// In the registry of connections (once the magic was right).
    registered: bool,
}

impl<'a> Connection<'a> {
    fn new(inner: &'a Inner, shared: &'a Handle, peer: Peer) -> Self {
        let cfg = Arc::clone(&inner.client_cfg);
        let mut session = Session::new(
            shared.id,
            cfg,
            &peer.ip_text(),
            peer.to_string(),
            clock::now(),
        );
        // NSQ logs every command at debug level.
        session.set_log_commands(tracing::enabled!(tracing::Level::DEBUG));
        shared.info().identity = ClientIdentity::new(session.client(), peer.to_string());
        Connection {
            inner,
            shared,
            session,
            sub_cell: None,
            pub_cell: None,
            durability: None,
            registered: false,
        }
    }

    /// Reads and feeds the session until the connection ends (`None`) or the
    /// session asks for a stream upgrade (bytes read past it stay in `buf`).
    async fn run(
        &mut self,
        rd: &mut (impl AsyncRead + Unpin),
        buf: &mut BytesMut,
    ) -> Option<UpgradeStep> {
        loop {
            match self.carry_out(buf).await {
                Next::Read => {}
                Next::Upgrade(step) => return Some(step),
                Next::Close => return None,
            }
            // Back-pressure: wait for the writer, timers still running (a
            // client that neither reads nor writes still expires).
            while self.shared.pending_responses() > MAX_PENDING_RESPONSES
                && !self.shared.close_requested()
                && !self.session.is_closed()
            {
                let deadline = self.session.poll_timeout();
                tokio::select! {
                    biased;
                    _ = self.shared.reader_wakeup() => self.report_written(),
                    _ = sleep_until(deadline) => self.session.handle_timeout(clock::now()),
                }
                if let Next::Close = self.carry_out(buf).await {
                    return None;
                }
            }
            if self.shared.close_requested() {
                return None;
            }
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            let deadline = self.session.poll_timeout();
            tokio::select! {
                biased;
                _ = self.shared.reader_wakeup() => self.report_written(),
                _ = sleep_until(deadline) => self.session.handle_timeout(clock::now()),
                r = rd.read_buf(buf) => match r {
                    Ok(0) | Err(_) => self.session.handle_eof(buf),
                    Ok(_) => self.session.handle_read(buf, clock::now()),
                },
            }
        }
    }

    /// Carries out everything the session asked for, feeding results back,
    /// until it wants more bytes, an upgrade, or is closed.
    async fn carry_out(&mut self, buf: &mut BytesMut) -> Next {
        let mut closing = false;
        loop {
            while let Some(out) = self.session.poll_output() {
                match out {
                    Output::Frame(ty, data) => self.shared.push_frame(ty, &data),
                    Output::Op(op) => {
                        let r = self.perform(op);
                        self.session.op_done(r);
                    }
                    Output::WaitDurable { synced } => {
                        if let Some(d) = self.durability.take() {
                            d.wait(synced).await;
                        }
                        self.session.durable();
                    }
                    Output::Auth(req) => {
                        let answer = self.inner.authd.query(&req).await;
                        self.session.auth_answered(answer, clock::now());
                    }
                    Output::Upgrade(step) => {
                        self.sync_info();
                        return Next::Upgrade(step);
                    }
                    Output::Log(level, text) => log(level, &text),
                    Output::Close => closing = true,
                }
            }
            if !self.registered && self.session.is_running() {
                // In the registry of connections (stats, shutdown) once past
                // the magic, as NSQ makes a client only then.
                self.inner.conns.add(self.shared);
                self.registered = true;
            }
            self.sync_info();
            if closing || self.session.is_closed() {
                return Next::Close;
            }
            if !self.session.can_proceed() {
                return Next::Read;
            }
            self.session.proceed(buf, clock::now());
        }
    }

    fn ops(&mut self) -> ConnOps<'_> {
        ConnOps {
            registry: &self.inner.registry,
            me: self.shared,
            sub_cell: &mut self.sub_cell,
            pub_cell: &mut self.pub_cell,
            pending: None,
        }
    }

    fn perform(&mut self, op: Op) -> nsq_core::protocol::OpResult {
        let (id, now) = (self.shared.id, clock::now());
        let mut ops = self.ops();
        let r = ops.perform(op, id, now);
        let pending = ops.pending.take();
        if pending.is_some() {
            self.durability = pending;
        }
        r
    }

    /// Copies what the session changed into the connection's identity record.
    fn sync_info(&mut self) {
        let changes = self.session.take_changes();
        let client = self.session.client();
        if changes.identity {
            let mut info = self.shared.info();
            info.identity.update_from(client);
            if let Some(a) = &client.auth {
                info.identity.auth = Some((a.identity.clone(), a.identity_url.clone()));
            }
            if info.sub != client.sub {
                info.sub.clone_from(&client.sub);
            }
        }
        for topic in changes.published {
            if let Some(&n) = client.pub_counts.get(&topic) {
                self.shared.info().identity.set_published(&topic, n);
            }
        }
    }

    /// Carries out one upgrade on the whole stream (`leftover`: bytes read
    /// past IDENTIFY, which belong to the upgraded stream); the session's
    /// `OK` follows through it. `None`: the connection is over.
    async fn upgrade(
        &mut self,
        stream: BoxStream,
        step: UpgradeStep,
        leftover: &mut BytesMut,
    ) -> Option<BoxStream> {
        let stream: BoxStream = if leftover.is_empty() {
            stream
        } else {
            Box::new(Prefixed::new(leftover.split(), stream))
        };
        let result = match step {
            UpgradeStep::Tls => match self.inner.tls.clone() {
                None => Err("TLS negotiated without a TLS config".to_string()),
                Some(config) => match crate::tls::accept(config, stream).await {
                    Ok((s, info)) => {
                        self.shared.update_info(|i| {
                            i.identity.tls = Some(nsq_core::stats::TlsInfo {
                                version: nsq_core::tls::version_name(info.version),
                                cipher_suite: nsq_core::tls::cipher_suite_name(info.cipher_suite),
                                ..Default::default()
                            });
                        });
                        Ok((
                            s,
                            Upgraded {
                                common_name: info.common_name,
                            },
                        ))
                    }
                    Err(e) => Err(e.to_string()),
                },
            },
            UpgradeStep::Snappy => Ok((stream::snappy(stream), Upgraded::default())),
            UpgradeStep::Deflate(level) => {
                Ok((stream::deflate(stream, level), Upgraded::default()))
            }
        };
        match result {
            Ok((s, info)) => {
                self.session.upgraded(Ok(info));
                Some(s)
            }
            Err(e) => {
                self.session.upgraded(Err(e));
                while let Some(out) = self.session.poll_output() {
                    if let Output::Log(level, text) = out {
                        log(level, &text);
                    }
                }
                None
            }
        }
    }

    /// Tells the channel how much of its messages the writer has written,
    /// which lets it hand this consumer more.
    fn report_written(&mut self) {
        // Reported in quarters of what may wait unwritten: delivery never
        // stalls on a report still to come.
        let every = (self.inner.opts.max_unwritten_bytes / 4).max(1);
        let Some(n) = self.shared.take_written(every) else {
            return;
        };
        let (Some(sub), Some(cell)) = (&self.session.client().sub, &self.sub_cell) else {
            return;
        };
        let now = clock::now();
        let mut out = Deliver::default();
        let mut st = cell.lock();
        if st.deleted {
            return;
        }
        st.topic
            .output_written(&sub.channel, sub.slot, self.shared.id, n, now, &mut out);
        cell.after_op_at(&mut st, now);
        drop(st);
        drop(out);
    }

    /// The connection is over: out of its channel.
    fn leave(&mut self) {
        if let Some(op) = self.session.leave() {
            self.perform(op);
        }
        while let Some(out) = self.session.poll_output() {
            if let Output::Log(level, text) = out {
                log(level, &text);
            }
        }
    }
}

/// A session's log line, through tracing.
fn log(level: LogLevel, text: &str) {
    match level {
        LogLevel::Debug => tracing::debug!("{text}"),
        LogLevel::Info => tracing::info!("{text}"),
        LogLevel::Warn => tracing::warn!("{text}"),
        LogLevel::Error | LogLevel::Fatal => tracing::error!("{text}"),
    }
}

async fn sleep_until(deadline: Option<nsq_core::io::Nanos>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(clock::instant_at(d)).await,
        None => std::future::pending().await,
    }
}
