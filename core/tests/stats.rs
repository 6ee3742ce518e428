//! nsqd's stats of a scripted broker on a fixed clock (insta snapshots of
//! the JSON, text, Prometheus and statsd output), checked against the
//! captures of Go nsqd v1.3.0 in testdata/http-samples.

use bytes::Bytes;
use nsq_core::api::info::Info;
use nsq_core::broker::{BrokerConfig, ConsumerSettings, LocalBroker};
use nsq_core::io::{Nanos, MS, SECOND};
use nsq_core::stats::*;
use nsq_core::Options;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The Go captures kept in the repository (`testdata/http-samples`).
fn http_samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/http-samples")
}

/// The body of a captured Go response.
fn capture(name: &str) -> String {
    let raw = std::fs::read_to_string(http_samples().join(name)).expect(name);
    raw.split_once("\n\n").expect("headers end").1.to_string()
}

/// The capture's start time.
const T0: Nanos = 1_795_290_984 * SECOND;
const PRODUCER: u64 = 1;
const CONSUMER: u64 = 2;

fn bodies(prefix: &str, range: std::ops::Range<usize>) -> Vec<Bytes> {
    range
        .map(|i| Bytes::from(format!("{prefix}-{i:02}")))
        .collect()
}

fn identity(handle: &u64) -> ClientIdentity {
    match *handle {
        PRODUCER => ClientIdentity {
            client_id: "fixture-producer".into(),
            hostname: "producer.example".into(),
            user_agent: "fixture-producer/0.1".into(),
            remote_address: "127.0.0.1:47094".into(),
            connect_ts: T0 + 100 * MS,
            pub_counts: [("events".to_string(), 12), ("orders".to_string(), 31)].into(),
            ..Default::default()
        },
        _ => ClientIdentity {
            client_id: "fixture-consumer".into(),
            hostname: "consumer.example".into(),
            user_agent: "fixture-consumer/0.1".into(),
            remote_address: "127.0.0.1:47108".into(),
            connect_ts: T0 + 200 * MS,
            state: 3,
            ..Default::default()
        },
    }
}

/// The state the Go captures were taken in (see the fixtures' README),
/// plus a paused topic `scratch` with 4 messages and no channel.
fn scenario(percentiles: &[f64]) -> LocalBroker<u64> {
    let cfg = BrokerConfig {
        e2e_percentiles: Arc::from(percentiles),
        ..BrokerConfig::default()
    };
    let mut b = LocalBroker::new(cfg, 1);
    let now = T0 + 300 * MS;
    for (t, c) in [
        ("orders", "billing"),
        ("orders", "shipping"),
        ("events", "archive"),
    ] {
        b.topic_mut(t);
        let topic = b.topics.get_mut(t).unwrap();
        topic.get_or_create_channel(c, now, &mut b.out);
    }
    let orders = b.topics.get_mut("orders").unwrap();
    orders
        .publish(bodies("order", 0..20), now, &mut b.out)
        .unwrap();
    for body in bodies("order", 20..30) {
        orders.publish(vec![body], now, &mut b.out).unwrap();
    }
    orders.publish_deferred(Bytes::from("order-deferred"), 3_600_000 * MS, now);
    let events = b.topics.get_mut("events").unwrap();
    for body in bodies("event", 0..12) {
        events.publish(vec![body], now, &mut b.out).unwrap();
    }
    let settings = ConsumerSettings {
        client_id: CONSUMER,
        msg_timeout: 60 * SECOND,
        sample_rate: 0,
    };
    let orders = b.topics.get_mut("orders").unwrap();
    let slot = orders
        .subscribe("billing", CONSUMER, settings, now, &mut b.out)
        .unwrap();
    orders.set_rdy("billing", slot, CONSUMER, 3, now, &mut b.out);
    let got: Vec<_> = b.out.delivered.iter().map(|(_, m)| m.id).collect();
    assert_eq!(got.len(), 3);
    orders
        .finish(
            "billing",
            slot,
            CONSUMER,
            &got[0],
            now + 10 * MS,
            &mut b.out,
        )
        .unwrap();
    orders
        .finish(
            "billing",
            slot,
            CONSUMER,
            &got[1],
            now + 30 * MS,
            &mut b.out,
        )
        .unwrap();
    orders
        .requeue(
            "billing",
            slot,
            CONSUMER,
            &got[2],
            0,
            now + 40 * MS,
            &mut b.out,
        )
        .unwrap();
    orders.set_rdy("billing", slot, CONSUMER, 5, now + 50 * MS, &mut b.out);
    assert_eq!(b.out.delivered.len(), 8);
    b.topic_mut("scratch");
    let scratch = b.topics.get_mut("scratch").unwrap();
    scratch.publish(bodies("s", 0..4), now, &mut b.out).unwrap();
    scratch.pause();
    b
}

