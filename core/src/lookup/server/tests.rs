use super::*;
use crate::io::SECOND;
use crate::lookup::db::Activity;
use crate::lookup::views;
use quickcheck::{Arbitrary, Gen, QuickCheck};

const NOW: Nanos = 1_700_000_000 * SECOND;
const IDENTIFY_BODY: &[u8] = br#"{"broadcast_address": "127.0.0.1", "hostname": "fixture-host", "tcp_port": 14150, "http_port": 14151, "version": "1.3.0"}"#;

fn me() -> ServerInfo {
    ServerInfo {
        broadcast_address: "127.0.0.1".into(),
        hostname: "vm".into(),
        http_port: 35363,
        tcp_port: 50047,
        version: "1.3.0".into(),
    }
}

fn identify(body: &[u8]) -> Vec<u8> {
    let mut v = b"IDENTIFY\n".to_vec();
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// What the server sends back for `chunks` (delivered one after the other),
/// whether it closed, and the DB afterwards.
fn run_on(db: &mut RegistrationDb, remote: &str, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut s = Session::new(remote);
    let mut buf = BytesMut::new();
    let mut answers = Vec::new();
    let mut closed = false;
    'outer: for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match s.next_request(&mut buf) {
                Ok(Some(req)) => {
                    let r = s.exec(req, db, &me(), NOW);
                    answers.push(r.data);
                    if r.close {
                        closed = true;
                        break 'outer;
                    }
                }
                Ok(None) => break,
                Err(ReadError::Respond(e)) => {
                    answers.push(e.to_bytes());
                    closed = true;
                    break 'outer;
                }
                Err(ReadError::Close) => {
                    closed = true;
                    break 'outer;
                }
            }
        }
    }
    if !closed {
        if let Some(e) = s.eof_error() {
            answers.push(e.to_bytes());
        }
    }
    s.leave(db);
    (answers, closed)
}

