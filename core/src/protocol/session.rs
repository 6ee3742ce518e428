//! One client connection of nsqd (protocol V2) as a sans-IO machine.
//!
//! Inputs, each with the time: bytes read (`handle_read`), the end of the
//! stream (`handle_eof`), a timer (`handle_timeout`), the result of a broker
//! operation (`op_done`), a publish's records durable (`durable`), the auth
//! server's answer (`auth_answered`), an upgrade carried out (`upgraded`).
//! Outputs, drained with `poll_output`: frames to write, broker operations,
//! waits (durability, auth, upgrades), log lines, closing. What the session
//! decides here: the `  V2` magic and the silence before it, IDENTIFY and its
//! upgrade order with an `OK` after each, heartbeats and their expiry, every
//! error's code and text and whether it closes, FIN batching, and that a
//! publisher's `OK` waits for its records' durability.
//!
//! A runtime drains outputs after every input, carrying `Op`s out at once
//! and calling `proceed` while `can_proceed` says the session stopped in
//! the middle of what it was given (it waits for an op's result before it
//! goes on, so frames keep NSQ's order).

use super::op::{Op, OpResult};
use crate::api::config::LogLevel;
use crate::auth::{AuthRequest, AuthState};
use crate::broker::client::{Client, ClientConfig, Exec, Reply, TickAction, Upgrades};
use crate::io::Nanos;
use crate::wire::command::{CommandParser, ParseError, RawCommand};
use crate::wire::frame::{FrameType, HEARTBEAT, OK};
use crate::wire::{ClientError, MessageId};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::Arc;

/// FINs gathered before they are run together (one topic lock, one dispatch).
pub const FIN_BATCH: usize = 512;
/// The runtime stops reading a client's commands while this much of their
/// answers waits to be written (a client that does not read its answers
/// gets back-pressure instead of growing nsqd's memory). Message frames are
/// bounded apart, by their channel (`BrokerConfig::max_unwritten`).
pub const MAX_PENDING_RESPONSES: usize = 256 * 1024;

/// The protocol magic a V2 client sends first.
const MAGIC: &[u8; 4] = b"  V2";

/// One stream upgrade IDENTIFY negotiated, in NSQ's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeStep {
    Tls,
    Snappy,
    /// Raw deflate at this level.
    Deflate(u32),
}

/// What an upgrade carried out tells the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upgraded {
    /// The client certificate's common name (TLS), for the auth server.
    pub common_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A frame to write, in order with the others.
    Frame(FrameType, Bytes),
    /// Carry this out on the broker, then [`Session::op_done`].
    Op(Op),
    /// The last publish's records must be on disk (fsynced, with `synced`)
    /// before its answer: wait, then [`Session::durable`].
    WaitDurable {
        synced: bool,
    },
    /// Ask the auth servers, then [`Session::auth_answered`].
    Auth(AuthRequest),
    /// Write out what came before, carry the upgrade out on the stream
    /// (bytes read past IDENTIFY belong to the upgraded stream), then
    /// [`Session::upgraded`].
    Upgrade(UpgradeStep),
    Log(LogLevel, String),
    /// Close the connection (after writing what came before).
    Close,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the magic; closed silently after this deadline.
    Magic {
        deadline: Nanos,
    },
    Running,
    Closed,
}

/// What the session waits for before it goes on.
#[derive(Debug)]
enum Wait {
    Nothing,
    /// A command's op.
    Command,
    /// A batch of FINs.
    Fins(Vec<MessageId>),
    /// An op whose result needs nothing (creating an MPUB's topic).
    Quiet,
    /// This answer, once the publish is durable.
    Durable(Reply),
    /// AUTH's answer.
    Auth,
    /// A fresh grant, then this command again.
    Reauth(RawCommand),
    /// These upgrades, the first one under way.
    Upgrade(VecDeque<UpgradeStep>),
}

/// What the last inputs changed that the runtime mirrors (for the stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// IDENTIFY, SUB, CLS, AUTH or an upgrade changed who the client is.
    pub identity: bool,
    /// Topics published to (their counts are in `Client::pub_counts`).
    pub published: Vec<String>,
}

