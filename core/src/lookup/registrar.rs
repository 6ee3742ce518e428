//! nsqd's side of discovery: keeps every configured nsqlookupd told which
//! topics and channels this nsqd carries.
//!
//! Per lookupd: connect, send `  V1` and IDENTIFY (version, ports, host
//! name, broadcast address), and once it answers, REGISTER everything nsqd
//! carries (a topic without channels as `REGISTER topic`, otherwise one
//! `REGISTER topic channel` per channel). Afterwards every topic/channel
//! creation or deletion (ephemeral ones too) becomes a REGISTER/UNREGISTER,
//! and a PING goes out every 15 s. A lost connection, a connect that takes
//! too long, a lookupd that stops answering or answers garbage is closed and
//! retried after a jittered exponential backoff, with a full re-sync on the
//! next connection. The set of lookupds can change at any time.
//!
//! The runtime feeds events in (`on_connected`, `on_data`, `on_closed`,
//! `on_catalog`, `tick`) and carries out the [`Action`]s that come out of
//! [`Registrar::poll_action`]; [`Registrar::next_deadline`] says when to tick.

use super::gojson::{self, Kind};
use crate::io::{Nanos, SECOND};
use crate::wire::names::is_ephemeral;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What nsqd tells a lookupd about itself in IDENTIFY (a Go map in NSQ,
/// so the fields are in sorted order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: u16,
    pub tcp_port: u16,
    pub version: String,
}

/// The timing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// PING every this often (NSQ: 15 s).
    pub ping_interval: Nanos,
    /// Give up on a connect after this long (NSQ's dial timeout: 1 s).
    pub connect_timeout: Nanos,
    /// Close a connection whose lookupd owes an answer for this long.
    pub response_timeout: Nanos,
    /// First retry delay after a failure; doubles per failure up to `backoff_max`.
    pub backoff_min: Nanos,
    pub backoff_max: Nanos,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            ping_interval: 15 * SECOND,
            connect_timeout: SECOND,
            response_timeout: 5 * SECOND,
            backoff_min: SECOND,
            backoff_max: 15 * SECOND,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    pub node: NodeInfo,
    /// Largest answer accepted from a lookupd (nsqd's --max-body-size).
    pub max_response_size: i64,
    pub timing: Timing,
    /// Seeds the backoff jitter.
    pub seed: u64,
}

/// A change to what nsqd carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogEvent {
    TopicCreated(String),
    TopicDeleted(String),
    ChannelCreated { topic: String, channel: String },
    ChannelDeleted { topic: String, channel: String },
}

/// Names one connection attempt; events about an older attempt are ignored.
pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection; report `on_connected` or `on_closed`.
    Connect {
        conn: ConnId,
        addr: String,
    },
    /// Write these bytes, in order.
    Send {
        conn: ConnId,
        data: Vec<u8>,
    },
    /// Close the connection (or abandon the attempt); no report wanted.
    Close {
        conn: ConnId,
    },
    Log {
        level: Level,
        line: String,
    },
}

/// What a lookupd said about itself in its IDENTIFY answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LookupdInfo {
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    pub broadcast_address: String,
}

/// Where a lookupd connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerStatus {
    /// Not connected; the next attempt is due at this time.
    Waiting(Nanos),
    Connecting,
    /// Connected, IDENTIFY sent, answer pending.
    Identifying,
    /// Identified and registered.
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Identify,
    Ack,
}

#[derive(Debug)]
struct Peer {
    addr: String,
    conn: Option<ConnId>,
    status: PeerStatus,
    connect_deadline: Nanos,
    /// Bytes of a partly received answer.
    rx: Vec<u8>,
    /// What each outstanding answer answers, oldest first.
    expect: VecDeque<Expect>,
    /// Since when the oldest outstanding answer is awaited.
    waiting_since: Option<Nanos>,
    next_ping: Nanos,
    /// Failures in a row (for the backoff).
    failures: u32,
    /// The last IDENTIFY answer (kept across reconnects, as NSQ does).
    info: Option<LookupdInfo>,
}

/// nsqd's registration with its lookupds.
#[derive(Debug)]
pub struct Registrar {
    cfg: RegistrarConfig,
    peers: Vec<Peer>,
    /// Topic → its channels: what a (re)connected lookupd is told.
    catalog: BTreeMap<String, BTreeSet<String>>,
    next_conn: ConnId,
    actions: VecDeque<Action>,
    rng: SmallRng,
}

fn command(out: &mut Vec<u8>, name: &str, topic: &str, channel: &str) {
    out.extend_from_slice(name.as_bytes());
    for p in [topic, channel] {
        if !p.is_empty() {
            out.push(b' ');
            out.extend_from_slice(p.as_bytes());
        }
    }
    out.push(b'\n');
}

