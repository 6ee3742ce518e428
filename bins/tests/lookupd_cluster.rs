//! Discovery end to end: real nsqd and nsqlookupd binaries on loopback.
//! Topics and channels created on an nsqd show up in every lookupd with the
//! nsqd's broadcast address and ports, vanish when the nsqd dies, come back
//! in full when a lookupd restarts, and bad lookup protocol input gets NSQ's
//! errors without disturbing the registered nsqds.

mod common;

use common::{eventually, Client, Nsqd, Nsqlookupd};
use nsq_core::wire::command::encode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn nsqd(lookupds: &[&Nsqlookupd], http_port: u16) -> Nsqd {
    let mut args: Vec<String> = lookupds
        .iter()
        .map(|l| format!("--lookupd-tcp-address={}", l.tcp()))
        .collect();
    // nsqd has no HTTP listener yet; announce a port explicitly.
    args.push(format!("--broadcast-http-port={http_port}"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Nsqd::start(&refs)
}

fn publish(n: &Nsqd, topic: &str, body: &[u8]) {
    let mut c = n.client();
    c.send_with(|w| encode::publish(w, topic, body));
    assert_eq!(c.response(), "OK");
}

fn subscribe(n: &Nsqd, topic: &str, channel: &str) -> Client {
    let mut c = n.client();
    c.send_with(|w| encode::sub(w, topic, channel));
    assert_eq!(c.response(), "OK");
    c
}

/// The producers of `topic` on lookupd `l`, as `host:tcp:http`.
fn producers(l: &Nsqlookupd, topic: &str) -> Option<BTreeSet<String>> {
    let r = l.get(&format!("/lookup?topic={topic}"));
    if r.status != 200 {
        return None;
    }
    let v = r.json();
    Some(
        v["producers"]
            .as_array()?
            .iter()
            .map(|p| {
                format!(
                    "{}:{}:{}",
                    p["broadcast_address"].as_str().unwrap_or(""),
                    p["tcp_port"],
                    p["http_port"]
                )
            })
            .collect(),
    )
}

fn me(n: &Nsqd, http_port: u16) -> String {
    format!("127.0.0.1:{}:{http_port}", n.tcp().port())
}

fn set(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

/// Waits until `topic`'s producers on `l` are exactly `want`.
fn until_producers(l: &Nsqlookupd, topic: &str, want: &[String]) {
    let want = set(want);
    let got = eventually(WAIT, || producers(l, topic).filter(|p| *p == want));
    assert!(
        got.is_some(),
        "{topic} on {}: wanted {want:?}, have {:?}",
        l.http(),
        producers(l, topic)
    );
}

/// Registration keys on `l` that have a producer with `http_port`.
fn registrations_of(l: &Nsqlookupd, http_port: u16) -> BTreeSet<String> {
    let v = l.get("/debug").json();
    v.as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, ps)| {
                    ps.as_array()
                        .is_some_and(|a| a.iter().any(|p| p["http_port"] == http_port))
                })
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn topics_reach_every_lookupd_and_leave_with_their_nsqd() {
    let l1 = Nsqlookupd::start(&[]);
    let l2 = Nsqlookupd::start(&[]);
    let mut n1 = nsqd(&[&l1, &l2], 14151);
    let n2 = nsqd(&[&l1, &l2], 24151);

    publish(&n1, "orders", b"first");
    for l in [&l1, &l2] {
        until_producers(l, "orders", &[me(&n1, 14151)]);
        let p = &l.get("/lookup?topic=orders").json()["producers"][0];
        assert_eq!(p["version"], "1.3.0");
        assert!(p["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    }

    // Channels registered by n1, an ephemeral one too.
    let _billing = subscribe(&n1, "orders", "billing");
    let _shipping = subscribe(&n1, "orders", "shipping");
    let _tmp = subscribe(&n1, "orders", "tmp#ephemeral");
    for l in [&l1, &l2] {
        let chans = eventually(WAIT, || {
            let v = l.get("/channels?topic=orders").json();
            (v["channels"].as_array()?.len() == 3).then_some(v)
        });
        assert_eq!(
            chans.expect("3 channels")["channels"],
            json!(["billing", "shipping", "tmp#ephemeral"])
        );
    }

    // A topic new to n2 gets the channels the lookupds know before its first
    // message flows: every (non-ephemeral) channel gets that message.
    publish(&n2, "orders", b"to-every-channel");
    for l in [&l1, &l2] {
        until_producers(l, "orders", &[me(&n1, 14151), me(&n2, 24151)]);
        let want: BTreeSet<String> = [
            "channel:orders:billing",
            "channel:orders:shipping",
            "client::",
            "topic:orders:",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got = eventually(WAIT, || {
            Some(registrations_of(l, 24151)).filter(|r| *r == want)
        });
        assert!(
            got.is_some(),
            "n2 on {}: {:?}",
            l.http(),
            registrations_of(l, 24151)
        );
    }
    for ch in ["billing", "shipping"] {
        let mut c = subscribe(&n2, "orders", ch);
        c.send(b"RDY 10\n");
        let m = c.message();
        assert_eq!(&m.body[..], b"to-every-channel", "channel {ch}");
    }

    // Killing n1 removes it from every lookupd; n2 stays.
    n1.proc.signal_and_wait("-KILL");
    for l in [&l1, &l2] {
        until_producers(l, "orders", &[me(&n2, 24151)]);
        assert!(registrations_of(l, 14151).is_empty());
    }
}

#[test]
fn a_restarted_lookupd_is_fully_repopulated() {
    let mut l = Nsqlookupd::start(&[]);
    let n = nsqd(&[&l], 4151);
    let _x = subscribe(&n, "a", "x");
    let _y = subscribe(&n, "a", "y");
    publish(&n, "b", b"m");
    let want: BTreeSet<String> = [
        "channel:a:x",
        "channel:a:y",
        "client::",
        "topic:a:",
        "topic:b:",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert!(eventually(WAIT, || Some(registrations_of(&l, 4151))
        .filter(|r| *r == want))
    .is_some());

    let (tcp, http) = (l.tcp().to_string(), l.http().to_string());
    l.proc.signal_and_wait("-KILL");
    // Changes while the lookupd is away are part of the re-sync.
    publish(&n, "c", b"m");
    let l = Nsqlookupd::start_on(&tcp, &http, &[]);
    let mut want = want;
    want.insert("topic:c:".into());
    let got = eventually(WAIT, || {
        Some(registrations_of(&l, 4151)).filter(|r| *r == want)
    });
    assert!(
        got.is_some(),
        "after restart: {:?}",
        registrations_of(&l, 4151)
    );
    let identifies = l
        .proc
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("IDENTIFY Address:"))
        .count();
    assert_eq!(identifies, 1, "repopulated by a single reconnect");
    until_producers(&l, "a", &[me(&n, 4151)]);
    assert_eq!(
        l.get("/channels?topic=a").json()["channels"],
        json!(["x", "y"])
    );
}

#[test]
fn malformed_lookup_input_gets_nsqs_errors_and_leaves_other_peers_alone() {
    let l = Nsqlookupd::start(&[]);
    let n = nsqd(&[&l], 4151);
    publish(&n, "t", b"m");
    until_producers(&l, "t", &[me(&n, 4151)]);

    let id = r#"{"broadcast_address":"127.0.0.1","tcp_port":1,"http_port":2,"version":"1.3.0"}"#;
    let cases: Vec<(Vec<u8>, bool, &str)> = vec![
        (
            b"BOGUS\n".to_vec(),
            false,
            "E_INVALID invalid command BOGUS",
        ),
        (
            b"REGISTER t\n".to_vec(),
            false,
            "E_INVALID client must IDENTIFY",
        ),
        (
            b"UNREGISTER t\n".to_vec(),
            false,
            "E_INVALID client must IDENTIFY",
        ),
        (
            b"REGISTER bad!topic\n".to_vec(),
            true,
            "E_BAD_TOPIC REGISTER topic name 'bad!topic' is not valid",
        ),
        (
            b"REGISTER t bad!ch\n".to_vec(),
            true,
            "E_BAD_CHANNEL REGISTER channel name 'bad!ch' is not valid",
        ),
        (
            b"UNREGISTER\n".to_vec(),
            true,
            "E_INVALID UNREGISTER insufficient number of params",
        ),
        (
            common::identify_cmd(id.as_bytes()),
            true,
            "E_INVALID cannot IDENTIFY again",
        ),
        (
            common::identify_cmd(b"{}"),
            false,
            "E_BAD_BODY IDENTIFY missing fields",
        ),
        (
            common::identify_cmd(b"[1,2]"),
            false,
            "E_BAD_BODY IDENTIFY failed to decode JSON body",
        ),
        (
            b"IDENTIFY\n\xff\xff\xff\xff".to_vec(),
            false,
            "E_BAD_BODY IDENTIFY invalid body size -1",
        ),
    ];
    for (bytes, identify_first, want) in cases {
        let mut c = l.client();
        if identify_first {
            assert!(c.identify(id).starts_with('{'));
        }
        c.send(&bytes);
        assert_eq!(c.response(), want);
        assert!(
            c.closed_within(Duration::from_secs(5)),
            "{want}: not closed"
        );
    }
    // Bad magic, and a client that vanishes inside an IDENTIFY body.
    let mut c = common::LookupClient::connect(l.tcp());
    c.send(b"  V2");
    assert_eq!(c.response(), "E_BAD_PROTOCOL");
    let mut c = l.client();
    c.send(b"IDENTIFY\n\x00\x00\x00\x10{\"x\"");
    c.stream.shutdown(std::net::Shutdown::Write).ok();
    assert_eq!(c.response(), "E_BAD_BODY IDENTIFY failed to read body");

    // The real nsqd was not disturbed: still listed, still registering.
    until_producers(&l, "t", &[me(&n, 4151)]);
    publish(&n, "after", b"m");
    until_producers(&l, "after", &[me(&n, 4151)]);
    let nodes: Value = l.get("/nodes").json();
    assert_eq!(nodes["producers"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_stopped_nsqd_unregisters_and_deleted_channels_follow() {
    let l = Nsqlookupd::start(&[]);
    let mut n = nsqd(&[&l], 4151);
    let c = subscribe(&n, "t", "e#ephemeral");
    let _keep = subscribe(&n, "t", "keep");
    assert!(eventually(WAIT, || {
        let v = l.get("/channels?topic=t").json();
        (v["channels"] == json!(["e#ephemeral", "keep"])).then_some(())
    })
    .is_some());
    // The ephemeral channel goes with its last consumer, in nsqd and lookupd.
    drop(c);
    let chans = eventually(WAIT, || {
        let v = l.get("/channels?topic=t").json();
        (v["channels"] == json!(["keep"])).then_some(v)
    });
    assert!(chans.is_some(), "{}", l.get("/channels?topic=t").text());
    // A clean stop (SIGTERM) closes the lookupd connection.
    assert!(n.proc.signal_and_wait("-TERM").success());
    until_producers(&l, "t", &[]);
}
