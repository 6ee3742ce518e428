//! nsqlookupd's side of the lookup protocol V1 (`Session`), executed
//! against a `RegistrationDb` as the server does.
//!
//! Input: `[cut seed][client byte stream]`.
//! Checks: the stream delivered one-shot, byte by byte and in seeded chunks
//! gives the same answers, the same close and the same DB; answers are
//! `OK`, IDENTIFY's JSON or an `E_` error that closes; the DB only ever
//! holds valid names, and a connection that leaves takes its producers along.

use crate::split;
use bytes::BytesMut;
use nsq_core::lookup::server::ReadError;
use nsq_core::lookup::views;
use nsq_core::lookup::{Category, RegistrationDb, ServerInfo, Session};
use nsq_core::wire::names::{is_valid_channel_name, is_valid_topic_name};

const REMOTE: &str = "127.0.0.1:50000";
const T0: i64 = 1_700_000_000_000_000_000;

pub fn me() -> ServerInfo {
    ServerInfo {
        broadcast_address: "127.0.0.1".into(),
        hostname: "fuzz".into(),
        http_port: 4161,
        tcp_port: 4160,
        version: "1.3.0".into(),
    }
}

/// What the client saw, and the DB as `/debug` shows it afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub answers: Vec<Vec<u8>>,
    pub closed: bool,
    pub debug: String,
}

pub fn serve(chunks: &[&[u8]], db: &mut RegistrationDb) -> (Outcome, Session) {
    let mut s = Session::new(REMOTE);
    let mut buf = BytesMut::new();
    let mut answers = Vec::new();
    let mut closed = false;
    let mut now = T0;
    'conn: for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match s.next_request(&mut buf) {
                Ok(Some(req)) => {
                    now += 1_000_000_000;
                    let r = s.exec(req, db, &me(), now);
                    check_answer(&r.data, r.close);
                    answers.push(r.data);
                    if r.close {
                        closed = true;
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(ReadError::Respond(e)) => {
                    answers.push(e.to_bytes());
                    closed = true;
                    break 'conn;
                }
                Err(ReadError::Close) => {
                    closed = true;
                    break 'conn;
                }
            }
        }
    }
    if !closed {
        if let Some(e) = s.eof_error() {
            answers.push(e.to_bytes());
        }
    }
    let debug = serde_json::to_string(&views::debug(db)).expect("views serialize");
    (
        Outcome {
            answers,
            closed,
            debug,
        },
        s,
    )
}

fn check_answer(data: &[u8], close: bool) {
    if close {
        assert!(
            data.starts_with(b"E_"),
            "{:?}",
            String::from_utf8_lossy(data)
        );
    } else if data != b"OK" {
        let v: serde_json::Value = serde_json::from_slice(data).expect("IDENTIFY answers JSON");
        assert_eq!(v["tcp_port"], 4160);
    }
}

fn check_db(db: &RegistrationDb) {
    for (r, _) in db.iter() {
        match r.category {
            Category::Client => assert!(r.key.is_empty() && r.sub_key.is_empty()),
            Category::Topic => assert!(is_valid_topic_name(&r.key) && r.sub_key.is_empty()),
            Category::Channel => {
                assert!(is_valid_topic_name(&r.key) && is_valid_channel_name(&r.sub_key))
            }
        }
    }
}

pub fn run(data: &[u8]) {
    let (seed, stream) = split::seed_and_stream(data);
    let mut db = RegistrationDb::new();
    let (whole, mut session) = serve(&[stream], &mut db);
    for chunks in [split::chunks(stream, seed), split::bytewise(stream)] {
        let mut other = RegistrationDb::new();
        assert_eq!(serve(&chunks, &mut other).0, whole);
    }
    check_db(&db);
    session.leave(&mut db);
    assert!(
        db.lookup_registrations(REMOTE).is_empty(),
        "a peer that left produces nothing"
    );
    assert!(db.peer(REMOTE).is_none());
}