/// `host:port`, with brackets around an IPv6 host (Go's `net.JoinHostPort`).
pub fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// NSQ's pre-creation rule: the channels lookupds know for a new topic,
/// merged, sorted, without ephemeral ones (they need a consumer to exist).
pub fn channels_to_precreate<I: IntoIterator<Item = Vec<String>>>(answers: I) -> Vec<String> {
    let all: BTreeSet<String> = answers.into_iter().flatten().collect();
    all.into_iter().filter(|c| !is_ephemeral(c)).collect()
}

impl Registrar {
    pub fn new(cfg: RegistrarConfig) -> Self {
        let rng = SmallRng::seed_from_u64(cfg.seed);
        Registrar {
            cfg,
            peers: Vec::new(),
            catalog: BTreeMap::new(),
            next_conn: 0,
            actions: VecDeque::new(),
            rng,
        }
    }

    pub fn node(&self) -> &NodeInfo {
        &self.cfg.node
    }

    /// The lookupd addresses, in the order they were added.
    pub fn addresses(&self) -> Vec<String> {
        self.peers.iter().map(|p| p.addr.clone()).collect()
    }

    pub fn status(&self, addr: &str) -> Option<PeerStatus> {
        self.peers.iter().find(|p| p.addr == addr).map(|p| p.status)
    }

    /// What the lookupds were last told (topic → channels).
    pub fn catalog(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.catalog
    }

    /// The lookupds' HTTP addresses (`broadcast_address:http_port` from their
    /// IDENTIFY answers), where nsqd asks for a new topic's channels.
    pub fn lookupd_http_addresses(&self) -> Vec<String> {
        self.peers
            .iter()
            .filter_map(|p| p.info.as_ref())
            .filter(|i| !i.broadcast_address.is_empty())
            .map(|i| join_host_port(&i.broadcast_address, i.http_port))
            .collect()
    }

