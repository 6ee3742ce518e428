//! nsqlookupd's side of the lookup protocol V1: one [`Session`] per TCP
//! connection frames requests out of the byte stream (bytes may arrive
//! split anywhere) and executes them against the [`RegistrationDb`], with
//! NSQ v1.3.0's checks, order and error texts.
//!
//! After the magic `  V1`, a request is a line (`PING`, `IDENTIFY`,
//! `REGISTER topic [channel]`, `UNREGISTER topic [channel]`), trimmed of
//! surrounding white space and split on single spaces; IDENTIFY is followed
//! by `[4-byte BE size][JSON body]`. Every answer is `[4-byte BE size][data]`,
//! errors included; every error closes the connection.

use super::db::{Category, PeerId, PeerInfo, Registration, RegistrationDb};
use super::gojson::{self, Kind};
use crate::io::Nanos;
use crate::wire::names::{is_ephemeral, is_valid_channel_name, is_valid_topic_name};
use bytes::{Buf, Bytes, BytesMut};
use serde::Serialize;
use std::fmt;

/// The protocol magic a client sends first.
pub const MAGIC_V1: &[u8; 4] = b"  V1";

/// Longest request line we read. NSQ reads lines of any length; we close
/// the connection (without an answer) instead of buffering without bound.
pub const MAX_LINE_LEN: usize = 16 * 1024;

/// Largest IDENTIFY body we accept (NSQ has no limit; this is nsqd's
/// default --max-body-size).
pub const MAX_IDENTIFY_BODY: i32 = 5 * 1024 * 1024;

/// An error answer. Every one of them closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
    pub code: &'static str,
    /// Raw bytes: NSQ echoes client input (names, commands) unescaped.
    pub desc: Vec<u8>,
}

impl LookupError {
    pub fn new(code: &'static str, desc: impl Into<Vec<u8>>) -> Self {
        LookupError {
            code,
            desc: desc.into(),
        }
    }

    fn invalid(desc: impl Into<Vec<u8>>) -> Self {
        Self::new("E_INVALID", desc)
    }

    fn bad_body(desc: &str) -> Self {
        Self::new("E_BAD_BODY", desc)
    }

    /// `CODE DESC`, or the bare code (E_BAD_PROTOCOL).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.code.as_bytes().to_vec();
        if !self.desc.is_empty() {
            v.push(b' ');
            v.extend_from_slice(&self.desc);
        }
        v
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Appends a V1 answer: `[4-byte BE size][data]`.
pub fn put_response(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// What nsqlookupd says about itself in IDENTIFY answers (a Go map in NSQ,
/// so the fields are in sorted order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerInfo {
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: u16,
    pub tcp_port: u16,
    pub version: String,
}

/// One framed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A line split on single spaces; the first element is the command.
    Command(Vec<Bytes>),
    /// IDENTIFY (by a client not yet identified) with its body.
    Identify(Bytes),
}

/// Why the stream cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Send this error, then close.
    Respond(LookupError),
    /// Close without an answer (a line longer than [`MAX_LINE_LEN`]).
    Close,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The data to frame with [`put_response`].
    pub data: Vec<u8>,
    /// Close after sending (every error).
    pub close: bool,
    /// What happened, for the log.
    pub log: Vec<String>,
}

impl Reply {
    fn ok(log: Vec<String>) -> Self {
        Reply {
            data: b"OK".to_vec(),
            close: false,
            log,
        }
    }

