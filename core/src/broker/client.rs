//! One protocol V2 connection's state and NSQ's rules for its commands:
//! IDENTIFY negotiation, state checks, authorization, errors, heartbeats.
//!
//! The client does not own topics: a command that acts on one yields an
//! [`Op`] (the runtime carries it out under that topic's lock) and is
//! finished by [`Client::op_done`] with its result. `protocol::Session`
//! drives it.

use super::consumer::ConsumerSettings;
use super::inflight::InFlightError;
use crate::auth::AuthState;
use crate::io::{nanos, Nanos, MS};
use crate::options::{Options, TlsRequired};
use crate::protocol::{Op, OpResult};
use crate::wire::command::{check_publish_line, BodyKind, Command, Limits, LineRules, RawCommand};
use crate::wire::frame::{CLOSE_WAIT, OK};
use crate::wire::goquote::go_quote;
use crate::wire::identify::{IdentifyData, IdentifyResponse};
use crate::wire::{ClientError, MessageId};
use crate::NSQ_VERSION;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The settings a connection needs (from nsqd's options).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    pub limits: Limits,
    pub default_heartbeat: Nanos,
    pub max_heartbeat_ms: i64,
    pub default_output_buffer_size: i64,
    pub max_output_buffer_size: i64,
    pub default_output_buffer_timeout: Nanos,
    pub min_output_buffer_timeout_ms: i64,
    pub max_output_buffer_timeout_ms: i64,
    pub default_msg_timeout: Nanos,
    pub max_msg_timeout: Nanos,
    pub max_rdy_count: i64,
    pub max_deflate_level: i64,
    /// The runtime can upgrade a connection to TLS (a certificate is set).
    pub tls_available: bool,
    pub deflate_enabled: bool,
    pub snappy_enabled: bool,
    /// A publish that reached disk is answered once fsynced (--sync-every=1),
    /// else once written.
    pub wait_synced: bool,
    /// Commands other than IDENTIFY need TLS first.
    pub tls_required: bool,
    pub auth_enabled: bool,
}

impl ClientConfig {
    pub fn from_options(o: &Options) -> Self {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        ClientConfig {
            limits: o.limits(),
            default_heartbeat: nanos(o.client_timeout) / 2,
            max_heartbeat_ms: ms(o.max_heartbeat_interval),
            default_output_buffer_size: 16 * 1024,
            max_output_buffer_size: o.max_output_buffer_size,
            default_output_buffer_timeout: nanos(o.output_buffer_timeout),
            min_output_buffer_timeout_ms: ms(o.min_output_buffer_timeout),
            max_output_buffer_timeout_ms: ms(o.max_output_buffer_timeout),
            default_msg_timeout: nanos(o.msg_timeout),
            max_msg_timeout: nanos(o.max_msg_timeout),
            max_rdy_count: o.max_rdy_count,
            max_deflate_level: o.max_deflate_level,
            tls_available: false,
            deflate_enabled: o.deflate,
            snappy_enabled: o.snappy,
            wait_synced: o.sync_every <= 1,
            tls_required: o.tls_required != TlsRequired::No,
            auth_enabled: !o.auth_http_addresses.is_empty(),
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::from_options(&Options::default())
    }
}

/// NSQ's client states (the numbers appear in /stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Init = 0,
    Subscribed = 3,
    Closing = 4,
}

/// Where a subscribed connection sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub topic: String,
    pub channel: String,
    /// The consumer slot in the channel.
    pub slot: usize,
}

/// What [`Client::exec`] leads to: an answer now, or an [`Op`] for the
/// runtime whose result ([`Client::op_done`]) gives the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exec {
    Reply(Reply),
    Op(Op),
}

/// A command waiting for its [`Op`]'s result.
#[derive(Debug, Clone)]
enum Pending {
    Sub {
        topic: String,
        channel: String,
    },
    Publish {
        topic: String,
        count: u64,
        cmd: &'static str,
    },
    Requeue {
        id: MessageId,
    },
    Touch {
        id: MessageId,
    },
    Fin {
        id: MessageId,
    },
    /// RDY: nothing to answer.
    Quiet,
    /// CLS: `CLOSE_WAIT` once RDY 0 is set.
    Cls,
}

