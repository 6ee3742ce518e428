//! A consumer of one topic/channel over many nsqd connections: go-nsq's
//! rules for spreading `max_in_flight` as RDY over the connections,
//! redistributing it when there are more connections than messages allowed
//! in flight, backing off after failures (RDY 0 everywhere, then a probe
//! with RDY 1 on one connection), and discovering nsqd.
//!
//! The runtime reports what happened (`connected`, `message`, `finished`,
//! `lookup_answer`, ...) and the time; the state answers with [`Action`]s
//! (`poll_action`) and the next instant it wants `tick` (`next_deadline`).

use super::config::Config;
use super::discovery::{poll_settings, Discovery, DiscoveryAction};
use super::lookup::Lookup;
use super::rules::backoff_duration;
use crate::io::{nanos, Nanos, SECOND};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, VecDeque};

/// The runtime's name for one connection.
pub type ConnId = u64;

/// How long a RDY update that could not be sent (all of max_in_flight was
/// given out) waits before it is tried again.
const RDY_RETRY: Nanos = 5 * SECOND;
/// A resume with no connection to probe waits this long and tries again.
const RESUME_RETRY: Nanos = SECOND;

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `RDY count` on the connection.
    Rdy { conn: ConnId, count: i64 },
    /// Dial this nsqd, then report `connected` or `connect_failed`.
    Connect { addr: String },
    /// GET this nsqlookupd URL, then report `lookup_answer`.
    QueryLookupd { url: String },
    /// Send `CLS` on the connection (the consumer is stopping).
    StartClose { conn: ConnId },
}

/// Counters, as go-nsq's `ConsumerStats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub messages_received: u64,
    pub messages_finished: u64,
    pub messages_requeued: u64,
    pub connections: usize,
}

/// Why a RDY update was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdyError {
    Closing,
    OverMaxInFlight,
    NoSuchConnection,
}

#[derive(Debug, Clone)]
struct Conn {
    addr: String,
    max_rdy: i64,
    rdy: i64,
    last_rdy_at: Nanos,
    last_msg_at: Nanos,
    in_flight: i64,
    closing: bool,
    /// A RDY update to try again at this time.
    retry: Option<(Nanos, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Backoff,
    Continue,
    Resume,
}

/// The consumer's rules, without I/O.
#[derive(Debug, Clone)]
pub struct ConsumerState {
    cfg: Config,
    rng: SmallRng,
    max_in_flight: i64,
    conns: BTreeMap<ConnId, Conn>,
    /// Addresses being dialled, and whether a failure should be redialled.
    pending: BTreeMap<String, bool>,
    total_rdy: i64,
    backoff_level: u32,
    /// While set, the consumer sits out a backoff (go-nsq's backoffDuration > 0).
    backoff_until: Option<Nanos>,
    need_redistribute: bool,
    next_redistribute: Nanos,
    discovery: Discovery,
    stopping: bool,
    actions: VecDeque<Action>,
    stats: Stats,
}

impl ConsumerState {
    pub fn new(topic: &str, cfg: Config, seed: u64, now: Nanos) -> Self {
        let (interval, jitter) = poll_settings(&cfg);
        ConsumerState {
            max_in_flight: cfg.max_in_flight,
            next_redistribute: now + nanos(cfg.rdy_redistribute_interval).max(1),
            cfg,
            rng: SmallRng::seed_from_u64(seed),
            conns: BTreeMap::new(),
            pending: BTreeMap::new(),
            total_rdy: 0,
            backoff_level: 0,
            backoff_until: None,
            need_redistribute: false,
            discovery: Discovery::new(topic, interval, jitter),
            stopping: false,
            actions: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    // ---- what the runtime asks -------------------------------------------

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next instant `tick` has work to do.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let mut next = self.discovery.next_deadline();
        let mut consider = |t: Nanos| next = Some(next.map_or(t, |n: Nanos| n.min(t)));
        if let Some(t) = self.backoff_until {
            consider(t);
        }
        for c in self.conns.values() {
            if let Some((t, _)) = c.retry {
                consider(t);
            }
        }
        if !self.stopping && !self.conns.is_empty() {
            consider(self.next_redistribute);
        }
        next
    }

    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.conns.len(),
            ..self.stats
        }
    }

    pub fn max_in_flight(&self) -> i64 {
        self.max_in_flight
    }

    pub fn rdy(&self, conn: ConnId) -> Option<i64> {
        self.conns.get(&conn).map(|c| c.rdy)
    }

    pub fn total_rdy(&self) -> i64 {
        self.total_rdy
    }

    pub fn in_flight(&self, conn: ConnId) -> i64 {
        self.conns.get(&conn).map_or(0, |c| c.in_flight)
    }

    pub fn in_backoff(&self) -> bool {
        self.backoff_level > 0
    }