    fn error(e: LookupError) -> Self {
        Reply {
            data: e.to_bytes(),
            close: true,
            log: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Magic,
    Line,
    Size,
    Body(usize),
}

/// One client connection of nsqlookupd.
#[derive(Debug, Clone)]
pub struct Session {
    state: State,
    /// How far the buffer was already scanned for a newline.
    scanned: usize,
    remote_address: String,
    /// Set by a successful IDENTIFY, with the DB's generation of the id.
    peer: Option<(PeerId, u64)>,
}

impl Session {
    /// A connection from `remote_address` (the peer's id once it identifies).
    pub fn new(remote_address: &str) -> Self {
        Session {
            state: State::Magic,
            scanned: 0,
            remote_address: remote_address.to_string(),
            peer: None,
        }
    }

    pub fn remote_address(&self) -> &str {
        &self.remote_address
    }

    pub fn peer(&self) -> Option<&str> {
        self.peer.as_ref().map(|(id, _)| id.as_str())
    }

    /// Takes the next complete request off `buf`, or `None` when more bytes are needed.
    pub fn next_request(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, ReadError> {
        loop {
            match self.state {
                State::Magic => {
                    if buf.len() < 4 {
                        return Ok(None);
                    }
                    let magic = buf.split_to(4);
                    if &magic[..] != MAGIC_V1 {
                        return Err(ReadError::Respond(LookupError::new("E_BAD_PROTOCOL", "")));
                    }
                    self.state = State::Line;
                }
                State::Line => {
                    let Some(pos) = buf[self.scanned..].iter().position(|&b| b == b'\n') else {
                        self.scanned = buf.len();
                        if buf.len() >= MAX_LINE_LEN {
                            return Err(ReadError::Close);
                        }
                        return Ok(None);
                    };
                    let end = self.scanned + pos;
                    self.scanned = 0;
                    if end + 1 > MAX_LINE_LEN {
                        return Err(ReadError::Close);
                    }
                    let line = buf.split_to(end + 1).freeze();
                    let params = split_params(&line);
                    if &params[0][..] == b"IDENTIFY" && self.peer.is_none() {
                        self.state = State::Size;
                        continue;
                    }
                    return Ok(Some(Request::Command(params)));
                }
                State::Size => {
                    if buf.len() < 4 {
                        return Ok(None);
                    }
                    let size = buf.get_i32();
                    if size < 0 {
                        return Err(ReadError::Respond(LookupError::bad_body(&format!(
                            "IDENTIFY invalid body size {size}"
                        ))));
                    }
                    if size > MAX_IDENTIFY_BODY {
                        return Err(ReadError::Respond(LookupError::bad_body(&format!(
                            "IDENTIFY body too big {size} > {MAX_IDENTIFY_BODY}"
                        ))));
                    }
                    self.state = State::Body(size as usize);
                }
                State::Body(size) => {
                    if buf.len() < size {
                        buf.reserve(size - buf.len());
                        return Ok(None);
                    }
                    self.state = State::Line;
                    return Ok(Some(Request::Identify(buf.split_to(size).freeze())));
                }
            }
        }
    }

    /// The error NSQ answers when the stream ends with a request cut short
    /// (a cut line or magic ends silently; a cut IDENTIFY size or body does not).
    pub fn eof_error(&self) -> Option<LookupError> {
        match self.state {
            State::Magic | State::Line => None,
            State::Size => Some(LookupError::bad_body("IDENTIFY failed to read body size")),
            State::Body(_) => Some(LookupError::bad_body("IDENTIFY failed to read body")),
        }
    }

    /// Executes one request.
    pub fn exec(
        &mut self,
        req: Request,
        db: &mut RegistrationDb,
        me: &ServerInfo,
        now: Nanos,
    ) -> Reply {
        let params = match req {
            Request::Identify(body) => return self.identify(&body, db, me, now),
            Request::Command(params) => params,
        };
        let args = &params[1..];
        match &params[0][..] {
            b"PING" => self.ping(db, now),
            // A client that is not identified yet never gets here (see next_request).
            b"IDENTIFY" => Reply::error(LookupError::invalid("cannot IDENTIFY again")),
            b"REGISTER" => self.register(args, db),
            b"UNREGISTER" => self.unregister(args, db),
            other => {
                let mut desc = b"invalid command ".to_vec();
                desc.extend_from_slice(other);
                Reply::error(LookupError::invalid(desc))
            }
        }
    }

    /// The connection is gone: the peer leaves every registration.
    pub fn leave(&mut self, db: &mut RegistrationDb) -> Vec<String> {
        let Some((id, generation)) = self.peer.take() else {
            return Vec::new();
        };
        db.remove_peer_of(&id, generation)
            .into_iter()
            .map(|r| self.db_log("UNREGISTER", &r))
            .collect()
    }

    fn db_log(&self, what: &str, r: &Registration) -> String {
        format!(
            "DB: client({}) {what} category:{} key:{} subkey:{}",
            self.remote_address,
            r.category.as_str(),
            r.key,
            r.sub_key
        )
    }

    fn ping(&mut self, db: &mut RegistrationDb, now: Nanos) -> Reply {
        let mut log = Vec::new();
        if let Ok(id) = self.current_id(db) {
            if let Some(last) = db.touch(&id, now) {
                let since = std::time::Duration::from_nanos(now.saturating_sub(last).max(0) as u64);
                log.push(format!("CLIENT({id}): pinged (last ping {since:?})"));
            }
        }
        Reply::ok(log)
    }

    fn identify(
        &mut self,
        body: &[u8],
        db: &mut RegistrationDb,
        me: &ServerInfo,
        now: Nanos,
    ) -> Reply {
        // NSQ's PeerInfo: remote_address is decoded too (so its type is
        // checked), then replaced by the connection's address.
        const FIELDS: &[(&str, Kind)] = &[
            ("hostname", Kind::Str),
            ("broadcast_address", Kind::Str),
            ("tcp_port", Kind::Int),
            ("http_port", Kind::Int),
            ("version", Kind::Str),
            ("remote_address", Kind::Str),
        ];
        let Ok(f) = gojson::decode(body, FIELDS) else {
            return Reply::error(LookupError::bad_body("IDENTIFY failed to decode JSON body"));
        };
        let info = PeerInfo {
            id: self.remote_address.clone(),
            remote_address: self.remote_address.clone(),
            hostname: f.str(0),
            broadcast_address: f.str(1),
            tcp_port: f.int(2),
            http_port: f.int(3),
            version: f.str(4),
            last_update: now,
        };
        if info.broadcast_address.is_empty()
            || info.tcp_port == 0
            || info.http_port == 0
            || info.version.is_empty()
        {
            return Reply::error(LookupError::bad_body("IDENTIFY missing fields"));
        }
        let mut log = vec![format!(
            "CLIENT({}): IDENTIFY Address:{} TCP:{} HTTP:{} Version:{}",
            self.remote_address,
            info.broadcast_address,
            info.tcp_port,
            info.http_port,
            info.version
        )];
        let id = info.id.clone();
        let (generation, replaced) = db.identify_generation(info);
        log.extend(replaced.iter().map(|r| self.db_log("UNREGISTER", r)));
        log.push(self.db_log("REGISTER", &Registration::client()));
        self.peer = Some((id, generation));
        Reply {
            data: serde_json::to_vec(me).unwrap_or_else(|_| b"OK".to_vec()),
            close: false,
            log,
        }
    }

    /// NSQ's `getTopicChan`: the topic and the (possibly empty) channel.
    fn topic_channel(cmd: &str, args: &[Bytes]) -> Result<(String, String), LookupError> {
        let Some(topic) = args.first() else {
            return Err(LookupError::invalid(format!(
                "{cmd} insufficient number of params"
            )));
        };
        let channel = args.get(1).map(|c| &c[..]).unwrap_or_default();
        let name_err = |code, what: &str, name: &[u8]| {
            let mut d = format!("{cmd} {what} name '").into_bytes();
            d.extend_from_slice(name);
            d.extend_from_slice(b"' is not valid");
            LookupError::new(code, d)
        };
        let topic = std::str::from_utf8(topic)
            .ok()
            .filter(|t| is_valid_topic_name(t))
            .ok_or_else(|| name_err("E_BAD_TOPIC", "topic", topic))?;
        let channel = if channel.is_empty() {
            ""
        } else {
            std::str::from_utf8(channel)
                .ok()
                .filter(|c| is_valid_channel_name(c))
                .ok_or_else(|| name_err("E_BAD_CHANNEL", "channel", channel))?
        };
        Ok((topic.to_string(), channel.to_string()))
    }

    /// The peer id, if identified; `Err` with an empty OK when a newer
    /// connection from the same address took the id over (this one is
    /// stale: what it says no longer counts).
    fn current_id(&self, db: &RegistrationDb) -> Result<PeerId, Reply> {
        match &self.peer {
            None => Err(Reply::error(LookupError::invalid("client must IDENTIFY"))),
            Some((id, g)) if db.generation(id) == Some(*g) => Ok(id.clone()),
            Some(_) => Err(Reply::ok(Vec::new())),
        }
    }

    fn register(&mut self, args: &[Bytes], db: &mut RegistrationDb) -> Reply {
        let id = match self.current_id(db) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let (topic, channel) = match Self::topic_channel("REGISTER", args) {
            Ok(tc) => tc,
            Err(e) => return Reply::error(e),
        };
        let mut log = Vec::new();
        let mut keys = Vec::with_capacity(2);
        if !channel.is_empty() {
            keys.push(Registration::channel(&topic, &channel));
        }
        keys.push(Registration::topic(&topic));
        for r in keys {
            if db.add_producer(r.clone(), &id) {
                log.push(self.db_log("REGISTER", &r));
            }
        }
        Reply::ok(log)
    }

    fn unregister(&mut self, args: &[Bytes], db: &mut RegistrationDb) -> Reply {
        let id = match self.current_id(db) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let (topic, channel) = match Self::topic_channel("UNREGISTER", args) {
            Ok(tc) => tc,
            Err(e) => return Reply::error(e),
        };
        let mut log = Vec::new();
        if !channel.is_empty() {
            let r = Registration::channel(&topic, &channel);
            let (removed, left) = db.remove_producer(&r, &id);
            if removed {
                log.push(self.db_log("UNREGISTER", &r));
            }
            // An ephemeral channel without producers is gone.
            if left == 0 && is_ephemeral(&channel) {
                db.remove_registration(&r);
            }
        } else {
            // A topic unregistration also drops the peer from the topic's
            // channels (nsqd normally unregisters those first).
            for r in db.find_registrations(Category::Channel, &topic, "*") {
                if db.remove_producer(&r, &id).0 {
                    log.push(format!(
                        "client({}) unexpected UNREGISTER category:channel key:{} subkey:{}",
                        self.remote_address, topic, r.sub_key
                    ));
                }
            }
            let r = Registration::topic(&topic);
            let (removed, left) = db.remove_producer(&r, &id);
            if removed {
                log.push(self.db_log("UNREGISTER", &r));
            }
            if left == 0 && is_ephemeral(&topic) {
                db.remove_registration(&r);
            }
        }
        Reply::ok(log)
    }
}

/// Go's `strings.Split(strings.TrimSpace(line), " ")` on raw bytes.
fn split_params(line: &Bytes) -> Vec<Bytes> {
    let (start, end) = trim_space(line);
    let trimmed = line.slice(start..end);
    let mut params = Vec::new();
    let mut from = 0;
    for (i, &b) in trimmed.iter().enumerate() {
        if b == b' ' {
            params.push(trimmed.slice(from..i));
            from = i + 1;
        }
    }
    params.push(trimmed.slice(from..));
    params
}

/// The bounds of `b` without leading and trailing white space as Go's
/// `unicode.IsSpace` sees it (ASCII space and controls, NEL, NBSP and the
/// Unicode spaces); bytes that are not valid UTF-8 are not space.
fn trim_space(b: &[u8]) -> (usize, usize) {
    let mut chunks = b.utf8_chunks();
    let mut start = 0;
    if let Some(first) = chunks.next() {
        start = first
            .valid()
            .char_indices()
            .find(|(_, c)| !c.is_whitespace())
            .map(|(i, _)| i)
            .unwrap_or(first.valid().len());
    }
    let mut end = b.len();
    if let Some(last) = b.utf8_chunks().last() {
        if last.invalid().is_empty() {
            let v = last.valid();
            let kept = v.trim_end_matches(char::is_whitespace).len();
            end = b.len() - (v.len() - kept);
        }
    }
    (start, end.max(start))
}

#[cfg(test)]
mod tests;