/// Stream upgrades IDENTIFY negotiated; the runtime performs them in this
/// order (TLS, then snappy or deflate), answering `OK` after each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Upgrades {
    pub tls: bool,
    pub snappy: bool,
    pub deflate: Option<u32>,
}

/// What to answer a command with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// No frame (RDY, FIN, REQ, TOUCH, NOP, ...).
    Nothing,
    /// A response frame.
    Response(Bytes),
    /// The IDENTIFY JSON, then the upgrades.
    Identify { json: Vec<u8>, upgrades: Upgrades },
    /// AUTH needs the auth server; the runtime asks it with this secret,
    /// then hands the answer to [`Client::auth_answered`].
    Auth(Bytes),
    /// The connection's grant expired: the runtime asks the auth server
    /// again (with [`Client::auth_request_secret`]), hands the answer to
    /// [`Client::auth_refreshed`] and then executes this command again.
    Reauth(RawCommand),
}

impl Reply {
    fn ok() -> Self {
        Reply::Response(Bytes::from_static(OK))
    }
}

/// What a timer tick asks of the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickAction {
    SendHeartbeat,
    /// Nothing was read for two heartbeat intervals: close.
    Expired,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: u64,
    cfg: Arc<ClientConfig>,
    pub state: ClientState,
    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    heartbeat: Nanos,
    pub output_buffer_size: i64,
    pub output_buffer_timeout: Nanos,
    pub sample_rate: i32,
    pub msg_timeout: Nanos,
    pub tls: bool,
    pub snappy: bool,
    pub deflate: bool,
    pub sub: Option<Subscription>,
    pub pub_counts: BTreeMap<String, u64>,
    pub connect_ts: Nanos,
    /// What the auth server granted (after AUTH).
    pub auth: Option<AuthState>,
    auth_secret: String,
    last_read: Nanos,
    next_heartbeat: Nanos,
    /// The topic of an MPUB whose line was accepted and whose body is still
    /// being read: NSQ has created it by then (see [`Client::take_pending_topic`]).
    mpub_topic: Option<String>,
    /// The command waiting for its op's result.
    pending: Option<Pending>,
}

impl Client {
    /// A new connection from `remote_host` (NSQ's default client_id and hostname).
    pub fn new(id: u64, cfg: Arc<ClientConfig>, remote_host: &str, now: Nanos) -> Self {
        let heartbeat = cfg.default_heartbeat;
        Client {
            id,
            state: ClientState::Init,
            client_id: remote_host.to_string(),
            hostname: remote_host.to_string(),
            user_agent: String::new(),
            heartbeat,
            output_buffer_size: cfg.default_output_buffer_size,
            output_buffer_timeout: cfg.default_output_buffer_timeout,
            sample_rate: 0,
            msg_timeout: cfg.default_msg_timeout,
            tls: false,
            snappy: false,
            deflate: false,
            sub: None,
            pub_counts: BTreeMap::new(),
            connect_ts: now,
            auth: None,
            auth_secret: String::new(),
            last_read: now,
            next_heartbeat: now.saturating_add(heartbeat),
            mpub_topic: None,
            pending: None,
            cfg,
        }
    }

    /// NSQ creates an MPUB's topic once the line and the authorization
    /// passed, before it reads the body, so the topic exists even when the
    /// body turns out bad (a count of 0, a cut message). The runtime calls
    /// this whenever the parser stops inside a body (waiting for bytes, or
    /// refusing them): the topic to create, once.
    pub fn take_pending_topic(&mut self) -> Option<String> {
        self.mpub_topic.take()
    }

    /// Whether an MPUB's topic waits to be created ([`Client::take_pending_topic`]).
    pub fn has_pending_topic(&self) -> bool {
        self.mpub_topic.is_some()
    }