#[derive(Debug)]
pub struct Session {
    client: Client,
    parser: CommandParser,
    /// How logs name the client, and its address for the auth server.
    peer: String,
    remote_ip: String,
    phase: Phase,
    wait: Wait,
    fins: Vec<MessageId>,
    /// A command taken from the parser, to run once the FINs before it ran.
    held: Option<RawCommand>,
    /// An error to answer once the FINs before it ran (and whether the
    /// connection closes then).
    failing: Option<(ClientError, bool)>,
    /// Stopped with bytes left to look at (see [`Session::can_proceed`]).
    interrupted: bool,
    out: VecDeque<Output>,
    /// Log every command at debug level (NSQ's `[cmd]` lines).
    log_commands: bool,
    common_name: String,
    changes: Changes,
    /// The command whose op is out: what its success changes.
    running: Option<Running>,
}

/// What a command whose op is out changes when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Running {
    Identity,
    Publish,
    Other,
}

impl Session {
    /// A new connection from `remote_ip` (`peer`: how logs name it).
    pub fn new(id: u64, cfg: Arc<ClientConfig>, remote_ip: &str, peer: String, now: Nanos) -> Self {
        let deadline = now.saturating_add(cfg.default_heartbeat.max(0).saturating_mul(2));
        Session {
            parser: CommandParser::new(cfg.limits),
            client: Client::new(id, cfg, remote_ip, now),
            peer,
            remote_ip: remote_ip.to_string(),
            phase: Phase::Magic { deadline },
            wait: Wait::Nothing,
            fins: Vec::new(),
            held: None,
            failing: None,
            interrupted: false,
            out: VecDeque::new(),
            log_commands: false,
            common_name: String::new(),
            changes: Changes::default(),
            running: None,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether to log every command at debug level.
    pub fn set_log_commands(&mut self, on: bool) {
        self.log_commands = on;
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Past the magic, and not closed.
    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running)
    }

    /// Whether it waits for something other than bytes (an op's result,
    /// durability, the auth server, an upgrade): give it no more bytes.
    pub fn is_waiting(&self) -> bool {
        !matches!(self.wait, Wait::Nothing)
    }

    /// Whether it stopped with bytes left to look at and is free to go on:
    /// call [`Session::proceed`] with the same buffer.
    pub fn can_proceed(&self) -> bool {
        self.interrupted && !self.is_waiting() && !self.is_closed()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// What changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// When [`Session::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Nanos> {
        match self.phase {
            Phase::Magic { deadline } => Some(deadline),
            Phase::Running => self.client.next_deadline(),
            Phase::Closed => None,
        }
    }

    /// The connection is over: the op that takes it out of its channel, if
    /// it is in one (an ephemeral channel and topic vanish with their last
    /// consumer).
    pub fn leave(&mut self) -> Option<Op> {
        self.phase = Phase::Closed;
        self.client.sub.take().map(|sub| Op::Leave { sub })
    }

    fn log(&mut self, level: LogLevel, text: String) {
        self.out.push_back(Output::Log(level, text));
    }

    fn close(&mut self) {
        if !self.is_closed() {
            self.phase = Phase::Closed;
            self.out.push_back(Output::Close);
        }
    }

    fn frame(&mut self, ty: FrameType, data: Bytes) {
        self.out.push_back(Output::Frame(ty, data));
    }

    /// Answers with NSQ's error frame; a fatal one closes the connection.
    fn send_error(&mut self, e: &ClientError) {
        let text = format!("[{}] - {e}", self.peer);
        self.log(LogLevel::Error, text);
        self.frame(FrameType::Error, Bytes::from(e.to_frame_data()));
        if e.fatal {
            self.close();
        }
    }

    fn reply(&mut self, reply: Reply) {
        match reply {
            Reply::Nothing => {}
            Reply::Response(data) => self.frame(FrameType::Response, data),
            Reply::Identify { json, .. } => self.frame(FrameType::Response, Bytes::from(json)),
            Reply::Auth(_) | Reply::Reauth(_) => {}
        }
    }

    fn op(&mut self, op: Op, wait: Wait) {
        self.wait = wait;
        self.interrupted = true;
        self.out.push_back(Output::Op(op));
    }

    fn auth_request(&self) -> AuthRequest {
        AuthRequest {
            remote_ip: self.remote_ip.clone(),
            tls: self.client.tls,
            secret: self.client.auth_request_secret().to_string(),
            common_name: self.common_name.clone(),
        }
    }

    /// Bytes arrived (appended to `buf`, which keeps what is not parsed yet).
    pub fn handle_read(&mut self, buf: &mut BytesMut, now: Nanos) {
        if let Phase::Magic { .. } = self.phase {
            if buf.len() < MAGIC.len() {
                return;
            }
            let magic = buf.split_to(MAGIC.len());
            let shown = String::from_utf8_lossy(&magic).into_owned();
            let text = format!("CLIENT({}): desired protocol magic '{shown}'", self.peer);
            self.log(LogLevel::Info, text);
            if &magic[..] != MAGIC {
                let text = format!("client({}) bad protocol magic '{shown}'", self.peer);
                self.log(LogLevel::Error, text);
                self.frame(FrameType::Error, Bytes::from_static(b"E_BAD_PROTOCOL"));
                self.close();
                return;
            }
            self.phase = Phase::Running;
        }
        if self.is_closed() {
            return;
        }
        self.client.on_read(now);
        self.interrupted = true;
        self.proceed(buf, now);
    }

    /// The stream ended (or failed): what the buffer holds is cut short.
    pub fn handle_eof(&mut self, buf: &BytesMut) {
        if let Phase::Running = self.phase {
            if let Some(e) = self.parser.eof_error(buf) {
                self.send_error(&e);
            }
        }
        self.close();
    }

    /// A timer: heartbeats, their expiry, the silence before the magic.
    pub fn handle_timeout(&mut self, now: Nanos) {
        match self.phase {
            Phase::Magic { deadline } if now >= deadline => self.close(),
            Phase::Running => match self.client.tick(now) {
                Some(TickAction::SendHeartbeat) => {
                    self.frame(FrameType::Response, Bytes::from_static(HEARTBEAT))
                }
                Some(TickAction::Expired) => {
                    let text = format!("PROTOCOL(V2): [{}] heartbeat expired, closing", self.peer);
                    self.log(LogLevel::Info, text);
                    self.close();
                }
                None => {}
            },
            _ => {}
        }
    }

    /// Runs the FINs gathered so far (one op); true if it asked for one.
    fn flush_fins(&mut self) -> bool {
        if self.fins.is_empty() {
            return false;
        }
        let ids = std::mem::take(&mut self.fins);
        let Some(sub) = self.client.sub.clone() else {
            return false;
        };
        self.op(
            Op::Finish {
                sub,
                ids: ids.clone(),
            },
            Wait::Fins(ids),
        );
        true
    }

    fn push_fin(&mut self, id: MessageId) {
        self.fins.push(id);
        if self.fins.len() >= FIN_BATCH {
            self.flush_fins();
        }
    }

    /// Goes on with the commands in `buf` until it needs an op's result,
    /// must wait, closes, or runs out of complete commands.
    pub fn proceed(&mut self, buf: &mut BytesMut, now: Nanos) {
        loop {
            if self.is_waiting() || self.is_closed() {
                return;
            }
            // An MPUB whose line passed and whose body is cut short or bad:
            // NSQ has created its topic already.
            if let Some(topic) = self.client.take_pending_topic() {
                self.op(Op::CreateTopic { topic }, Wait::Quiet);
                return;
            }
            if self.failing.is_some() || self.held.is_some() {
                // What came before runs first.
                if self.flush_fins() {
                    return;
                }
                if let Some((e, close)) = self.failing.take() {
                    self.send_error(&e);
                    if close {
                        self.close();
                    }
                    continue;
                }
                if let Some(raw) = self.held.take() {
                    self.execute(raw, now);
                    continue;
                }
            }
            if self.client.takes_plain_fin() {
                if let Some(id) = self.parser.next_plain_fin(buf) {
                    if self.log_commands {
                        let text = format!(
                            "PROTOCOL(V2): [{}] [FIN {}]",
                            self.peer,
                            String::from_utf8_lossy(&id.0)
                        );
                        self.log(LogLevel::Debug, text);
                    }
                    self.push_fin(id);
                    continue;
                }
            }
            let raw = match self.parser.next(buf, &mut self.client) {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    if self.client.has_pending_topic() {
                        continue;
                    }
                    // Everything complete is done: the batch runs now.
                    if !self.flush_fins() {
                        self.interrupted = false;
                    }
                    return;
                }
                Err(ParseError::LineTooLong) => {
                    let text = format!("[{}] - command line too long", self.peer);
                    self.log(LogLevel::Error, text);
                    self.close();
                    return;
                }
                Err(ParseError::Client(e)) => {
                    self.failing = Some((e, true));
                    continue;
                }
            };
            if self.log_commands {
                let text = format!(
                    "PROTOCOL(V2): [{}] [{}]",
                    self.peer,
                    String::from_utf8_lossy(raw.line())
                );
                self.log(LogLevel::Debug, text);
            }
            match self.client.fin_id(&raw) {
                Some(Ok(id)) => self.push_fin(id),
                Some(Err(e)) => {
                    let fatal = e.fatal;
                    self.failing = Some((e, fatal));
                }
                None => self.held = Some(raw),
            }
        }
    }

