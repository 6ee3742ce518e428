//! The consumer's rules under a fake clock.

use super::lookup::parse_lookup;
use super::*;
use crate::io::{Nanos, SECOND};
use std::collections::BTreeMap;
use std::time::Duration;

const T0: Nanos = 1_000 * SECOND;

fn cfg(max_in_flight: i64) -> Config {
    let mut c = Config::new("test");
    c.max_in_flight = max_in_flight;
    c
}

/// Drains actions, keeping the latest RDY per connection.
#[derive(Default)]
struct Wire {
    rdy: BTreeMap<ConnId, i64>,
    connects: Vec<String>,
    queries: Vec<String>,
    closes: Vec<ConnId>,
}

impl Wire {
    fn drain(&mut self, s: &mut ConsumerState) {
        while let Some(a) = s.poll_action() {
            match a {
                Action::Rdy { conn, count } => {
                    self.rdy.insert(conn, count);
                }
                Action::Connect { addr } => self.connects.push(addr),
                Action::QueryLookupd { url } => self.queries.push(url),
                Action::StartClose { conn } => self.closes.push(conn),
            }
        }
    }

    fn sum(&self) -> i64 {
        self.rdy.values().sum()
    }
}

fn connect(s: &mut ConsumerState, w: &mut Wire, id: ConnId, now: Nanos) {
    let addr = format!("10.0.0.{id}:4150");
    assert!(s.begin_connect(&addr));
    s.connected(id, &addr, 2500, now);
    w.drain(s);
}