/// When the snapshots are taken.
const NOW: Nanos = T0 + 1_567_726_086;

fn doc(b: &LocalBroker<u64>, filter: &StatsFilter, memory: Option<MemStats>) -> StatsDoc {
    let topics = topics_stats(b.topics.values(), filter, NOW, &mut identity);
    let conns = [PRODUCER, CONSUMER].map(|h| {
        let counts = if h == CONSUMER {
            let ch = b.topics["orders"].channel("billing").unwrap();
            ch.consumers().next().map(|(_, c)| c.into()).unwrap()
        } else {
            ConsumerCounts::default()
        };
        (identity(&h), counts)
    });
    let producers = producers_stats(conns, filter);
    stats_doc(health_text(None), T0, topics, producers, memory)
}

fn mem() -> MemStats {
    MemStats {
        heap_in_use_bytes: 4_194_304,
        ..MemStats::default()
    }
}

#[test]
fn stats_json() {
    let b = scenario(&[]);
    insta::assert_json_snapshot!("stats_json", doc(&b, &StatsFilter::default(), Some(mem())));
}

#[test]
fn stats_json_with_latency() {
    let b = scenario(&[0.99, 0.5]);
    let d = doc(&b, &StatsFilter::default(), None);
    let billing = &d.topics.as_ref().unwrap()[1].channels[0];
    assert_eq!(billing.e2e_processing_latency.count, 2);
    insta::assert_json_snapshot!("stats_json_latency", d);
}

#[test]
fn stats_text() {
    let b = scenario(&[0.99, 0.5]);
    let d = doc(&b, &StatsFilter::default(), Some(mem()));
    insta::assert_snapshot!(
        "stats_text",
        text::render(&d, "nsqd v1.3.0 (test)", T0, NOW)
    );
    let none = stats_doc(health_text(Some("disk full")), T0, Some(vec![]), None, None);
    insta::assert_snapshot!(
        "stats_text_empty",
        text::render(&none, "nsqd v1.3.0 (test)", T0, NOW)
    );
}

fn process() -> prometheus::ProcessStats {
    prometheus::ProcessStats {
        cpu_seconds: 12.5,
        resident_memory_bytes: 41_943_040,
        virtual_memory_bytes: 1_073_741_824,
        open_fds: 23,
        max_fds: Some(1_048_576),
        start_time_seconds: 1_795_290_984.25,
    }
}

#[test]
fn prometheus_exposition() {
    let b = scenario(&[0.99, 0.5]);
    let d = doc(&b, &StatsFilter::default(), Some(mem()));
    insta::assert_snapshot!("prometheus", prometheus::render(&d, Some(&process())));
}

