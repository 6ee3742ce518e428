//! nsqadmin's JSON API against a real cluster on loopback: one nsqlookupd,
//! two nsqd, nsqadmin in front. Views merge both nodes; actions reach every
//! node (checked on the nodes themselves); nodes that do not answer are
//! warnings, not failures; admin users, base path, /config, notifications
//! and graphite behave as in NSQ v1.3.0.

#[path = "../../runtime-tokio/tests/support/certs.rs"]
mod certs;
mod common;
mod fake_http;

use common::{eventually, http_capture, Client, Nsqadmin, Nsqd, Nsqlookupd};
use fake_http::FakeHttp;
use nsq_core::wire::command::encode;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

struct Cluster {
    lookupd: Nsqlookupd,
    a: Nsqd,
    b: Nsqd,
}

fn node(n: &Nsqd) -> String {
    format!("127.0.0.1:{}", n.http().port())
}

impl Cluster {
    fn start() -> Cluster {
        let lookupd = Nsqlookupd::start(&[]);
        let arg = format!("--lookupd-tcp-address={}", lookupd.tcp());
        let a = Nsqd::start(&[&arg]);
        let b = Nsqd::start(&[&arg]);
        Cluster { lookupd, a, b }
    }

    fn admin(&self, extra: &[&str]) -> Nsqadmin {
        let arg = format!("--lookupd-http-address={}", self.lookupd.http());
        let mut args = vec![arg.as_str()];
        args.extend_from_slice(extra);
        Nsqadmin::start(&args)
    }

    /// Waits until the lookupd lists `n` nodes for `topic`.
    fn registered(&self, topic: &str, n: usize) {
        let ok = eventually(WAIT, || {
            let r = self.lookupd.get(&format!("/lookup?topic={topic}"));
            (r.status == 200 && r.json()["producers"].as_array().map(Vec::len) == Some(n))
                .then_some(())
        });
        assert!(ok.is_some(), "{topic} never had {n} producers in lookupd");
    }

    /// `orders` on both nodes (A: 3 messages, B: 2) with channel `billing`.
    fn orders(&self) {
        for n in [&self.a, &self.b] {
            assert_eq!(
                n.http_req("POST", "/topic/create?topic=orders", b"").status,
                200
            );
            assert_eq!(
                n.http_req("POST", "/channel/create?topic=orders&channel=billing", b"")
                    .status,
                200
            );
        }
        for (n, count) in [(&self.a, 3), (&self.b, 2)] {
            for i in 0..count {
                let r = n.http_req("POST", "/pub?topic=orders", format!("m{i}").as_bytes());
                assert_eq!(r.status, 200, "{}", r.text());
            }
        }
        self.registered("orders", 2);
    }
}

/// A consumer on `n`'s orders/billing holding one message in flight.
fn consumer(n: &Nsqd) -> Client {
    let mut c = n.client();
    c.send_with(|w| {
        encode::identify(
            w,
            br#"{"client_id":"worker-1","hostname":"worker1.example","user_agent":"test/1.0","feature_negotiation":true}"#,
        )
    });
    let _ = c.response();
    c.send_with(|w| encode::sub(w, "orders", "billing"));
    assert_eq!(c.response(), "OK");
    c.send_with(|w| encode::rdy(w, 1));
    let _ = c.message();
    c
}

fn channel_stats(n: &Nsqd, topic: &str, channel: &str) -> Option<Value> {
    let s = n.stats(&format!("&topic={topic}&channel={channel}"));
    s["topics"].as_array()?.first()?["channels"]
        .as_array()?
        .iter()
        .find(|c| c["channel_name"] == channel)
        .cloned()
}

fn ok_json(r: &common::HttpResponse) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("x-nsq-content-type"), Some("nsq; version=1.0"));
    r.json()
}

