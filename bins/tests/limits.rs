//! What a hostile or broken client can cost, on the real binary: a consumer
//! that stops reading holds a bounded amount of nsqd's memory however long
//! it stays, and a client that neither reads nor writes is closed when its
//! heartbeats expire, even while its answers are backed up.

mod common;

use common::{eventually, Nsqd};
use nsq_core::wire::command::encode;
use std::io::Write;
use std::time::{Duration, Instant};

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn identify(json: &str) -> Vec<u8> {
    let mut b = b"IDENTIFY\n".to_vec();
    b.extend_from_slice(&(json.len() as u32).to_be_bytes());
    b.extend_from_slice(json.as_bytes());
    b
}

#[test]
fn a_consumer_that_stops_reading_costs_bounded_memory() {
    let nsqd = Nsqd::start(&[]);
    let mut c = nsqd.client();
    // Messages time out every second and are requeued; heartbeats are rare
    // enough for the connection to stay.
    c.send(&identify(
        r#"{"feature_negotiation":true,"msg_timeout":1000,"heartbeat_interval":60000}"#,
    ));
    assert!(c.response().contains("\"msg_timeout\":1000"));
    c.send(b"SUB stall c\nRDY 2500\n");
    assert_eq!(c.response(), "OK");
    let body = vec![b'x'; 10_000];
    let mut p = nsqd.client();
    for _ in 0..25 {
        let batch: Vec<Vec<u8>> = (0..100).map(|_| body.clone()).collect();
        p.send_with(|w| encode::mpub(w, "stall", &batch));
        assert_eq!(p.response(), "OK");
    }
    // The consumer never reads again. Timeouts go on; memory must not grow.
    let pid = nsqd.proc.pid();
    std::thread::sleep(Duration::from_secs(3));
    let before = rss_kb(pid);
    std::thread::sleep(Duration::from_secs(6));
    let after = rss_kb(pid);
    // It grew about 24 MB a second when each timeout appended the frame again.
    assert!(
        after < before + 20_000,
        "RSS grew from {before} kB to {after} kB while a consumer stalled"
    );
    drop(c);
}

#[test]
fn a_silent_client_with_backed_up_answers_still_expires() {
    let nsqd = Nsqd::start(&[]);
    let mut c = nsqd.client();
    c.send(&identify(
        r#"{"feature_negotiation":true,"heartbeat_interval":1000}"#,
    ));
    assert!(c.response().contains("max_rdy_count"));
    // Publish (each answered with OK) without ever reading, until nsqd
    // stops reading too: its answers pile up past its back-pressure limit.
    // (An ephemeral topic without channels: the publishes cost nothing.)
    let mut s = c.stream.try_clone().unwrap();
    s.set_write_timeout(Some(Duration::from_millis(500))).ok();
    let mut cmds = bytes::BytesMut::new();
    for _ in 0..1000 {
        encode::publish(&mut cmds, "silent#ephemeral", b"x");
    }
    let t0 = Instant::now();
    while s.write_all(&cmds).is_ok() {
        assert!(t0.elapsed() < Duration::from_secs(60), "nsqd kept reading");
    }
    // Now it neither reads nor writes: closed after 2 heartbeats, as in Go.
    let closed = eventually(Duration::from_secs(10), || {
        nsqd.proc
            .logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("heartbeat expired"))
            .then_some(())
    });
    assert!(closed.is_some(), "the silent client was never closed");
}
