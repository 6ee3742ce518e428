//! nsqd's protocol V2 on the real binary: bad input gets NSQ's errors (fatal
//! ones close the connection) and never disturbs other clients; timeouts,
//! requeues and deferrals behave as NSQ's do.

mod common;

use bytes::Bytes;
use common::{Client, Nsqd};
use nsq_core::wire::command::encode;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn subscriber(nsqd: &Nsqd, topic: &str, channel: &str, rdy: u64) -> Client {
    let mut c = nsqd.client();
    c.send(format!("SUB {topic} {channel}\nRDY {rdy}\n").as_bytes());
    assert_eq!(c.response(), "OK");
    c
}

fn publish(c: &mut Client, topic: &str, body: &[u8]) {
    c.send_with(|w| encode::publish(w, topic, body));
    assert_eq!(c.response(), "OK");
}

/// A bad client: what it sends, the error it must get, whether we half-close first.
fn bad_clients() -> Vec<(Vec<u8>, Option<&'static str>)> {
    let mut long = b"  V2".to_vec();
    long.extend(vec![b'A'; 20_000]);
    vec![
        (b"  V3".to_vec(), Some("E_BAD_PROTOCOL")),
        (
            b"  V2BOGUS\n".to_vec(),
            Some("E_INVALID invalid command BOGUS"),
        ),
        (
            b"  V2PUB bad!topic\n".to_vec(),
            Some("E_BAD_TOPIC PUB topic name \"bad!topic\" is not valid"),
        ),
        (
            b"  V2SUB t bad!chan\n".to_vec(),
            Some("E_BAD_CHANNEL SUB channel name \"bad!chan\" is not valid"),
        ),
        (
            b"  V2PUB t\n\x00\x10\x00\x01".to_vec(),
            Some("E_BAD_MESSAGE PUB message too big 1048577 > 1048576"),
        ),
        (
            b"  V2MPUB t\n\x00\x60\x00\x00".to_vec(),
            Some("E_BAD_BODY MPUB body too big 6291456 > 5242880"),
        ),
        (
            b"  V2PUB t\n\x00\x00\x00\x0aabc".to_vec(),
            Some("E_BAD_MESSAGE PUB failed to read message body"),
        ),
        (
            b"  V2SUB steady ch\nRDY 2501\n".to_vec(),
            Some("E_INVALID RDY count 2501 out of range 0-2500"),
        ),
        (
            b"  V2SUB steady other\nSUB steady other\n".to_vec(),
            Some("E_INVALID cannot SUB in current state"),
        ),
        (
            b"  V2FIN 12345\n".to_vec(),
            Some("E_INVALID cannot FIN in current state"),
        ),
        (
            b"  V2\xff\xfe\x00garbage\n".to_vec(),
            Some("E_INVALID invalid command \u{fffd}\u{fffd}\u{0}garbage"),
        ),
        (long, None),
    ]
}

#[test]
fn bad_clients_get_nsqs_errors_and_nobody_else_loses_anything() {
    let nsqd = Nsqd::start(&[]);
    const N: usize = 6000;
    let consumer = {
        let tcp = nsqd.tcp();
        std::thread::spawn(move || {
            let mut c = Client::connect(tcp);
            c.send(b"  V2SUB steady ch\nRDY 200\n");
            assert_eq!(c.response(), "OK");
            let mut got = BTreeSet::new();
            while got.len() < N {
                let m = c.message();
                c.send_with(|w| encode::fin(w, &m.id));
                got.insert(m.body);
            }
            got
        })
    };
    let producer = {
        let tcp = nsqd.tcp();
        std::thread::spawn(move || {
            let mut p = Client::connect(tcp);
            p.send(b"  V2");
            for i in 0..N / 3 {
                p.send_with(|w| encode::publish(w, "steady", format!("m{i}").as_bytes()));
                assert_eq!(p.response(), "OK");
                let batch: Vec<Vec<u8>> = (0..2)
                    .map(|k| format!("m{}", N / 3 + 2 * i + k).into_bytes())
                    .collect();
                p.send_with(|w| encode::mpub(w, "steady", &batch));
                assert_eq!(p.response(), "OK");
            }
        })
    };
    for round in 0..3 {
        for (bytes, want) in bad_clients() {
            let mut c = Client::connect(nsqd.tcp());
            c.send(&bytes);
            if bytes.ends_with(b"abc") {
                c.shutdown_write(); // a truncated frame: the stream ends inside the body
            }
            if let Some(want) = want {
                assert_eq!(
                    c.first_error(),
                    want,
                    "round {round}: {:?}",
                    String::from_utf8_lossy(&bytes)
                );
            }
            assert!(
                c.closed_within(Duration::from_secs(2)),
                "fatal errors close: {want:?}"
            );
        }
    }
    producer.join().expect("producer");
    let got = consumer.join().expect("consumer");
    let want: BTreeSet<Bytes> = (0..N).map(|i| Bytes::from(format!("m{i}"))).collect();
    assert_eq!(got, want, "every message arrived, nothing else did");
}

