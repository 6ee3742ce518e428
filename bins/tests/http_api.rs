//! nsqd's HTTP API on the real binary: every endpoint with NSQ v1.3.0's
//! methods, statuses, headers and bodies (checked against the Go captures
//! in testdata/http-samples), bad input included — and nothing that
//! was accepted is lost.

mod common;

use common::{http_capture, Client, Nsqd};
use nsq_bins::http1::{Conn, Reply};
use nsq_core::wire::command::encode;
use serde_json::Value;
use std::time::Duration;

/// Status, body and the headers that matter are what Go nsqd sent.
fn like_go(r: &Reply, capture: &str) {
    let go = http_capture(capture);
    assert_eq!(
        (r.status, r.text()),
        (go.status, go.text()),
        "{capture}: status and body"
    );
    for h in ["content-type", "x-nsq-content-type", "allow", "connection"] {
        assert_eq!(r.header(h), go.header(h), "{capture}: header {h}");
    }
}

fn err_body(code: &str) -> String {
    format!(r#"{{"message":"{code}"}}"#)
}

fn assert_err(r: &Reply, status: u16, code: &str) {
    assert_eq!((r.status, r.text()), (status, err_body(code)));
}

/// A TCP connection that sent the magic and IDENTIFY.
fn identified(nsqd: &Nsqd, id: &str) -> Client {
    let mut c = nsqd.client();
    let json = format!(
        r#"{{"client_id":"{id}","hostname":"{id}.example","user_agent":"{id}/0.1","feature_negotiation":true}}"#
    );
    c.send_with(|w| encode::identify(w, json.as_bytes()));
    c.response();
    c
}

/// Subscribes and reads `n` messages, finishing each; returns their bodies.
fn consume(nsqd: &Nsqd, topic: &str, channel: &str, n: usize) -> Vec<String> {
    let mut c = nsqd.client();
    c.send(format!("SUB {topic} {channel}\nRDY 500\n").as_bytes());
    assert_eq!(c.response(), "OK");
    let mut got = Vec::new();
    while got.len() < n {
        let m = c.message();
        c.send_with(|w| encode::fin(w, &m.id));
        got.push(String::from_utf8_lossy(&m.body).into_owned());
    }
    assert!(
        !matches!(
            c.read(Duration::from_millis(200)),
            common::Got::Frame(nsq_core::wire::Frame::Message(_))
        ),
        "nothing beyond the {n} messages"
    );
    got
}

fn topic<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["topics"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["topic_name"] == name))
        .unwrap_or_else(|| panic!("topic {name} in {stats}"))
}

fn channel<'a>(t: &'a Value, name: &str) -> &'a Value {
    t["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["channel_name"] == name))
        .unwrap_or_else(|| panic!("channel {name} in {t}"))
}

#[test]
fn basic_endpoints_answer_as_go_does() {
    let nsqd = Nsqd::start(&[]);
    like_go(&nsqd.http_req("GET", "/ping", b""), "nsqd_ping.txt");
    like_go(
        &nsqd.http_req("GET", "/no/such/path", b""),
        "nsqd_not_found.txt",
    );
    like_go(
        &nsqd.http_req("GET", "/pub?topic=events", b""),
        "nsqd_pub_get_405.txt",
    );
    like_go(
        &nsqd.http_req("POST", "/pub?topic=scratch", b"hello"),
        "nsqd_pub_ok.txt",
    );
    like_go(
        &nsqd.http_req("POST", "/mpub?topic=scratch", b"one\ntwo\nthree"),
        "nsqd_mpub_ok.txt",
    );
    like_go(
        &nsqd.http_req("POST", "/topic/create?topic=scratch", b""),
        "nsqd_topic_create_ok.txt",
    );
    let r = nsqd.http_req("OPTIONS", "/stats", b"");
    assert_eq!((r.status, r.header("allow")), (200, Some("GET, OPTIONS")));
    let r = nsqd.http_req("DELETE", "/config/log_level", b"");
    assert_eq!(r.header("allow"), Some("GET, OPTIONS, PUT"));
    assert_err(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(nsqd.http_req("POST", "/debug/freememory", b"").status, 200);

    // /info: Go's fields in Go's order, with this nsqd's ports.
    let r = nsqd.http_req("GET", "/info", b"");
    let go = http_capture("nsqd_info.txt");
    assert_eq!(r.header("content-type"), go.header("content-type"));
    let keys = |b: &[u8]| -> Vec<String> {
        let text = String::from_utf8_lossy(b).into_owned();
        text.split(',')
            .filter_map(|kv| kv.split('"').nth(1).map(String::from))
            .collect()
    };
    assert_eq!(keys(&r.body), keys(&go.body));
    let info: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(info["tcp_port"], nsqd.tcp().port());
    assert_eq!(info["http_port"], nsqd.http().port());
    assert_eq!(info["broadcast_address"], "127.0.0.1");
    assert_eq!(info["version"], "1.3.0");
    assert_eq!(info["max_heartbeat_interval"], 60_000_000_000u64);

    // Requests are logged as NSQ logs them: publishes are not.
    let logged = |what: &str| {
        let logs = nsqd.proc.logs.lock().unwrap();
        logs.iter().any(|l| l.contains(what))
    };
    let seen = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        logged("200 GET /info")
    });
    assert!(seen, "API requests are logged");
    assert!(!logged("POST /pub") && !logged("POST /mpub"));
}