    /// The topic of the publish whose op is out, if one is.
    pub fn pending_publish_topic(&self) -> Option<&str> {
        match &self.pending {
            Some(Pending::Publish { topic, .. }) => Some(topic),
            _ => None,
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// The heartbeat interval (0 = disabled).
    pub fn heartbeat_interval(&self) -> Nanos {
        self.heartbeat
    }

    /// Bytes arrived from the client.
    pub fn on_read(&mut self, now: Nanos) {
        self.last_read = now;
    }

    /// When [`Client::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Nanos> {
        (self.heartbeat > 0).then(|| {
            self.next_heartbeat
                .min(self.last_read.saturating_add(2 * self.heartbeat))
        })
    }

    pub fn tick(&mut self, now: Nanos) -> Option<TickAction> {
        if self.heartbeat <= 0 {
            return None;
        }
        if now >= self.last_read.saturating_add(2 * self.heartbeat) {
            return Some(TickAction::Expired);
        }
        if now >= self.next_heartbeat {
            self.next_heartbeat = now.saturating_add(self.heartbeat);
            return Some(TickAction::SendHeartbeat);
        }
        None
    }

    fn consumer_settings(&self) -> ConsumerSettings {
        ConsumerSettings {
            client_id: self.id,
            msg_timeout: self.msg_timeout,
            sample_rate: self.sample_rate,
        }
    }

    /// Runs one framed command: its answer, or the [`Op`] it needs (then
    /// [`Client::op_done`] gives the answer).
    pub fn exec(&mut self, raw: RawCommand, now: Nanos) -> Result<Exec, ClientError> {
        let limits = self.cfg.limits;
        let op = |pending: Pending, op: Op, me: &mut Self| {
            me.pending = Some(pending);
            Ok(Exec::Op(op))
        };
        match raw.name() {
            b"IDENTIFY" => {
                let Command::Identify(body) = Command::from_raw(raw, &limits)? else {
                    unreachable!("IDENTIFY parses to Identify")
                };
                self.identify(&body, now).map(Exec::Reply)
            }
            b"SUB" => {
                if self.state != ClientState::Init {
                    return Err(ClientError::invalid("cannot SUB in current state"));
                }
                if self.heartbeat <= 0 {
                    return Err(ClientError::invalid("cannot SUB with heartbeats disabled"));
                }
                let retry = self.auth_refresh_due(now).then(|| raw.clone());
                let Command::Sub { topic, channel } = Command::from_raw(raw, &limits)? else {
                    unreachable!("SUB parses to Sub")
                };
                if let AuthCheck::Refresh = self.check_auth("SUB", &topic, &channel, now)? {
                    return Ok(Exec::Reply(Reply::Reauth(
                        retry.expect("refresh due was checked first"),
                    )));
                }
                let sub = Op::Subscribe {
                    topic: topic.clone(),
                    channel: channel.clone(),
                    settings: self.consumer_settings(),
                };
                op(Pending::Sub { topic, channel }, sub, self)
            }
            b"RDY" => {
                if self.state == ClientState::Closing {
                    // NSQ ignores RDY after CLS.
                    return Ok(Exec::Reply(Reply::Nothing));
                }
                let sub = self.subscribed("RDY", false)?;
                let Command::Rdy(count) = Command::from_raw(raw, &limits)? else {
                    unreachable!("RDY parses to Rdy")
                };
                let max = self.cfg.max_rdy_count;
                if count < 0 || count > max {
                    return Err(ClientError::invalid(format!(
                        "RDY count {count} out of range 0-{max}"
                    )));
                }
                op(Pending::Quiet, Op::Ready { sub, count }, self)
            }
            b"FIN" => {
                let sub = self.subscribed("FIN", true)?;
                let Command::Fin(id) = Command::from_raw(raw, &limits)? else {
                    unreachable!("FIN parses to Fin")
                };
                op(Pending::Fin { id }, Op::Finish { sub, ids: vec![id] }, self)
            }
            b"REQ" => {
                let sub = self.subscribed("REQ", true)?;
                let Command::Req { id, delay_ms, .. } = Command::from_raw(raw, &limits)? else {
                    unreachable!("REQ parses to Req")
                };
                let delay = delay_ms.saturating_mul(MS);
                op(
                    Pending::Requeue { id },
                    Op::Requeue { sub, id, delay },
                    self,
                )
            }
            b"TOUCH" => {
                let sub = self.subscribed("TOUCH", true)?;
                let Command::Touch(id) = Command::from_raw(raw, &limits)? else {
                    unreachable!("TOUCH parses to Touch")
                };
                op(Pending::Touch { id }, Op::Touch { sub, id }, self)
            }
            b"CLS" => {
                if self.state != ClientState::Subscribed {
                    return Err(ClientError::invalid("cannot CLS in current state"));
                }
                let sub = self.subscribed("CLS", false)?;
                self.state = ClientState::Closing;
                op(Pending::Cls, Op::Ready { sub, count: 0 }, self)
            }
            b"NOP" => Ok(Exec::Reply(Reply::Nothing)),
            b"PUB" | b"MPUB" | b"DPUB" => self.exec_publish(raw, now),
            b"AUTH" => {
                let Command::Auth(secret) = Command::from_raw(raw, &limits)? else {
                    unreachable!("AUTH parses to Auth")
                };
                if self.has_authorizations() {
                    return Err(ClientError::invalid("AUTH already set"));
                }
                if !self.cfg.auth_enabled {
                    return Err(ClientError::fatal("E_AUTH_DISABLED", "AUTH disabled"));
                }
                self.auth_secret = String::from_utf8_lossy(&secret).into_owned();
                Ok(Exec::Reply(Reply::Auth(secret)))
            }
            _ => Command::from_raw(raw, &limits).map(|_| Exec::Reply(Reply::Nothing)),
        }
    }

    /// PUB, MPUB and DPUB: checked, then handed to the broker.
    fn exec_publish(&mut self, raw: RawCommand, now: Nanos) -> Result<Exec, ClientError> {
        let limits = self.cfg.limits;
        let cmd: &'static str = match raw.name() {
            b"MPUB" => {
                // the publish below creates the topic
                self.mpub_topic = None;
                "MPUB"
            }
            b"DPUB" => "DPUB",
            _ => "PUB",
        };
        let retry = self.auth_refresh_due(now).then(|| raw.clone());
        let (topic, op, count) = match Command::from_raw(raw, &limits)? {
            Command::Pub { topic, body } => (
                topic.clone(),
                Op::Publish {
                    topic,
                    bodies: vec![body],
                },
                1,
            ),
            Command::Mpub { topic, bodies } => {
                let n = bodies.len() as u64;
                (topic.clone(), Op::Publish { topic, bodies }, n)
            }
            Command::Dpub {
                topic,
                delay_ms,
                body,
            } => (
                topic.clone(),
                Op::PublishDeferred {
                    topic,
                    body,
                    delay: delay_ms.saturating_mul(MS),
                },
                1,
            ),
            _ => unreachable!("publish commands parse to publishes"),
        };
        if let AuthCheck::Refresh = self.check_auth(cmd, &topic, "", now)? {
            return Ok(Exec::Reply(Reply::Reauth(
                retry.expect("refresh due was checked first"),
            )));
        }
        self.pending = Some(Pending::Publish { topic, count, cmd });
        Ok(Exec::Op(op))
    }

