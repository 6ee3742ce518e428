//! What every client saw, and the invariants over it: checked as events
//! happen (no invention or corruption, in-flight discipline, RDY) and at
//! the end (at-least-once).
//!
//! In-flight checks look at the consumer's side of the wire, so they need
//! bounded latency: a connection whose node was paused or cut off while it
//! was open is "tainted" and skipped by them (its frames may arrive
//! arbitrarily late); crashes are not a taint, they start a new nsqd
//! incarnation, and holds never span incarnations.

use madsim::task::NodeId;
use nsq_core::wire::{Message, MessageId};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Timing facts the in-flight checks rely on.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// nsqd's --msg-timeout.
    pub msg_timeout: Duration,
    /// The most a frame may take on an untainted connection (latency plus
    /// resends after losses), with margin.
    pub slack: Duration,
}

/// One publish attempt.
#[derive(Debug, Clone)]
pub struct Published {
    pub nsqd: usize,
    pub topic: String,
    pub body: Vec<u8>,
    pub status: PubStatus,
    /// Channels of the topic when it was sent (each must deliver it if acked).
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubStatus {
    /// Sent; no answer (yet).
    Sent,
    /// nsqd said OK.
    Acked,
    /// nsqd said no (or the connection failed): it may or may not exist.
    Failed(String),
}

/// A consumer connection as the ledger knows it.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub id: u64,
    pub nsqd: usize,
    pub incarnation: u64,
    /// When that incarnation began (ns since the epoch): messages stamped
    /// earlier were loaded from disk, where a crash may have left two
    /// copies (a requeued message is written again) — legitimate
    /// at-least-once duplicates the in-flight checks must not blame.
    pub incarnation_start: i64,
    pub topic: String,
    pub channel: String,
    pub rdy: usize,
    pub client_node: NodeId,
    pub nsqd_node: NodeId,
    pub tainted: Arc<AtomicBool>,
}

impl ConnInfo {
    pub fn tainted(&self) -> bool {
        self.tainted.load(Ordering::Acquire)
    }
}

type HoldKey = (usize, u64, String, MessageId);

/// One delivery of a message to a connection.
#[derive(Debug, Clone)]
struct Hold {
    conn: u64,
    received: Duration,
    /// When the consumer sent FIN or REQ (or its connection ended).
    released: Option<Duration>,
    /// FIN sent at this time and no E_FIN_FAILED for it (yet).
    finished: Option<Duration>,
}

#[derive(Debug, Default)]
struct ConnState {
    info: Option<ConnInfo>,
    /// Messages held now: id → received at.
    held: BTreeMap<MessageId, Duration>,
    closed: Option<Duration>,
}

#[derive(Default)]
struct State {
    published: BTreeMap<String, Published>,
    /// When nsqd's OK for each acknowledged publish arrived.
    acked_at: BTreeMap<String, Duration>,
    /// (nsqd, topic, channel) → keys received there.
    delivered: BTreeMap<(usize, String, String), BTreeSet<String>>,
    holds: BTreeMap<HoldKey, Hold>,
    conns: BTreeMap<u64, ConnState>,
    next_conn: u64,
    violations: Vec<String>,
    deliveries: u64,
    redeliveries: u64,
    checks_skipped: u64,
}

/// Shared by every simulated client of a run.
pub struct Ledger {
    timing: Timing,
    start: madsim::time::Instant,
    state: Mutex<State>,
}

/// The key a body starts with (`producer:seq:`).
pub fn body_key(body: &[u8]) -> Option<String> {
    let mut parts = body.splitn(3, |&b| b == b':');
    let p = parts.next()?;
    let s = parts.next()?;
    parts.next()?;
    let key = [p, b":", s].concat();
    String::from_utf8(key).ok()
}

impl Ledger {
    pub fn new(timing: Timing) -> Arc<Ledger> {
        Arc::new(Ledger {
            timing,
            start: madsim::time::Instant::now(),
            state: Mutex::new(State::default()),
        })
    }