#[test]
fn views_merge_every_node() {
    let c = Cluster::start();
    c.orders();
    let _held = consumer(&c.a);
    let admin = c.admin(&[]);
    let (a, b) = (node(&c.a), node(&c.b));

    let ping = admin.get("/ping");
    let go = http_capture("nsqadmin_ping.txt");
    assert_eq!((ping.status, ping.body.clone()), (go.status, go.body));
    assert_eq!(
        ping.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    let t = ok_json(&admin.get("/api/topics"));
    assert_eq!(t, json!({"topics": ["orders"], "message": ""}));

    let t = ok_json(&admin.get("/api/topics/orders"));
    assert_eq!(
        (t["node"].as_str(), t["message_count"].as_i64()),
        (Some("*"), Some(5))
    );
    assert_eq!(t["message"], "");
    let nodes: Vec<&str> = t["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(nodes, want, "every node, by host name then address");
    let billing = &t["channels"][0];
    assert_eq!(billing["channel_name"], "billing");
    assert_eq!(billing["node"], "*");
    assert_eq!(
        billing["depth"].as_i64().unwrap() + billing["in_flight_count"].as_i64().unwrap(),
        5
    );
    assert_eq!(billing["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(
        billing["clients"],
        Value::Null,
        "the topic view asks without clients"
    );

    let ch = ok_json(&admin.get("/api/topics/orders/billing"));
    assert_eq!(
        (ch["node"].as_str(), ch["message_count"].as_i64()),
        (Some("*"), Some(5))
    );
    assert_eq!(
        (ch["in_flight_count"].as_i64(), ch["client_count"].as_i64()),
        (Some(1), Some(1))
    );
    let cl = &ch["clients"][0];
    assert_eq!(cl["node"], a.as_str());
    assert_eq!(cl["client_id"], "worker-1");
    assert_eq!(cl["hostname"], "worker1.example");
    assert_eq!(
        (cl["ready_count"].as_i64(), cl["in_flight_count"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(cl["connected"].as_i64().unwrap() >= 0);

    let n = ok_json(&admin.get("/api/nodes"));
    let list = n["nodes"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for p in list {
        let via = p["remote_addresses"][0].as_str().unwrap();
        assert!(
            via.starts_with(&format!("{}/127.0.0.1:", c.lookupd.http())),
            "{via}"
        );
        assert_eq!(
            p["topics"],
            json!([{"topic": "orders", "tombstoned": false}])
        );
        assert_eq!(p["out_of_date"], false);
    }

    let one = ok_json(&admin.get(&format!("/api/nodes/{a}")));
    assert_eq!(one["node"], a.as_str());
    assert_eq!(
        (
            one["total_messages"].as_i64(),
            one["total_clients"].as_i64()
        ),
        (Some(3), Some(1))
    );
    assert_eq!(
        one["topics"][0]["channels"][0]["clients"][0]["client_id"],
        "worker-1"
    );

    let missing = admin.get("/api/nodes/127.0.0.1:1");
    let go = http_capture("nsqadmin_api_nodes_missing.txt");
    assert_eq!(
        (missing.status, missing.text()),
        (go.status, String::from_utf8_lossy(&go.body).into_owned())
    );

    let counter = ok_json(&admin.get("/api/counter"));
    let stats = counter["stats"].as_object().unwrap();
    assert_eq!(stats[&format!("orders:billing:{a}")]["message_count"], 3);
    assert_eq!(stats[&format!("orders:billing:{b}")]["message_count"], 2);

    let o = ok_json(&admin.get("/api/overview"));
    assert_eq!(o["topics"][0]["topic_name"], "orders");
    assert_eq!(
        (
            o["topics"][0]["node_count"].as_i64(),
            o["topics"][0]["message_count"].as_i64()
        ),
        (Some(2), Some(5))
    );

    // A topic lookupd has never heard of: Go's exact 502.
    let r = admin.get("/api/topics/missing");
    let go = http_capture("nsqadmin_api_topics_missing.txt");
    assert_eq!(r.status, go.status);
    assert_eq!(r.text(), String::from_utf8_lossy(&go.body));

    // NSQ's conventions for the rest.
    let r = admin.send("PUT", "/api/topics", &[], "");
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some("GET, OPTIONS, POST"))
    );
    assert_eq!(admin.get("/api/nope").status, 404);
}

#[test]
fn a_node_that_does_not_answer_is_a_warning() {
    let c = Cluster::start();
    c.orders();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let (a, b) = (node(&c.a), node(&c.b));
    let admin = Nsqadmin::start(&[
        &format!("--nsqd-http-address={a}"),
        &format!("--nsqd-http-address={dead}"),
        "--http-client-connect-timeout=1s",
    ]);
    let t = ok_json(&admin.get("/api/topics"));
    assert_eq!(t["topics"], json!(["orders"]));
    let msg = t["message"].as_str().unwrap();
    assert!(msg.starts_with("WARNING: Get \"http://"), "{msg}");
    assert!(msg.contains(&dead), "{msg}");

    let t = ok_json(&admin.get("/api/topics/orders"));
    assert_eq!(t["message_count"], 3);
    assert!(t["message"].as_str().unwrap().contains(&dead));
    let n = ok_json(&admin.get("/api/nodes"));
    assert_eq!(n["nodes"].as_array().unwrap().len(), 1);
    assert!(n["message"].as_str().unwrap().starts_with("WARNING: "));
    let counter = ok_json(&admin.get("/api/counter"));
    assert_eq!(counter["stats"].as_object().unwrap().len(), 1);

    // Nobody answers: 502.
    let only_dead = Nsqadmin::start(&[&format!("--nsqd-http-address={dead}")]);
    let r = only_dead.get("/api/topics");
    assert_eq!(r.status, 502);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("UPSTREAM_ERROR: failed to query any nsqd: "));

    // One of two lookupds down: still the whole cluster, with a warning.
    let two = Nsqadmin::start(&[
        &format!("--lookupd-http-address={}", c.lookupd.http()),
        &format!("--lookupd-http-address={dead}"),
    ]);
    let t = ok_json(&two.get("/api/topics/orders"));
    assert_eq!(t["message_count"], 5);
    assert!(t["message"].as_str().unwrap().contains(&dead));
    let n = ok_json(&two.get("/api/nodes"));
    let found: Vec<&str> = n["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["remote_addresses"][0].as_str().unwrap())
        .collect();
    assert_eq!(found.len(), 2, "{found:?} {b}");
}

#[test]
fn actions_reach_every_node() {
    let c = Cluster::start();
    c.orders();
    let admin = c.admin(&[]);
    let act = |path: &str, action: &str| {
        let r = admin.send("POST", path, &[], &json!({ "action": action }).to_string());
        assert_eq!(ok_json(&r), json!({"message": ""}), "{action} {path}");
    };
    let both = |f: &dyn Fn(&Value) -> bool| {
        [&c.a, &c.b]
            .iter()
            .all(|n| channel_stats(n, "orders", "billing").is_some_and(|s| f(&s)))
    };

    act("/api/topics/orders/billing", "pause");
    assert!(both(&|s| s["paused"] == true), "paused on every node");
    act("/api/topics/orders/billing", "unpause");
    assert!(both(&|s| s["paused"] == false));
    act("/api/topics/orders/billing", "empty");
    assert!(both(&|s| s["depth"] == 0));

    act("/api/topics/orders", "pause");
    for n in [&c.a, &c.b] {
        assert_eq!(n.stats("&topic=orders")["topics"][0]["paused"], true);
    }
    act("/api/topics/orders", "unpause");
    act("/api/topics/orders", "empty");

    let r = admin.send(
        "POST",
        "/api/topics/orders/billing",
        &[],
        r#"{"action":"explode"}"#,
    );
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (400, Some("INVALID_ACTION"))
    );
    let r = admin.send("POST", "/api/topics/orders/billing", &[], "");
    assert_eq!((r.status, r.json()["message"].as_str()), (400, Some("EOF")));
    let r = admin.send("POST", "/api/topics/bad!/c", &[], r#"{"action":"pause"}"#);
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (400, Some("INVALID_TOPIC"))
    );

    // Create a channel: lookupd knows it, and so does every node with the topic.
    let r = admin.send(
        "POST",
        "/api/topics",
        &[],
        r#"{"topic":"orders","channel":"audit"}"#,
    );
    assert_eq!(ok_json(&r), json!({"message": ""}));
    let chans = c.lookupd.get("/channels?topic=orders").json();
    assert!(
        chans["channels"]
            .as_array()
            .unwrap()
            .contains(&json!("audit")),
        "{chans}"
    );
    for n in [&c.a, &c.b] {
        assert!(channel_stats(n, "orders", "audit").is_some());
    }
    // A topic no node carries yet lives in lookupd.
    let r = admin.send(
        "POST",
        "/api/topics",
        &[],
        r#"{"topic":"later","channel":""}"#,
    );
    assert_eq!(ok_json(&r)["message"], "");
    let inactive = ok_json(&admin.get("/api/topics?inactive=true"));
    assert_eq!(inactive["topics"], json!({"later": []}));
    for (body, want) in [
        (r#"{"topic":"bad!"}"#, "INVALID_TOPIC"),
        (r#"{"topic":"t","channel":"b@d"}"#, "INVALID_CHANNEL"),
        ("", "EOF"),
    ] {
        let r = admin.send("POST", "/api/topics", &[], body);
        assert_eq!(
            (r.status, r.json()["message"].as_str()),
            (400, Some(want)),
            "{body}"
        );
    }

    // Delete a channel everywhere.
    assert_eq!(
        ok_json(&admin.send("DELETE", "/api/topics/orders/audit", &[], "")),
        json!({"message": ""})
    );
    for n in [&c.a, &c.b] {
        assert!(channel_stats(n, "orders", "audit").is_none());
    }
    let chans = c.lookupd.get("/channels?topic=orders").json();
    assert!(!chans["channels"]
        .as_array()
        .unwrap()
        .contains(&json!("audit")));

    // Tombstone node A for the topic: lookupd forgets A, A drops the topic.
    let a = node(&c.a);
    let r = admin.send(
        "DELETE",
        &format!("/api/nodes/{a}"),
        &[],
        r#"{"topic":"orders"}"#,
    );
    assert_eq!(ok_json(&r), json!({"message": ""}));
    assert_eq!(c.a.stats("&topic=orders")["topics"], Value::Null);
    let lookup = c.lookupd.get("/lookup?topic=orders").json();
    let left: Vec<i64> = lookup["producers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["http_port"].as_i64().unwrap())
        .collect();
    assert_eq!(left, [i64::from(c.b.http().port())]);
    let r = admin.send("DELETE", &format!("/api/nodes/{a}"), &[], "{");
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (400, Some("INVALID_BODY"))
    );

    // Delete the topic everywhere.
    assert_eq!(
        ok_json(&admin.send("DELETE", "/api/topics/orders", &[], "")),
        json!({"message": ""})
    );
    assert_eq!(c.b.stats("&topic=orders")["topics"], Value::Null);
    let topics = c.lookupd.get("/topics").json();
    assert!(!topics["topics"]
        .as_array()
        .unwrap()
        .contains(&json!("orders")));
}

#[test]
fn without_lookupds_nodes_are_asked_directly() {
    let c = Cluster::start();
    c.orders();
    let (a, b) = (node(&c.a), node(&c.b));
    let admin = Nsqadmin::start(&[
        &format!("--nsqd-http-address={a}"),
        &format!("--nsqd-http-address={b}"),
    ]);
    let t = ok_json(&admin.get("/api/topics/orders"));
    assert_eq!(
        (
            t["message_count"].as_i64(),
            t["nodes"].as_array().unwrap().len()
        ),
        (Some(5), 2)
    );
    let n = ok_json(&admin.get("/api/nodes"));
    assert_eq!(n["nodes"][0]["remote_addresses"], Value::Null);
    assert_eq!(n["nodes"][0]["version"], "1.3.0");
    let r = admin.send(
        "POST",
        "/api/topics",
        &[],
        r#"{"topic":"fresh","channel":"ch"}"#,
    );
    assert_eq!(ok_json(&r)["message"], "");
    for nd in [&c.a, &c.b] {
        assert!(
            channel_stats(nd, "fresh", "ch").is_some(),
            "created on every nsqd"
        );
    }
    // A topic no node has: an empty view, not an error.
    let t = ok_json(&admin.get("/api/topics/none"));
    assert_eq!(
        (t["nodes"].clone(), t["channels"].clone()),
        (json!([]), json!([]))
    );
    let inactive = ok_json(&admin.get("/api/topics?inactive=true"));
    assert_eq!(inactive["topics"], json!({}));
}

#[test]
fn admin_users_gate_actions_and_notifications_are_sent() {
    let c = Cluster::start();
    c.orders();
    let seen: Arc<Mutex<Vec<fake_http::Request>>> = Arc::default();
    let log = Arc::clone(&seen);
    let hook = FakeHttp::start(move |r| {
        log.lock().unwrap().push(r.clone());
        (200, vec![], b"ok".to_vec())
    });
    let endpoint = format!("--notification-http-endpoint=http://{}/hook", hook.addr);
    let admin = c.admin(&[
        &endpoint,
        "--admin-user=ops",
        "--acl-http-header=X-User",
        "--base-path=/admin",
    ]);

    let body = r#"{"action":"pause"}"#;
    let r = admin.send("POST", "/admin/api/topics/orders/billing", &[], body);
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    let r = admin.send(
        "POST",
        "/admin/api/topics/orders/billing",
        &[("X-User", "dev")],
        body,
    );
    assert_eq!(r.status, 403);
    for (m, p) in [
        ("DELETE", "/admin/api/topics/orders"),
        ("POST", "/admin/api/topics"),
    ] {
        assert_eq!(
            admin.send(m, p, &[], r#"{"topic":"orders"}"#).status,
            403,
            "{m} {p}"
        );
    }
    assert!(channel_stats(&c.a, "orders", "billing").unwrap()["paused"] == false);

    // The index tells the UI whether to offer actions.
    let page = admin.get("/admin/topics/orders");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains(r#""is_admin":false"#));
    let page = admin.send("GET", "/admin/", &[("X-User", "ops")], "");
    assert!(page.text().contains(r#""is_admin":true"#));

    let r = admin.send(
        "POST",
        "/admin/api/topics/orders/billing",
        &[
            ("X-User", "ops"),
            ("Authorization", "Basic b3BzOnNlY3JldA=="),
            ("User-Agent", "browser/9"),
        ],
        body,
    );
    assert_eq!(ok_json(&r), json!({"message": ""}));
    assert!(channel_stats(&c.b, "orders", "billing").unwrap()["paused"] == true);
    let got = eventually(WAIT, || {
        let s = seen.lock().unwrap();
        s.first().cloned()
    })
    .expect("a notification");
    assert_eq!(
        (got.method.as_str(), got.target.as_str()),
        ("POST", "/hook")
    );
    assert_eq!(got.header("content-type"), Some("application/json"));
    let n: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(n["action"], "pause_channel");
    assert_eq!(
        (n["topic"].as_str(), n["channel"].as_str()),
        (Some("orders"), Some("billing"))
    );
    assert_eq!(n["user"], "ops");
    assert_eq!(n["user_agent"], "browser/9");
    assert_eq!(
        n["url"],
        format!("http://{}/admin/api/topics/orders/billing", admin.http())
    );
    assert!(n["remote_ip"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(n["timestamp"].as_i64().unwrap() > 1_600_000_000);
    assert!(!n["via"].as_str().unwrap().is_empty());
    assert!(n.get("node").is_none(), "omitted when empty: {n}");

    let r = admin.send(
        "DELETE",
        &format!("/admin/api/nodes/{}", node(&c.a)),
        &[("X-User", "ops")],
        r#"{"topic":"orders"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let tomb = eventually(WAIT, || {
        let s = seen.lock().unwrap();
        (s.len() >= 2).then(|| s[1].clone())
    })
    .expect("a second notification");
    let n: Value = serde_json::from_slice(&tomb.body).unwrap();
    assert_eq!(
        (n["action"].as_str(), n["node"].as_str()),
        (Some("tombstone_topic_producer"), Some(node(&c.a).as_str()))
    );
    assert!(n.get("channel").is_none());
}

#[test]
fn base_path_prefixes_everything() {
    let c = Cluster::start();
    c.orders();
    let admin = c.admin(&["--base-path=admin/"]);
    assert_eq!(
        ok_json(&admin.get("/admin/api/topics"))["topics"],
        json!(["orders"])
    );
    assert_eq!(admin.get("/api/topics").status, 404);
    assert_eq!(admin.get("/administrator/api/topics").status, 404);
    assert_eq!(admin.get("/admin/ping").text(), "OK");
    let index = admin.get("/admin");
    assert_eq!(index.status, 200);
    let html = index.text();
    assert!(html.contains(r#"src="/admin/static/app.js""#), "{html}");
    assert!(html.contains(r#""base_path":"/admin""#));
    let js = admin.get("/admin/static/app.js");
    assert_eq!(
        (js.status, js.header("content-type")),
        (200, Some("text/javascript; charset=utf-8"))
    );
    // Every module the page loads is there.
    for name in html
        .split('"')
        .chain(js.text().split('\''))
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
    {
        let file = name.rsplit('/').next().unwrap();
        let r = admin.get(&format!("/admin/static/{file}"));
        assert_eq!(r.status, 200, "{file}");
    }
    assert_eq!(admin.get("/admin/static/nope.js").status, 404);
    assert_eq!(admin.get("/admin/nodes/127.0.0.1:4151").status, 200);
}

#[test]
fn config_reads_and_changes_options() {
    let c = Cluster::start();
    c.orders();
    let admin = c.admin(&[]);
    let r = ok_json(&admin.get("/config/nsqlookupd_http_addresses"));
    assert_eq!(r, json!([c.lookupd.http().to_string()]));
    assert_eq!(
        ok_json(&admin.get("/config/statsd_interval")),
        json!(60_000_000_000i64)
    );
    assert_eq!(ok_json(&admin.get("/config/admin_users")), json!([]));
    let r = admin.get("/config/nope");
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (400, Some("INVALID_OPTION"))
    );

    // Point nsqadmin at a lookupd that is not there: now it cannot answer.
    let r = admin.send(
        "PUT",
        "/config/nsqlookupd_http_addresses",
        &[],
        r#"["127.0.0.1:1"]"#,
    );
    assert_eq!(ok_json(&r), json!(["127.0.0.1:1"]));
    assert_eq!(admin.get("/api/topics").status, 502);
    let back = format!(r#"["{}"]"#, c.lookupd.http());
    assert_eq!(
        admin
            .send("PUT", "/config/nsqlookupd_http_addresses", &[], &back)
            .status,
        200
    );
    assert_eq!(
        ok_json(&admin.get("/api/topics"))["topics"],
        json!(["orders"])
    );

    assert_eq!(
        ok_json(&admin.send("PUT", "/config/log_level", &[], "debug")),
        json!(1)
    );
    let r = admin.send("PUT", "/config/log_level", &[], "loud");
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (400, Some("INVALID_VALUE"))
    );
    let r = admin.send("PUT", "/config/log_level", &[], "");
    assert_eq!(r.status, 413);
    let r = admin.send("PUT", "/config/base_path", &[], "/x");
    assert_eq!(r.json()["message"], "INVALID_OPTION");

    let strict = c.admin(&["--allow-config-from-cidr=10.0.0.0/8"]);
    let r = strict.get("/config/log_level");
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (403, Some("FORBIDDEN"))
    );
}

#[test]
fn graphite_rates_and_proxy() {
    let c = Cluster::start();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let graphite = FakeHttp::start(move |r| {
        log.lock().unwrap().push(r.target.clone());
        (
            200,
            vec![("Content-Type".into(), "application/json".into())],
            br#"[{"target":"x","datapoints":[[120.0,1]]}]"#.to_vec(),
        )
    });
    let url = format!("--graphite-url=http://{}", graphite.addr);
    let admin = c.admin(&[&url, "--proxy-graphite", "--statsd-interval=10s"]);
    let r = ok_json(
        &admin.get("/api/graphite?metric=rate&target=sumSeries(nsq.*.topic.t.message_count)"),
    );
    assert_eq!(r, json!({"rate": "12.00"}));
    assert_eq!(
        seen.lock().unwrap()[0],
        "/render?format=json&from=-20sec&target=sumSeries%28nsq.%2A.topic.t.message_count%29&until=-10sec"
    );
    let r = admin.get("/api/graphite?metric=depth&target=x");
    assert_eq!(r.json()["message"], "INVALID_ARG_METRIC");
    let r = admin.get("/api/graphite?metric=rate");
    assert_eq!(r.json()["message"], "INVALID_ARG_TARGET");

    let r = admin.get("/render?target=a&from=-2h");
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json"))
    );
    assert_eq!(seen.lock().unwrap()[1], "/render?target=a&from=-2h");
    let page = admin.get("/").text();
    assert!(page.contains(r#""graph_enabled":true"#) && page.contains(r#""graphite_url":"""#));
}

#[test]
fn start_up_checks() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nsqadmin"))
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("run nsqadmin")
    };
    let o = run(&["--http-address=127.0.0.1:0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("--nsqd-http-address or --lookupd-http-address required"));
    let o = run(&[
        "--http-address=127.0.0.1:0",
        "--nsqd-http-address=a:1",
        "--lookupd-http-address=b:2",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("use --nsqd-http-address or --lookupd-http-address not both"));
    let o = run(&[
        "--http-address=127.0.0.1:0",
        "--nsqd-http-address=a:1",
        "--http-client-tls-cert=/nonexistent.pem",
        "--http-client-tls-key=/nonexistent.key",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("failed to LoadX509KeyPair"));
    let o = run(&["--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["--version"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("nsqadmin v1.3.0"));
}

#[test]
fn nodes_that_require_tls_are_asked_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca");
    let server = ca.server(dir.path());
    let n = Nsqd::start(&[
        &format!("--tls-cert={}", server.cert_s()),
        &format!("--tls-key={}", server.key_s()),
        "--tls-required=true",
    ]);
    let plain = n.http_req("GET", "/stats?format=json", b"");
    assert_eq!(plain.status, 403, "nsqd refuses plain HTTP");
    let addr = format!("--nsqd-http-address={}", node(&n));
    let admin = Nsqadmin::start(&[
        &addr,
        &format!("--http-client-tls-root-ca-file={}", ca.pem_s()),
    ]);
    // Created, listed and shown through nsqd's HTTPS port (NSQ's 403 retry).
    let r = admin.send(
        "POST",
        "/api/topics",
        &[],
        r#"{"topic":"secure","channel":"c"}"#,
    );
    assert_eq!(ok_json(&r), json!({"message": ""}));
    assert_eq!(
        ok_json(&admin.get("/api/topics"))["topics"],
        json!(["secure"])
    );
    let t = ok_json(&admin.get("/api/topics/secure"));
    assert_eq!(t["channels"][0]["channel_name"], "c");
    assert_eq!(t["nodes"][0]["node"], node(&n), "named by its HTTP address");

    // Without a CA to check nsqd's certificate nothing is sent over TLS.
    let blind = Nsqadmin::start(&[&addr]);
    let r = blind.get("/api/topics");
    assert_eq!(r.status, 502);
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("https needs --http-client-tls-root-ca-file"),
        "{msg}"
    );
}