    /// The result of the [`Op`] the last [`Client::exec`] asked for: the
    /// command's answer, or NSQ's error.
    pub fn op_done(&mut self, result: OpResult) -> Result<Reply, ClientError> {
        let Some(pending) = self.pending.take() else {
            return Ok(Reply::Nothing);
        };
        match (pending, result) {
            (Pending::Sub { topic, channel }, OpResult::Subscribed(r)) => {
                let slot =
                    r.map_err(|e| ClientError::fatal("E_SUB_FAILED", format!("SUB failed {e}")))?;
                self.state = ClientState::Subscribed;
                self.sub = Some(Subscription {
                    topic,
                    channel,
                    slot,
                });
                Ok(Reply::ok())
            }
            (Pending::Publish { topic, count, cmd }, OpResult::Published(r)) => {
                r.map_err(|e| {
                    let code = match cmd {
                        "MPUB" => "E_MPUB_FAILED",
                        "DPUB" => "E_DPUB_FAILED",
                        _ => "E_PUB_FAILED",
                    };
                    ClientError::fatal(code, format!("{cmd} failed {e}"))
                })?;
                *self.pub_counts.entry(topic).or_default() += count;
                Ok(Reply::ok())
            }
            (Pending::Requeue { id }, OpResult::Requeued(r)) => {
                r.map_err(|e| ClientError::soft("E_REQ_FAILED", format!("REQ {id} failed {e}")))?;
                Ok(Reply::Nothing)
            }
            (Pending::Touch { id }, OpResult::Touched(r)) => {
                r.map_err(|e| {
                    ClientError::soft(
                        "E_TOUCH_FAILED",
                        format!("TOUCH {id} failed {}", e.as_str()),
                    )
                })?;
                Ok(Reply::Nothing)
            }
            (Pending::Fin { id }, OpResult::Finished(failed)) => match failed.first() {
                Some(&(_, e)) => Err(Self::fin_failed(&id, e)),
                None => Ok(Reply::Nothing),
            },
            (Pending::Cls, _) => Ok(Reply::Response(Bytes::from_static(CLOSE_WAIT))),
            (_, _) => Ok(Reply::Nothing),
        }
    }