    /// Simulated time since the run began.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn violation(st: &mut State, what: String) {
        tracing::error!("VIOLATION: {what}");
        if st.violations.len() < 20 {
            st.violations.push(what);
        }
    }

    /// Records a publish about to be sent.
    pub fn sent(&self, key: &str, p: Published) {
        self.st().published.insert(key.to_string(), p);
    }

    pub fn answered(&self, key: &str, status: PubStatus) {
        let t = self.now();
        let mut st = self.st();
        if status == PubStatus::Acked {
            st.acked_at.insert(key.to_string(), t);
        }
        if let Some(p) = st.published.get_mut(key) {
            p.status = status;
        }
    }

    /// When the publish of `body` was acknowledged, if it was.
    pub fn acked_at(&self, body: &[u8]) -> Option<Duration> {
        let key = body_key(body)?;
        self.st().acked_at.get(&key).copied()
    }

    /// A new consumer connection (after its SUB was accepted).
    pub fn connected(&self, mut info: ConnInfo) -> ConnInfo {
        let mut st = self.st();
        st.next_conn += 1;
        info.id = st.next_conn;
        st.conns.insert(
            info.id,
            ConnState {
                info: Some(info.clone()),
                ..ConnState::default()
            },
        );
        info
    }

    /// No invention, no corruption, right place; records the delivery.
    /// The body's key, if it has one.
    fn check_body(
        st: &mut State,
        conn: u64,
        nsqd: usize,
        topic: &str,
        channel: &str,
        body: &[u8],
    ) -> Option<String> {
        let Some(key) = body_key(body) else {
            Self::violation(
                st,
                format!(
                    "invention: conn {conn} got a body that was never published: {:?}",
                    String::from_utf8_lossy(&body[..body.len().min(40)])
                ),
            );
            return None;
        };
        match st.published.get(&key) {
            None => Self::violation(
                st,
                format!("invention: conn {conn} got {key}, which was never published"),
            ),
            Some(p) if p.body[..] != body[..] => Self::violation(
                st,
                format!(
                    "corruption: conn {conn} got {key} altered: {} bytes, published {}",
                    body.len(),
                    p.body.len()
                ),
            ),
            Some(p) if p.nsqd != nsqd || p.topic != topic => Self::violation(
                st,
                format!(
                    "misdelivery: conn {conn} (nsqd{nsqd} {topic}) got {key}, published to nsqd{} {}",
                    p.nsqd, p.topic
                ),
            ),
            Some(_) => {}
        }
        st.delivered
            .entry((nsqd, topic.to_string(), channel.to_string()))
            .or_default()
            .insert(key.clone());
        Some(key)
    }

    /// A message a client-library consumer handled (no frame-level view:
    /// only the body checks and at-least-once apply).
    pub fn delivered(&self, nsqd: usize, topic: &str, channel: &str, body: &[u8]) {
        let mut st = self.st();
        st.deliveries += 1;
        Self::check_body(&mut st, 0, nsqd, topic, channel, body);
    }

    /// Records a broken invariant found elsewhere.
    pub fn note_violation(&self, what: String) {
        Self::violation(&mut self.st(), what);
    }

    /// A message arrived on `conn`.
    pub fn message(&self, conn: &ConnInfo, msg: &Message) {
        let t = self.now();
        let timing = self.timing;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *st;
        st.deliveries += 1;
        let Some(key) = Self::check_body(
            st,
            conn.id,
            conn.nsqd,
            &conn.topic,
            &conn.channel,
            &msg.body,
        ) else {
            return;
        };
        tracing::debug!(
            "SIM conn {} (nsqd{} #{} {}) got {key} id {} attempts {}",
            conn.id,
            conn.nsqd,
            conn.incarnation,
            conn.channel,
            msg.id,
            msg.attempts
        );
        // In-flight discipline.
        let expiry = timing.msg_timeout.saturating_sub(timing.slack);
        let hk: HoldKey = (conn.nsqd, conn.incarnation, conn.channel.clone(), msg.id);
        if let Some(prev) = st.holds.get(&hk).cloned() {
            st.redeliveries += 1;
            let prev_conn = st.conns.get(&prev.conn);
            let prev_tainted = prev_conn
                .and_then(|c| c.info.as_ref())
                .is_none_or(|i| i.tainted());
            let prev_closed = prev_conn.and_then(|c| c.closed);
            let recovered = msg.timestamp < conn.incarnation_start;
            if prev_tainted || conn.tainted() || recovered {
                st.checks_skipped += 1;
            } else {
                let held_until = prev.received + expiry;
                if prev.released.is_none_or(|r| r > t) && t < held_until {
                    Self::violation(
                        st,
                        format!(
                            "in-flight: {key} (id {}) delivered to conn {} at {t:?} while conn {} held it since {:?} (timeout {:?})",
                            msg.id, conn.id, prev.conn, prev.received, timing.msg_timeout
                        ),
                    );
                }
                if let Some(f) = prev.finished {
                    let fin_known = t > f + timing.slack;
                    let conn_alive = prev_closed.is_none_or(|c| c > t);
                    if fin_known && conn_alive {
                        Self::violation(
                            st,
                            format!(
                                "in-flight: {key} (id {}) delivered again to conn {} at {t:?} after conn {} finished it at {f:?} without error",
                                msg.id, conn.id, prev.conn
                            ),
                        );
                    }
                }
            }
        }
        st.holds.insert(
            hk,
            Hold {
                conn: conn.id,
                received: t,
                released: None,
                finished: None,
            },
        );
        // RDY: never more messages held than the RDY count given.
        if let Some(cs) = st.conns.get_mut(&conn.id) {
            cs.held.retain(|_, got| *got + expiry > t);
            cs.held.insert(msg.id, t);
            let n = cs.held.len();
            if n > conn.rdy && !conn.tainted() {
                Self::violation(
                    st,
                    format!(
                        "RDY: conn {} holds {n} messages with RDY {} ({key})",
                        conn.id, conn.rdy
                    ),
                );
            }
        }
    }

    fn release(&self, conn: &ConnInfo, id: &MessageId, fin: bool) {
        let t = self.now();
        tracing::debug!(
            "SIM conn {} {} id {id}",
            conn.id,
            if fin { "FIN" } else { "REQ" }
        );
        let mut st = self.st();
        let hk: HoldKey = (conn.nsqd, conn.incarnation, conn.channel.clone(), *id);
        if let Some(h) = st.holds.get_mut(&hk) {
            if h.conn == conn.id && h.released.is_none() {
                h.released = Some(t);
                if fin {
                    h.finished = Some(t);
                }
            }
        }
        if let Some(cs) = st.conns.get_mut(&conn.id) {
            cs.held.remove(id);
        }
    }

    /// The consumer is about to send FIN.
    pub fn finishing(&self, conn: &ConnInfo, id: &MessageId) {
        self.release(conn, id, true);
    }

    /// The consumer is about to send REQ.
    pub fn requeueing(&self, conn: &ConnInfo, id: &MessageId) {
        self.release(conn, id, false);
    }

    /// nsqd refused a FIN (the message had timed out meanwhile).
    pub fn fin_failed(&self, conn: &ConnInfo, id: &MessageId) {
        let mut st = self.st();
        let hk: HoldKey = (conn.nsqd, conn.incarnation, conn.channel.clone(), *id);
        if let Some(h) = st.holds.get_mut(&hk) {
            if h.conn == conn.id {
                h.finished = None;
            }
        }
    }

    /// The connection ended (or its machine died): it holds nothing more.
    pub fn closed(&self, conn_id: u64) {
        let t = self.now();
        let mut st = self.st();
        let Some(cs) = st.conns.get_mut(&conn_id) else {
            return;
        };
        if cs.closed.is_some() {
            return;
        }
        cs.closed = Some(t);
        cs.held.clear();
        for h in st.holds.values_mut() {
            if h.conn == conn_id && h.released.is_none() {
                h.released = Some(t);
            }
        }
    }

    /// A client machine died: all its connections ended now.
    pub fn client_crashed(&self, node: NodeId) {
        let ids: Vec<u64> = self
            .st()
            .conns
            .iter()
            .filter(|(_, c)| {
                c.closed.is_none() && c.info.as_ref().is_some_and(|i| i.client_node == node)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.closed(id);
        }
    }

    /// Frames on open connections touching `node` may now be late.
    pub fn taint_node(&self, node: NodeId) {
        for c in self.st().conns.values() {
            if let (None, Some(i)) = (c.closed, &c.info) {
                if i.client_node == node || i.nsqd_node == node {
                    i.tainted.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Frames between `a` and `b` may now be late.
    pub fn taint_link(&self, a: NodeId, b: NodeId) {
        for c in self.st().conns.values() {
            if let (None, Some(i)) = (c.closed, &c.info) {
                let ends = [i.client_node, i.nsqd_node];
                if ends.contains(&a) && ends.contains(&b) {
                    i.tainted.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Every acknowledged message not yet received on every channel it
    /// was published to (at-least-once).
    pub fn undelivered(&self) -> Vec<String> {
        let st = self.st();
        let mut missing = Vec::new();
        for (key, p) in &st.published {
            if p.status != PubStatus::Acked {
                continue;
            }
            for c in &p.channels {
                let got = st
                    .delivered
                    .get(&(p.nsqd, p.topic.clone(), c.clone()))
                    .is_some_and(|s| s.contains(key));
                if !got {
                    missing.push(format!("{key} (nsqd{} {}/{c})", p.nsqd, p.topic));
                }
            }
        }
        missing
    }

    /// Resolves with the first broken invariant (polling).
    pub async fn first_violation(&self) -> String {
        loop {
            if let Some(v) = self.st().violations.first() {
                return v.clone();
            }
            madsim::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn violations(&self) -> Vec<String> {
        self.st().violations.clone()
    }

    /// Counts for the run's summary.
    pub fn summary(&self) -> String {
        let st = self.st();
        let acked = st
            .published
            .values()
            .filter(|p| p.status == PubStatus::Acked)
            .count();
        let failed = st
            .published
            .values()
            .filter(|p| matches!(p.status, PubStatus::Failed(_)))
            .count();
        format!(
            "published {} (acked {acked}, failed {failed}), deliveries {} (redelivered {}), conns {}, in-flight checks skipped {}",
            st.published.len(),
            st.deliveries,
            st.redeliveries,
            st.conns.len(),
            st.checks_skipped
        )
    }
}
