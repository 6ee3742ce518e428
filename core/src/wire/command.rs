//! Protocol V2 commands: an incremental framer for the byte stream (bytes
//! may arrive split anywhere) and typed parsing with NSQ v1.3.0's checks,
//! error codes and texts, in NSQ's order.
//!
//! A command is a line `NAME [PARAM ...]\n` (a trailing `\r` is dropped),
//! followed for IDENTIFY, AUTH, PUB, MPUB and DPUB by `[4-byte BE size][body]`.
//! NSQ checks the line before it reads the body (e.g. a PUB to a bad topic
//! is refused without reading the body), so the framer asks a [`LineRules`]
//! whether and how to read a body once a line is complete.

use super::error::ClientError;
use super::goquote::go_quote;
use super::message::{MessageId, MSG_ID_LEN};
use super::names::{is_valid_channel_name, is_valid_topic_name};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// NSQ's line buffer: a line longer than this closes the connection
/// without an error frame (Go's `bufio.ErrBufferFull`).
pub const MAX_LINE_LEN: usize = 16 * 1024;

/// How many parameters a line keeps (commands use at most three; more are counted).
const MAX_PARAMS: usize = 4;

/// Size limits that apply to command bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// --max-msg-size
    pub max_msg_size: i64,
    /// --max-body-size
    pub max_body_size: i64,
    /// --max-req-timeout, in milliseconds (DPUB's upper bound)
    pub max_req_timeout_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_msg_size: 1024 * 1024,
            max_body_size: 5 * 1024 * 1024,
            max_req_timeout_ms: 3_600_000,
        }
    }
}

/// The commands that carry a body, each with its own size rules and texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Identify,
    Auth,
    Pub,
    Mpub,
    Dpub,
}