    /// The auth server's answer to AUTH (or why there is none): the
    /// response frame, or NSQ's fatal error. The runtime logs `Err` texts;
    /// the client only learns `AUTH failed` (they may name servers).
    pub fn auth_answered(
        &mut self,
        answer: Result<AuthState, String>,
    ) -> Result<Reply, ClientError> {
        let state = answer.map_err(|_| ClientError::fatal("E_AUTH_FAILED", "AUTH failed"))?;
        let json = state.answer_json();
        self.auth = Some(state);
        if !self.has_authorizations() {
            return Err(ClientError::fatal(
                "E_UNAUTHORIZED",
                "AUTH no authorizations found",
            ));
        }
        Ok(Reply::Response(Bytes::from(json)))
    }

    /// The auth server's fresh answer after [`Reply::Reauth`].
    pub fn auth_refreshed(&mut self, answer: Result<AuthState, String>) -> Result<(), ClientError> {
        let state = answer.map_err(|_| ClientError::fatal("E_AUTH_FAILED", "AUTH failed"))?;
        self.auth = Some(state);
        Ok(())
    }

    /// The secret the client sent with AUTH (asked again on refresh).
    pub fn auth_request_secret(&self) -> &str {
        &self.auth_secret
    }

    pub fn has_authorizations(&self) -> bool {
        self.auth
            .as_ref()
            .is_some_and(AuthState::has_authorizations)
    }

    /// Auth is on and the grant has expired: the next checked command
    /// needs a fresh one.
    fn auth_refresh_due(&self, now: Nanos) -> bool {
        self.cfg.auth_enabled && self.has_authorizations() && self.auth_expired(now)
    }

    fn auth_expired(&self, now: Nanos) -> bool {
        self.auth.as_ref().is_some_and(|a| a.is_expired(now))
    }

    /// NSQ's `CheckAuth`: with auth on, the client must have authorized,
    /// and its (fresh) grant must allow `cmd` on the topic and channel.
    fn check_auth(
        &self,
        cmd: &str,
        topic: &str,
        channel: &str,
        now: Nanos,
    ) -> Result<AuthCheck, ClientError> {
        if !self.cfg.auth_enabled {
            return Ok(AuthCheck::Allowed);
        }
        let Some(state) = self.auth.as_ref().filter(|a| a.has_authorizations()) else {
            return Err(ClientError::fatal(
                "E_AUTH_FIRST",
                format!("AUTH required before {cmd}"),
            ));
        };
        if state.is_expired(now) {
            return Ok(AuthCheck::Refresh);
        }
        if !state.is_allowed(topic, channel) {
            return Err(ClientError::fatal(
                "E_UNAUTHORIZED",
                format!(
                    "AUTH failed for {cmd} on {} {}",
                    go_quote(topic.as_bytes()),
                    go_quote(channel.as_bytes())
                ),
            ));
        }
        Ok(AuthCheck::Allowed)
    }