    /// Runs one command.
    fn execute(&mut self, raw: RawCommand, now: Nanos) {
        let running = match raw.name() {
            b"IDENTIFY" => {
                self.log_identify(raw.body.as_deref().unwrap_or_default());
                Running::Identity
            }
            b"SUB" | b"CLS" | b"AUTH" => Running::Identity,
            b"PUB" | b"MPUB" | b"DPUB" => Running::Publish,
            _ => Running::Other,
        };
        match self.client.exec(raw, now) {
            Ok(Exec::Op(op)) => {
                self.running = Some(running);
                self.op(op, Wait::Command);
            }
            Ok(Exec::Reply(reply)) => {
                if running == Running::Identity {
                    self.changes.identity = true;
                }
                self.answer(reply);
            }
            Err(e) => self.send_error(&e),
        }
    }

    /// What NSQ logs of an IDENTIFY (debug, then info).
    fn log_identify(&mut self, body: &[u8]) {
        if let Ok(data) = crate::wire::identify::IdentifyData::from_json(body) {
            let text = data.go_text();
            if self.log_commands {
                let line = format!("PROTOCOL(V2): [{}] {text}", self.peer);
                self.log(LogLevel::Debug, line);
            }
            let line = format!("[{}] IDENTIFY: {text}", self.peer);
            self.log(LogLevel::Info, line);
        }
    }