impl BodyKind {
    fn name(self) -> &'static str {
        match self {
            BodyKind::Identify => "IDENTIFY",
            BodyKind::Auth => "AUTH",
            BodyKind::Pub => "PUB",
            BodyKind::Mpub => "MPUB",
            BodyKind::Dpub => "DPUB",
        }
    }

    /// NSQ's check of the announced body size, in NSQ's order per command.
    pub fn check_size(self, size: i32, limits: &Limits) -> Result<(), ClientError> {
        let n = self.name();
        let size64 = i64::from(size);
        match self {
            BodyKind::Identify | BodyKind::Auth => {
                if size64 > limits.max_body_size {
                    return Err(ClientError::fatal(
                        "E_BAD_BODY",
                        format!("{n} body too big {size} > {}", limits.max_body_size),
                    ));
                }
                if size <= 0 {
                    return Err(ClientError::fatal(
                        "E_BAD_BODY",
                        format!("{n} invalid body size {size}"),
                    ));
                }
            }
            BodyKind::Pub | BodyKind::Dpub => {
                if size <= 0 {
                    return Err(ClientError::fatal(
                        "E_BAD_MESSAGE",
                        format!("{n} invalid message body size {size}"),
                    ));
                }
                if size64 > limits.max_msg_size {
                    return Err(ClientError::fatal(
                        "E_BAD_MESSAGE",
                        format!("{n} message too big {size} > {}", limits.max_msg_size),
                    ));
                }
            }
            BodyKind::Mpub => {
                if size <= 0 {
                    return Err(ClientError::fatal(
                        "E_BAD_BODY",
                        format!("MPUB invalid body size {size}"),
                    ));
                }
                if size64 > limits.max_body_size {
                    return Err(ClientError::fatal(
                        "E_BAD_BODY",
                        format!("MPUB body too big {size} > {}", limits.max_body_size),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The error NSQ sends when the stream ends before the size field.
    fn size_read_failed(self) -> ClientError {
        match self {
            BodyKind::Pub | BodyKind::Dpub => ClientError::fatal(
                "E_BAD_MESSAGE",
                format!("{} failed to read message body size", self.name()),
            ),
            _ => ClientError::fatal(
                "E_BAD_BODY",
                format!("{} failed to read body size", self.name()),
            ),
        }
    }

    /// The error NSQ sends when the stream ends inside the body.
    fn body_read_failed(self, partial: &[u8], limits: &Limits) -> ClientError {
        match self {
            BodyKind::Pub | BodyKind::Dpub => ClientError::fatal(
                "E_BAD_MESSAGE",
                format!("{} failed to read message body", self.name()),
            ),
            // NSQ reads MPUB piece by piece; report the piece that was cut.
            BodyKind::Mpub => match split_mpub(partial, limits) {
                Err(e) => e,
                Ok(_) => ClientError::fatal("E_BAD_MESSAGE", "MPUB failed to read message body"),
            },
            _ => ClientError::fatal("E_BAD_BODY", format!("{} failed to read body", self.name())),
        }
    }
}

/// One framed command: its line split on single spaces, and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCommand {
    line: Bytes,
    spans: [(u32, u32); MAX_PARAMS],
    count: usize,
    /// The body, for commands that carry one.
    pub body: Option<Bytes>,
}

impl RawCommand {
    fn from_line(line: Bytes) -> Self {
        let mut spans = [(0u32, 0u32); MAX_PARAMS];
        let mut count = 0;
        let mut start = 0usize;
        for (i, &b) in line.iter().chain(std::iter::once(&b' ')).enumerate() {
            if b == b' ' {
                if count < MAX_PARAMS {
                    spans[count] = (start as u32, i as u32);
                }
                count += 1;
                start = i + 1;
            }
        }
        RawCommand {
            line,
            spans,
            count,
            body: None,
        }
    }

    /// The command name (the first parameter).
    pub fn name(&self) -> &[u8] {
        self.param(0).unwrap_or_default()
    }

    /// Parameter `i` (0 is the name), if the line has it and it is kept.
    pub fn param(&self, i: usize) -> Option<&[u8]> {
        if i < self.count.min(MAX_PARAMS) {
            let (s, e) = self.spans[i];
            Some(&self.line[s as usize..e as usize])
        } else {
            None
        }
    }

    /// Number of parameters including the name, as Go's `bytes.Split` counts them.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The whole line without its terminator.
    pub fn line(&self) -> &[u8] {
        &self.line
    }
}

/// What decides, per line, whether a body follows (and checks what NSQ
/// checks before reading it). The server's client state machine implements it.
pub trait LineRules {
    fn on_line(&mut self, cmd: &RawCommand) -> Result<Option<BodyKind>, ClientError>;
}

/// Rules that depend on the bytes alone (no connection state): what the
/// fuzz targets and client-side tools use.
#[derive(Debug, Clone, Copy)]
pub struct StatelessRules(pub Limits);

impl LineRules for StatelessRules {
    fn on_line(&mut self, cmd: &RawCommand) -> Result<Option<BodyKind>, ClientError> {
        match cmd.name() {
            b"IDENTIFY" => Ok(Some(BodyKind::Identify)),
            b"AUTH" => Ok(Some(BodyKind::Auth)),
            b"PUB" | b"MPUB" | b"DPUB" => check_publish_line(cmd, &self.0).map(Some),
            _ => Ok(None),
        }
    }
}

/// Why the stream cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Send this error frame; close afterwards if it is fatal.
    Client(ClientError),
    /// A line longer than [`MAX_LINE_LEN`]: NSQ closes without a frame.
    LineTooLong,
}

impl From<ClientError> for ParseError {
    fn from(e: ClientError) -> Self {
        ParseError::Client(e)
    }
}

#[derive(Debug, Clone)]
enum State {
    Line,
    Size(RawCommand, BodyKind),
    Body(RawCommand, BodyKind, usize),
    Mpub(RawCommand, MpubScan),
}

/// An MPUB body read as NSQ reads it: the announced size was only checked
/// (`<= 0`, `> --max-body-size`); the count and each message's size and
/// body come from the stream, so a client whose announced size leaves out
/// the count is still understood, as by NSQ. What was read so far is
/// checked once (a body arriving in pieces is not scanned again).
#[derive(Debug, Clone, Copy, Default)]
struct MpubScan {
    /// The message count, once read (it is at least 1).
    count: i32,
    /// Messages whose size and body have arrived.
    seen: i32,
    /// Bytes of the buffer they take, with the count.
    len: usize,
}

impl MpubScan {
    /// Goes as far as `buf` allows: `true` once every message has arrived.
    fn advance(&mut self, buf: &[u8], limits: &Limits) -> Result<bool, ClientError> {
        if self.count == 0 {
            let Some(head) = buf.get(..4) else {
                return Ok(false);
            };
            let count = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            check_mpub_count(count, limits)?;
            self.count = count;
            self.len = 4;
        }
        while self.seen < self.count {
            let Some(head) = buf.get(self.len..self.len + 4) else {
                return Ok(false);
            };
            let size = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            check_mpub_message_size(self.seen, size, limits)?;
            let end = self.len + 4 + size as usize;
            // NSQ would read on to count x --max-msg-size; we keep the whole
            // MPUB within --max-body-size, whatever size it announced.
            if end as i64 > limits.max_body_size {
                return Err(ClientError::fatal(
                    "E_BAD_BODY",
                    format!("MPUB body too big {end} > {}", limits.max_body_size),
                ));
            }
            if buf.len() < end {
                return Ok(false);
            }
            self.len = end;
            self.seen += 1;
        }
        Ok(true)
    }

    /// How many more bytes the message being read needs, if known.
    fn wants(&self, buf: &[u8]) -> usize {
        match buf.get(self.len..self.len + 4) {
            Some(h) if self.count > 0 => {
                let size = i32::from_be_bytes([h[0], h[1], h[2], h[3]]).max(0) as usize;
                (self.len + 4 + size).saturating_sub(buf.len())
            }
            _ => 0,
        }
    }
}

/// Incremental framer of protocol V2 commands.
#[derive(Debug, Clone)]
pub struct CommandParser {
    state: State,
    limits: Limits,
    /// How far `buf` was already scanned for a newline.
    scanned: usize,
}

impl CommandParser {
    pub fn new(limits: Limits) -> Self {
        CommandParser {
            state: State::Line,
            limits,
            scanned: 0,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Takes the next complete command off `buf`, or `None` when more bytes
    /// are needed.
    pub fn next<R: LineRules + ?Sized>(
        &mut self,
        buf: &mut BytesMut,
        rules: &mut R,
    ) -> Result<Option<RawCommand>, ParseError> {
        loop {
            match std::mem::replace(&mut self.state, State::Line) {
                State::Line => {
                    let Some(pos) = memchr(b'\n', &buf[self.scanned..]) else {
                        self.scanned = buf.len();
                        if buf.len() >= MAX_LINE_LEN {
                            return Err(ParseError::LineTooLong);
                        }
                        return Ok(None);
                    };
                    let end = self.scanned + pos;
                    self.scanned = 0;
                    if end + 1 > MAX_LINE_LEN {
                        return Err(ParseError::LineTooLong);
                    }
                    let mut line = buf.split_to(end + 1).freeze();
                    line.truncate(end);
                    if line.last() == Some(&b'\r') {
                        line.truncate(end - 1);
                    }
                    let cmd = RawCommand::from_line(line);
                    match rules.on_line(&cmd)? {
                        None => return Ok(Some(cmd)),
                        Some(kind) => self.state = State::Size(cmd, kind),
                    }
                }
                State::Size(cmd, kind) => {
                    if buf.len() < 4 {
                        self.state = State::Size(cmd, kind);
                        return Ok(None);
                    }
                    let size = buf.get_i32();
                    kind.check_size(size, &self.limits)?;
                    self.state = match kind {
                        BodyKind::Mpub => State::Mpub(cmd, MpubScan::default()),
                        _ => State::Body(cmd, kind, size as usize),
                    };
                }
                State::Mpub(mut cmd, mut scan) => {
                    if !scan.advance(buf, &self.limits)? {
                        buf.reserve(scan.wants(buf));
                        self.state = State::Mpub(cmd, scan);
                        return Ok(None);
                    }
                    cmd.body = Some(buf.split_to(scan.len).freeze());
                    return Ok(Some(cmd));
                }
                State::Body(mut cmd, kind, size) => {
                    if buf.len() < size {
                        buf.reserve(size - buf.len());
                        self.state = State::Body(cmd, kind, size);
                        return Ok(None);
                    }
                    cmd.body = Some(buf.split_to(size).freeze());
                    return Ok(Some(cmd));
                }
            }
        }
    }

    /// Takes a plain `FIN <16-byte id>\n` line off the front of `buf`
    /// without building a command (a consumer's hot path). Anything else (a
    /// line not complete yet, `\r\n`, more parameters, another command) is
    /// left for [`CommandParser::next`], which gives the same id or NSQ's
    /// error. The caller must know that the rules let FIN through (see
    /// `Client::takes_plain_fin`).
    pub fn next_plain_fin(&mut self, buf: &mut BytesMut) -> Option<MessageId> {
        const LEN: usize = 4 + MSG_ID_LEN + 1;
        if !matches!(self.state, State::Line)
            || buf.len() < LEN
            || !buf.starts_with(b"FIN ")
            || buf[LEN - 1] != b'\n'
        {
            return None;
        }
        let mut id = [0u8; MSG_ID_LEN];
        id.copy_from_slice(&buf[4..LEN - 1]);
        if id.iter().any(|b| matches!(b, b' ' | b'\r' | b'\n')) {
            return None;
        }
        buf.advance(LEN);
        self.scanned = 0;
        Some(MessageId(id))
    }

    /// The error NSQ sends when the stream ends with `buf` unparsed, if any
    /// (a cut line ends silently; a cut size or body gets an error frame).
    pub fn eof_error(&self, buf: &[u8]) -> Option<ClientError> {
        match &self.state {
            State::Line => None,
            State::Size(_, kind) => Some(kind.size_read_failed()),
            State::Body(_, kind, _) => Some(kind.body_read_failed(buf, &self.limits)),
            State::Mpub(..) => Some(BodyKind::Mpub.body_read_failed(buf, &self.limits)),
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// NSQ's `ByteToBase10`: ASCII digits only (an empty string is 0), wrapping on overflow.
pub fn parse_base10(b: &[u8]) -> Option<u64> {
    let mut n: u64 = 0;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
    }
    Some(n)
}

/// A command with its parameters checked, ready to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Identify(Bytes),
    Auth(Bytes),
    Sub {
        topic: String,
        channel: String,
    },
    /// The count as NSQ reads it (a signed 64-bit value; range-checked on execution).
    Rdy(i64),
    Fin(MessageId),
    /// Requeue with a delay in milliseconds, already clamped to 0..=max-req-timeout.
    Req {
        id: MessageId,
        delay_ms: i64,
        requested_ms: u64,
    },
    Touch(MessageId),
    Pub {
        topic: String,
        body: Bytes,
    },
    Mpub {
        topic: String,
        bodies: Vec<Bytes>,
    },
    Dpub {
        topic: String,
        delay_ms: i64,
        body: Bytes,
    },
    Cls,
    Nop,
}

/// Checks a topic parameter; `what` prefixes NSQ's text (`PUB`, `SUB`, ...).
pub fn check_topic(raw: &[u8], what: &str) -> Result<String, ClientError> {
    match std::str::from_utf8(raw) {
        Ok(t) if is_valid_topic_name(t) => Ok(t.to_string()),
        _ => Err(ClientError::fatal(
            "E_BAD_TOPIC",
            format!("{what} topic name {} is not valid", go_quote(raw)),
        )),
    }
}

fn check_channel(raw: &[u8], what: &str) -> Result<String, ClientError> {
    match std::str::from_utf8(raw) {
        Ok(c) if is_valid_channel_name(c) => Ok(c.to_string()),
        _ => Err(ClientError::fatal(
            "E_BAD_CHANNEL",
            format!("{what} channel name {} is not valid", go_quote(raw)),
        )),
    }
}

fn message_id(cmd: &RawCommand) -> Result<MessageId, ClientError> {
    cmd.param(1)
        .and_then(MessageId::from_slice)
        .ok_or_else(|| ClientError::invalid("invalid message ID"))
}

/// The id of a FIN line, with NSQ's checks (shared by the batched FIN path).
pub fn fin_target(cmd: &RawCommand) -> Result<MessageId, ClientError> {
    if cmd.len() < 2 {
        return Err(ClientError::invalid("FIN insufficient number of params"));
    }
    message_id(cmd)
}

/// The line checks NSQ makes before reading a PUB, MPUB or DPUB body.
pub fn check_publish_line(cmd: &RawCommand, limits: &Limits) -> Result<BodyKind, ClientError> {
    match cmd.name() {
        b"PUB" => {
            if cmd.len() < 2 {
                return Err(ClientError::invalid(
                    "PUB insufficient number of parameters",
                ));
            }
            check_topic(cmd.param(1).unwrap_or_default(), "PUB")?;
            Ok(BodyKind::Pub)
        }
        b"MPUB" => {
            if cmd.len() < 2 {
                return Err(ClientError::invalid(
                    "MPUB insufficient number of parameters",
                ));
            }
            // NSQ's text repeats the code here.
            check_topic(cmd.param(1).unwrap_or_default(), "E_BAD_TOPIC MPUB")?;
            Ok(BodyKind::Mpub)
        }
        b"DPUB" => {
            if cmd.len() < 3 {
                return Err(ClientError::invalid(
                    "DPUB insufficient number of parameters",
                ));
            }
            check_topic(cmd.param(1).unwrap_or_default(), "DPUB")?;
            dpub_delay(cmd, limits)?;
            Ok(BodyKind::Dpub)
        }
        other => Err(ClientError::invalid(format!(
            "invalid command {}",
            String::from_utf8_lossy(other)
        ))),
    }
}

fn dpub_delay(cmd: &RawCommand, limits: &Limits) -> Result<i64, ClientError> {
    let raw = cmd.param(2).unwrap_or_default();
    let ms = parse_base10(raw).ok_or_else(|| {
        ClientError::invalid(format!(
            "DPUB could not parse timeout {}",
            String::from_utf8_lossy(raw)
        ))
    })?;
    if ms > limits.max_req_timeout_ms as u64 {
        return Err(ClientError::invalid(format!(
            "DPUB timeout {ms} out of range 0-{}",
            limits.max_req_timeout_ms
        )));
    }
    Ok(ms as i64)
}

/// NSQ's check of an MPUB's message count.
fn check_mpub_count(count: i32, limits: &Limits) -> Result<(), ClientError> {
    // 4 bytes of count, then at least 5 per message
    let max_messages = (limits.max_body_size - 4) / 5;
    if count <= 0 || i64::from(count) > max_messages {
        return Err(ClientError::fatal(
            "E_BAD_BODY",
            format!("MPUB invalid message count {count}"),
        ));
    }
    Ok(())
}

/// NSQ's checks of one MPUB message's size (`i` counts from 0).
fn check_mpub_message_size(i: i32, size: i32, limits: &Limits) -> Result<(), ClientError> {
    if size <= 0 {
        return Err(ClientError::fatal(
            "E_BAD_MESSAGE",
            format!("MPUB invalid message({i}) body size {size}"),
        ));
    }
    if i64::from(size) > limits.max_msg_size {
        return Err(ClientError::fatal(
            "E_BAD_MESSAGE",
            format!("MPUB message too big {size} > {}", limits.max_msg_size),
        ));
    }
    Ok(())
}

/// Splits an MPUB body into message bodies with NSQ's checks and texts.
/// The messages must fill the body exactly (the framer cuts a TCP MPUB
/// body just after its last message; HTTP bodies are checked by it).
pub fn split_mpub(body: &[u8], limits: &Limits) -> Result<Vec<(usize, usize)>, ClientError> {
    let mut rest = body;
    if rest.len() < 4 {
        return Err(ClientError::fatal(
            "E_BAD_BODY",
            "MPUB failed to read message count",
        ));
    }
    let count = rest.get_i32();
    check_mpub_count(count, limits)?;
    let mut spans = Vec::with_capacity(count as usize);
    for i in 0..count {
        if rest.len() < 4 {
            return Err(ClientError::fatal(
                "E_BAD_MESSAGE",
                format!("MPUB failed to read message({i}) body size"),
            ));
        }
        let size = rest.get_i32();
        check_mpub_message_size(i, size, limits)?;
        if rest.len() < size as usize {
            return Err(ClientError::fatal(
                "E_BAD_MESSAGE",
                "MPUB failed to read message body",
            ));
        }
        let start = body.len() - rest.len();
        spans.push((start, start + size as usize));
        rest.advance(size as usize);
    }
    if !rest.is_empty() {
        return Err(ClientError::fatal(
            "E_BAD_BODY",
            format!(
                "MPUB body has {} bytes beyond its {count} messages",
                rest.len()
            ),
        ));
    }
    Ok(spans)
}

impl Command {
    /// Checks a framed command's parameters in NSQ's order. Connection-state
    /// checks (e.g. "cannot SUB in current state") come first and are the
    /// caller's; this does everything that depends on the bytes alone.
    pub fn from_raw(cmd: RawCommand, limits: &Limits) -> Result<Command, ClientError> {
        let name = cmd.name();
        Ok(match name {
            b"NOP" => Command::Nop,
            b"CLS" => Command::Cls,
            b"IDENTIFY" => Command::Identify(cmd.body.unwrap_or_default()),
            b"AUTH" => Command::Auth(cmd.body.unwrap_or_default()),
            b"SUB" => {
                if cmd.len() < 3 {
                    return Err(ClientError::invalid(
                        "SUB insufficient number of parameters",
                    ));
                }
                let topic = check_topic(cmd.param(1).unwrap_or_default(), "SUB")?;
                let channel = check_channel(cmd.param(2).unwrap_or_default(), "SUB")?;
                Command::Sub { topic, channel }
            }
            b"RDY" => match cmd.param(1) {
                None => Command::Rdy(1),
                Some(raw) => {
                    let n = parse_base10(raw).ok_or_else(|| {
                        ClientError::invalid(format!(
                            "RDY could not parse count {}",
                            String::from_utf8_lossy(raw)
                        ))
                    })?;
                    Command::Rdy(n as i64)
                }
            },
            b"FIN" => Command::Fin(fin_target(&cmd)?),
            b"TOUCH" => {
                if cmd.len() < 2 {
                    return Err(ClientError::invalid("TOUCH insufficient number of params"));
                }
                Command::Touch(message_id(&cmd)?)
            }
            b"REQ" => {
                if cmd.len() < 3 {
                    return Err(ClientError::invalid("REQ insufficient number of params"));
                }
                let id = message_id(&cmd)?;
                let raw = cmd.param(2).unwrap_or_default();
                let requested = parse_base10(raw).ok_or_else(|| {
                    ClientError::invalid(format!(
                        "REQ could not parse timeout {}",
                        String::from_utf8_lossy(raw)
                    ))
                })?;
                // NSQ clamps (it never refuses) a REQ timeout.
                let delay_ms = (requested.min(limits.max_req_timeout_ms.max(0) as u64)) as i64;
                Command::Req {
                    id,
                    delay_ms,
                    requested_ms: requested,
                }
            }
            b"PUB" => {
                let topic = check_topic(cmd.param(1).unwrap_or_default(), "PUB")?;
                Command::Pub {
                    topic,
                    body: cmd.body.unwrap_or_default(),
                }
            }
            b"DPUB" => {
                let topic = check_topic(cmd.param(1).unwrap_or_default(), "DPUB")?;
                let delay_ms = dpub_delay(&cmd, limits)?;
                Command::Dpub {
                    topic,
                    delay_ms,
                    body: cmd.body.unwrap_or_default(),
                }
            }
            b"MPUB" => {
                let topic = check_topic(cmd.param(1).unwrap_or_default(), "E_BAD_TOPIC MPUB")?;
                let body = cmd.body.unwrap_or_default();
                let bodies = split_mpub(&body, limits)?
                    .into_iter()
                    .map(|(s, e)| body.slice(s..e))
                    .collect();
                Command::Mpub { topic, bodies }
            }
            other => {
                return Err(ClientError::invalid(format!(
                    "invalid command {}",
                    String::from_utf8_lossy(other)
                )))
            }
        })
    }
}

/// Client-side encoders (used by our client, tools and tests).
pub mod encode {
    use super::*;

    pub const MAGIC_V2: &[u8] = b"  V2";

    fn with_body(out: &mut BytesMut, line: &[u8], body: &[u8]) {
        out.reserve(line.len() + 5 + body.len());
        out.put_slice(line);
        out.put_u8(b'\n');
        out.put_u32(body.len() as u32);
        out.put_slice(body);
    }

    pub fn identify(out: &mut BytesMut, json: &[u8]) {
        with_body(out, b"IDENTIFY", json);
    }

    pub fn auth(out: &mut BytesMut, secret: &[u8]) {
        with_body(out, b"AUTH", secret);
    }

    pub fn sub(out: &mut BytesMut, topic: &str, channel: &str) {
        out.put_slice(format!("SUB {topic} {channel}\n").as_bytes());
    }

    pub fn rdy(out: &mut BytesMut, count: u64) {
        out.put_slice(format!("RDY {count}\n").as_bytes());
    }

    pub fn fin(out: &mut BytesMut, id: &MessageId) {
        out.put_slice(b"FIN ");
        out.put_slice(&id.0);
        out.put_u8(b'\n');
    }

    pub fn req(out: &mut BytesMut, id: &MessageId, delay_ms: u64) {
        out.put_slice(b"REQ ");
        out.put_slice(&id.0);
        out.put_slice(format!(" {delay_ms}\n").as_bytes());
    }

    pub fn touch(out: &mut BytesMut, id: &MessageId) {
        out.put_slice(b"TOUCH ");
        out.put_slice(&id.0);
        out.put_u8(b'\n');
    }

    pub fn nop(out: &mut BytesMut) {
        out.put_slice(b"NOP\n");
    }

    pub fn cls(out: &mut BytesMut) {
        out.put_slice(b"CLS\n");
    }

    pub fn publish(out: &mut BytesMut, topic: &str, body: &[u8]) {
        with_body(out, format!("PUB {topic}").as_bytes(), body);
    }

    pub fn dpub(out: &mut BytesMut, topic: &str, delay_ms: u64, body: &[u8]) {
        with_body(out, format!("DPUB {topic} {delay_ms}").as_bytes(), body);
    }

    pub fn mpub<B: AsRef<[u8]>>(out: &mut BytesMut, topic: &str, bodies: &[B]) {
        let size: usize = 4 + bodies.iter().map(|b| 4 + b.as_ref().len()).sum::<usize>();
        out.reserve(size + topic.len() + 10);
        out.put_slice(b"MPUB ");
        out.put_slice(topic.as_bytes());
        out.put_u8(b'\n');
        out.put_u32(size as u32);
        out.put_u32(bodies.len() as u32);
        for b in bodies {
            out.put_u32(b.as_ref().len() as u32);
            out.put_slice(b.as_ref());
        }
    }
}

#[cfg(test)]
mod tests;