#[test]
fn bad_publishes_get_nsqs_errors_and_lose_nothing() {
    let nsqd = Nsqd::start(&["--max-msg-size=1000", "--max-body-size=4000"]);
    let mut want = Vec::new();
    let mut c = nsqd.http_conn();
    for i in 0..10 {
        let r = c
            .request("POST", "/pub?topic=t", format!("p{i}").as_bytes())
            .unwrap();
        assert_eq!((r.status, r.text()), (200, "OK".into()));
        want.push(format!("p{i}"));
    }
    let text: String = (0..10).map(|i| format!("m{i}\n\n")).collect();
    assert_eq!(
        c.request("POST", "/mpub?topic=t", text.as_bytes())
            .unwrap()
            .status,
        200
    );
    want.extend((0..10).map(|i| format!("m{i}")));
    let mut bin = 3u32.to_be_bytes().to_vec();
    for i in 0..3 {
        let m = format!("b{i}");
        bin.extend((m.len() as u32).to_be_bytes());
        bin.extend(m.as_bytes());
    }
    let r = c
        .request("POST", "/mpub?topic=t&binary=true", &bin)
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("connection"), None, "the connection stays open");
    want.extend((0..3).map(|i| format!("b{i}")));
    // Bytes after the last message are ignored, as NSQ does.
    let mut trailing = bin.clone();
    trailing.extend(b"junk");
    let r = c
        .request("POST", "/mpub?topic=t&binary=true", &trailing)
        .unwrap();
    assert_eq!((r.status, r.header("connection")), (200, None));
    want.extend((0..3).map(|i| format!("b{i}")));
    // Once the messages are complete nsqd answers without waiting for the
    // rest of the body, and closes the connection it did not read to its end.
    let mut open = nsqd.http_conn();
    let mut req = chunked_head("/mpub?topic=t&binary=true");
    req.extend(chunk(&bin));
    open.send(&req).unwrap();
    let r = open.reply().unwrap();
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    assert!(open.closed());
    want.extend((0..3).map(|i| format!("b{i}")));

    let big = vec![b'x'; 1001];
    let bad: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("/pub", "POST", b"hello".to_vec(), 400, "MISSING_ARG_TOPIC"),
        (
            "/pub?topic=bad!topic",
            "POST",
            b"hello".to_vec(),
            400,
            "INVALID_TOPIC",
        ),
        ("/pub?topic=t", "POST", vec![], 400, "MSG_EMPTY"),
        (
            "/pub?topic=t&defer=99999999999",
            "POST",
            b"x".to_vec(),
            400,
            "INVALID_DEFER",
        ),
        (
            "/pub?topic=t&defer=-1",
            "POST",
            b"x".to_vec(),
            400,
            "INVALID_DEFER",
        ),
        (
            "/pub?topic=t&defer=soon",
            "POST",
            b"x".to_vec(),
            400,
            "INVALID_DEFER",
        ),
        (
            "/pub?topic=t%zz",
            "POST",
            b"x".to_vec(),
            400,
            "INVALID_REQUEST",
        ),
        ("/pub?topic=t", "GET", vec![], 405, "METHOD_NOT_ALLOWED"),
        ("/mpub", "POST", b"a\nb".to_vec(), 400, "MISSING_ARG_TOPIC"),
        (
            "/mpub?topic=t&binary=true",
            "POST",
            vec![0, 0],
            413,
            "BAD_BODY",
        ),
        (
            "/mpub?topic=t&binary=true",
            "POST",
            vec![0, 0, 0, 0],
            413,
            "BAD_BODY",
        ),
        (
            "/mpub?topic=t&binary=1",
            "POST",
            vec![0, 0, 0, 2, 0, 0, 0, 1, b'a'],
            413,
            "BAD_MESSAGE",
        ),
        (
            "/mpub?topic=t&binary=yes",
            "POST",
            vec![0, 0, 0, 1, 0, 0, 0, 5, b'a'],
            413,
            "BAD_MESSAGE",
        ),
        (
            "/mpub?topic=t&binary=true",
            "POST",
            vec![0, 0, 0, 1, 0, 0, 0, 0],
            413,
            "BAD_MESSAGE",
        ),
        (
            "/mpub?topic=t&binary=true",
            "POST",
            vec![0, 0, 0, 1, 0, 0, 4, 0],
            413,
            "BAD_MESSAGE",
        ),
        (
            "/mpub?topic=t",
            "POST",
            [&b"ok\n"[..], &big].concat(),
            413,
            "MSG_TOO_BIG",
        ),
    ];
    for (path, method, body, status, code) in &bad {
        let r = c.request(method, path, body).unwrap();
        assert_eq!(
            (r.status, r.text()),
            (*status, err_body(code)),
            "{method} {path}"
        );
        assert_eq!(r.header("x-nsq-content-type"), Some("nsq; version=1.0"));
    }
    // Go's captures of the same mistakes.
    like_go(
        &nsqd.http_req("POST", "/pub", b"hello"),
        "nsqd_pub_missing_topic.txt",
    );
    like_go(
        &nsqd.http_req("POST", "/pub?topic=bad!topic", b"hello"),
        "nsqd_pub_invalid_topic.txt",
    );
    like_go(
        &nsqd.http_req("POST", "/pub?topic=events", b""),
        "nsqd_pub_empty_body.txt",
    );
    like_go(
        &nsqd.http_req("POST", "/pub?topic=events&defer=99999999999", b"hello"),
        "nsqd_pub_invalid_defer.txt",
    );
    like_go(
        &nsqd.http_req("POST", "/mpub?topic=events&binary=true", &[0, 0]),
        "nsqd_mpub_binary_bad_body.txt",
    );

    // Too big by Content-Length: refused before the body is sent, and closed.
    let mut big_conn = nsqd.http_conn();
    big_conn
        .send(&Conn::head("POST", "/pub?topic=t", 1001))
        .unwrap();
    let r = big_conn.reply().unwrap();
    like_go(&r, "nsqd_pub_too_big.txt");
    assert!(big_conn.closed(), "the unread body ends the connection");
    let mut big_conn = nsqd.http_conn();
    big_conn
        .send(&Conn::head("POST", "/mpub?topic=t", 4001))
        .unwrap();
    let r = big_conn.reply().unwrap();
    assert_err(&r, 413, "BODY_TOO_BIG");
    assert_eq!(r.header("connection"), Some("close"));

    let s = nsqd.stats("&topic=t");
    let t = topic(&s, "t");
    assert_eq!(t["depth"], want.len());
    assert_eq!(t["message_count"], want.len());
    assert_eq!(consume(&nsqd, "t", "c", want.len()), want);
}