    /// A command's answer, or what it waits for.
    fn answer(&mut self, reply: Reply) {
        match reply {
            Reply::Identify { json, upgrades } => {
                self.frame(FrameType::Response, Bytes::from(json));
                let steps = upgrade_steps(upgrades);
                if let Some(&first) = steps.front() {
                    self.log_upgrade(first);
                    self.wait = Wait::Upgrade(steps);
                    self.out.push_back(Output::Upgrade(first));
                }
            }
            Reply::Auth(_) => {
                self.wait = Wait::Auth;
                let req = self.auth_request();
                self.out.push_back(Output::Auth(req));
            }
            Reply::Reauth(raw) => {
                self.wait = Wait::Reauth(raw);
                let req = self.auth_request();
                self.out.push_back(Output::Auth(req));
            }
            other => self.reply(other),
        }
    }

    fn log_upgrade(&mut self, step: UpgradeStep) {
        let what = match step {
            UpgradeStep::Tls => "TLS".to_string(),
            UpgradeStep::Snappy => "snappy".to_string(),
            UpgradeStep::Deflate(level) => format!("deflate (level {level})"),
        };
        let text = format!(
            "PROTOCOL(V2): [{}] upgrading connection to {what}",
            self.peer
        );
        self.log(LogLevel::Info, text);
    }

