//! The registrar against in-memory lookupds (the real server session and
//! DB), on a fake clock.

use super::*;
use crate::lookup::db::{Activity, RegistrationDb};
use crate::lookup::server::{put_response, ReadError, ServerInfo, Session};
use crate::lookup::views;
use bytes::BytesMut;
use std::collections::BTreeMap;

const T0: Nanos = 1_700_000_000 * SECOND;

fn node() -> NodeInfo {
    NodeInfo {
        broadcast_address: "10.0.0.7".into(),
        hostname: "nsqd-host".into(),
        http_port: 4151,
        tcp_port: 4150,
        version: "1.3.0".into(),
    }
}

fn cfg() -> RegistrarConfig {
    RegistrarConfig {
        node: node(),
        max_response_size: 5 * 1024 * 1024,
        timing: Timing::default(),
        seed: 7,
    }
}

/// An in-memory nsqlookupd.
struct Lookupd {
    up: bool,
    db: RegistrationDb,
    info: ServerInfo,
    /// Never answers (a hung lookupd).
    mute: bool,
    /// Answers IDENTIFY with this instead.
    identify_answer: Option<Vec<u8>>,
}

struct Conn {
    addr: String,
    session: Session,
    buf: BytesMut,
}

/// The registrar wired to in-memory lookupds.
struct World {
    now: Nanos,
    reg: Registrar,
    lookupds: BTreeMap<String, Lookupd>,
    conns: BTreeMap<ConnId, Conn>,
    /// Connects wait for `deliver` (to test connect timeouts).
    pending_connects: Vec<(ConnId, String)>,
    hold_connects: bool,
    sent: Vec<(String, Vec<u8>)>,
    logs: Vec<String>,
    next_port: u16,
}

fn act() -> Activity {
    Activity {
        inactive_producer_timeout: 300 * SECOND,
        tombstone_lifetime: 45 * SECOND,
    }
}

impl World {
    fn new(addrs: &[&str]) -> World {
        let mut w = World {
            now: T0,
            reg: Registrar::new(cfg()),
            lookupds: BTreeMap::new(),
            conns: BTreeMap::new(),
            pending_connects: Vec::new(),
            hold_connects: false,
            sent: Vec::new(),
            logs: Vec::new(),
            next_port: 40000,
        };
        for (i, a) in addrs.iter().enumerate() {
            w.lookupds.insert(
                a.to_string(),
                Lookupd {
                    up: true,
                    db: RegistrationDb::new(),
                    info: ServerInfo {
                        broadcast_address: format!("lookupd{i}"),
                        hostname: "lh".into(),
                        http_port: 4161 + i as u16,
                        tcp_port: 4160,
                        version: "1.3.0".into(),
                    },
                    mute: false,
                    identify_answer: None,
                },
            );
        }
        w
    }

    fn set(&mut self, addrs: &[&str]) {
        let a: Vec<String> = addrs.iter().map(|s| s.to_string()).collect();
        self.reg.set_addresses(&a, self.now);
        self.pump();
    }

    fn event(&mut self, ev: CatalogEvent) {
        self.reg.on_catalog(ev, self.now);
        self.pump();
    }

    /// Carries out actions until none are left.
    fn pump(&mut self) {
        while let Some(a) = self.reg.poll_action() {
            match a {
                Action::Connect { conn, addr } => {
                    if self.hold_connects {
                        self.pending_connects.push((conn, addr));
                    } else {
                        self.open(conn, addr);
                    }
                }
                Action::Send { conn, data } => self.deliver(conn, data),
                Action::Close { conn } => self.drop_conn(conn),
                Action::Log { line, .. } => self.logs.push(line),
            }
        }
    }

    fn open(&mut self, conn: ConnId, addr: String) {
        if self.lookupds.get(&addr).is_some_and(|l| l.up) {
            self.next_port += 1;
            let remote = format!("10.0.0.7:{}", self.next_port);
            self.conns.insert(
                conn,
                Conn {
                    addr,
                    session: Session::new(&remote),
                    buf: BytesMut::new(),
                },
            );
            self.reg.on_connected(conn, self.now);
        } else {
            self.reg.on_closed(conn, "connection refused", self.now);
        }
    }

