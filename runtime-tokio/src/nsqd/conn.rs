//! One TCP client: a reader task that parses and executes commands, and a
//! writer task that flushes the connection's output buffer (which topics
//! fill with message frames directly).
//!
//! IDENTIFY may upgrade the stream (TLS, then snappy or deflate). The
//! reader then takes the write half back from the writer (after it flushed
//! the plain IDENTIFY answer), reunites the halves, wraps the stream, writes
//! each upgrade's `OK` through it, splits it again and restarts the writer.

use super::ops::{ConnOps, Durability};
use super::registry::TopicCell;
use super::shared::{ConnShared, Deliver, Handle};
use super::transport::{reunite, split_boxed, split_conn, Writer};
use super::Inner;
use crate::clock;
use crate::listen::{Conn, Peer};
use crate::stream::{self, BoxStream, Prefixed};
use bytes::BytesMut;
use nsq_core::auth::{AuthRequest, AuthState};
use nsq_core::broker::BrokerOps;
use nsq_core::broker::{Client, Reply, TickAction, Upgrades};
use nsq_core::stats::ClientIdentity;
use nsq_core::wire::command::{CommandParser, ParseError, RawCommand};
use nsq_core::wire::frame::{put_frame, FrameType, HEARTBEAT, OK};
use nsq_core::wire::ClientError;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

pub(crate) const READ_CHUNK: usize = 64 * 1024;
/// Stop reading commands while this much of their answers waits to be
/// written (a client that does not read its responses gets back-pressure
/// instead of growing our memory). Message frames are bounded apart, by the
/// channel (`BrokerConfig::max_unwritten`).
pub(crate) const MAX_PENDING_RESPONSES: usize = 256 * 1024;

pub(crate) async fn serve(inner: Arc<Inner>, stream: Conn, peer: Peer) {
    let (mut rd, mut wr) = split_conn(stream);
    tracing::info!("TCP: new client({peer})");
    let mut magic = [0u8; 4];
    let silent_limit =
        std::time::Duration::from_nanos(inner.client_cfg.default_heartbeat.max(0) as u64 * 2);
    match tokio::time::timeout(silent_limit, rd.read_exact(&mut magic)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!("failed to read protocol version - {e}");
            return;
        }
        Err(_) => return,
    }
    tracing::info!(
        "CLIENT({peer}): desired protocol magic '{}'",
        String::from_utf8_lossy(&magic)
    );
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
    let mut session = Session::new(&inner, &shared, peer.clone());
    inner.conns.add(&shared);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        let writer = tokio::spawn(write_loop(Arc::clone(&shared), wr));
        let Some(upgrades) = session.read_loop(&mut rd, &mut buf).await else {
            session.leave();
            shared.set_reader_done();
            let _ = writer.await;
            break;
        };
        // Everything before the upgrade (the IDENTIFY answer) goes out plain.
        shared.request_hand_back(true);
        let back = writer.await.ok().flatten();
        shared.request_hand_back(false);
        // (IDENTIFY happens before SUB: there is no channel to leave here.)
        let Some(stream) = back.and_then(|w| reunite(rd, w)) else {
            break;
        };
        match session.upgrade(stream, upgrades, &mut buf).await {
            Ok(s) => (rd, wr) = split_boxed(s),
            Err(e) => {
                tracing::error!("PROTOCOL(V2): [{peer}] IDENTIFY failed {e}");
                break;
            }
        }
    }
    inner.conns.remove(id);
    tracing::info!("PROTOCOL(V2): [{peer}] exiting ioloop");
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

/// Writes one response frame straight to an upgraded stream.
async fn send_ok(stream: &mut BoxStream) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(16);
    put_frame(&mut frame, FrameType::Response, OK);
    stream.write_all(&frame).await?;
    stream.flush().await
}

/// The reader side of a connection.
struct Session<'a> {
    inner: &'a Inner,
    shared: &'a Handle,
    peer: Peer,
    client: Client,
    parser: CommandParser,
    sub_cell: Option<Arc<TopicCell>>,
    pub_cell: Option<Arc<TopicCell>>,
    /// The client certificate's CN (after a TLS upgrade), for the auth server.
    common_name: String,
    /// The topic of the PUB/MPUB/DPUB being executed (a reused buffer).
    pub_topic: Vec<u8>,
    /// FINs of the current batch, run together (one lock, one dispatch)
    /// before any other command and at the end of the batch.
    fins: Vec<nsq_core::wire::MessageId>,
}

/// FINs gathered before they are run together.
const FIN_BATCH: usize = 512;