    /// True while sitting out a backoff period.
    pub fn in_backoff_timeout(&self) -> bool {
        self.backoff_until.is_some()
    }

    pub fn backoff_level(&self) -> u32 {
        self.backoff_level
    }

    /// go-nsq's `IsStarved`: some connection holds at least 85% of its RDY
    /// in flight, so the application should finish what it holds.
    pub fn is_starved(&self) -> bool {
        self.conns.values().any(|c| {
            let threshold = (c.rdy as f64 * 0.85) as i64;
            c.in_flight >= threshold && c.in_flight > 0 && !c.closing
        })
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Stopping, and every connection is gone.
    pub fn is_stopped(&self) -> bool {
        self.stopping && self.conns.is_empty() && self.pending.is_empty()
    }

    pub fn connections(&self) -> impl Iterator<Item = (ConnId, &str)> {
        self.conns.iter().map(|(id, c)| (*id, c.addr.as_str()))
    }

    pub fn is_connected_to(&self, addr: &str) -> bool {
        self.pending.contains_key(addr) || self.conns.values().any(|c| c.addr == addr)
    }

    pub fn lookupds(&self) -> &[String] {
        self.discovery.lookupds()
    }

    // ---- what the application does ---------------------------------------

    /// Starts a direct connection to `addr` (go-nsq's `ConnectToNSQD`):
    /// false when already connected or connecting. The runtime dials and
    /// reports the result; a failure of this first dial is not retried.
    pub fn begin_connect(&mut self, addr: &str) -> bool {
        if self.stopping || self.is_connected_to(addr) {
            return false;
        }
        self.discovery.add_nsqd(addr);
        self.pending.insert(addr.to_string(), false);
        true
    }

    /// Forgets an nsqd (go-nsq's `DisconnectFromNSQD`): it is closed and
    /// never redialled. Returns the connection to close, if any.
    pub fn disconnect_nsqd(&mut self, addr: &str) -> Result<Option<ConnId>, String> {
        if !self.discovery.remove_nsqd(addr) {
            return Err("not connected".into());
        }
        Ok(self
            .conns
            .iter()
            .find(|(_, c)| c.addr == addr)
            .map(|(id, _)| *id))
    }

    /// Adds an nsqlookupd (`host:port` or URL); the first starts discovery.
    pub fn add_lookupd(&mut self, addr: &str, now: Nanos) -> Result<(), String> {
        if self.stopping {
            return Err("consumer stopped".into());
        }
        let action = self.discovery.add_lookupd(addr, now, &mut self.rng)?;
        self.discovery_action(action);
        Ok(())
    }

    pub fn remove_lookupd(&mut self, addr: &str) -> Result<(), String> {
        self.discovery.remove_lookupd(addr)
    }

    /// go-nsq's `ChangeMaxInFlight`: 0 pauses the consumer.
    pub fn set_max_in_flight(&mut self, n: i64, now: Nanos) {
        let n = n.max(0);
        if n == self.max_in_flight {
            return;
        }
        self.max_in_flight = n;
        for id in self.conn_ids() {
            self.maybe_update_rdy(id, now);
        }
    }

    /// Begins a graceful stop: CLS on every connection; no more dialling.
    pub fn stop(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        self.discovery.stop();
        self.backoff_until = None;
        for (&id, c) in &mut self.conns {
            c.retry = None;
            self.actions.push_back(Action::StartClose { conn: id });
        }
    }

    // ---- what happened on the wire ----------------------------------------

    /// A dial (or its IDENTIFY/SUB) failed.
    pub fn connect_failed(&mut self, addr: &str, now: Nanos) {
        if let Some(redial) = self.pending.remove(addr) {
            if redial && !self.stopping {
                self.lost(addr, now);
            }
        }
    }

    /// A connection is up and subscribed. `max_rdy` is the server's
    /// `max_rdy_count` (2500 when it did not say).
    pub fn connected(&mut self, conn: ConnId, addr: &str, max_rdy: i64, now: Nanos) {
        self.pending.remove(addr);
        self.conns.insert(
            conn,
            Conn {
                addr: addr.to_string(),
                max_rdy,
                rdy: 0,
                last_rdy_at: now,
                last_msg_at: now,
                in_flight: 0,
                closing: self.stopping,
                retry: None,
            },
        );
        if self.stopping {
            self.actions.push_back(Action::StartClose { conn });
            return;
        }
        // every connection gets its share; existing ones shrink to make room
        for id in self.conn_ids() {
            self.maybe_update_rdy(id, now);
        }
    }

    /// The server acknowledged CLS (or the connection is being closed):
    /// no RDY goes to it any more.
    pub fn closing(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.closing = true;
            c.retry = None;
        }
    }