/// A chunked request whose body is never finished.
fn chunked_head(path: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: nsqd\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes()
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut c = format!("{:x}\r\n", data.len()).into_bytes();
    c.extend_from_slice(data);
    c.extend_from_slice(b"\r\n");
    c
}

#[test]
fn oversized_bodies_are_refused_while_they_stream() {
    let nsqd = Nsqd::start(&["--max-msg-size=1000", "--max-body-size=3000"]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("/pub?topic=t", vec![b'x'; 1100], "MSG_TOO_BIG"),
        (
            "/mpub?topic=t",
            [b"aaaa\n".repeat(700)].concat(),
            "BODY_TOO_BIG",
        ),
        ("/mpub?topic=t&binary=true", vec![0, 0, 0, 0], "BAD_BODY"),
        (
            "/mpub?topic=t&binary=true",
            vec![0, 0, 0, 9, 0, 0, 3, 233],
            "BAD_MESSAGE",
        ),
        ("/config/log_level", vec![b'd'; 1001], "INVALID_VALUE"),
    ];
    for (path, data, code) in cases {
        let mut c = nsqd.http_conn();
        let mut req = chunked_head(path);
        if path.starts_with("/config") {
            req = req.replace_first(b"POST", b"PUT");
        }
        for piece in data.chunks(100) {
            req.extend(chunk(piece));
        }
        // No final chunk: the answer must come before the body ends.
        c.send(&req).unwrap();
        let r = c.reply().unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_err(&r, 413, code);
        assert_eq!(r.header("connection"), Some("close"), "{path}");
        assert!(c.closed(), "{path}: closed");
    }
    // Nothing of the refused bodies was published.
    let s = nsqd.stats("");
    assert_eq!(topic(&s, "t")["message_count"], 0);
    // A chunked body within the limits is fine.
    let mut c = nsqd.http_conn();
    let mut req = chunked_head("/mpub?topic=t");
    req.extend(chunk(b"one\ntw"));
    req.extend(chunk(b"o\nthree"));
    req.extend(b"0\r\n\r\n");
    c.send(&req).unwrap();
    assert_eq!(c.reply().unwrap().text(), "OK");
    assert_eq!(consume(&nsqd, "t", "c", 3), vec!["one", "two", "three"]);
}

