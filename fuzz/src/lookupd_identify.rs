//! The IDENTIFY body nsqlookupd reads from an nsqd (`Session::exec` of
//! `Request::Identify`, decoded by `lookup::gojson`).
//!
//! Input: the JSON body.
//! Checks: the peer registered is what the simple model reads where it is
//! unambiguous; a refusal is one of NSQ's two texts and registers nothing;
//! an accepted peer, sent again as JSON, registers identically.

use crate::jsonmodel::{self, Refused};
use crate::lookupd::me;
use nsq_core::lookup::{PeerInfo, RegistrationDb, Request, Session};
use serde_json::json;

const REMOTE: &str = "10.0.0.1:41000";
const NOW: i64 = 1_700_000_000_000_000_000;

/// Identifies a new connection with `body`: the peer registered, or the error text.
pub fn identify(body: &[u8]) -> Result<PeerInfo, Vec<u8>> {
    let mut db = RegistrationDb::new();
    let mut s = Session::new(REMOTE);
    let r = s.exec(Request::Identify(body.to_vec().into()), &mut db, &me(), NOW);
    if r.close {
        assert!(
            db.peer(REMOTE).is_none(),
            "a refused IDENTIFY registers nothing"
        );
        assert!(s.peer().is_none());
        return Err(r.data);
    }
    assert_eq!(s.peer(), Some(REMOTE));
    Ok(db
        .peer(REMOTE)
        .expect("identified peers are in the DB")
        .clone())
}

/// hostname, broadcast_address, tcp_port, http_port, version.
type Peer = (String, String, i64, i64, String);

/// The fields nsqlookupd reads, by the simple model; `Err` if Go refuses the JSON.
fn model(body: &[u8]) -> Option<Result<Peer, Refused>> {
    let f = match jsonmodel::fields(body)? {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    Some((|| {
        // Go's PeerInfo also has remote_address: read (so type-checked), then overwritten.
        f.string("remote_address")?;
        Ok((
            f.string("hostname")?,
            f.string("broadcast_address")?,
            f.int("tcp_port")?,
            f.int("http_port")?,
            f.string("version")?,
        ))
    })())
}

pub fn run(data: &[u8]) {
    let got = identify(data);
    if let Some(expected) = model(data) {
        match (&got, expected) {
            (Ok(p), Ok((hostname, broadcast_address, tcp_port, http_port, version))) => {
                assert_eq!(
                    (
                        &p.hostname,
                        &p.broadcast_address,
                        p.tcp_port,
                        p.http_port,
                        &p.version
                    ),
                    (&hostname, &broadcast_address, tcp_port, http_port, &version)
                );
            }
            (Err(text), Ok((_, b, t, h, v))) => {
                assert_eq!(&text[..], b"E_BAD_BODY IDENTIFY missing fields");
                assert!(b.is_empty() || t == 0 || h == 0 || v.is_empty());
            }
            (Err(text), Err(Refused)) => {
                assert_eq!(&text[..], b"E_BAD_BODY IDENTIFY failed to decode JSON body")
            }
            (Ok(p), Err(Refused)) => panic!("accepted what Go refuses: {p:?}"),
        }
    }
    match got {
        Ok(p) => {
            assert!(!p.broadcast_address.is_empty() && !p.version.is_empty());
            assert!(p.tcp_port != 0 && p.http_port != 0);
            assert_eq!((p.id.as_str(), p.last_update), (REMOTE, NOW));
            let again = json!({
                "hostname": p.hostname,
                "broadcast_address": p.broadcast_address,
                "tcp_port": p.tcp_port,
                "http_port": p.http_port,
                "version": p.version,
            });
            let again = serde_json::to_vec(&again).expect("JSON values serialize");
            assert_eq!(identify(&again), Ok(p));
        }
        Err(text) => assert!(
            text == b"E_BAD_BODY IDENTIFY failed to decode JSON body"
                || text == b"E_BAD_BODY IDENTIFY missing fields",
            "{:?}",
            String::from_utf8_lossy(&text)
        ),
    }
}