#[test]
fn filters_behave_as_nsqs() {
    let b = scenario(&[]);
    let f = |topic: Option<&str>, channel: Option<&str>, include_clients| StatsFilter {
        topic: topic.map(String::from),
        channel: channel.map(String::from),
        include_clients,
    };
    let d = doc(&b, &f(Some("nope"), None, true), None);
    assert_eq!(
        (d.topics, d.producers),
        (None, None),
        "unknown topic: nulls"
    );

    let d = doc(&b, &f(Some("orders"), Some("billing"), false), None);
    let topics = d.topics.unwrap();
    assert_eq!(topics.len(), 1);
    assert_eq!(topics[0].channels.len(), 1);
    assert_eq!(topics[0].channels[0].clients, None);
    assert_eq!(topics[0].channels[0].client_count, 1);
    assert_eq!(d.producers, None);

    let d = doc(&b, &f(None, Some("archive"), true), None);
    let names: Vec<_> = d
        .topics
        .unwrap()
        .into_iter()
        .map(|t| t.topic_name)
        .collect();
    assert_eq!(
        names,
        vec!["events"],
        "topics without the channel are left out"
    );

    let d = doc(&b, &f(Some("events"), None, true), None);
    let p = &d.producers.unwrap()[0];
    assert_eq!(
        p.pub_counts,
        vec![PubCount {
            topic: "events".into(),
            count: 12
        }]
    );

    let d = doc(&b, &StatsFilter::default(), None);
    let topics = d.topics.unwrap();
    let names: Vec<_> = topics.iter().map(|t| t.topic_name.as_str()).collect();
    assert_eq!(names, vec!["events", "orders", "scratch"]);
    let billing = &topics[1].channels[0];
    assert_eq!(
        (
            billing.depth,
            billing.in_flight_count,
            billing.deferred_count
        ),
        (23, 5, 1)
    );
    assert_eq!((billing.message_count, billing.requeue_count), (31, 1));
    let c = &billing.clients.as_ref().unwrap()[0];
    assert_eq!(
        (
            c.ready_count,
            c.in_flight_count,
            c.message_count,
            c.finish_count,
            c.requeue_count
        ),
        (5, 5, 8, 2, 1)
    );
    assert_eq!(c.connect_ts, 1_795_290_984);
}