trait ReplaceFirst {
    fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceFirst for Vec<u8> {
    fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        match self.windows(from.len()).position(|w| w == from) {
            Some(i) => [&self[..i], to, &self[i + from.len()..]].concat(),
            None => self,
        }
    }
}

#[test]
fn deferred_http_publishes_wait() {
    let nsqd = Nsqd::start(&[]);
    assert_eq!(
        nsqd.http_req("POST", "/channel/create?topic=d&channel=c", b"")
            .status,
        404
    );
    nsqd.http_req("POST", "/topic/create?topic=d", b"");
    nsqd.http_req("POST", "/channel/create?topic=d&channel=c", b"");
    let r = nsqd.http_req("POST", "/pub?topic=d&defer=1000", b"later");
    assert_eq!(r.text(), "OK");
    let s = nsqd.stats("&topic=d");
    assert_eq!(channel(topic(&s, "d"), "c")["deferred_count"], 1);
    let mut c = nsqd.client();
    c.send(b"SUB d c\nRDY 1\n");
    assert_eq!(c.response(), "OK");
    assert!(matches!(
        c.read(Duration::from_millis(500)),
        common::Got::Timeout
    ));
    assert_eq!(&c.message().body[..], b"later");
}

#[test]
fn stats_describe_tcp_clients_as_nsq_does() {
    let nsqd = Nsqd::start(&["--e2e-processing-latency-percentile=0.99,0.5"]);
    let mut producer = identified(&nsqd, "prod");
    for i in 0..3 {
        producer.send_with(|w| encode::publish(w, "orders", format!("o{i}").as_bytes()));
        assert_eq!(producer.response(), "OK");
    }
    producer.send_with(|w| encode::mpub(w, "events", &[b"e0", b"e1"]));
    assert_eq!(producer.response(), "OK");
    // HTTP publishers are not producers.
    nsqd.http_req("POST", "/pub?topic=orders", b"o3");

    let mut consumer = identified(&nsqd, "cons");
    consumer.send(b"SUB orders billing\nRDY 2\n");
    assert_eq!(consumer.response(), "OK");
    let first = consumer.message();
    consumer.message();
    consumer.send_with(|w| encode::fin(w, &first.id));
    consumer.send(b"NOP\n");

    let s = loop {
        let s = nsqd.stats("");
        if channel(topic(&s, "orders"), "billing")["clients"][0]["finish_count"] == 1 {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let orders = topic(&s, "orders");
    assert_eq!(orders["message_count"], 4);
    let billing = channel(orders, "billing");
    // Four messages; RDY 2 took two, the FIN let a third go out.
    assert_eq!(
        (
            &billing["depth"],
            &billing["in_flight_count"],
            &billing["client_count"]
        ),
        (&Value::from(1), &Value::from(2), &Value::from(1))
    );
    let c = &billing["clients"][0];
    assert_eq!(c["client_id"], "cons");
    assert_eq!(c["hostname"], "cons.example");
    assert_eq!(c["user_agent"], "cons/0.1");
    assert_eq!(c["version"], "V2");
    assert_eq!(c["state"], 3);
    assert_eq!(
        (
            &c["ready_count"],
            &c["in_flight_count"],
            &c["message_count"],
            &c["finish_count"]
        ),
        (
            &Value::from(2),
            &Value::from(2),
            &Value::from(3),
            &Value::from(1)
        )
    );
    assert_eq!(
        c["remote_address"],
        consumer.stream.local_addr().unwrap().to_string()
    );
    assert!(c.get("pub_counts").is_none(), "consumers publish nothing");
    let lat = &billing["e2e_processing_latency"];
    assert_eq!(lat["count"], 1);
    assert_eq!(lat["percentiles"][0]["quantile"], 0.99);
    assert!(lat["percentiles"][0]["value"].as_f64().unwrap() > 0.0);
    assert_eq!(orders["e2e_processing_latency"]["count"], 1);

    let producers = s["producers"].as_array().unwrap();
    assert_eq!(producers.len(), 1, "{producers:?}");
    let p = &producers[0];
    assert_eq!(
        (&p["client_id"], &p["state"]),
        (&Value::from("prod"), &Value::from(0))
    );
    assert_eq!(
        p["pub_counts"],
        serde_json::json!([{"topic":"events","count":2},{"topic":"orders","count":3}])
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - p["connect_ts"].as_i64().unwrap()).abs() < 60);

    // Filters.
    let s = nsqd.stats("&topic=events");
    assert_eq!(
        s["producers"][0]["pub_counts"],
        serde_json::json!([{"topic":"events","count":2}])
    );
    let s = nsqd.stats("&topic=orders&channel=billing&include_clients=false");
    assert_eq!(s["producers"], Value::Null);
    assert_eq!(s["topics"][0]["channels"][0]["clients"], Value::Null);
    assert_eq!(s["topics"].as_array().unwrap().len(), 1);
    let s = nsqd.stats("&topic=nope");
    assert_eq!(
        (&s["topics"], &s["producers"]),
        (&Value::Null, &Value::Null)
    );
    assert!(nsqd.stats("&include_mem=false").get("memory").is_none());
    assert!(nsqd.stats("").get("memory").is_some());

    // The text format (also without `format`).
    let r = nsqd.http_req("GET", "/stats", b"");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let text = r.text();
    let port = consumer.stream.local_addr().unwrap().port();
    assert!(
        text.contains(&format!(
            "[V2 cons.example:{port} cons/0.1] state: 3 inflt: 2    rdy: 2    fin: 1        re-q: 0        msgs: 3        connected: "
        )),
        "{text}"
    );
    assert!(
        text.contains("msgs: 5        topics: events=2,orders=3 connected: "),
        "{text}"
    );
    assert!(text.starts_with("nsqd v1.3.0 (built w/rust"));

    // Prometheus.
    let r = nsqd.http_req("GET", "/metrics", b"");
    assert_eq!(r.status, 200);
    let m = r.text();
    assert!(
        m.contains("nsq_topic_messages_total{topic=\"orders\"} 4\n"),
        "{m}"
    );
    assert!(m.contains("nsq_channel_in_flight{topic=\"orders\",channel=\"billing\"} 2\n"));
    assert!(m.contains(
        "nsq_channel_e2e_processing_latency_samples{topic=\"orders\",channel=\"billing\"} 1\n"
    ));

    // A closed connection leaves the stats.
    drop(producer);
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        nsqd.stats("")["producers"].is_null()
    });
    assert!(gone, "the producer left");
}