fn run(chunks: &[&[u8]]) -> (Vec<String>, bool) {
    let mut db = RegistrationDb::new();
    let (a, closed) = run_on(&mut db, "127.0.0.1:1", chunks);
    (
        a.iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect(),
        closed,
    )
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const ME_JSON: &str = r#"{"broadcast_address":"127.0.0.1","hostname":"vm","http_port":35363,"tcp_port":50047,"version":"1.3.0"}"#;

#[test]
fn the_captured_exchanges() {
    let id = identify(IDENTIFY_BODY);
    let ok = |n: usize| std::iter::repeat_n("OK".to_string(), n);
    // 01: identify, register, ping, unregister
    let script = cat(&[
        b"  V1",
        &id,
        b"REGISTER fixture_topic\n",
        b"REGISTER fixture_topic fixture_channel\n",
        b"PING\n",
        b"UNREGISTER fixture_topic fixture_channel\n",
        b"UNREGISTER fixture_topic\n",
    ]);
    let (a, closed) = run(&[&script]);
    let mut want = vec![ME_JSON.to_string()];
    want.extend(ok(5));
    assert_eq!((a, closed), (want, false));

    let cases: &[(&[&[u8]], &[&str])] = &[
        (&[b"  V1", b"PING\n"], &["OK"]),
        (&[b"  V1", b"BOGUS\n"], &["E_INVALID invalid command BOGUS"]),
        (
            &[b"  V1", b"REGISTER fixture_topic\n"],
            &["E_INVALID client must IDENTIFY"],
        ),
        (
            &[b"  V1", &id, b"REGISTER bad!topic\n"],
            &[
                ME_JSON,
                "E_BAD_TOPIC REGISTER topic name 'bad!topic' is not valid",
            ],
        ),
        (
            &[b"  V1", &id, b"REGISTER fixture_topic bad!channel\n"],
            &[
                ME_JSON,
                "E_BAD_CHANNEL REGISTER channel name 'bad!channel' is not valid",
            ],
        ),
        (
            &[b"  V1", &id, b"REGISTER\n"],
            &[ME_JSON, "E_INVALID REGISTER insufficient number of params"],
        ),
        (
            &[b"  V1", &id, &id],
            &[ME_JSON, "E_INVALID cannot IDENTIFY again"],
        ),
        (
            &[
                b"  V1",
                &identify(br#"{"broadcast_address": "127.0.0.1", "tcp_port": 14150}"#),
            ],
            &["E_BAD_BODY IDENTIFY missing fields"],
        ),
        (
            &[b"  V1", &identify(b"{not json")],
            &["E_BAD_BODY IDENTIFY failed to decode JSON body"],
        ),
        (&[b"  V2"], &["E_BAD_PROTOCOL"]),
    ];
    for (chunks, want) in cases {
        let (a, closed) = run(chunks);
        let ping_only = want == &["OK"];
        assert_eq!(a, *want, "{chunks:?}");
        assert_eq!(closed, !ping_only, "{chunks:?}");
    }
}

#[test]
fn more_of_nsqs_checks_and_texts() {
    let id = identify(IDENTIFY_BODY);
    let t = |lines: &[u8]| run(&[b"  V1", &id, lines]).0[1..].to_vec();
    assert_eq!(
        t(b"UNREGISTER\n"),
        ["E_INVALID UNREGISTER insufficient number of params"]
    );
    assert_eq!(
        t(b"UNREGISTER a b!\n"),
        ["E_BAD_CHANNEL UNREGISTER channel name 'b!' is not valid"]
    );
    // Split on single spaces after trimming: a double space makes an empty topic.
    assert_eq!(
        t(b"REGISTER  t\n"),
        ["E_BAD_TOPIC REGISTER topic name '' is not valid"]
    );
    // Surrounding white space (and \r) is trimmed; extra params are ignored.
    assert_eq!(t(b" \tREGISTER t c extra \r\n"), ["OK"]);
    // An empty line is an unknown (empty) command.
    assert_eq!(t(b"\n"), ["E_INVALID invalid command "]);
    assert_eq!(t(b"ping\n"), ["E_INVALID invalid command ping"]);
    // Raw bytes are echoed, not escaped.
    assert_eq!(
        run(&[b"  V1", &id, b"REGISTER \xff\n"]).0[1].as_bytes(),
        "E_BAD_TOPIC REGISTER topic name '\u{fffd}' is not valid".as_bytes(),
    );
    let mut db = RegistrationDb::new();
    let (a, _) = run_on(&mut db, "r:1", &[b"  V1", &id, b"REGISTER \xff\n"]);
    assert_eq!(a[1], b"E_BAD_TOPIC REGISTER topic name '\xff' is not valid");
    // Unicode white space (NBSP, U+3000) is trimmed like Go's TrimSpace.
    assert_eq!(t("\u{a0}PING\u{3000}\n".as_bytes()), ["OK"]);
    // Identify with a wrongly typed field, or a JSON array.
    for body in [
        &br#"{"broadcast_address":"a","hostname":"h","tcp_port":"1","http_port":2,"version":"v"}"#
            [..],
        b"[]",
        b"",
    ] {
        assert_eq!(
            run(&[b"  V1", &identify(body)]).0,
            ["E_BAD_BODY IDENTIFY failed to decode JSON body"]
        );
    }
    // Keys match ignoring case, unknown keys are fine.
    let body = br#"{"BROADCAST_ADDRESS":"a","Tcp_Port":1,"http_port":2,"version":"v","x":{}}"#;
    assert_eq!(run(&[b"  V1", &identify(body)]).0, [ME_JSON]);
}

#[test]
fn cut_streams_and_bad_sizes() {
    assert_eq!(
        run(&[b"  V1IDENTIFY\n\0\0"]),
        (
            vec!["E_BAD_BODY IDENTIFY failed to read body size".into()],
            false
        )
    );
    assert_eq!(
        run(&[b"  V1IDENTIFY\n\0\0\0\x05{}"]),
        (
            vec!["E_BAD_BODY IDENTIFY failed to read body".into()],
            false
        )
    );
    assert_eq!(
        run(&[b"  V1PING\nPIN"]),
        (vec!["OK".into()], false),
        "a cut line ends silently"
    );
    assert_eq!(run(&[b"  V"]), (vec![], false));
    assert_eq!(
        run(&[b"  V1IDENTIFY\n\xff\xff\xff\xff"]).0,
        ["E_BAD_BODY IDENTIFY invalid body size -1"]
    );
    assert_eq!(
        run(&[b"  V1IDENTIFY\n\x7f\xff\xff\xff"]).0,
        ["E_BAD_BODY IDENTIFY body too big 2147483647 > 5242880"]
    );
    let long = vec![b'A'; MAX_LINE_LEN + 1];
    assert_eq!(
        run(&[b"  V1", &long]),
        (vec![], true),
        "overlong line closes silently"
    );
}

#[test]
fn registrations_reach_the_db_and_leave_with_the_peer() {
    let id = identify(IDENTIFY_BODY);
    let mut db = RegistrationDb::new();
    let mut s = Session::new("127.0.0.1:9");
    let mut buf = BytesMut::from(
        &cat(&[
            b"  V1",
            &id,
            b"REGISTER t c\nREGISTER e#ephemeral x#ephemeral\nUNREGISTER e#ephemeral x#ephemeral\n",
        ])[..],
    );
    while let Some(req) = s.next_request(&mut buf).unwrap() {
        assert!(!s.exec(req, &mut db, &me(), NOW).close);
    }
    assert_eq!(s.peer(), Some("127.0.0.1:9"));
    let act = Activity {
        inactive_producer_timeout: 300 * SECOND,
        tombstone_lifetime: 45 * SECOND,
    };
    let l = views::lookup(&db, "t", act, NOW).unwrap();
    assert_eq!(l.channels, ["c"]);
    assert_eq!(l.producers[0].remote_address, "127.0.0.1:9");
    assert_eq!(
        (l.producers[0].tcp_port, l.producers[0].http_port),
        (14150, 14151)
    );
    // The ephemeral channel vanished with its last producer; its topic stays.
    assert!(views::channels(&db, "e#ephemeral").channels.is_empty());
    assert_eq!(views::topics(&db).topics, ["e#ephemeral", "t"]);
    // UNREGISTER of a topic drops the peer from its channels too; an
    // ephemeral topic without producers is removed.
    let mut buf = BytesMut::from(&b"UNREGISTER t\nUNREGISTER e#ephemeral\n"[..]);
    while let Some(req) = s.next_request(&mut buf).unwrap() {
        let r = s.exec(req, &mut db, &me(), NOW);
        assert_eq!(r.data, b"OK");
    }
    assert!(db.find_producers(Category::Channel, "t", "c").is_empty());
    assert_eq!(views::topics(&db).topics, ["t"]);
    // Leaving removes the peer everywhere.
    let log = s.leave(&mut db);
    assert_eq!(
        log,
        ["DB: client(127.0.0.1:9) UNREGISTER category:client key: subkey:"]
    );
    assert!(views::nodes(&db, act, NOW).producers.is_empty());
}

#[test]
fn ping_refreshes_last_update() {
    let mut db = RegistrationDb::new();
    let mut s = Session::new("p:1");
    let mut buf = BytesMut::from(&cat(&[b"  V1", &identify(IDENTIFY_BODY)])[..]);
    let req = s.next_request(&mut buf).unwrap().unwrap();
    s.exec(req, &mut db, &me(), NOW);
    let r = s.exec(
        Request::Command(vec![Bytes::from_static(b"PING")]),
        &mut db,
        &me(),
        NOW + 15 * SECOND,
    );
    assert_eq!(r.data, b"OK");
    assert_eq!(db.peer("p:1").unwrap().last_update, NOW + 15 * SECOND);
}

/// A request a client may send, good or bad.
#[derive(Debug, Clone)]
struct Script(Vec<Vec<u8>>);

impl Arbitrary for Script {
    fn arbitrary(g: &mut Gen) -> Self {
        let pool: Vec<Vec<u8>> = vec![
            b"PING\n".to_vec(),
            identify(IDENTIFY_BODY),
            identify(b"{bad"),
            b"REGISTER t\n".to_vec(),
            b"REGISTER t c\r\n".to_vec(),
            b"UNREGISTER t c\n".to_vec(),
            b"UNREGISTER t\n".to_vec(),
            b"REGISTER t#ephemeral c#ephemeral\n".to_vec(),
            b"REGISTER bad!\n".to_vec(),
            b"NOPE\n".to_vec(),
            b"  PING  \n".to_vec(),
        ];
        let n = usize::arbitrary(g) % 12;
        let mut v = vec![b"  V1".to_vec()];
        for _ in 0..n {
            v.push(g.choose(&pool).cloned().unwrap_or_default());
        }
        Script(v)
    }
}

#[test]
fn split_anywhere_gives_the_same_answers() {
    fn prop(script: Script, cuts: Vec<u16>) -> bool {
        let bytes = script.0.concat();
        let whole = run(&[&bytes]);
        let mut points: Vec<usize> = cuts
            .iter()
            .map(|c| *c as usize % (bytes.len() + 1))
            .collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut from = 0;
        for p in points {
            chunks.push(&bytes[from..p]);
            from = p;
        }
        chunks.push(&bytes[from..]);
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        run(&chunks) == whole && run(&bytewise) == whole
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Script, Vec<u16>) -> bool);
}

/// Feeds `input` to `s` (a session that stays open).
fn feed(s: &mut Session, db: &mut RegistrationDb, input: &[u8]) {
    let mut buf = BytesMut::from(input);
    while let Ok(Some(req)) = s.next_request(&mut buf) {
        s.exec(req, db, &me(), NOW);
    }
}

/// Found by the simulation (partitions, seed 1000367): nsqd gave up on a
/// connection lookupd still had open and reconnected from the same address
/// and port; the old connection's close then took the new one's peer with
/// it, and nsqd vanished from /lookup until its next reconnect.
#[test]
fn a_stale_connection_from_the_same_address_does_not_unregister_its_successor() {
    let mut db = RegistrationDb::new();
    let mut register = b"  V1".to_vec();
    register.extend_from_slice(&identify(IDENTIFY_BODY));
    register.extend_from_slice(b"REGISTER t c\n");
    let mut old = Session::new("10.0.0.3:1");
    feed(&mut old, &mut db, &register);
    let mut new = Session::new("10.0.0.3:1");
    feed(&mut new, &mut db, &register);
    // What the stale connection still says no longer counts.
    feed(&mut old, &mut db, b"UNREGISTER t c\n");
    old.leave(&mut db);
    let activity = Activity {
        inactive_producer_timeout: 300 * SECOND,
        tombstone_lifetime: 45 * SECOND,
    };
    let found = views::lookup(&db, "t", activity, NOW).expect("topic t is registered");
    assert_eq!(found.producers.len(), 1, "{found:?}");
    assert_eq!(found.channels, vec!["c".to_string()]);
    // The successor's own close still cleans up.
    new.leave(&mut db);
    let found = views::lookup(&db, "t", activity, NOW).expect("registration stays");
    assert!(found.producers.is_empty());
}

/// Found by the simulation (discovery, seeds 1003094 and 1009020): the
/// same address and port connected three times; the middle connection
/// closed first, then the first one's late commands and close took the
/// third one's registrations (it had been given the first one's generation
/// again), and lookupd forgot that nsqd while it stayed connected.
#[test]
fn a_stale_connection_does_not_touch_a_later_successor_after_another_one_left() {
    let mut db = RegistrationDb::new();
    let mut register = b"  V1".to_vec();
    register.extend_from_slice(&identify(IDENTIFY_BODY));
    register.extend_from_slice(b"REGISTER t c\n");
    let mut a = Session::new("10.0.0.4:1");
    feed(&mut a, &mut db, &register);
    let mut b = Session::new("10.0.0.4:1");
    feed(&mut b, &mut db, &register);
    b.leave(&mut db);
    let mut c = Session::new("10.0.0.4:1");
    feed(&mut c, &mut db, &register);
    // The stale connection's late bytes and close.
    feed(&mut a, &mut db, b"UNREGISTER t c\nREGISTER u\n");
    a.leave(&mut db);
    let activity = Activity {
        inactive_producer_timeout: 300 * SECOND,
        tombstone_lifetime: 45 * SECOND,
    };
    let found = views::lookup(&db, "t", activity, NOW).expect("topic t is registered");
    assert_eq!(found.producers.len(), 1, "{found:?}");
    assert_eq!(found.channels, vec!["c".to_string()]);
    assert!(views::lookup(&db, "u", activity, NOW).is_none());
    c.leave(&mut db);
    let found = views::lookup(&db, "t", activity, NOW).expect("registration stays");
    assert!(found.producers.is_empty());
}

#[test]
fn identify_type_checks_remote_address_like_go() {
    // Found with the fuzz target's model of Go's json rules: NSQ's PeerInfo
    // has a remote_address field (overwritten afterwards), so a value of the
    // wrong type fails the decode.
    let mut db = RegistrationDb::new();
    let body = br#"{"remote_address":5,"broadcast_address":"a","tcp_port":1,"http_port":2,"version":"1.3.0"}"#;
    let (answers, closed) = run_on(&mut db, "127.0.0.1:1", &[b"  V1", &identify(body)]);
    assert!(closed);
    assert_eq!(
        answers.last().unwrap(),
        b"E_BAD_BODY IDENTIFY failed to decode JSON body"
    );
}