/// JSON that remembers the order of object keys.
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(Ordered::Object(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = s.next_element()? {
                    v.push(e);
                }
                Ok(Ordered::Array(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// Every object's keys in order, by path (`.topics[].channels[]`).
fn key_orders(json: &str) -> BTreeMap<String, Vec<String>> {
    fn walk(v: &Ordered, path: &str, out: &mut BTreeMap<String, Vec<String>>) {
        match v {
            Ordered::Object(entries) => {
                let keys = entries.iter().map(|(k, _)| k.clone()).collect();
                out.entry(path.to_string()).or_insert(keys);
                for (k, child) in entries {
                    walk(child, &format!("{path}.{k}"), out);
                }
            }
            Ordered::Array(items) => {
                for item in items {
                    walk(item, &format!("{path}[]"), out);
                }
            }
            Ordered::Scalar => {}
        }
    }
    let v: Ordered = serde_json::from_str(json).expect("json");
    let mut out = BTreeMap::new();
    walk(&v, "", &mut out);
    out
}

#[test]
fn field_names_and_order_match_the_go_capture() {
    let go = key_orders(&capture("nsqd_stats_json.txt"));
    let b = scenario(&[]);
    let ours = serde_json::to_string(&doc(&b, &StatsFilter::default(), Some(mem()))).unwrap();
    let ours = key_orders(&ours);
    assert!(go.len() >= 8, "the capture has nested objects: {go:?}");
    assert_eq!(ours, go);
}

#[test]
fn go_captures_round_trip_byte_for_byte() {
    for name in [
        "nsqd_stats_json.txt",
        "nsqd_stats_json_include_mem.txt",
        "nsqd_stats_json_no_mem.txt",
        "nsqd_stats_json_noclients.txt",
        "nsqd_stats_json_topic_only.txt",
        "nsqd_stats_json_topic_channel_noclients.txt",
        "nsqd_stats_json_missing_topic.txt",
        "nsqd_b_stats_json.txt",
    ] {
        let body = capture(name);
        let d: StatsDoc = serde_json::from_str(&body).expect(name);
        assert_eq!(serde_json::to_string(&d).unwrap(), body, "{name}");
    }
}

#[test]
fn text_matches_the_go_capture() {
    let d: StatsDoc = serde_json::from_str(&capture("nsqd_stats_json.txt")).unwrap();
    let go = capture("nsqd_stats_text.txt");
    // The text capture's uptime; its memory figures differ from the JSON's.
    let ours = text::render(&d, "nsqd v1.3.0 (built w/go1.19.8)", T0, T0 + 1_567_726_086);
    let (go_lines, our_lines): (Vec<_>, Vec<_>) = (go.lines().collect(), ours.lines().collect());
    assert_eq!(go_lines.len(), our_lines.len(), "{ours}");
    for (g, o) in go_lines.iter().zip(&our_lines) {
        match g.split_once('\t') {
            Some((key, _)) if g.starts_with("   ") => assert!(o.starts_with(key), "{o:?}"),
            _ => assert_eq!(o, g),
        }
    }
    assert!(ours.ends_with('\n') && go.ends_with('\n'));
}

#[test]
fn statsd_counters_are_differences() {
    let b = scenario(&[0.99]);
    let first = doc(&b, &StatsFilter::statsd(), None).topics.unwrap();
    let lines: Vec<String> =
        statsd::metrics(&first, &[], false, Some((&mem(), &MemStats::default())))
            .iter()
            .map(|m| m.line("nsq.127_0_0_1_4151."))
            .collect();
    insta::assert_snapshot!("statsd_first_push", lines.concat());

    let mut b = b;
    let orders = b.topics.get_mut("orders").unwrap();
    orders
        .publish(bodies("more", 0..3), NOW, &mut b.out)
        .unwrap();
    let second = doc(&b, &StatsFilter::statsd(), None).topics.unwrap();
    let m = statsd::metrics(&second, &first, false, None);
    assert!(m.contains(&statsd::Metric::Counter(
        "topic.orders.message_count".into(),
        3
    )));
    assert!(m.contains(&statsd::Metric::Counter(
        "topic.orders.channel.billing.message_count".into(),
        3
    )));
    assert!(m.contains(&statsd::Metric::Counter(
        "topic.events.message_count".into(),
        0
    )));
    assert!(m.contains(&statsd::Metric::Gauge(
        "topic.orders.channel.shipping.depth".into(),
        33
    )));
    assert!(m.contains(&statsd::Metric::Gauge(
        "topic.orders.channel.billing.e2e_processing_latency_99".into(),
        30 * MS
    )));
}

#[test]
fn statsd_can_leave_out_ephemeral_topics_and_channels() {
    let mut b = scenario(&[]);
    b.topic_mut("tmp#ephemeral");
    let orders = b.topics.get_mut("orders").unwrap();
    orders.get_or_create_channel("peek#ephemeral", NOW, &mut b.out);
    let topics = doc(&b, &StatsFilter::statsd(), None).topics.unwrap();
    let names = |exclude| -> Vec<String> {
        statsd::metrics(&topics, &[], exclude, None)
            .into_iter()
            .map(|m| match m {
                statsd::Metric::Counter(n, _) | statsd::Metric::Gauge(n, _) => n,
            })
            .collect()
    };
    assert!(names(false).iter().any(|n| n.contains("ephemeral")));
    assert!(!names(true).iter().any(|n| n.contains("ephemeral")));
    assert!(names(true)
        .iter()
        .any(|n| n.starts_with("topic.orders.channel.billing")));
}

#[test]
fn info_matches_the_go_capture_byte_for_byte() {
    let opts = Options {
        broadcast_address: "127.0.0.1".into(),
        ..Options::default()
    };
    // nsqd A's ports and start time.
    let info = Info::new(&opts, "vm", 55263, 35077, T0 + 5);
    assert_eq!(
        serde_json::to_string(&info).unwrap(),
        capture("nsqd_info.txt")
    );
}