    /// NSQ's rule for new topics: while some lookupd can be asked (one told
    /// us its HTTP address), a new topic waits for its channels to be
    /// pre-created before its messages flow.
    pub fn precreates_channels(&self) -> bool {
        !self.lookupd_http_addresses().is_empty()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn log(&mut self, level: Level, line: String) {
        self.actions.push_back(Action::Log { level, line });
    }

    /// Replaces the set of lookupds: peers no longer listed are closed, new
    /// ones are connected right away (duplicates are ignored).
    pub fn set_addresses(&mut self, addrs: &[String], now: Nanos) {
        let mut i = 0;
        while i < self.peers.len() {
            if addrs.contains(&self.peers[i].addr) {
                i += 1;
                continue;
            }
            let p = self.peers.remove(i);
            self.log(Level::Info, format!("LOOKUP({}): removing peer", p.addr));
            if let Some(conn) = p.conn {
                self.actions.push_back(Action::Close { conn });
            }
        }
        for addr in addrs {
            if self.peers.iter().any(|p| &p.addr == addr) {
                continue;
            }
            self.log(Level::Info, format!("LOOKUP({addr}): adding peer"));
            self.peers.push(Peer {
                addr: addr.clone(),
                conn: None,
                status: PeerStatus::Waiting(now),
                connect_deadline: 0,
                rx: Vec::new(),
                expect: VecDeque::new(),
                waiting_since: None,
                next_ping: 0,
                failures: 0,
                info: None,
            });
            let idx = self.peers.len() - 1;
            self.connect(idx, now);
        }
    }

    fn connect(&mut self, idx: usize, now: Nanos) {
        let conn = self.next_conn;
        self.next_conn += 1;
        let p = &mut self.peers[idx];
        p.conn = Some(conn);
        p.status = PeerStatus::Connecting;
        p.connect_deadline = now.saturating_add(self.cfg.timing.connect_timeout);
        p.rx.clear();
        p.expect.clear();
        p.waiting_since = None;
        let addr = p.addr.clone();
        self.log(Level::Info, format!("LOOKUP connecting to {addr}"));
        self.actions.push_back(Action::Connect { conn, addr });
    }

    fn backoff(&mut self, failures: u32) -> Nanos {
        let t = self.cfg.timing;
        let doublings = failures.saturating_sub(1).min(30);
        let base = t
            .backoff_min
            .saturating_mul(1i64 << doublings)
            .min(t.backoff_max)
            .max(1);
        // Jitter in [base/2, base] so lookupd restarts are not met by a herd.
        base - self.rng.random_range(0..=base / 2)
    }

    /// Drops the connection of peer `idx` and schedules the next attempt.
    fn fail(&mut self, idx: usize, why: &str, close: bool, now: Nanos) {
        let Some(conn) = self.peers[idx].conn.take() else {
            return;
        };
        if close {
            self.actions.push_back(Action::Close { conn });
        }
        self.peers[idx].failures += 1;
        let failures = self.peers[idx].failures;
        let delay = self.backoff(failures);
        let p = &mut self.peers[idx];
        p.rx.clear();
        p.expect.clear();
        p.waiting_since = None;
        let retry_at = now.saturating_add(delay);
        p.status = PeerStatus::Waiting(retry_at);
        let line = format!(
            "LOOKUPD({}): {why}; reconnecting in {:?}",
            p.addr,
            std::time::Duration::from_nanos(delay as u64)
        );
        self.log(Level::Error, line);
    }

    fn find(&self, conn: ConnId) -> Option<usize> {
        self.peers.iter().position(|p| p.conn == Some(conn))
    }

    fn send(&mut self, idx: usize, data: Vec<u8>, answers: usize, now: Nanos) {
        let p = &mut self.peers[idx];
        let Some(conn) = p.conn else { return };
        for _ in 0..answers {
            p.expect.push_back(Expect::Ack);
        }
        if answers > 0 && p.waiting_since.is_none() {
            p.waiting_since = Some(now);
        }
        self.actions.push_back(Action::Send { conn, data });
    }

    /// The connection `conn` is established: say hello and IDENTIFY.
    pub fn on_connected(&mut self, conn: ConnId, now: Nanos) {
        let Some(idx) = self.find(conn) else { return };
        if self.peers[idx].status != PeerStatus::Connecting {
            return;
        }
        let body = serde_json::to_vec(&self.cfg.node).unwrap_or_default();
        let mut data = b"  V1IDENTIFY\n".to_vec();
        data.extend_from_slice(&(body.len() as u32).to_be_bytes());
        data.extend_from_slice(&body);
        let p = &mut self.peers[idx];
        p.status = PeerStatus::Identifying;
        p.expect.push_back(Expect::Identify);
        p.waiting_since = Some(now);
        self.actions.push_back(Action::Send { conn, data });
    }

    /// The connection `conn` failed to open, or closed.
    pub fn on_closed(&mut self, conn: ConnId, why: &str, now: Nanos) {
        if let Some(idx) = self.find(conn) {
            self.fail(idx, why, false, now);
        }
    }

    /// Bytes arrived on `conn`.
    pub fn on_data(&mut self, conn: ConnId, data: &[u8], now: Nanos) {
        let Some(idx) = self.find(conn) else { return };
        self.peers[idx].rx.extend_from_slice(data);
        loop {
            let p = &mut self.peers[idx];
            if p.conn != Some(conn) || p.rx.len() < 4 {
                return;
            }
            let size = i32::from_be_bytes([p.rx[0], p.rx[1], p.rx[2], p.rx[3]]);
            if size < 0 || i64::from(size) > self.cfg.max_response_size {
                let why = format!(
                    "response body size ({size}) is greater than limit ({})",
                    self.cfg.max_response_size
                );
                self.fail(idx, &why, true, now);
                return;
            }
            let size = size as usize;
            if p.rx.len() < 4 + size {
                return;
            }
            let answer: Vec<u8> = p.rx.drain(..4 + size).skip(4).collect();
            let Some(expect) = p.expect.pop_front() else {
                self.fail(idx, "unexpected answer", true, now);
                return;
            };
            p.waiting_since = if p.expect.is_empty() { None } else { Some(now) };
            match expect {
                Expect::Identify => self.on_identified(idx, &answer, now),
                Expect::Ack => {
                    if answer != b"OK" {
                        let line =
                            format!("LOOKUPD({}): {}", p.addr, String::from_utf8_lossy(&answer));
                        self.log(Level::Error, line);
                    }
                }
            }
        }
    }

    fn on_identified(&mut self, idx: usize, answer: &[u8], now: Nanos) {
        const FIELDS: &[(&str, Kind)] = &[
            ("tcp_port", Kind::Int),
            ("http_port", Kind::Int),
            ("version", Kind::Str),
            ("broadcast_address", Kind::Str),
        ];
        if answer == b"E_INVALID" {
            self.fail(idx, "lookupd returned E_INVALID", true, now);
            return;
        }
        let f = match gojson::decode(answer, FIELDS) {
            Ok(f) => f,
            Err(_) => {
                let why = format!("parsing response - {}", String::from_utf8_lossy(answer));
                self.fail(idx, &why, true, now);
                return;
            }
        };
        // Like Go's Unmarshal into the kept struct: absent fields keep their value.
        let mut info = self.peers[idx].info.clone().unwrap_or_default();
        if f.0[0].is_some() {
            info.tcp_port = f.int(0);
        }
        if f.0[1].is_some() {
            info.http_port = f.int(1);
        }
        if f.0[2].is_some() {
            info.version = f.str(2);
        }
        if f.0[3].is_some() {
            info.broadcast_address = f.str(3);
        }
        let addr = self.peers[idx].addr.clone();
        self.log(Level::Info, format!("LOOKUPD({addr}): peer info {info:?}"));
        if info.broadcast_address.is_empty() {
            self.log(
                Level::Error,
                format!("LOOKUPD({addr}): no broadcast address"),
            );
        }
        let p = &mut self.peers[idx];
        p.info = Some(info);
        p.status = PeerStatus::Ready;
        p.failures = 0;
        p.next_ping = now.saturating_add(self.cfg.timing.ping_interval);
        self.sync(idx, now);
    }

    /// Registers everything nsqd carries with peer `idx`.
    fn sync(&mut self, idx: usize, now: Nanos) {
        let mut data = Vec::new();
        let mut n = 0;
        for (topic, channels) in &self.catalog {
            if channels.is_empty() {
                command(&mut data, "REGISTER", topic, "");
                n += 1;
            }
            for channel in channels {
                command(&mut data, "REGISTER", topic, channel);
                n += 1;
            }
        }
        if n > 0 {
            let addr = &self.peers[idx].addr;
            let line = format!("LOOKUPD({addr}): registering {n} topics/channels");
            self.log(Level::Info, line);
            self.send(idx, data, n, now);
        }
    }

    /// A topic or channel came or went: update the catalog and tell every
    /// identified lookupd (the others learn it when they are re-synced).
    pub fn on_catalog(&mut self, ev: CatalogEvent, now: Nanos) {
        let mut data = Vec::new();
        match &ev {
            CatalogEvent::TopicCreated(t) => {
                self.catalog.entry(t.clone()).or_default();
                command(&mut data, "REGISTER", t, "");
            }
            CatalogEvent::TopicDeleted(t) => {
                self.catalog.remove(t);
                command(&mut data, "UNREGISTER", t, "");
            }
            CatalogEvent::ChannelCreated { topic, channel } => {
                self.catalog
                    .entry(topic.clone())
                    .or_default()
                    .insert(channel.clone());
                command(&mut data, "REGISTER", topic, channel);
            }
            CatalogEvent::ChannelDeleted { topic, channel } => {
                if let Some(chans) = self.catalog.get_mut(topic) {
                    chans.remove(channel);
                }
                command(&mut data, "UNREGISTER", topic, channel);
            }
        }
        for idx in 0..self.peers.len() {
            if self.peers[idx].status == PeerStatus::Ready {
                let line = format!(
                    "LOOKUPD({}): {}",
                    self.peers[idx].addr,
                    String::from_utf8_lossy(&data).trim_end()
                );
                self.log(Level::Info, line);
                self.send(idx, data.clone(), 1, now);
            }
        }
    }

    /// Runs what is due: connection attempts, timeouts and PINGs.
    pub fn tick(&mut self, now: Nanos) {
        let t = self.cfg.timing;
        for idx in 0..self.peers.len() {
            let p = &self.peers[idx];
            match p.status {
                PeerStatus::Waiting(at) if now >= at => {
                    self.connect(idx, now);
                    continue;
                }
                PeerStatus::Connecting if now >= p.connect_deadline => {
                    self.fail(idx, "connect timed out", true, now);
                    continue;
                }
                _ => {}
            }
            let p = &self.peers[idx];
            if p.waiting_since
                .is_some_and(|s| now >= s.saturating_add(t.response_timeout))
            {
                self.fail(idx, "no answer in time", true, now);
                continue;
            }
            if p.status == PeerStatus::Ready && now >= p.next_ping {
                let addr = p.addr.clone();
                self.peers[idx].next_ping = now.saturating_add(t.ping_interval);
                self.log(Level::Debug, format!("LOOKUPD({addr}): sending heartbeat"));
                self.send(idx, b"PING\n".to_vec(), 1, now);
            }
        }
    }

    /// When [`Registrar::tick`] next has work.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let t = self.cfg.timing;
        self.peers
            .iter()
            .flat_map(|p| {
                let status = match p.status {
                    PeerStatus::Waiting(at) => Some(at),
                    PeerStatus::Connecting => Some(p.connect_deadline),
                    PeerStatus::Ready => Some(p.next_ping),
                    PeerStatus::Identifying => None,
                };
                let answer = p
                    .waiting_since
                    .map(|s| s.saturating_add(t.response_timeout));
                status.into_iter().chain(answer)
            })
            .min()
    }
}

#[cfg(test)]
mod tests;
