//! nsqlookupd's HTTP API against the answers Go nsqlookupd v1.3.0 gave
//! (testdata/http-samples/lookupd_*.txt): same status, same
//! Content-Type / X-Nsq-Content-Type / Allow headers, same JSON. The cluster
//! of the capture is rebuilt with two fake nsqd peers announcing the
//! capture's ports; only remote addresses, update times and the order of
//! Go's map-ordered lists may differ.

mod common;

use common::{HttpResponse, LookupClient, Nsqlookupd};
use serde_json::Value;

fn fixture(name: &str) -> HttpResponse {
    let path = common::fixtures().join("http-samples").join(name);
    HttpResponse::parse(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
}

/// Status and NSQ's headers as in the capture (present or absent alike).
fn same_head(name: &str, got: &HttpResponse) {
    let want = fixture(name);
    assert_eq!(
        got.status,
        want.status,
        "{name}: status; body {}",
        got.text()
    );
    for h in ["content-type", "x-nsq-content-type", "allow"] {
        assert_eq!(got.header(h), want.header(h), "{name}: header {h}");
    }
}

/// Status, headers and exact body.
fn same(name: &str, got: &HttpResponse) {
    same_head(name, got);
    assert_eq!(got.text(), fixture(name).text(), "{name}: body");
}

/// Run-dependent values out, Go's map-ordered lists sorted.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "remote_address" | "id" => *x = Value::from("<remote>"),
                    "last_update" => *x = Value::from(0),
                    _ => normalize(x),
                }
            }
            // /nodes: topics and their tombstones pair up; order them by topic.
            if let (Some(Value::Array(t)), Some(Value::Array(s))) =
                (m.get("topics"), m.get("tombstones"))
            {
                let mut pairs: Vec<(Value, Value)> =
                    t.iter().cloned().zip(s.iter().cloned()).collect();
                pairs.sort_by_key(|(t, _)| t.to_string());
                let (t, s): (Vec<Value>, Vec<Value>) = pairs.into_iter().unzip();
                m.insert("topics".into(), Value::Array(t));
                m.insert("tombstones".into(), Value::Array(s));
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                normalize(x);
            }
            a.sort_by_key(|x| match x {
                Value::Object(o) => o
                    .get("http_port")
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                other => other.to_string(),
            });
        }
        _ => {}
    }
}

/// Object keys in document order (Go's field order must be kept).
fn key_order(b: &[u8]) -> Vec<String> {
    let s = String::from_utf8_lossy(b);
    let mut keys = Vec::new();
    let mut chars = s.char_indices().peekable();
    let mut start = None;
    while let Some((i, c)) = chars.next() {
        match (start, c) {
            (None, '"') => start = Some(i + 1),
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(st), '"') => {
                if chars.peek().map(|(_, c)| *c) == Some(':') {
                    keys.push(s[st..i].to_string());
                }
                start = None;
            }
            _ => {}
        }
    }
    keys
}

fn same_json(name: &str, got: &HttpResponse) {
    same_head(name, got);
    assert_eq!(
        key_order(&got.body),
        key_order(&fixture(name).body),
        "{name}: key order"
    );
    let mut want = fixture(name).json();
    let mut got = got.json();
    normalize(&mut want);
    normalize(&mut got);
    assert_eq!(got, want, "{name}");
}

/// The capture's cluster: nsqd A and B as raw V1 peers (kept connected).
fn capture_cluster(lookupd: &Nsqlookupd) -> (LookupClient, LookupClient) {
    let peer = |tcp: u16, http: u16, regs: &[&str]| {
        let mut c = lookupd.client();
        let body = format!(
            r#"{{"version":"1.3.0","tcp_port":{tcp},"http_port":{http},"hostname":"vm","broadcast_address":"127.0.0.1"}}"#
        );
        assert!(c.identify(&body).starts_with('{'));
        for r in regs {
            c.send(format!("REGISTER {r}\n").as_bytes());
            assert_eq!(c.response(), "OK");
        }
        c
    };
    let a = peer(
        35077,
        55263,
        &[
            "orders billing",
            "orders shipping",
            "events archive",
            "scratch",
        ],
    );
    let b = peer(38755, 37911, &["orders billing", "orders shipping", "logs"]);
    (a, b)
}

#[test]
fn every_captured_answer() {
    let l = Nsqlookupd::start(&[]);
    let _peers = capture_cluster(&l);
    same("lookupd_ping.txt", &l.get("/ping"));
    same("lookupd_info.txt", &l.get("/info"));
    same_json("lookupd_lookup_orders.txt", &l.get("/lookup?topic=orders"));
    same(
        "lookupd_lookup_missing.txt",
        &l.get("/lookup?topic=missing"),
    );
    same("lookupd_lookup_no_topic.txt", &l.get("/lookup"));
    same_json("lookupd_topics.txt", &l.get("/topics"));
    same(
        "lookupd_channels_orders.txt",
        &l.get("/channels?topic=orders"),
    );
    same("lookupd_channels_no_topic.txt", &l.get("/channels"));
    same_json("lookupd_nodes.txt", &l.get("/nodes"));
    same_json("lookupd_debug.txt", &l.get("/debug"));

    let r = l.post("/topic/tombstone?topic=orders&node=127.0.0.1:55263");
    same("lookupd_tombstone_orders_a.txt", &r);
    assert_eq!(r.header("content-length"), Some("0"));
    same_json(
        "lookupd_lookup_orders_after_tombstone.txt",
        &l.get("/lookup?topic=orders"),
    );
    same_json("lookupd_nodes_after_tombstone.txt", &l.get("/nodes"));
    same(
        "lookupd_tombstone_get_405.txt",
        &l.get("/topic/tombstone?topic=orders&node=127.0.0.1:55263"),
    );
    same(
        "lookupd_tombstone_missing_node.txt",
        &l.post("/topic/tombstone?topic=orders"),
    );
    // /debug shows the tombstone with its time.
    let dbg = l.get("/debug").json();
    let a = dbg["topic:orders:"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["http_port"] == 55263)
        .unwrap()
        .clone();
    assert_eq!(a["tombstoned"], true);
    assert!(a["tombstoned_at"].as_i64().unwrap() > 0);
}