    /// The result of the op it asked for last.
    pub fn op_done(&mut self, result: OpResult) {
        match std::mem::replace(&mut self.wait, Wait::Nothing) {
            Wait::Fins(ids) => {
                if let OpResult::Finished(failed) = result {
                    for (i, e) in failed {
                        if let Some(id) = ids.get(i) {
                            self.send_error(&Client::fin_failed(id, e));
                        }
                    }
                }
            }
            Wait::Quiet => {}
            Wait::Command => {
                let durable = matches!(result, OpResult::Published(Ok(true)));
                let running = self.running.take();
                let topic = match &result {
                    OpResult::Published(Ok(_)) => self.last_published_topic(),
                    _ => None,
                };
                match self.client.op_done(result) {
                    Ok(reply) => {
                        match running {
                            Some(Running::Identity) => self.changes.identity = true,
                            Some(Running::Publish) => self.changes.published.extend(topic),
                            _ => {}
                        }
                        if durable {
                            self.wait = Wait::Durable(reply);
                            let synced = self.client.config().wait_synced;
                            self.out.push_back(Output::WaitDurable { synced });
                        } else {
                            self.reply(reply);
                        }
                    }
                    Err(e) => self.send_error(&e),
                }
            }
            other => self.wait = other,
        }
    }

    /// The topic the publish whose op is out went to.
    fn last_published_topic(&self) -> Option<String> {
        self.client.pending_publish_topic().map(str::to_string)
    }

    /// The publish it waited for is durable: its answer goes out.
    pub fn durable(&mut self) {
        match std::mem::replace(&mut self.wait, Wait::Nothing) {
            Wait::Durable(reply) => self.reply(reply),
            other => self.wait = other,
        }
    }

    /// The auth servers' answer (or why there is none) to what
    /// `Output::Auth` asked.
    pub fn auth_answered(&mut self, answer: Result<AuthState, String>, now: Nanos) {
        if let Err(e) = &answer {
            let text = format!("PROTOCOL(V2): [{}] AUTH failed {e}", self.peer);
            self.log(LogLevel::Warn, text);
        }
        match std::mem::replace(&mut self.wait, Wait::Nothing) {
            Wait::Auth => match self.client.auth_answered(answer) {
                Ok(reply) => {
                    self.changes.identity = true;
                    self.reply(reply);
                }
                Err(e) => self.send_error(&e),
            },
            Wait::Reauth(raw) => match self.client.auth_refreshed(answer) {
                Ok(()) => self.execute(raw, now),
                Err(e) => self.send_error(&e),
            },
            other => self.wait = other,
        }
    }

    /// The upgrade `Output::Upgrade` asked for was carried out (or failed):
    /// its `OK` goes out through the upgraded stream, then the next one.
    pub fn upgraded(&mut self, result: Result<Upgraded, String>) {
        let Wait::Upgrade(mut steps) = std::mem::replace(&mut self.wait, Wait::Nothing) else {
            return;
        };
        let info = match result {
            Ok(info) => info,
            Err(e) => {
                let text = format!("PROTOCOL(V2): [{}] IDENTIFY failed {e}", self.peer);
                self.log(LogLevel::Error, text);
                self.close();
                return;
            }
        };
        match steps.pop_front() {
            Some(UpgradeStep::Tls) => {
                self.client.tls = true;
                self.common_name = info.common_name;
            }
            Some(UpgradeStep::Snappy) => self.client.snappy = true,
            Some(UpgradeStep::Deflate(_)) => self.client.deflate = true,
            None => return,
        }
        self.changes.identity = true;
        self.frame(FrameType::Response, Bytes::from_static(OK));
        if let Some(&next) = steps.front() {
            self.log_upgrade(next);
            self.wait = Wait::Upgrade(steps);
            self.out.push_back(Output::Upgrade(next));
        }
    }
}

/// IDENTIFY's upgrades in NSQ's order: TLS, then snappy or deflate.
fn upgrade_steps(up: Upgrades) -> VecDeque<UpgradeStep> {
    let mut v = VecDeque::new();
    if up.tls {
        v.push_back(UpgradeStep::Tls);
    }
    if up.snappy {
        v.push_back(UpgradeStep::Snappy);
    }
    if let Some(level) = up.deflate {
        v.push_back(UpgradeStep::Deflate(level));
    }
    v
}

#[cfg(test)]
mod tests;