fn lookup_json(ports: &[u16]) -> Vec<u8> {
    let producers: Vec<String> = ports
        .iter()
        .map(|p| format!(r#"{{"broadcast_address":"127.0.0.1","tcp_port":{p},"http_port":1}}"#))
        .collect();
    format!(r#"{{"channels":[],"producers":[{}]}}"#, producers.join(",")).into_bytes()
}

#[test]
fn max_in_flight_is_spread_evenly_and_shrinks_for_new_connections() {
    let mut s = ConsumerState::new("t", cfg(100), 1, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    assert_eq!(w.rdy[&1], 100);
    connect(&mut s, &mut w, 2, T0);
    // the new connection can only have what the first left over at first...
    assert_eq!(s.total_rdy(), 100);
    assert!(w.sum() <= 100);
    connect(&mut s, &mut w, 3, T0);
    connect(&mut s, &mut w, 4, T0);
    // ...and once every share was applied everyone holds 25
    for id in 1..=4 {
        s.update_rdy(id, 25, T0).unwrap();
    }
    w.drain(&mut s);
    assert_eq!(
        w.rdy.values().copied().collect::<Vec<_>>(),
        [25, 25, 25, 25]
    );
    assert_eq!(s.total_rdy(), 100);
}

#[test]
fn rdy_never_exceeds_max_in_flight_in_total() {
    let mut s = ConsumerState::new("t", cfg(10), 3, T0);
    let mut w = Wire::default();
    for id in 1..=7 {
        connect(&mut s, &mut w, id, T0);
        assert!(s.total_rdy() <= 10, "after {id} connections");
        assert_eq!(w.sum(), s.total_rdy());
    }
    assert_eq!(s.update_rdy(1, 500, T0), Ok(()));
    assert!(s.total_rdy() <= 10);
}

#[test]
fn the_servers_max_rdy_caps_a_connection() {
    let mut s = ConsumerState::new("t", cfg(5000), 3, T0);
    let mut w = Wire::default();
    assert!(s.begin_connect("a:1"));
    s.connected(9, "a:1", 2500, T0);
    w.drain(&mut s);
    assert_eq!(w.rdy[&9], 2500);
}

#[test]
fn more_connections_than_max_in_flight_get_rdy_redistributed() {
    let mut c = cfg(2);
    c.rdy_redistribute_interval = Duration::from_secs(5);
    c.low_rdy_idle_timeout = Duration::from_secs(10);
    let mut s = ConsumerState::new("t", c, 42, T0);
    let mut w = Wire::default();
    for id in 1..=5 {
        connect(&mut s, &mut w, id, T0);
    }
    let holders = |w: &Wire| w.rdy.iter().filter(|(_, &n)| n > 0).count();
    assert_eq!(s.total_rdy(), 2);
    assert_eq!(holders(&w), 2);
    let first: Vec<ConnId> = w
        .rdy
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(&i, _)| i)
        .collect();

    // no messages arrive: after the idle timeout the RDY moves around
    let mut seen_holders = std::collections::BTreeSet::new();
    let mut now = T0;
    for _ in 0..40 {
        now += 5 * SECOND;
        s.tick(now);
        w.drain(&mut s);
        assert!(s.total_rdy() <= 2);
        assert_eq!(w.sum(), s.total_rdy());
        for (&id, &n) in &w.rdy {
            if n > 0 {
                seen_holders.insert(id);
            }
        }
    }
    assert!(
        seen_holders.len() > first.len(),
        "RDY never moved: {seen_holders:?}"
    );

    // a busy connection keeps its RDY
    let busy = *w.rdy.iter().find(|(_, &n)| n > 0).unwrap().0;
    for _ in 0..10 {
        now += 5 * SECOND;
        s.message(busy, now);
        s.finished(busy, now);
        s.tick(now);
        w.drain(&mut s);
        assert_eq!(w.rdy[&busy], 1, "busy connection lost its RDY");
    }
}

#[test]
fn a_starved_connection_retries_its_rdy_later() {
    let mut s = ConsumerState::new("t", cfg(1), 5, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    connect(&mut s, &mut w, 2, T0);
    assert_eq!(w.rdy.get(&2), None);
    assert_eq!(s.next_deadline(), Some(T0 + 5 * SECOND));
    // the first connection leaves: the retry gives the second its RDY
    s.closed(1, T0 + SECOND);
    w.drain(&mut s);
    s.tick(T0 + 5 * SECOND);
    w.drain(&mut s);
    assert_eq!(w.rdy[&2], 1);
    assert_eq!(s.total_rdy(), 1);
}

#[test]
fn closing_a_connection_gives_its_share_to_the_others() {
    let mut s = ConsumerState::new("t", cfg(100), 1, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    connect(&mut s, &mut w, 2, T0);
    s.update_rdy(1, 50, T0).unwrap();
    s.update_rdy(2, 50, T0).unwrap();
    w.drain(&mut s);
    s.closed(2, T0);
    w.drain(&mut s);
    assert_eq!(w.rdy[&1], 100);
    assert_eq!(s.total_rdy(), 100);
}

#[test]
fn failures_back_off_to_rdy_zero_then_probe_with_rdy_one() {
    let mut s = ConsumerState::new("t", cfg(10), 1, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    connect(&mut s, &mut w, 2, T0);
    s.update_rdy(1, 5, T0).unwrap();
    s.update_rdy(2, 5, T0).unwrap();
    w.drain(&mut s);

    // a failure: everything to RDY 0 for 2s (level 1)
    s.message(1, T0);
    s.requeued(1, true, T0);
    w.drain(&mut s);
    assert_eq!(w.sum(), 0);
    assert!(s.in_backoff_timeout());
    assert_eq!(s.backoff_level(), 1);
    s.tick(T0 + 2 * SECOND - 1);
    assert!(s.in_backoff_timeout());

    // results during the backoff period are ignored
    s.requeued(2, true, T0 + SECOND);
    assert_eq!(s.backoff_level(), 1);

    // the period ends: one connection probes with RDY 1
    s.tick(T0 + 2 * SECOND);
    w.drain(&mut s);
    assert_eq!(w.sum(), 1);
    assert!(!s.in_backoff_timeout());
    let probe = *w.rdy.iter().find(|(_, &n)| n == 1).unwrap().0;

    // the probe fails again: level 2, 4s
    let t = T0 + 3 * SECOND;
    s.message(probe, t);
    s.requeued(probe, true, t);
    w.drain(&mut s);
    assert_eq!(s.backoff_level(), 2);
    assert_eq!(w.sum(), 0);
    s.tick(t + 4 * SECOND - 1);
    assert!(s.in_backoff_timeout());

    // two successes bring the level back to 0 and everyone to full RDY
    let t = t + 4 * SECOND;
    s.tick(t);
    w.drain(&mut s);
    let probe = *w.rdy.iter().find(|(_, &n)| n == 1).unwrap().0;
    s.message(probe, t);
    s.finished(probe, t);
    w.drain(&mut s);
    assert_eq!(s.backoff_level(), 1);
    assert_eq!(w.sum(), 0, "still backing off at level 1");
    let t = t + 2 * SECOND;
    s.tick(t);
    w.drain(&mut s);
    let probe = *w.rdy.iter().find(|(_, &n)| n == 1).unwrap().0;
    s.message(probe, t);
    s.finished(probe, t);
    w.drain(&mut s);
    assert_eq!(s.backoff_level(), 0);
    assert!(!s.in_backoff());
    assert_eq!(w.rdy.values().copied().collect::<Vec<_>>(), [5, 5]);
}

#[test]
fn backoff_stops_growing_at_the_max_duration() {
    let mut c = cfg(1);
    c.max_backoff_duration = Duration::from_secs(8);
    let mut s = ConsumerState::new("t", c, 1, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    let mut now = T0;
    for _ in 0..10 {
        s.requeued(1, true, now);
        now = s.next_deadline().unwrap();
        s.tick(now);
        w.drain(&mut s);
    }
    assert_eq!(s.backoff_level(), 3, "2s, 4s, 8s; 16s would exceed 8s");
}

#[test]
fn requeue_without_backoff_does_not_back_off_and_zero_max_disables_it() {
    let mut s = ConsumerState::new("t", cfg(4), 1, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    s.requeued(1, false, T0);
    assert!(!s.in_backoff());
    let mut c = cfg(4);
    c.max_backoff_duration = Duration::ZERO;
    let mut s = ConsumerState::new("t", c, 1, T0);
    connect(&mut s, &mut w, 1, T0);
    s.requeued(1, true, T0);
    assert!(!s.in_backoff());
    assert_eq!(s.rdy(1), Some(4));
}

#[test]
fn max_in_flight_zero_pauses_and_back_resumes() {
    let mut s = ConsumerState::new("t", cfg(8), 1, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    s.set_max_in_flight(0, T0);
    w.drain(&mut s);
    assert_eq!(w.rdy[&1], 0);
    s.set_max_in_flight(8, T0);
    w.drain(&mut s);
    assert_eq!(w.rdy[&1], 8);
}

#[test]
fn starvation_is_reported_at_85_percent_in_flight() {
    let mut s = ConsumerState::new("t", cfg(10), 1, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    for _ in 0..7 {
        s.message(1, T0);
    }
    assert!(!s.is_starved());
    s.message(1, T0);
    assert!(s.is_starved());
}

#[test]
fn lookupd_discovery_connects_new_nsqd_and_lets_vanished_ones_go() {
    let mut c = cfg(10);
    c.lookupd_poll_interval = Duration::from_secs(60);
    c.lookupd_poll_jitter = 0.3;
    let mut s = ConsumerState::new("orders", c, 9, T0);
    let mut w = Wire::default();
    s.add_lookupd("127.0.0.1:4161", T0).unwrap();
    w.drain(&mut s);
    // the first lookupd is queried at once
    assert_eq!(w.queries, ["http://127.0.0.1:4161/lookup?topic=orders"]);
    let url = w.queries.remove(0);
    s.lookup_answer(&url, parse_lookup(&lookup_json(&[4150, 4152]), true), T0);
    w.drain(&mut s);
    assert_eq!(w.connects, ["127.0.0.1:4150", "127.0.0.1:4152"]);
    s.connected(1, "127.0.0.1:4150", 2500, T0);
    s.connected(2, "127.0.0.1:4152", 2500, T0);
    w.drain(&mut s);
    w.connects.clear();

    // the next poll comes after the interval plus a jitter of at most 30%
    let mut now = T0;
    while w.queries.is_empty() {
        now = s.next_deadline().unwrap();
        s.tick(now);
        w.drain(&mut s);
    }
    assert!(
        (T0 + 60 * SECOND..=T0 + 78 * SECOND).contains(&now),
        "polled at {now}"
    );
    assert_eq!(w.queries.len(), 1);
    // a new nsqd appeared, 4150 vanished from lookupd
    let url = w.queries.remove(0);
    s.lookup_answer(&url, parse_lookup(&lookup_json(&[4152, 4154]), true), now);
    w.drain(&mut s);
    assert_eq!(w.connects, ["127.0.0.1:4154"]);
    s.connected(3, "127.0.0.1:4154", 2500, now);
    w.connects.clear();

    // 4150's connection drops: lookupd is asked again, and since it no
    // longer lists 4150 it is not redialled
    s.closed(1, now);
    w.drain(&mut s);
    assert_eq!(w.queries.len(), 1);
    let url = w.queries.remove(0);
    s.lookup_answer(&url, parse_lookup(&lookup_json(&[4152, 4154]), true), now);
    w.drain(&mut s);
    assert!(w.connects.is_empty());
    assert_eq!(s.stats().connections, 2);
}

#[test]
fn a_failed_lookupd_query_tries_the_next_lookupd() {
    let mut s = ConsumerState::new("t", cfg(1), 1, T0);
    let mut w = Wire::default();
    s.add_lookupd("a:1", T0).unwrap();
    s.add_lookupd("b:2", T0).unwrap();
    s.add_lookupd("a:1", T0).unwrap();
    w.drain(&mut s);
    assert_eq!(w.queries, ["http://a:1/lookup?topic=t"]);
    s.lookup_answer(&w.queries[0].clone(), Err("refused".into()), T0);
    w.drain(&mut s);
    assert_eq!(w.queries[1], "http://b:2/lookup?topic=t");
    s.lookup_answer(&w.queries[1].clone(), Err("refused".into()), T0);
    s.lookup_answer("http://a:1/lookup?topic=t", Err("refused".into()), T0);
    w.drain(&mut s);
    // three tries, then it waits for the next poll
    assert_eq!(w.queries.len(), 3);
    assert!(s.add_lookupd("nohost", T0).is_err());
}

#[test]
fn direct_nsqd_are_redialled_every_poll_interval() {
    let mut c = cfg(1);
    c.lookupd_poll_interval = Duration::from_secs(15);
    let mut s = ConsumerState::new("t", c, 1, T0);
    let mut w = Wire::default();
    assert!(s.begin_connect("n:1"));
    assert!(!s.begin_connect("n:1"), "already connecting");
    s.connected(1, "n:1", 2500, T0);
    s.closed(1, T0);
    w.drain(&mut s);
    assert!(w.connects.is_empty());
    s.tick(T0 + 15 * SECOND);
    w.drain(&mut s);
    assert_eq!(w.connects, ["n:1"]);
    // the redial fails: again one interval later
    s.connect_failed("n:1", T0 + 16 * SECOND);
    s.tick(T0 + 31 * SECOND);
    w.drain(&mut s);
    assert_eq!(w.connects, ["n:1", "n:1"]);
    // once forgotten, never again
    s.connect_failed("n:1", T0 + 31 * SECOND);
    assert_eq!(s.disconnect_nsqd("n:1"), Ok(None));
    s.tick(T0 + 100 * SECOND);
    w.drain(&mut s);
    assert_eq!(w.connects.len(), 2);
}

#[test]
fn stop_closes_every_connection_and_stops_dialling() {
    let mut s = ConsumerState::new("t", cfg(4), 1, T0);
    let mut w = Wire::default();
    connect(&mut s, &mut w, 1, T0);
    connect(&mut s, &mut w, 2, T0);
    s.stop();
    w.drain(&mut s);
    assert_eq!(w.closes, [1, 2]);
    assert!(!s.is_stopped());
    s.closed(1, T0);
    s.closed(2, T0);
    w.drain(&mut s);
    assert!(s.is_stopped());
    assert!(w.connects.is_empty());
    assert!(!s.begin_connect("x:1"));
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut s = ConsumerState::new("t", cfg(3), seed, T0);
        let mut w = Wire::default();
        for id in 1..=9 {
            connect(&mut s, &mut w, id, T0);
        }
        let mut log = Vec::new();
        for i in 1..30 {
            s.tick(T0 + i * 5 * SECOND);
            while let Some(a) = s.poll_action() {
                log.push(a);
            }
        }
        log
    };
    assert_eq!(run(11), run(11));
    assert!(!run(11).is_empty());
}