#[test]
fn a_silent_client_is_closed_after_two_heartbeat_intervals() {
    let nsqd = Nsqd::start(&[]);
    let mut c = nsqd.client();
    c.send_with(|w| encode::identify(w, br#"{"heartbeat_interval":1000}"#));
    assert_eq!(c.response(), "OK");
    let t0 = Instant::now();
    let mut heartbeats = 0;
    loop {
        match c.read(Duration::from_secs(5)) {
            common::Got::Frame(nsq_core::wire::Frame::Response(b)) if &b[..] == b"_heartbeat_" => {
                heartbeats += 1
            }
            common::Got::Closed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let took = t0.elapsed();
    assert!(heartbeats >= 1, "heartbeats were sent");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "closed after {took:?}"
    );
}

#[test]
fn a_client_answering_heartbeats_stays() {
    let nsqd = Nsqd::start(&[]);
    let mut c = nsqd.client();
    c.send_with(|w| encode::identify(w, br#"{"heartbeat_interval":1000}"#));
    assert_eq!(c.response(), "OK");
    for _ in 0..4 {
        c.heartbeat();
        c.send(b"NOP\n");
    }
    publish(&mut c, "t", b"still here");
}

#[test]
fn timed_out_messages_go_to_another_consumer_with_more_attempts() {
    let nsqd = Nsqd::start(&["--msg-timeout=1s"]);
    let mut a = subscriber(&nsqd, "t", "c", 1);
    let mut p = nsqd.client();
    publish(&mut p, "t", b"job");
    let first = a.message();
    assert_eq!(first.attempts, 1);
    let mut b = subscriber(&nsqd, "t", "c", 1);
    let t0 = Instant::now();
    // a holds it without FIN; after msg-timeout it is requeued (to a or b)
    let again = loop {
        if let common::Got::Frame(nsq_core::wire::Frame::Message(m)) =
            b.read(Duration::from_millis(100))
        {
            break m;
        }
        if let common::Got::Frame(nsq_core::wire::Frame::Message(m)) =
            a.read(Duration::from_millis(100))
        {
            break m;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "never redelivered");
    };
    assert_eq!(
        (again.id, again.attempts, &again.body[..]),
        (first.id, 2, &b"job"[..])
    );
    // the old holder can no longer FIN it
    a.send_with(|w| encode::fin(w, &first.id));
    assert!(a.error().starts_with("E_FIN_FAILED"));
}

#[test]
fn req_defers_touch_extends_and_dpub_waits() {
    let nsqd = Nsqd::start(&["--msg-timeout=1500ms"]);
    let mut c = subscriber(&nsqd, "t", "c", 5);
    let mut p = nsqd.client();
    publish(&mut p, "t", b"one");
    let m = c.message();
    let t0 = Instant::now();
    c.send_with(|w| encode::req(w, &m.id, 700));
    let back = c.message();
    assert!(
        t0.elapsed() >= Duration::from_millis(650),
        "REQ 700ms came back after {:?}",
        t0.elapsed()
    );
    assert_eq!(back.attempts, 2);
    // TOUCH keeps it ours past the 1.5s timeout
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(700));
        c.send_with(|w| encode::touch(w, &back.id));
    }
    c.send_with(|w| encode::fin(w, &back.id));
    c.send(b"NOP\n");
    assert!(
        matches!(c.read(Duration::from_millis(300)), common::Got::Timeout),
        "nothing else arrives"
    );
    let t1 = Instant::now();
    p.send_with(|w| encode::dpub(w, "t", 800, b"later"));
    assert_eq!(p.response(), "OK");
    let d = c.message();
    assert_eq!(&d.body[..], b"later");
    assert!(
        t1.elapsed() >= Duration::from_millis(750),
        "DPUB 800ms came after {:?}",
        t1.elapsed()
    );
}

#[test]
fn ephemeral_channels_vanish_durable_ones_keep_their_backlog() {
    let nsqd = Nsqd::start(&[]);
    let mut p = nsqd.client();
    for ch in ["keep", "gone#ephemeral"] {
        let mut c = subscriber(&nsqd, "t", ch, 0);
        c.send(b"CLS\n");
        assert_eq!(c.response(), "CLOSE_WAIT");
        drop(c);
    }
    std::thread::sleep(Duration::from_millis(200));
    publish(&mut p, "t", b"while away");
    let mut keep = subscriber(&nsqd, "t", "keep", 1);
    assert_eq!(&keep.message().body[..], b"while away");
    let mut gone = subscriber(&nsqd, "t", "gone#ephemeral", 1);
    gone.send(b"NOP\n");
    assert!(
        matches!(gone.read(Duration::from_millis(300)), common::Got::Timeout),
        "the ephemeral channel was deleted"
    );
}

#[test]
fn max_channel_consumers_is_enforced() {
    let nsqd = Nsqd::start(&["--max-channel-consumers=1"]);
    let _a = subscriber(&nsqd, "t", "c", 1);
    let mut b = nsqd.client();
    b.send(b"SUB t c\n");
    assert_eq!(
        b.error(),
        "E_SUB_FAILED SUB failed consumers for t:c exceeds limit of 1"
    );
    assert!(b.closed_within(Duration::from_secs(2)));
}

#[test]
fn consumers_share_a_channel_and_every_channel_gets_everything() {
    let nsqd = Nsqd::start(&[]);
    let mut shared: Vec<Client> = (0..3)
        .map(|_| subscriber(&nsqd, "fan", "work", 50))
        .collect();
    let mut audit = subscriber(&nsqd, "fan", "audit", 2500);
    let mut p = nsqd.client();
    const N: usize = 3000;
    for chunk in (0..N).collect::<Vec<_>>().chunks(100) {
        let bodies: Vec<Vec<u8>> = chunk.iter().map(|i| format!("f{i}").into_bytes()).collect();
        p.send_with(|w| encode::mpub(w, "fan", &bodies));
        assert_eq!(p.response(), "OK");
    }
    let mut work = BTreeSet::new();
    let mut per = [0usize; 3];
    while work.len() < N {
        for (i, c) in shared.iter_mut().enumerate() {
            while let common::Got::Frame(nsq_core::wire::Frame::Message(m)) =
                c.read(Duration::from_millis(20))
            {
                c.send_with(|w| encode::fin(w, &m.id));
                assert!(
                    work.insert(m.body),
                    "each message to one consumer of the channel"
                );
                per[i] += 1;
            }
        }
    }
    assert!(
        per.iter().all(|&n| n > 0),
        "all consumers got work: {per:?}"
    );
    let mut seen = BTreeSet::new();
    while seen.len() < N {
        let m = audit.message();
        audit.send_with(|w| encode::fin(w, &m.id));
        seen.insert(m.body);
    }
}

#[test]
fn sigterm_stops_nsqd_cleanly() {
    let mut nsqd = Nsqd::start(&[]);
    let status = nsqd.proc.signal_and_wait("-TERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn fins_in_one_write_each_get_their_own_answer_in_order() {
    let nsqd = Nsqd::start(&[]);
    let mut c = subscriber(&nsqd, "t", "c", 10);
    let mut p = nsqd.client();
    for body in [&b"a"[..], b"b", b"c"] {
        publish(&mut p, "t", body);
    }
    let ms: Vec<_> = (0..3).map(|_| c.message()).collect();
    // FIN, FIN of an unknown id, FIN twice, a malformed FIN, then NOP: one
    // write, so nsqd gathers the FINs; the errors come in command order.
    let unknown = nsq_core::wire::MessageId(*b"0123456789abcdef");
    c.send_with(|w| {
        encode::fin(w, &ms[0].id);
        encode::fin(w, &unknown);
        encode::fin(w, &ms[1].id);
        encode::fin(w, &ms[1].id);
        w.extend_from_slice(b"FIN\n");
        encode::fin(w, &ms[2].id);
    });
    assert_eq!(
        c.error(),
        "E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight"
    );
    assert_eq!(
        c.error(),
        format!("E_FIN_FAILED FIN {} failed ID not in flight", ms[1].id)
    );
    assert_eq!(c.error(), "E_INVALID FIN insufficient number of params");
    assert!(
        c.closed_within(Duration::from_secs(2)),
        "E_INVALID is fatal"
    );
    let stats = nsqd.stats("&topic=t&channel=c");
    let ch = &stats["topics"][0]["channels"][0];
    assert_eq!(
        ch["in_flight_count"], 1,
        "the FIN after the fatal error never ran: {ch}"
    );
    assert_eq!(ch["message_count"], 3);
}