    fn deliver(&mut self, conn: ConnId, data: Vec<u8>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        self.sent.push((c.addr.clone(), data.clone()));
        let l = self.lookupds.get_mut(&c.addr).expect("lookupd");
        if l.mute {
            return;
        }
        c.buf.extend_from_slice(&data);
        let mut out = Vec::new();
        let mut close = false;
        loop {
            match c.session.next_request(&mut c.buf) {
                Ok(Some(req)) => {
                    let is_identify = matches!(req, crate::lookup::server::Request::Identify(_));
                    let r = c.session.exec(req, &mut l.db, &l.info, self.now);
                    match (&l.identify_answer, is_identify) {
                        (Some(a), true) => put_response(&mut out, a),
                        _ => put_response(&mut out, &r.data),
                    }
                    if r.close {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(ReadError::Respond(e)) => {
                    put_response(&mut out, &e.to_bytes());
                    close = true;
                    break;
                }
                Err(ReadError::Close) => {
                    close = true;
                    break;
                }
            }
        }
        if !out.is_empty() {
            self.reg.on_data(conn, &out, self.now);
        }
        if close {
            self.drop_conn(conn);
            self.reg.on_closed(conn, "EOF", self.now);
        }
    }

    /// The connection ends (either side): the lookupd forgets the peer.
    fn drop_conn(&mut self, conn: ConnId) {
        if let Some(mut c) = self.conns.remove(&conn) {
            if let Some(l) = self.lookupds.get_mut(&c.addr) {
                c.session.leave(&mut l.db);
            }
        }
    }

    /// Kills a lookupd: its connections close and it loses its DB.
    fn kill(&mut self, addr: &str) {
        let l = self.lookupds.get_mut(addr).expect("lookupd");
        l.up = false;
        l.db = RegistrationDb::new();
        let conns: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.addr == addr)
            .map(|(id, _)| *id)
            .collect();
        for conn in conns {
            self.conns.remove(&conn);
            self.reg.on_closed(conn, "EOF", self.now);
        }
        self.pump();
    }

    fn revive(&mut self, addr: &str) {
        self.lookupds.get_mut(addr).expect("lookupd").up = true;
    }

    /// Advances the fake clock to `t`, ticking at every deadline on the way.
    fn advance_to(&mut self, t: Nanos) {
        while let Some(d) = self.reg.next_deadline() {
            if d > t {
                break;
            }
            self.now = self.now.max(d);
            self.reg.tick(self.now);
            self.pump();
        }
        self.now = t;
    }

    fn advance(&mut self, d: Nanos) {
        self.advance_to(self.now + d);
    }

    /// `/lookup?topic=` on lookupd `addr`: channels and producers' tcp ports.
    fn lookup(&self, addr: &str, topic: &str) -> Option<(Vec<String>, Vec<String>)> {
        let l = &self.lookupds[addr];
        views::lookup(&l.db, topic, act(), self.now).map(|v| {
            (
                v.channels,
                v.producers
                    .iter()
                    .map(|p| format!("{}:{}:{}", p.broadcast_address, p.tcp_port, p.http_port))
                    .collect(),
            )
        })
    }

    /// Topics and channels the lookupd lists this nsqd as a producer of.
    fn registered(&self, addr: &str) -> Vec<String> {
        let db = &self.lookupds[addr].db;
        let mut v: Vec<String> = views::debug(db)
            .into_iter()
            .filter(|(_, ps)| !ps.is_empty())
            .map(|(k, _)| k)
            .collect();
        v.sort();
        v
    }
}

fn topic(t: &str) -> CatalogEvent {
    CatalogEvent::TopicCreated(t.into())
}

fn channel(t: &str, c: &str) -> CatalogEvent {
    CatalogEvent::ChannelCreated {
        topic: t.into(),
        channel: c.into(),
    }
}

const ME: &str = "10.0.0.7:4150:4151";

#[test]
fn identifies_then_registers_everything_it_carries() {
    let mut w = World::new(&["l1:4160"]);
    w.event(topic("lonely"));
    w.event(topic("orders"));
    w.event(channel("orders", "billing"));
    w.event(channel("orders", "shipping"));
    assert!(!w.reg.precreates_channels(), "no lookupd to ask yet");
    w.set(&["l1:4160"]);
    assert_eq!(w.reg.status("l1:4160"), Some(PeerStatus::Ready));
    assert!(w.reg.precreates_channels());
    // First bytes on the wire: the magic and NSQ's IDENTIFY.
    let first = &w.sent[0].1;
    let body = br#"{"broadcast_address":"10.0.0.7","hostname":"nsqd-host","http_port":4151,"tcp_port":4150,"version":"1.3.0"}"#;
    let mut want = b"  V1IDENTIFY\n".to_vec();
    want.extend_from_slice(&(body.len() as u32).to_be_bytes());
    want.extend_from_slice(body);
    assert_eq!(first, &want);
    // Then one REGISTER per channel, or per topic without channels.
    assert_eq!(
        w.sent[1].1,
        b"REGISTER lonely\nREGISTER orders billing\nREGISTER orders shipping\n"
    );
    assert_eq!(
        w.lookup("l1:4160", "orders"),
        Some((vec!["billing".into(), "shipping".into()], vec![ME.into()]))
    );
    assert_eq!(w.lookup("l1:4160", "lonely").unwrap().1, [ME]);
    assert_eq!(w.reg.lookupd_http_addresses(), ["lookupd0:4161"]);
}

#[test]
fn follows_topics_and_channels_as_they_come_and_go() {
    let mut w = World::new(&["l1:4160", "l2:4160"]);
    w.set(&["l1:4160", "l2:4160"]);
    w.event(topic("t"));
    w.event(channel("t", "c"));
    w.event(channel("t", "e#ephemeral"));
    for l in ["l1:4160", "l2:4160"] {
        assert_eq!(
            w.lookup(l, "t"),
            Some((vec!["c".into(), "e#ephemeral".into()], vec![ME.into()]))
        );
    }
    w.event(CatalogEvent::ChannelDeleted {
        topic: "t".into(),
        channel: "e#ephemeral".into(),
    });
    assert_eq!(
        w.lookup("l1:4160", "t").unwrap().0,
        ["c"],
        "ephemeral channel gone"
    );
    w.event(CatalogEvent::ChannelDeleted {
        topic: "t".into(),
        channel: "c".into(),
    });
    assert_eq!(
        w.lookup("l1:4160", "t"),
        Some((vec!["c".into()], vec![ME.into()])),
        "channel stays, producer gone from it"
    );
    assert_eq!(w.registered("l1:4160"), ["client::", "topic:t:"]);
    w.event(CatalogEvent::TopicDeleted("t".into()));
    assert_eq!(w.registered("l2:4160"), ["client::"]);
    assert_eq!(w.lookup("l2:4160", "t").unwrap().1, Vec::<String>::new());
    assert!(w.reg.catalog().is_empty());
}

#[test]
fn pings_every_15s_so_it_stays_active() {
    let mut w = World::new(&["l1:4160"]);
    w.event(topic("t"));
    w.set(&["l1:4160"]);
    let before = w.sent.len();
    w.advance(14 * SECOND);
    assert_eq!(w.sent.len(), before, "nothing before 15 s");
    w.advance(SECOND);
    assert_eq!(w.sent.last().unwrap().1, b"PING\n");
    // Ten minutes later (twice the inactivity timeout) it is still listed.
    w.advance(600 * SECOND);
    let pings = w.sent.iter().filter(|(_, d)| d == b"PING\n").count();
    assert_eq!(pings, 41);
    assert_eq!(w.lookup("l1:4160", "t").unwrap().1, [ME]);
    let db = &w.lookupds["l1:4160"].db;
    let last = views::debug(db)["client::"][0].last_update;
    assert!(w.now - last <= 15 * SECOND);
}

#[test]
fn a_restarted_lookupd_is_fully_repopulated_on_reconnect() {
    let mut w = World::new(&["l1:4160"]);
    w.set(&["l1:4160"]);
    w.event(topic("a"));
    w.event(channel("a", "x"));
    w.event(topic("b"));
    let before = w.registered("l1:4160");
    w.kill("l1:4160");
    assert!(matches!(
        w.reg.status("l1:4160"),
        Some(PeerStatus::Waiting(_))
    ));
    // Changes while it is down are caught up too.
    w.event(channel("b", "y"));
    w.event(CatalogEvent::TopicDeleted("a".into()));
    w.advance(40 * SECOND);
    assert!(w.registered("l1:4160").is_empty(), "still down");
    w.revive("l1:4160");
    let sent_before = w.sent.len();
    w.advance(16 * SECOND);
    assert_eq!(w.reg.status("l1:4160"), Some(PeerStatus::Ready));
    let identifies = w.sent[sent_before..]
        .iter()
        .filter(|(_, d)| d.starts_with(b"  V1IDENTIFY"))
        .count();
    assert_eq!(identifies, 1, "one reconnect re-syncs everything");
    assert_ne!(before, w.registered("l1:4160"));
    assert_eq!(
        w.registered("l1:4160"),
        ["channel:b:y", "client::", "topic:b:"]
    );
    assert_eq!(
        w.lookup("l1:4160", "b"),
        Some((vec!["y".into()], vec![ME.into()]))
    );
}

#[test]
fn backoff_doubles_with_jitter_up_to_15s_and_resets_after_success() {
    let mut w = World::new(&["l1:4160"]);
    w.lookupds.get_mut("l1:4160").unwrap().up = false;
    w.set(&["l1:4160"]);
    let mut delays = Vec::new();
    for _ in 0..8 {
        let Some(PeerStatus::Waiting(at)) = w.reg.status("l1:4160") else {
            panic!("waiting")
        };
        delays.push(at - w.now);
        w.advance_to(at);
    }
    for (i, d) in delays.iter().enumerate() {
        let base = (SECOND << i.min(4)).min(15 * SECOND);
        assert!(
            *d >= base / 2 && *d <= base,
            "attempt {i}: {d} vs base {base}"
        );
    }
    assert!(delays[7] > 7 * SECOND, "capped near 15 s");
    w.revive("l1:4160");
    let Some(PeerStatus::Waiting(at)) = w.reg.status("l1:4160") else {
        panic!("waiting")
    };
    w.advance_to(at);
    assert_eq!(w.reg.status("l1:4160"), Some(PeerStatus::Ready));
    w.kill("l1:4160");
    let Some(PeerStatus::Waiting(at)) = w.reg.status("l1:4160") else {
        panic!("waiting")
    };
    assert!(at - w.now <= SECOND, "backoff starts over after a success");
}

#[test]
fn lookupds_can_be_added_and_removed_live() {
    let mut w = World::new(&["l1:4160", "l2:4160", "l3:4160"]);
    w.event(topic("t"));
    w.set(&["l1:4160"]);
    w.set(&["l1:4160", "l2:4160", "l2:4160"]);
    assert_eq!(w.reg.addresses(), ["l1:4160", "l2:4160"]);
    assert_eq!(w.lookup("l2:4160", "t").unwrap().1, [ME]);
    let conns = w.conns.len();
    w.set(&["l3:4160", "l2:4160"]);
    assert_eq!(w.reg.addresses(), ["l2:4160", "l3:4160"]);
    assert_eq!(w.conns.len(), conns, "one closed, one opened");
    assert_eq!(
        w.lookup("l1:4160", "t").unwrap().1,
        Vec::<String>::new(),
        "removed peer unregistered"
    );
    assert_eq!(w.lookup("l3:4160", "t").unwrap().1, [ME]);
    assert_eq!(
        w.reg.lookupd_http_addresses(),
        ["lookupd1:4162", "lookupd2:4163"]
    );
    w.set(&[]);
    assert!(w.conns.is_empty() && w.reg.next_deadline().is_none());
}

#[test]
fn a_silent_lookupd_is_dropped_and_retried() {
    let mut w = World::new(&["l1:4160"]);
    w.lookupds.get_mut("l1:4160").unwrap().mute = true;
    w.set(&["l1:4160"]);
    assert_eq!(w.reg.status("l1:4160"), Some(PeerStatus::Identifying));
    w.advance(5 * SECOND);
    assert!(matches!(
        w.reg.status("l1:4160"),
        Some(PeerStatus::Waiting(_))
    ));
    assert!(
        w.logs.iter().any(|l| l.contains("no answer in time")),
        "{:?}",
        w.logs
    );
    assert!(w.conns.is_empty(), "connection closed");
    // A lookupd that stops answering PINGs is dropped as well.
    w.lookupds.get_mut("l1:4160").unwrap().mute = false;
    w.advance(2 * SECOND);
    assert_eq!(w.reg.status("l1:4160"), Some(PeerStatus::Ready));
    w.event(topic("t"));
    assert_eq!(w.registered("l1:4160"), ["client::", "topic:t:"]);
    w.lookupds.get_mut("l1:4160").unwrap().mute = true;
    w.advance(15 * SECOND + 5 * SECOND);
    let timeouts = w
        .logs
        .iter()
        .filter(|l| l.contains("no answer in time"))
        .count();
    assert_eq!(timeouts, 2, "{:?}", w.logs);
    assert_ne!(w.reg.status("l1:4160"), Some(PeerStatus::Ready));
    assert!(
        w.registered("l1:4160").is_empty(),
        "the dropped connection unregistered us"
    );
}

#[test]
fn a_connect_that_hangs_times_out() {
    let mut w = World::new(&["l1:4160"]);
    w.hold_connects = true;
    w.set(&["l1:4160"]);
    assert_eq!(w.reg.status("l1:4160"), Some(PeerStatus::Connecting));
    w.advance(SECOND);
    assert!(matches!(
        w.reg.status("l1:4160"),
        Some(PeerStatus::Waiting(_))
    ));
    // A late report about the abandoned attempt is ignored.
    let (conn, addr) = w.pending_connects.remove(0);
    w.hold_connects = false;
    w.open(conn, addr);
    w.pump();
    assert!(matches!(
        w.reg.status("l1:4160"),
        Some(PeerStatus::Waiting(_))
    ));
}

#[test]
fn bad_answers_close_the_connection() {
    for answer in [
        &b"E_INVALID"[..],
        b"not json",
        b"E_BAD_BODY IDENTIFY missing fields",
    ] {
        let mut w = World::new(&["l1:4160"]);
        w.lookupds.get_mut("l1:4160").unwrap().identify_answer = Some(answer.to_vec());
        w.set(&["l1:4160"]);
        assert!(
            matches!(w.reg.status("l1:4160"), Some(PeerStatus::Waiting(_))),
            "{answer:?}"
        );
        assert!(w.conns.is_empty());
        assert!(w.reg.lookupd_http_addresses().is_empty());
    }
    // An answer bigger than --max-body-size, or of negative size.
    for size in [5 * 1024 * 1024 + 1, -1i32 as u32] {
        let mut w = World::new(&["l1:4160"]);
        w.hold_connects = true;
        w.set(&["l1:4160"]);
        let (conn, _) = w.pending_connects[0].clone();
        w.reg.on_connected(conn, w.now);
        w.reg.on_data(conn, &size.to_be_bytes(), w.now);
        let actions: Vec<Action> = std::iter::from_fn(|| w.reg.poll_action()).collect();
        assert!(actions.contains(&Action::Close { conn }), "{actions:?}");
        assert!(matches!(
            w.reg.status("l1:4160"),
            Some(PeerStatus::Waiting(_))
        ));
    }
}

#[test]
fn answers_split_anywhere_are_reassembled() {
    let mut w = World::new(&["l1:4160"]);
    w.hold_connects = true;
    w.set(&["l1:4160"]);
    let (conn, _) = w.pending_connects[0].clone();
    w.reg.on_connected(conn, w.now);
    let mut answer = Vec::new();
    put_response(&mut answer, br#"{"broadcast_address":"a::1","http_port":9,"tcp_port":8,"version":"1.3.0","hostname":"h"}"#);
    for b in answer.chunks(3) {
        w.reg.on_data(conn, b, w.now);
    }
    assert_eq!(w.reg.status("l1:4160"), Some(PeerStatus::Ready));
    assert_eq!(w.reg.lookupd_http_addresses(), ["[a::1]:9"]);
    // The learned address survives a disconnect, as in NSQ.
    w.reg.on_closed(conn, "EOF", w.now);
    assert_eq!(w.reg.lookupd_http_addresses(), ["[a::1]:9"]);
}

#[test]
fn precreation_merges_sorts_and_skips_ephemeral_channels() {
    let got = channels_to_precreate(vec![
        vec!["b".to_string(), "a#ephemeral".to_string()],
        vec!["a".to_string(), "b".to_string()],
        vec![],
    ]);
    assert_eq!(got, ["a", "b"]);
}