    /// For a FIN line: its id, with exactly the checks [`Client::exec`]
    /// makes (so runtimes may batch FINs and run them together through
    /// [`Op::Finish`]); `None` for any other command.
    pub fn fin_id(&self, raw: &RawCommand) -> Option<Result<MessageId, ClientError>> {
        if raw.name() != b"FIN" {
            return None;
        }
        Some(
            self.subscribed_ref("FIN", true)
                .and_then(|_| crate::wire::command::fin_target(raw)),
        )
    }

    /// Whether a plain `FIN <id>` line may skip the command parser
    /// ([`crate::wire::CommandParser::next_plain_fin`]): the line rules let
    /// FIN through and [`Client::fin_id`] would accept it.
    pub fn takes_plain_fin(&self) -> bool {
        self.subscribed_ref("FIN", true).is_ok() && (self.tls || !self.cfg.tls_required)
    }

    /// The error text of a FIN that failed.
    pub fn fin_failed(id: &MessageId, e: InFlightError) -> ClientError {
        ClientError::soft("E_FIN_FAILED", format!("FIN {id} failed {}", e.as_str()))
    }

    fn subscribed_ref(&self, cmd: &str, closing_ok: bool) -> Result<&Subscription, ClientError> {
        let state_ok = self.state == ClientState::Subscribed
            || (closing_ok && self.state == ClientState::Closing);
        match &self.sub {
            Some(sub) if state_ok => Ok(sub),
            _ => Err(ClientError::invalid(format!(
                "cannot {cmd} in current state"
            ))),
        }
    }

    fn subscribed(&self, cmd: &str, closing_ok: bool) -> Result<Subscription, ClientError> {
        let state_ok = self.state == ClientState::Subscribed
            || (closing_ok && self.state == ClientState::Closing);
        match &self.sub {
            Some(sub) if state_ok => Ok(sub.clone()),
            _ => Err(ClientError::invalid(format!(
                "cannot {cmd} in current state"
            ))),
        }
    }

    fn identify(&mut self, body: &[u8], now: Nanos) -> Result<Reply, ClientError> {
        let data = IdentifyData::from_json(body)
            .map_err(|_| ClientError::fatal("E_BAD_BODY", "IDENTIFY failed to decode JSON body"))?;
        self.client_id = data.client_id.clone();
        self.hostname = data.hostname.clone();
        self.user_agent = data.user_agent.clone();
        self.apply_identify(&data, now)
            .map_err(|e| ClientError::fatal("E_BAD_BODY", format!("IDENTIFY {e}")))?;
        if !data.feature_negotiation {
            return Ok(Reply::ok());
        }
        let cfg = &self.cfg;
        let tls = cfg.tls_available && data.tls_v1;
        let deflate = cfg.deflate_enabled && data.deflate;
        let mut deflate_level = 6;
        if deflate && data.deflate_level > 0 {
            deflate_level = data.deflate_level;
        }
        deflate_level = deflate_level.min(cfg.max_deflate_level);
        let snappy = cfg.snappy_enabled && data.snappy;
        if deflate && snappy {
            return Err(ClientError::fatal(
                "E_IDENTIFY_FAILED",
                "cannot enable both deflate and snappy compression",
            ));
        }
        let response = IdentifyResponse {
            max_rdy_count: cfg.max_rdy_count,
            version: NSQ_VERSION.to_string(),
            max_msg_timeout: cfg.max_msg_timeout / MS,
            msg_timeout: self.msg_timeout / MS,
            tls_v1: tls,
            deflate,
            deflate_level,
            max_deflate_level: cfg.max_deflate_level,
            snappy,
            sample_rate: self.sample_rate,
            auth_required: cfg.auth_enabled,
            output_buffer_size: self.output_buffer_size,
            output_buffer_timeout: self.output_buffer_timeout / MS,
        };
        Ok(Reply::Identify {
            json: response.to_json(),
            upgrades: Upgrades {
                tls,
                snappy,
                deflate: deflate.then_some(deflate_level.clamp(0, 9) as u32),
            },
        })
    }