    /// The connection is gone (go-nsq's `onConnClose`).
    pub fn closed(&mut self, conn: ConnId, now: Nanos) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.total_rdy -= c.rdy;
        let left = self.conns.len() as i64;
        if (c.retry.is_some() || c.rdy > 0) && (left == self.max_in_flight || self.in_backoff()) {
            // leaving the ordinary spread: move this RDY elsewhere
            self.need_redistribute = true;
        }
        if self.stopping {
            return;
        }
        if !self.in_backoff() && !self.in_backoff_timeout() {
            // Beyond go-nsq, which leaves the others at their smaller share
            // until a new connection comes: give them the freed RDY now.
            for id in self.conn_ids() {
                self.maybe_update_rdy(id, now);
            }
        }
        self.lost(&c.addr, now);
    }

    fn lost(&mut self, addr: &str, now: Nanos) {
        let action = self.discovery.on_lost(addr, now);
        self.discovery_action(action);
    }

    /// A message arrived on `conn`.
    pub fn message(&mut self, conn: ConnId, now: Nanos) {
        self.stats.messages_received += 1;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.in_flight += 1;
            c.last_msg_at = now;
        }
    }

    /// A message of `conn` was finished (a success: backoff eases).
    pub fn finished(&mut self, conn: ConnId, now: Nanos) {
        self.stats.messages_finished += 1;
        self.responded(conn);
        self.signal(Signal::Resume, now);
    }

    /// A message of `conn` was requeued; `backoff` when it failed.
    pub fn requeued(&mut self, conn: ConnId, backoff: bool, now: Nanos) {
        self.stats.messages_requeued += 1;
        self.responded(conn);
        let s = if backoff {
            Signal::Backoff
        } else {
            Signal::Continue
        };
        self.signal(s, now);
    }

    fn responded(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.in_flight = (c.in_flight - 1).max(0);
        }
    }

    /// The answer of an nsqlookupd query: the producers, or why not.
    pub fn lookup_answer(&mut self, url: &str, answer: Result<Lookup, String>, _now: Nanos) {
        match answer {
            Ok(lookup) => {
                let next = self.discovery.on_query_done(url);
                if !self.stopping {
                    for p in &lookup.producers {
                        let addr = p.tcp_address();
                        if !self.is_connected_to(&addr) {
                            self.discovery.add_nsqd(&addr);
                            self.pending.insert(addr.clone(), false);
                            self.actions.push_back(Action::Connect { addr });
                        }
                    }
                }
                self.discovery_action(next);
            }
            Err(_) => {
                let next = self.discovery.on_query_failed(url);
                self.discovery_action(next);
            }
        }
    }

    fn discovery_action(&mut self, a: Option<DiscoveryAction>) {
        match a {
            None => {}
            Some(_) if self.stopping => {}
            Some(DiscoveryAction::Query(url)) => {
                self.actions.push_back(Action::QueryLookupd { url })
            }
            Some(DiscoveryAction::Reconnect(addr)) if !self.is_connected_to(&addr) => {
                self.pending.insert(addr.clone(), true);
                self.actions.push_back(Action::Connect { addr });
            }
            Some(DiscoveryAction::Reconnect(_)) => {}
        }
    }

    // ---- time ---------------------------------------------------------------

    /// Runs whatever is due at `now`.
    pub fn tick(&mut self, now: Nanos) {
        let mut due = Vec::new();
        self.discovery.tick(now, &mut due);
        for a in due {
            self.discovery_action(Some(a));
        }
        if self.backoff_until.is_some_and(|t| t <= now) {
            self.resume(now);
        }
        for id in self.conn_ids() {
            let retry = self.conns.get(&id).and_then(|c| c.retry);
            if let Some((t, count)) = retry {
                if t <= now {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.retry = None;
                    }
                    let _ = self.update_rdy(id, count, now);
                }
            }
        }
        if now >= self.next_redistribute {
            let every = nanos(self.cfg.rdy_redistribute_interval).max(1);
            let missed = (now - self.next_redistribute) / every;
            self.next_redistribute += (missed + 1) * every;
            if !self.stopping {
                self.redistribute(now);
            }
        }
    }

    // ---- go-nsq's RDY and backoff rules -----------------------------------------

    fn conn_ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    /// go-nsq's `perConnMaxInFlight`: an even share, at least 1, at most all.
    fn per_conn_max_in_flight(&self) -> i64 {
        let b = self.max_in_flight as f64;
        let s = b / self.conns.len().max(1) as f64;
        s.max(1.0).min(b) as i64
    }

    fn maybe_update_rdy(&mut self, conn: ConnId, now: Nanos) {
        if self.in_backoff() || self.in_backoff_timeout() {
            return;
        }
        let count = self.per_conn_max_in_flight();
        let _ = self.update_rdy(conn, count, now);
    }

    /// go-nsq's `updateRDY`: never above the server's max, never more in
    /// total than max_in_flight (a connection left at 0 retries later).
    pub fn update_rdy(&mut self, conn: ConnId, count: i64, now: Nanos) -> Result<(), RdyError> {
        let max_in_flight = self.max_in_flight;
        let total = self.total_rdy;
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or(RdyError::NoSuchConnection)?;
        if c.closing {
            return Err(RdyError::Closing);
        }
        let mut count = count.min(c.max_rdy);
        c.retry = None;
        let max_possible = max_in_flight - total + c.rdy;
        if max_possible > 0 && max_possible < count {
            count = max_possible;
        }
        if max_possible <= 0 && count > 0 {
            if c.rdy == 0 {
                // do not starve this connection forever: try again later
                c.retry = Some((now + RDY_RETRY, count));
            }
            return Err(RdyError::OverMaxInFlight);
        }
        self.send_rdy(conn, count, now);
        Ok(())
    }

    fn send_rdy(&mut self, conn: ConnId, count: i64, now: Nanos) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if count == 0 && c.rdy == 0 {
            return;
        }
        self.total_rdy += count - c.rdy;
        let last = c.rdy;
        c.rdy = count;
        if count > 0 {
            c.last_rdy_at = now;
        }
        if count != last {
            self.actions.push_back(Action::Rdy { conn, count });
        }
    }

    /// go-nsq's `startStopContinueBackoff`.
    fn signal(&mut self, signal: Signal, now: Nanos) {
        if self.in_backoff_timeout() || self.stopping {
            // many results of one period count once
            return;
        }
        let mut updated = false;
        match signal {
            Signal::Resume if self.backoff_level > 0 => {
                self.backoff_level -= 1;
                updated = true;
            }
            Signal::Backoff => {
                let next = backoff_duration(&self.cfg, self.backoff_level + 1, &mut self.rng);
                if next <= nanos(self.cfg.max_backoff_duration) {
                    self.backoff_level += 1;
                    updated = true;
                }
            }
            _ => {}
        }
        if self.backoff_level == 0 && updated {
            let count = self.per_conn_max_in_flight();
            for id in self.conn_ids() {
                let _ = self.update_rdy(id, count, now);
            }
        } else if self.backoff_level > 0 {
            let d = backoff_duration(&self.cfg, self.backoff_level, &mut self.rng)
                .min(nanos(self.cfg.max_backoff_duration));
            for id in self.conn_ids() {
                let _ = self.update_rdy(id, 0, now);
            }
            self.backoff_until = Some(now.saturating_add(d));
        }
    }

    /// The backoff period is over: let one message through on one
    /// connection chosen at random.
    fn resume(&mut self, now: Nanos) {
        self.backoff_until = None;
        if self.stopping {
            return;
        }
        let ids = self.conn_ids();
        if ids.is_empty() {
            self.backoff_until = Some(now + RESUME_RETRY);
            return;
        }
        let choice = ids[self.rng.random_range(0..ids.len())];
        if self.update_rdy(choice, 1, now).is_err() {
            self.backoff_until = Some(now + RESUME_RETRY);
        }
    }

    /// go-nsq's `redistributeRDY`: with more connections than
    /// max_in_flight (or any backoff over several connections), idle
    /// connections give their RDY up and it goes to others at random.
    fn redistribute(&mut self, now: Nanos) {
        if self.in_backoff_timeout() || self.conns.is_empty() {
            return;
        }
        if self.conns.len() as i64 > self.max_in_flight {
            self.need_redistribute = true;
        }
        if self.in_backoff() && self.conns.len() > 1 {
            self.need_redistribute = true;
        }
        if !std::mem::take(&mut self.need_redistribute) {
            return;
        }
        let idle = nanos(self.cfg.low_rdy_idle_timeout);
        let stale = nanos(self.cfg.low_rdy_timeout);
        for id in self.conn_ids() {
            let Some(c) = self.conns.get(&id) else {
                continue;
            };
            if c.rdy > 0 && (now - c.last_msg_at > idle || now - c.last_rdy_at > stale) {
                let _ = self.update_rdy(id, 0, now);
            }
        }
        let mut available = if self.in_backoff() {
            1 - self.total_rdy
        } else {
            self.max_in_flight - self.total_rdy
        };
        // Connections without RDY are the candidates (go-nsq also draws
        // ones that hold RDY, which wastes the slot on a no-op).
        let mut candidates: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.rdy == 0 && !c.closing)
            .map(|(id, _)| *id)
            .collect();
        while !candidates.is_empty() && available > 0 {
            available -= 1;
            let i = self.rng.random_range(0..candidates.len());
            let id = candidates.swap_remove(i);
            let _ = self.update_rdy(id, 1, now);
        }
    }
}