enum Flow {
    Continue,
    Close,
    /// A publish appended to disk: answer once it is durable, then go on.
    Wait(Durability, Reply),
    /// IDENTIFY negotiated stream upgrades: stop reading the old stream.
    Upgrade(Upgrades),
    /// AUTH: ask the auth server, answer, then go on.
    Auth,
    /// The auth grant expired: ask again, then run this command.
    Reauth(RawCommand),
}

/// What a command may change in the connection's identity record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touches {
    Nothing,
    Identity,
    PubCounts,
}

impl Touches {
    fn of(name: &[u8]) -> Self {
        match name {
            b"PUB" | b"MPUB" | b"DPUB" => Touches::PubCounts,
            b"IDENTIFY" | b"SUB" | b"CLS" | b"AUTH" => Touches::Identity,
            _ => Touches::Nothing,
        }
    }
}

impl<'a> Session<'a> {
    fn new(inner: &'a Inner, shared: &'a Handle, peer: Peer) -> Self {
        let cfg = Arc::clone(&inner.client_cfg);
        let client = Client::new(shared.id, cfg, &peer.ip_text(), clock::now());
        shared.info().identity = ClientIdentity::new(&client, peer.to_string());
        Session {
            inner,
            shared,
            peer,
            parser: CommandParser::new(client.config().limits),
            client,
            sub_cell: None,
            pub_cell: None,
            common_name: String::new(),
            pub_topic: Vec::new(),
            fins: Vec::new(),
        }
    }

    /// Copies what the last command changed into the connection's identity record.
    fn sync_info(&self, touched: Touches) {
        match touched {
            Touches::Nothing => {}
            Touches::Identity => {
                let mut info = self.shared.info();
                info.identity.update_from(&self.client);
                if info.sub != self.client.sub {
                    info.sub.clone_from(&self.client.sub);
                }
            }
            Touches::PubCounts => {
                let Ok(topic) = std::str::from_utf8(&self.pub_topic) else {
                    return;
                };
                if let Some(&n) = self.client.pub_counts.get(topic) {
                    self.shared.info().identity.set_published(topic, n);
                }
            }
        }
    }

    /// Reads and runs commands until the connection ends (`None`) or
    /// IDENTIFY asks for stream upgrades (bytes read past it stay in `buf`).
    async fn read_loop(
        &mut self,
        rd: &mut (impl AsyncRead + Unpin),
        buf: &mut BytesMut,
    ) -> Option<Upgrades> {
        loop {
            // Back-pressure: wait for the writer, timers still running (a
            // client that neither reads nor writes still expires).
            while self.shared.pending_responses() > MAX_PENDING_RESPONSES
                && !self.shared.close_requested()
            {
                let deadline = self.client.next_deadline();
                tokio::select! {
                    biased;
                    _ = self.shared.reader_wakeup() => self.report_written(),
                    _ = sleep_until(deadline) => {
                        if matches!(self.on_timer(), Flow::Close) {
                            return None;
                        }
                    }
                }
            }
            if self.shared.close_requested() {
                return None;
            }
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            let deadline = self.client.next_deadline();
            let flow = tokio::select! {
                biased;
                _ = self.shared.reader_wakeup() => {
                    self.report_written();
                    Flow::Continue
                }
                _ = sleep_until(deadline) => self.on_timer(),
                r = rd.read_buf(buf) => match r {
                    Ok(0) | Err(_) => {
                        if let Some(e) = self.parser.eof_error(buf) {
                            self.send_error(&e);
                        }
                        Flow::Close
                    }
                    Ok(_) => {
                        self.client.on_read(clock::now());
                        self.run_commands(buf)
                    }
                },
            };
            match self.settle(flow, buf).await {
                Flow::Continue => {}
                Flow::Upgrade(up) => return Some(up),
                _ => return None,
            }
        }
    }

    /// Finishes what a batch of commands left pending: `Continue`, `Close`
    /// or `Upgrade`.
    async fn settle(&mut self, mut flow: Flow, buf: &mut BytesMut) -> Flow {
        loop {
            match flow {
                Flow::Continue | Flow::Close | Flow::Upgrade(_) => return flow,
                Flow::Auth => {
                    let answer = self.ask_auth().await;
                    let identity = answer
                        .as_ref()
                        .ok()
                        .map(|s| (s.identity.clone(), s.identity_url.clone()));
                    match self.client.auth_answered(answer) {
                        Ok(reply) => {
                            if let Some((id, url)) = identity {
                                self.shared
                                    .update_info(|i| i.identity.auth = Some((id, url)));
                            }
                            self.reply(reply);
                        }
                        Err(e) => {
                            self.send_error(&e);
                            return Flow::Close;
                        }
                    }
                    flow = self.run_commands(buf);
                }
                Flow::Reauth(raw) => {
                    let answer = self.ask_auth().await;
                    if let Err(e) = self.client.auth_refreshed(answer) {
                        self.send_error(&e);
                        return Flow::Close;
                    }
                    flow = match self.execute(raw, clock::now()) {
                        Some(f) => f,
                        None => self.run_commands(buf),
                    };
                }
                Flow::Wait(durability, reply) => {
                    durability.wait(self.inner.opts.sync_every <= 1).await;
                    self.reply(reply);
                    flow = self.run_commands(buf);
                }
            }
        }
    }