#[test]
fn topics_and_channels_are_administered_as_in_nsq() {
    let nsqd = Nsqd::start(&[]);
    let go = |m: &str, p: &str| nsqd.http_req(m, p, b"");
    like_go(
        &go("POST", "/topic/delete?topic=missing_topic"),
        "nsqd_topic_delete_missing.txt",
    );
    nsqd.http_req("POST", "/topic/create?topic=orders", b"");
    like_go(
        &go(
            "POST",
            "/channel/empty?topic=orders&channel=missing_channel",
        ),
        "nsqd_channel_empty_missing.txt",
    );
    like_go(
        &go(
            "POST",
            "/channel/empty?topic=missing_topic&channel=missing_channel",
        ),
        "nsqd_channel_empty_missing_topic.txt",
    );
    for (path, status, code) in [
        ("/topic/create", 400, "MISSING_ARG_TOPIC"),
        ("/topic/create?topic=bad!", 400, "INVALID_TOPIC"),
        ("/topic/delete", 400, "MISSING_ARG_TOPIC"),
        ("/topic/empty?topic=bad!", 400, "INVALID_TOPIC"),
        ("/topic/empty?topic=nope", 404, "TOPIC_NOT_FOUND"),
        ("/topic/pause", 400, "MISSING_ARG_TOPIC"),
        ("/topic/unpause?topic=nope", 404, "TOPIC_NOT_FOUND"),
        ("/channel/create?topic=orders", 400, "MISSING_ARG_CHANNEL"),
        ("/channel/create?channel=c", 400, "MISSING_ARG_TOPIC"),
        (
            "/channel/create?topic=bad!&channel=c",
            400,
            "INVALID_ARG_TOPIC",
        ),
        (
            "/channel/create?topic=orders&channel=bad!",
            400,
            "INVALID_ARG_CHANNEL",
        ),
        (
            "/channel/create?topic=nope&channel=c",
            404,
            "TOPIC_NOT_FOUND",
        ),
        (
            "/channel/delete?topic=orders&channel=nope",
            404,
            "CHANNEL_NOT_FOUND",
        ),
        (
            "/channel/pause?topic=orders&channel=nope",
            404,
            "CHANNEL_NOT_FOUND",
        ),
        (
            "/channel/unpause?topic=orders&channel=nope",
            404,
            "CHANNEL_NOT_FOUND",
        ),
        ("/stats?topic=a;b", 400, "INVALID_REQUEST"),
    ] {
        let method = if path.starts_with("/stats") {
            "GET"
        } else {
            "POST"
        };
        assert_err(&go(method, path), status, code);
        let r = go("GET", path);
        if !path.starts_with("/stats") {
            assert_err(&r, 405, "METHOD_NOT_ALLOWED");
        }
    }

    // Channels get their copies; pause stops delivery, unpause resumes it.
    assert_eq!(
        go("POST", "/channel/create?topic=orders&channel=a").status,
        200
    );
    assert_eq!(
        go("POST", "/channel/create?topic=orders&channel=b").status,
        200
    );
    let mut sub = nsqd.client();
    sub.send(b"SUB orders a\nRDY 10\n");
    assert_eq!(sub.response(), "OK");
    assert_eq!(
        go("POST", "/channel/pause?topic=orders&channel=a").status,
        200
    );
    nsqd.http_req("POST", "/mpub?topic=orders", b"1\n2\n3");
    assert!(matches!(
        sub.read(Duration::from_millis(300)),
        common::Got::Timeout
    ));
    let s = nsqd.stats("");
    assert_eq!(channel(topic(&s, "orders"), "a")["paused"], true);
    assert_eq!(channel(topic(&s, "orders"), "a")["depth"], 3);
    assert_eq!(
        go("POST", "/channel/unpause?topic=orders&channel=a").status,
        200
    );
    for want in ["1", "2", "3"] {
        assert_eq!(&sub.message().body[..], want.as_bytes());
    }
    // Empty drops a channel's messages, not the others'.
    assert_eq!(
        go("POST", "/channel/empty?topic=orders&channel=b").status,
        200
    );
    let s = nsqd.stats("");
    assert_eq!(channel(topic(&s, "orders"), "b")["depth"], 0);
    assert_eq!(channel(topic(&s, "orders"), "a")["in_flight_count"], 3);

    // A paused topic keeps messages back from its channels.
    assert_eq!(go("POST", "/topic/pause?topic=orders").status, 200);
    nsqd.http_req("POST", "/pub?topic=orders", b"held");
    let s = nsqd.stats("");
    let t = topic(&s, "orders");
    assert_eq!(
        (&t["paused"], &t["depth"]),
        (&Value::Bool(true), &Value::from(1))
    );
    let text = nsqd.http_req("GET", "/stats?format=text", b"").text();
    assert!(text.contains("*P [orders         ]"), "{text}");
    assert_eq!(go("POST", "/topic/empty?topic=orders").status, 200);
    assert_eq!(topic(&nsqd.stats(""), "orders")["depth"], 0);
    assert_eq!(go("POST", "/topic/unpause?topic=orders").status, 200);
    assert_eq!(topic(&nsqd.stats(""), "orders")["paused"], false);

    // Deleting a channel closes its consumers; deleting the topic removes it.
    assert_eq!(
        go("POST", "/channel/delete?topic=orders&channel=a").status,
        200
    );
    assert!(sub.closed_within(Duration::from_secs(2)), "consumer closed");
    let s = nsqd.stats("");
    assert_eq!(topic(&s, "orders")["channels"].as_array().unwrap().len(), 1);
    assert_eq!(go("POST", "/topic/delete?topic=orders").status, 200);
    assert_eq!(nsqd.stats("")["topics"], serde_json::json!([]));
    assert_err(
        &go("POST", "/topic/delete?topic=orders"),
        404,
        "TOPIC_NOT_FOUND",
    );
    // An ephemeral topic goes with its last channel.
    go("POST", "/topic/create?topic=tmp%23ephemeral");
    go("POST", "/channel/create?topic=tmp%23ephemeral&channel=c");
    assert_eq!(
        go("POST", "/channel/delete?topic=tmp%23ephemeral&channel=c").status,
        200
    );
    assert_eq!(nsqd.stats("")["topics"], serde_json::json!([]));
}