    /// NSQ's `clientV2.Identify` checks, in its order.
    fn apply_identify(&mut self, d: &IdentifyData, now: Nanos) -> Result<(), String> {
        let cfg = Arc::clone(&self.cfg);
        match d.heartbeat_interval {
            -1 => self.heartbeat = 0,
            0 => {}
            v if v >= 1000 && v <= cfg.max_heartbeat_ms => self.heartbeat = v * MS,
            v => return Err(format!("heartbeat interval ({v}) is invalid")),
        }
        match d.output_buffer_timeout {
            -1 => self.output_buffer_timeout = 0,
            0 => {}
            v if v >= cfg.min_output_buffer_timeout_ms && v <= cfg.max_output_buffer_timeout_ms => {
                self.output_buffer_timeout = v * MS
            }
            v => return Err(format!("output buffer timeout ({v}) is invalid")),
        }
        match d.output_buffer_size {
            -1 => {
                self.output_buffer_size = 1;
                self.output_buffer_timeout = 0;
            }
            0 => {}
            v if v >= 64 && v <= cfg.max_output_buffer_size => self.output_buffer_size = v,
            v => return Err(format!("output buffer size ({v}) is invalid")),
        }
        if !(0..=99).contains(&d.sample_rate) {
            return Err(format!("sample rate ({}) is invalid", d.sample_rate));
        }
        self.sample_rate = d.sample_rate;
        match d.msg_timeout {
            0 => {}
            v if v >= 1000 && v <= cfg.max_msg_timeout / MS => self.msg_timeout = v * MS,
            v => return Err(format!("msg timeout ({v}) is invalid")),
        }
        // The heartbeat ticker restarts with the new interval.
        self.next_heartbeat = now.saturating_add(self.heartbeat);
        Ok(())
    }
}

impl LineRules for Client {
    /// The checks NSQ makes before reading a command's body.
    fn on_line(&mut self, cmd: &RawCommand) -> Result<Option<BodyKind>, ClientError> {
        let name = cmd.name();
        if name == b"IDENTIFY" {
            if self.state != ClientState::Init {
                return Err(ClientError::invalid("cannot IDENTIFY in current state"));
            }
            return Ok(Some(BodyKind::Identify));
        }
        if self.cfg.tls_required && !self.tls {
            return Err(ClientError::invalid(format!(
                "cannot {} in current state (TLS required)",
                String::from_utf8_lossy(name)
            )));
        }
        match name {
            b"AUTH" => {
                if self.state != ClientState::Init {
                    return Err(ClientError::invalid("cannot AUTH in current state"));
                }
                if cmd.len() != 1 {
                    return Err(ClientError::invalid("AUTH invalid number of parameters"));
                }
                Ok(Some(BodyKind::Auth))
            }
            b"MPUB" => {
                let kind = check_publish_line(cmd, &self.cfg.limits)?;
                // NSQ checks MPUB's authorization before it reads the body
                // (an expired grant is refreshed after it, in `exec`).
                let topic = String::from_utf8_lossy(cmd.param(1).unwrap_or_default());
                self.check_auth("MPUB", &topic, "", self.last_read)?;
                self.mpub_topic = Some(topic.into_owned());
                Ok(Some(kind))
            }
            b"PUB" | b"DPUB" => check_publish_line(cmd, &self.cfg.limits).map(Some),
            _ => Ok(None),
        }
    }
}

/// What [`Client::check_auth`] found.
enum AuthCheck {
    Allowed,
    /// The grant expired: ask the auth server again, then check.
    Refresh,
}

#[cfg(test)]
mod tests;