fn err(r: &HttpResponse) -> (u16, String) {
    (
        r.status,
        r.json()["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn create_and_delete_endpoints_like_nsq() {
    let l = Nsqlookupd::start(&[]);
    let ok_empty = |r: &HttpResponse| {
        assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
        assert_eq!(r.header("content-type"), None);
        assert_eq!(r.header("x-nsq-content-type"), Some("nsq; version=1.0"));
    };
    assert_eq!(l.get("/topics").text(), r#"{"topics":[]}"#);
    assert_eq!(l.get("/nodes").text(), r#"{"producers":[]}"#);
    assert_eq!(l.get("/debug").text(), "{}");
    assert_eq!(l.get("/channels?topic=nope").text(), r#"{"channels":[]}"#);

    ok_empty(&l.post("/topic/create?topic=t1"));
    assert_eq!(
        err(&l.post("/topic/create")),
        (400, "MISSING_ARG_TOPIC".into())
    );
    assert_eq!(
        err(&l.post("/topic/create?topic=bad!")),
        (400, "INVALID_ARG_TOPIC".into())
    );
    assert_eq!(
        l.get("/lookup?topic=t1").text(),
        r#"{"channels":[],"producers":[]}"#
    );

    ok_empty(&l.post("/channel/create?topic=t2&channel=c1"));
    ok_empty(&l.post("/channel/create?topic=t2&channel=c2%23ephemeral"));
    assert_eq!(
        err(&l.post("/channel/create?topic=t2")),
        (400, "MISSING_ARG_CHANNEL".into())
    );
    assert_eq!(
        err(&l.post("/channel/create?topic=t2&channel=x!")),
        (400, "INVALID_ARG_CHANNEL".into())
    );
    assert_eq!(
        err(&l.post("/channel/create?channel=c")),
        (400, "MISSING_ARG_TOPIC".into())
    );
    assert_eq!(l.get("/topics").text(), r#"{"topics":["t1","t2"]}"#);
    assert_eq!(
        l.get("/channels?topic=t2").text(),
        r#"{"channels":["c1","c2#ephemeral"]}"#
    );

    ok_empty(&l.post("/channel/delete?topic=t2&channel=c1"));
    assert_eq!(
        err(&l.post("/channel/delete?topic=t2&channel=c1")),
        (404, "CHANNEL_NOT_FOUND".into())
    );
    assert_eq!(
        err(&l.post("/channel/delete?topic=t2")),
        (400, "MISSING_ARG_CHANNEL".into())
    );
    ok_empty(&l.post("/topic/delete?topic=t2"));
    ok_empty(&l.post("/topic/delete?topic=never-existed"));
    assert_eq!(
        err(&l.post("/topic/delete")),
        (400, "MISSING_ARG_TOPIC".into())
    );
    assert_eq!(l.get("/topics").text(), r#"{"topics":["t1"]}"#);
    assert_eq!(l.get("/channels?topic=t2").text(), r#"{"channels":[]}"#);
    // ?topic= present but empty is a topic named "" (not a missing argument).
    assert_eq!(
        err(&l.get("/lookup?topic=")),
        (404, "TOPIC_NOT_FOUND".into())
    );

    // Methods and paths.
    for (m, p, allow) in [
        ("GET", "/topic/create?topic=x", "OPTIONS, POST"),
        ("POST", "/lookup?topic=t1", "GET, OPTIONS"),
        ("PUT", "/channel/delete", "OPTIONS, POST"),
    ] {
        let r = common::http_request(l.http(), m, p);
        assert_eq!(err(&r), (405, "METHOD_NOT_ALLOWED".into()), "{m} {p}");
        assert_eq!(r.header("allow"), Some(allow));
    }
    assert_eq!(err(&l.get("/no/such/path")), (404, "NOT_FOUND".into()));
}

#[test]
fn a_disconnected_peer_leaves_lookup_but_its_registrations_stay() {
    let l = Nsqlookupd::start(&[]);
    let (a, b) = capture_cluster(&l);
    drop(a);
    let gone = common::eventually(std::time::Duration::from_secs(5), || {
        let v = l.get("/lookup?topic=events").json();
        v["producers"].as_array().unwrap().is_empty().then_some(v)
    })
    .expect("peer A removed");
    assert_eq!(gone["channels"], serde_json::json!(["archive"]));
    let nodes = l.get("/nodes").json();
    assert_eq!(nodes["producers"].as_array().unwrap().len(), 1);
    assert_eq!(nodes["producers"][0]["http_port"], 37911);
    drop(b);
}