#[test]
fn config_reads_and_changes_options() {
    // A port nothing listens on (a lookupd running on this machine is not ours to register with).
    let lookupd = common::closed_port();
    let nsqd = Nsqd::start(&[
        &format!("--lookupd-tcp-address={lookupd}"),
        "--max-msg-size=100",
    ]);
    let get = |opt: &str| nsqd.http_req("GET", &format!("/config/{opt}"), b"");
    let r = get("nsqlookupd_tcp_addresses");
    let go = http_capture("nsqd_config_nsqlookupd_tcp_addresses.txt");
    assert_eq!(
        (r.status, r.header("content-type")),
        (go.status, go.header("content-type"))
    );
    assert_eq!(r.text(), format!(r#"["{lookupd}"]"#));
    let put = |opt: &str, body: &[u8]| nsqd.http_req("PUT", &format!("/config/{opt}"), body);
    let r = put(
        "nsqlookupd_tcp_addresses",
        br#"["127.0.0.1:1","127.0.0.1:2"]"#,
    );
    assert_eq!(
        (r.status, r.text()),
        (200, r#"["127.0.0.1:1","127.0.0.1:2"]"#.into())
    );
    assert_eq!(
        get("nsqlookupd_tcp_addresses").text(),
        r#"["127.0.0.1:1","127.0.0.1:2"]"#
    );
    assert_eq!(get("log_level").text(), "2");
    assert_eq!(put("log_level", b"debug").text(), "1");
    assert_eq!(get("log_level").text(), "1");
    assert_eq!(get("mem_queue_size").text(), "10000");
    assert_eq!(get("max_msg_size").text(), "100");
    assert_eq!(get("msg_timeout").text(), "60000000000");
    assert_eq!(
        get("broadcast_http_port").text(),
        nsqd.http().port().to_string()
    );
    assert_eq!(
        get("statsd_prefix").text(),
        format!("\"nsq.127_0_0_1_{}.\"", nsqd.http().port())
    );
    assert_err(&get("nope"), 400, "INVALID_OPTION");
    assert_err(&put("nope", b"x"), 400, "INVALID_OPTION");
    assert_err(&put("nope", b""), 413, "INVALID_VALUE");
    assert_err(&put("log_level", b"loud"), 400, "INVALID_VALUE");
    assert_err(
        &put("nsqlookupd_tcp_addresses", b"[1]"),
        400,
        "INVALID_VALUE",
    );
    assert_err(&put("log_level", &[b'd'; 101]), 413, "INVALID_VALUE");
    assert_err(
        &nsqd.http_req("POST", "/config/log_level", b"x"),
        405,
        "METHOD_NOT_ALLOWED",
    );
    // The new level is in force: at `error`, requests are no longer logged.
    assert_eq!(put("log_level", b"error").text(), "4");
    let pings = || {
        let logs = nsqd.proc.logs.lock().unwrap();
        logs.iter().filter(|l| l.contains("GET /ping")).count()
    };
    let before = pings();
    for _ in 0..5 {
        nsqd.http_req("GET", "/ping", b"");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(pings(), before, "no request logs at level error");
    assert_eq!(put("log_level", b"info").text(), "2");
    nsqd.http_req("GET", "/ping", b"");
    let logged = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        pings() > before
    });
    assert!(logged, "request logs are back at level info");
}

#[test]
fn statsd_receives_nsqs_metrics_in_bounded_packets() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let nsqd = Nsqd::start(&[
        &format!("--statsd-address={addr}"),
        "--statsd-interval=200ms",
        "--statsd-prefix=test.%s",
        "--statsd-udp-packet-size=200",
        "--statsd-exclude-ephemeral",
        "--statsd-mem-stats=false",
    ]);
    nsqd.http_req("POST", "/topic/create?topic=st", b"");
    nsqd.http_req("POST", "/channel/create?topic=st&channel=c", b"");
    nsqd.http_req(
        "POST",
        "/channel/create?topic=st&channel=e%23ephemeral",
        b"",
    );
    nsqd.http_req("POST", "/mpub?topic=st", b"a\nb\nc");
    let prefix = format!("test.127_0_0_1_{}.", nsqd.http().port());
    // Collect pushes until one shows the three messages, then one more.
    let mut lines: Vec<String> = Vec::new();
    let mut buf = [0u8; 65536];
    let mut counts: Vec<i64> = Vec::new();
    while !(counts.contains(&3) && counts.last() != Some(&3)) {
        let n = sock.recv(&mut buf).expect("statsd packets keep coming");
        assert!(n <= 200, "packet of {n} bytes");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(text.ends_with('\n'));
        for l in text.lines() {
            assert!(l.starts_with(&prefix), "{l}");
            let metric = &l[prefix.len()..];
            if let Some(v) = metric.strip_prefix("topic.st.channel.c.message_count:") {
                counts.push(v.trim_end_matches("|c").parse().unwrap());
            }
            lines.push(metric.to_string());
        }
    }
    // Counters carry the change since the previous push.
    assert_eq!(counts.iter().sum::<i64>(), 3, "{counts:?}");
    assert_eq!(counts.iter().filter(|&&c| c != 0).count(), 1, "{counts:?}");
    for want in [
        "topic.st.message_count:",
        "topic.st.message_bytes:",
        "topic.st.depth:0|g",
        "topic.st.backend_depth:0|g",
        "topic.st.channel.c.depth:3|g",
        "topic.st.channel.c.backend_depth:0|g",
        "topic.st.channel.c.in_flight_count:0|g",
        "topic.st.channel.c.deferred_count:0|g",
        "topic.st.channel.c.requeue_count:0|c",
        "topic.st.channel.c.timeout_count:0|c",
        "topic.st.channel.c.clients:0|g",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "{want} in {lines:?}"
        );
    }
    assert!(!lines.iter().any(|l| l.contains("ephemeral")), "excluded");
    assert!(
        !lines.iter().any(|l| l.starts_with("mem.")),
        "mem stats off"
    );
}
