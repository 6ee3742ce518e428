//! nsqd's durability on the real binary: kill -9 in the middle of a stream,
//! SIGTERM with messages in flight and deferred, taking over a data dir
//! written by Go nsqd, the data-path lock and --max-disk-bytes.

mod common;

use bytes::Bytes;
use common::{Client, Got, Nsqd};
use nsq_core::wire::command::encode;
use nsq_core::wire::Frame;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every message of a channel (FINing each), until none arrives for `quiet`.
fn drain(nsqd: &Nsqd, topic: &str, channel: &str, quiet: Duration) -> Vec<nsq_core::wire::Message> {
    let mut c = nsqd.client();
    c.send(format!("SUB {topic} {channel}\nRDY 2500\n").as_bytes());
    assert_eq!(c.response(), "OK");
    let mut got = Vec::new();
    loop {
        match c.read(quiet) {
            Got::Frame(Frame::Message(m)) => {
                c.send_with(|w| encode::fin(w, &m.id));
                got.push(m);
            }
            Got::Frame(Frame::Response(_)) => {}
            Got::Timeout => return got,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn restart(nsqd: Nsqd, extra: &[&str]) -> Nsqd {
    let Nsqd { proc, dir } = nsqd;
    drop(proc);
    Nsqd::start_in(dir, extra)
}

/// Publishes MPUB batches from several connections until stopped; returns
/// the bodies nsqd acknowledged.
fn publish_until_killed(nsqd: &Nsqd, topic: &'static str, stop_after: usize) -> BTreeSet<Bytes> {
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (tcp, acked) = (nsqd.tcp(), Arc::clone(&acked));
        workers.push(std::thread::spawn(move || {
            let mut c = Client::connect(tcp);
            c.send(b"  V2");
            for batch in 0.. {
                let bodies: Vec<Vec<u8>> = (0..50)
                    .map(|i| format!("w{w}-b{batch}-m{i}").into_bytes())
                    .collect();
                if c.stream
                    .write_all_ok(&{
                        let mut b = bytes::BytesMut::new();
                        encode::mpub(&mut b, topic, &bodies);
                        b
                    })
                    .is_err()
                {
                    return;
                }
                match c.read(Duration::from_secs(10)) {
                    Got::Frame(Frame::Response(r)) if &r[..] == b"OK" => {
                        acked
                            .lock()
                            .unwrap()
                            .extend(bodies.into_iter().map(Bytes::from));
                    }
                    _ => return,
                }
            }
        }));
    }
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < stop_after {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "publishing too slow"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut nsqd_proc_killed = acked.lock().unwrap().len();
    // kill -9 while the publishers are still going
    let status = std::process::Command::new("kill")
        .args(["-9", &nsqd.proc.pid().to_string()])
        .status();
    assert!(status.is_ok());
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();
    nsqd_proc_killed = acked.len().max(nsqd_proc_killed);
    assert!(nsqd_proc_killed >= stop_after);
    acked
}

trait WriteAllOk {
    fn write_all_ok(&mut self, b: &[u8]) -> std::io::Result<()>;
}

impl WriteAllOk for std::net::TcpStream {
    fn write_all_ok(&mut self, b: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(self, b)
    }
}

#[test]
fn kill_9_loses_no_acknowledged_message_with_sync_every_1() {
    let flags = ["--mem-queue-size=0", "--sync-every=1"];
    let nsqd = Nsqd::start(&flags);
    // one topic with a channel (messages go to the channel's queue) and
    // one without (they stay in the topic's queue)
    let mut c = nsqd.client();
    c.send(b"SUB with_channel ch\n");
    assert_eq!(c.response(), "OK");
    drop(c);
    let acked_ch = publish_until_killed(&nsqd, "with_channel", 50_000);
    let nsqd = restart(nsqd, &flags);
    let acked_topic = publish_until_killed(&nsqd, "no_channel", 50_000);
    let nsqd = restart(nsqd, &flags);

    for (topic, acked) in [("with_channel", acked_ch), ("no_channel", acked_topic)] {
        let got: BTreeSet<Bytes> = drain(&nsqd, topic, "ch", Duration::from_secs(2))
            .into_iter()
            .map(|m| m.body)
            .collect();
        let lost: Vec<_> = acked.difference(&got).take(5).collect();
        assert!(
            lost.is_empty(),
            "{topic}: {} of {} acknowledged messages lost, e.g. {lost:?}",
            acked.difference(&got).count(),
            acked.len()
        );
        assert!(
            got.iter().all(|b| b.starts_with(b"w")),
            "{topic}: nothing invented"
        );
    }
}

#[test]
fn sigterm_keeps_queued_in_flight_and_deferred_messages_and_their_deadlines() {
    let mut nsqd = Nsqd::start(&[]);
    let mut p = nsqd.client();
    for i in 0..10 {
        p.send_with(|w| encode::publish(w, "t", format!("m{i}").as_bytes()));
        assert_eq!(p.response(), "OK");
    }
    let started = Instant::now();
    p.send_with(|w| encode::dpub(w, "t", 4000, b"dpub-later"));
    assert_eq!(p.response(), "OK");
    let mut c = nsqd.client();
    c.send(b"SUB t ch\nRDY 4\n");
    assert_eq!(c.response(), "OK");
    let held: Vec<_> = (0..4).map(|_| c.message()).collect();
    // one goes back with a delay, three stay in flight; six are queued
    c.send_with(|w| encode::req(w, &held[0].id, 4000));
    std::thread::sleep(Duration::from_millis(200));
    let status = nsqd.proc.signal_and_wait("-TERM");
    assert!(status.success(), "{status:?}");
    let meta = std::fs::read_to_string(nsqd.dir.path().join("nsqd.dat")).unwrap();
    assert!(
        meta.contains(r#""name":"t""#) && meta.contains(r#""name":"ch""#),
        "{meta}"
    );

    let nsqd = restart(nsqd, &[]);
    let mut c = nsqd.client();
    c.send(b"SUB t ch\nRDY 100\n");
    assert_eq!(c.response(), "OK");
    let mut now_bodies = BTreeMap::new();
    loop {
        match c.read(Duration::from_millis(1500)) {
            Got::Frame(Frame::Message(m)) => {
                c.send_with(|w| encode::fin(w, &m.id));
                now_bodies.insert(m.body.clone(), m.attempts);
            }
            Got::Timeout => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_millis(3800),
        "restart took too long to judge deferral"
    );
    let want_now: BTreeSet<Bytes> = (1..10).map(|i| Bytes::from(format!("m{i}"))).collect();
    assert_eq!(
        now_bodies.keys().cloned().collect::<BTreeSet<_>>(),
        want_now,
        "queued and in-flight come back at once"
    );
    for h in &held[1..] {
        assert_eq!(
            now_bodies[&h.body], 2,
            "in-flight messages kept their attempts"
        );
    }
    // the deferred ones are still deferred, until their original time
    let mut later = BTreeSet::new();
    while later.len() < 2 {
        match c.read(Duration::from_secs(6)) {
            Got::Frame(Frame::Message(m)) => {
                assert!(
                    started.elapsed() >= Duration::from_millis(3900),
                    "{:?} came early, at {:?}",
                    m.body,
                    started.elapsed()
                );
                c.send_with(|w| encode::fin(w, &m.id));
                later.insert(m.body);
            }
            other => panic!("deferred messages did not come back: {other:?}"),
        }
    }
    assert_eq!(
        later,
        [Bytes::from_static(b"m0"), Bytes::from_static(b"dpub-later")]
            .into_iter()
            .collect()
    );
}

#[test]
fn takes_over_a_data_dir_written_by_go_nsqd() {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(common::fixtures().join("go-datadir-v1.3.0")).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "MANIFEST.md" {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    let nsqd = Nsqd::start_in(dir, &["--mem-queue-size=0", "--max-bytes-per-file=2048"]);
    let c1 = drain(&nsqd, "alpha", "c1", Duration::from_millis(800));
    let bodies: Vec<String> = c1
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    let mut want: Vec<String> = (10..100).map(|i| format!("alpha-{i:03}")).collect();
    want.extend(["alpha-deferred-0".into(), "alpha-deferred-1".into()]);
    assert_eq!(bodies, want);
    assert!(c1.iter().all(|m| m.attempts == 1));

    let only = drain(&nsqd, "beta", "only", Duration::from_millis(800));
    let mut hist = BTreeMap::new();
    for m in &only {
        *hist.entry(m.attempts).or_insert(0) += 1;
    }
    assert_eq!(
        hist,
        [(1, 17), (2, 3)].into_iter().collect(),
        "as Go delivers them"
    );

    // c2 is paused: nothing comes
    let mut c = nsqd.client();
    c.send(b"SUB alpha c2\nRDY 10\n");
    assert_eq!(c.response(), "OK");
    assert!(
        matches!(c.read(Duration::from_millis(1000)), Got::Timeout),
        "paused channels stay paused"
    );

    // gamma has no channel: its first channel gets the topic's five
    let gamma = drain(&nsqd, "gamma", "verify", Duration::from_millis(800));
    let bodies: Vec<String> = gamma
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    assert_eq!(
        bodies,
        (0..5).map(|i| format!("gamma-{i}")).collect::<Vec<_>>()
    );
}

#[test]
fn two_nsqd_cannot_share_a_data_path() {
    let first = Nsqd::start(&[]);
    let path = first.dir.path().display().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nsqd"))
        .args([
            "--tcp-address=127.0.0.1:0",
            "--http-address=127.0.0.1:0",
            &format!("--data-path={path}"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path) && err.contains("in use"), "{err}");
}

#[test]
fn max_disk_bytes_refuses_with_a_clear_reason_and_keeps_what_it_took() {
    let nsqd = Nsqd::start(&["--mem-queue-size=0", "--max-disk-bytes=20000"]);
    let mut p = nsqd.client();
    let mut acked = Vec::new();
    let err = loop {
        let body = format!("{:0>200}", acked.len());
        p.send_with(|w| encode::publish(w, "full", body.as_bytes()));
        match p.frame() {
            Frame::Response(_) => acked.push(Bytes::from(body)),
            Frame::Error(e) => break String::from_utf8_lossy(&e).into_owned(),
            other => panic!("{other:?}"),
        }
        assert!(acked.len() < 1000, "never refused");
    };
    assert!(
        err.starts_with("E_PUB_FAILED PUB failed disk queue full"),
        "{err}"
    );
    assert!(err.contains("--max-disk-bytes=20000"), "{err}");
    let got: Vec<Bytes> = drain(&nsqd, "full", "c", Duration::from_millis(800))
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(got, acked);
}