    fn reply(&self, reply: Reply) {
        match reply {
            Reply::Nothing => {}
            Reply::Response(data) => self.shared.push_frame(FrameType::Response, &data),
            Reply::Identify { json, .. } => self.shared.push_frame(FrameType::Response, &json),
            // Answered through `Flow::Auth` / `Flow::Reauth`.
            Reply::Auth(_) | Reply::Reauth(_) => {}
        }
    }

    /// Asks the auth servers about this connection (NSQ's `QueryAuthd`).
    async fn ask_auth(&self) -> Result<AuthState, String> {
        let req = AuthRequest {
            remote_ip: self.peer.ip_text(),
            tls: self.client.tls,
            secret: self.client.auth_request_secret().to_string(),
            common_name: self.common_name.clone(),
        };
        let answer = self.inner.authd.query(&req).await;
        if let Err(e) = &answer {
            tracing::warn!("PROTOCOL(V2): [{}] AUTH failed {e}", self.peer);
        }
        answer
    }

    /// Performs IDENTIFY's upgrades in NSQ's order, each confirmed with `OK`
    /// through the upgraded stream. `leftover` (bytes read past IDENTIFY)
    /// belongs to the upgraded stream.
    async fn upgrade(
        &mut self,
        stream: BoxStream,
        up: Upgrades,
        leftover: &mut BytesMut,
    ) -> std::io::Result<BoxStream> {
        let mut stream: BoxStream = if leftover.is_empty() {
            stream
        } else {
            Box::new(Prefixed::new(leftover.split(), stream))
        };
        let peer = self.peer.clone();
        if up.tls {
            tracing::info!("PROTOCOL(V2): [{peer}] upgrading connection to TLS");
            let config = self
                .inner
                .tls
                .clone()
                .ok_or_else(|| std::io::Error::other("TLS negotiated without a TLS config"))?;
            let (s, info) = crate::tls::accept(config, stream).await?;
            stream = s;
            self.client.tls = true;
            self.common_name = info.common_name;
            self.shared.update_info(|i| {
                i.identity.tls = Some(nsq_core::stats::TlsInfo {
                    version: nsq_core::tls::version_name(info.version),
                    cipher_suite: nsq_core::tls::cipher_suite_name(info.cipher_suite),
                    ..Default::default()
                });
            });
            send_ok(&mut stream).await?;
        }
        if up.snappy {
            tracing::info!("PROTOCOL(V2): [{peer}] upgrading connection to snappy");
            stream = stream::snappy(stream);
            self.client.snappy = true;
            self.shared.update_info(|i| i.identity.snappy = true);
            send_ok(&mut stream).await?;
        }
        if let Some(level) = up.deflate {
            tracing::info!(
                "PROTOCOL(V2): [{peer}] upgrading connection to deflate (level {level})"
            );
            stream = stream::deflate(stream, level);
            self.client.deflate = true;
            self.shared.update_info(|i| i.identity.deflate = true);
            send_ok(&mut stream).await?;
        }
        Ok(stream)
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
        let (Some(sub), Some(cell)) = (&self.client.sub, &self.sub_cell) else {
            return;
        };
        let now = clock::now();
        let mut out = Deliver::default();
        let mut st = cell.lock();
        if st.deleted {
            return;
        }
        st.topic
            .output_written(&sub.channel, sub.slot, self.client.id, n, now, &mut out);
        cell.after_op_at(&mut st, now);
        drop(st);
        drop(out);
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
        let plain_fins = self.client.takes_plain_fin();
        // NSQ logs every command at debug level (asked once per batch)
        let debug = tracing::enabled!(tracing::Level::DEBUG);
        let flow = loop {
            if plain_fins {
                if let Some(id) = self.parser.next_plain_fin(buf) {
                    if debug {
                        let text = String::from_utf8_lossy(&id.0);
                        tracing::debug!("PROTOCOL(V2): [{}] [FIN {text}]", self.peer);
                    }
                    self.fins.push(id);
                    if self.fins.len() >= FIN_BATCH {
                        self.run_fins(now);
                    }
                    continue;
                }
            }
            let raw = match self.parser.next(buf, &mut self.client) {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    self.create_pending_topic(now);
                    break Flow::Continue;
                }
                Err(ParseError::LineTooLong) => {
                    tracing::error!("[{}] - command line too long", self.peer);
                    break Flow::Close;
                }
                Err(ParseError::Client(e)) => {
                    self.create_pending_topic(now);
                    self.run_fins(now);
                    self.send_error(&e);
                    break Flow::Close;
                }
            };
            if debug {
                let line = String::from_utf8_lossy(raw.line());
                tracing::debug!("PROTOCOL(V2): [{}] [{line}]", self.peer);
            }
            match self.client.fin_id(&raw) {
                Some(Ok(id)) => {
                    self.fins.push(id);
                    if self.fins.len() >= FIN_BATCH {
                        self.run_fins(now);
                    }
                    continue;
                }
                Some(Err(e)) => {
                    self.run_fins(now);
                    self.send_error(&e);
                    if e.fatal {
                        break Flow::Close;
                    }
                    continue;
                }
                None => self.run_fins(now),
            }
            if let Some(flow) = self.execute(raw, now) {
                break flow;
            }
        };
        self.run_fins(now);
        flow
    }

    /// Creates the topic of an MPUB whose body is still to come (or bad), as NSQ does.
    fn create_pending_topic(&mut self, now: nsq_core::io::Nanos) {
        let mut ops = ConnOps {
            registry: &self.inner.registry,
            me: self.shared,
            sub_cell: &mut self.sub_cell,
            pub_cell: &mut self.pub_cell,
            pending: None,
        };
        self.client.create_pending_topic(&mut ops, now);
    }

    /// Runs the gathered FINs together; each failure gets NSQ's error, in order.
    fn run_fins(&mut self, now: nsq_core::io::Nanos) {
        if self.fins.is_empty() {
            return;
        }
        let Some(sub) = self.client.sub.clone() else {
            self.fins.clear();
            return;
        };
        let mut ops = ConnOps {
            registry: &self.inner.registry,
            me: self.shared,
            sub_cell: &mut self.sub_cell,
            pub_cell: &mut self.pub_cell,
            pending: None,
        };
        let mut fins = std::mem::take(&mut self.fins);
        let failed = ops.finish_many(&sub, self.client.id, &fins, now);
        for (i, e) in failed {
            self.send_error(&Client::fin_failed(&fins[i], e));
        }
        fins.clear();
        self.fins = fins;
    }

    /// Runs one command; `Some` stops the batch.
    fn execute(&mut self, raw: RawCommand, now: nsq_core::io::Nanos) -> Option<Flow> {
        if raw.name() == b"IDENTIFY" && tracing::enabled!(tracing::Level::INFO) {
            self.log_identify(raw.body.as_deref().unwrap_or_default());
        }
        let touched = Touches::of(raw.name());
        if touched == Touches::PubCounts {
            self.pub_topic.clear();
            self.pub_topic
                .extend_from_slice(raw.param(1).unwrap_or_default());
        }
        let mut ops = ConnOps {
            registry: &self.inner.registry,
            me: self.shared,
            sub_cell: &mut self.sub_cell,
            pub_cell: &mut self.pub_cell,
            pending: None,
        };
        let result = self.client.exec(raw, now, &mut ops);
        let pending = ops.pending.take();
        if result.is_ok() {
            self.sync_info(touched);
        }
        match (result, pending) {
            (Ok(reply), Some(durability)) => return Some(Flow::Wait(durability, reply)),
            (Ok(Reply::Auth(_)), None) => return Some(Flow::Auth),
            (Ok(Reply::Reauth(raw)), None) => return Some(Flow::Reauth(raw)),
            (Ok(Reply::Identify { json, upgrades }), None) => {
                self.shared.push_frame(FrameType::Response, &json);
                if upgrades != Upgrades::default() {
                    return Some(Flow::Upgrade(upgrades));
                }
            }
            (Ok(reply), None) => self.reply(reply),
            (Err(e), _) => {
                self.send_error(&e);
                if e.fatal {
                    return Some(Flow::Close);
                }
            }
        }
        None
    }

    /// What NSQ logs of an IDENTIFY (debug, then info).
    fn log_identify(&self, body: &[u8]) {
        if let Ok(data) = nsq_core::wire::identify::IdentifyData::from_json(body) {
            let text = data.go_text();
            tracing::debug!("PROTOCOL(V2): [{}] {text}", self.peer);
            tracing::info!("[{}] IDENTIFY: {text}", self.peer);
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
            tracing::info!("CHANNEL({}): deleting", sub.channel);
        }
        if gone.topic_should_go {
            cell.mark_deleted(&mut st);
            drop(st);
            tracing::info!("TOPIC({}): deleting", cell.name);
            self.inner.registry.retire(cell);
        }
    }
}

async fn sleep_until(deadline: Option<nsq_core::io::Nanos>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(clock::instant_at(d)).await,
        None => std::future::pending().await,
    }
}
