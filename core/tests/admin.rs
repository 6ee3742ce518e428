//! nsqadmin's cluster views built from the Go NSQ v1.3.0 captures in
//! testdata/http-samples: two nsqd's `/stats` and nsqlookupd's
//! `/nodes` in, and the same documents out that Go nsqadmin served from that
//! cluster (byte for byte), except where Go's aggregation aliases records
//! (see `topic_view_totals_every_node`). Insta snapshots pin the rest.

use nsq_core::admin::counter::counter;
use nsq_core::admin::input::{
    parse, LookupdProducers, LookupdTopics, NodeLatency, NodeStatsDoc, NodeTopic,
};
use nsq_core::admin::overview::overview;
use nsq_core::admin::producer::merge_lookupd_nodes;
use nsq_core::admin::replies::{self, WithMessage};
use nsq_core::admin::stats::node_totals;
use nsq_core::admin::*;
use nsq_core::io::{Nanos, SECOND};
use serde_json::Value;
use std::path::PathBuf;

/// The Go captures kept in the repository (`testdata/http-samples`).
fn http_samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/http-samples")
}

fn capture(name: &str) -> String {
    let raw = std::fs::read_to_string(http_samples().join(name)).expect(name);
    raw.split_once("\n\n").expect("headers end").1.to_string()
}

const A: &str = "127.0.0.1:55263";
const B: &str = "127.0.0.1:37911";
/// The captures' clients connected two seconds before nsqadmin answered.
const NOW: Nanos = (1_795_290_984 + 2) * SECOND;

fn doc(name: &str, clients: bool) -> NodeStatsDoc {
    let mut d: NodeStatsDoc = parse(capture(name).as_bytes()).unwrap();
    if name == "nsqd_stats_json.txt" {
        // Captured before `/pub` and `/mpub` created topic `scratch` on A
        // (4 messages, no channel); nsqadmin's captures came after (README).
        d.topics.get_or_insert_with(Vec::new).push(NodeTopic {
            topic_name: "scratch".into(),
            depth: 4,
            message_count: 4,
            channels: Some(vec![]),
            e2e_processing_latency: Some(NodeLatency::default()),
            ..NodeTopic::default()
        });
    }
    if !clients {
        // what nsqd answers to `include_clients=false`
        for c in d
            .topics
            .iter_mut()
            .flatten()
            .flat_map(|t| t.channels.iter_mut().flatten())
        {
            c.clients = None;
        }
    }
    d
}

/// Both nodes' rows for `topic` ("" = all), as nsqadmin gathers them.
fn rows(topic: &str, clients: bool) -> Vec<TopicStats> {
    let mut r = node_topics(B, "vm", &doc("nsqd_b_stats_json.txt", clients), topic, NOW);
    r.extend(node_topics(
        A,
        "vm",
        &doc("nsqd_stats_json.txt", clients),
        topic,
        NOW,
    ));
    r
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

#[test]
fn channel_view_is_gos_byte_for_byte() {
    let total = aggregate_channel("orders", "billing", &rows("orders", true));
    let ours = json(&WithMessage {
        inner: total,
        message: String::new(),
    });
    assert_eq!(ours, capture("nsqadmin_api_topics_orders_billing.txt"));
}

#[test]
fn node_view_is_gos_byte_for_byte() {
    let topics = node_topics(A, "vm", &doc("nsqd_stats_json.txt", true), "", NOW);
    let (total_messages, total_clients) = node_totals(&topics);
    let ours = json(&replies::Node {
        node: A.into(),
        topics,
        total_messages,
        total_clients,
        message: String::new(),
    });
    assert_eq!(ours, capture("nsqadmin_api_nodes_a.txt"));
}

#[test]
fn nodes_are_gos_byte_for_byte() {
    let answer: LookupdProducers = parse(capture("lookupd_nodes.txt").as_bytes()).unwrap();
    let nodes = merge_lookupd_nodes(&[("127.0.0.1:41457".into(), answer.producers)]);
    let ours = json(&replies::Nodes {
        nodes,
        message: String::new(),
    });
    assert_eq!(ours, capture("nsqadmin_api_nodes.txt"));
}

#[test]
fn counter_is_gos_byte_for_byte() {
    let ours = json(&replies::Counter {
        stats: counter(&rows("", false)),
        message: String::new(),
    });
    assert_eq!(ours, capture("nsqadmin_api_counter.txt"));
}

#[test]
fn topics_are_gos_byte_for_byte() {
    let t: LookupdTopics = parse(capture("lookupd_topics.txt").as_bytes()).unwrap();
    let mut topics = t.topics;
    topics.sort();
    topics.dedup();
    let ours = json(&replies::Topics {
        topics,
        message: String::new(),
    });
    assert_eq!(ours, capture("nsqadmin_api_topics.txt"));
}

/// Go merges the other nodes into the first node's channel records in
/// place: its `nodes[0]` then shows cluster totals for its channels, and
/// each channel total lists only the other node. Ours keeps node rows as
/// the nodes reported them and lists every node in each total; everything
/// else is Go's.
#[test]
fn topic_view_totals_every_node() {
    let total = aggregate_topic("orders", rows("orders", false));
    let ours: Value = serde_json::to_value(WithMessage {
        inner: total,
        message: String::new(),
    })
    .unwrap();
    let go: Value = serde_json::from_str(&capture("nsqadmin_api_topics_orders.txt")).unwrap();

    for k in [
        "node",
        "hostname",
        "topic_name",
        "depth",
        "memory_depth",
        "backend_depth",
        "message_count",
        "paused",
        "e2e_processing_latency",
        "message",
    ] {
        assert_eq!(ours[k], go[k], "{k}");
    }
    // The node Go did not mutate is the same.
    assert_eq!(ours["nodes"][1], go["nodes"][1]);
    // The one it did shows its own figures with us.
    let b = &ours["nodes"][0];
    assert_eq!(b["node"], B);
    assert_eq!(b["channels"][0]["depth"], 7);
    assert_eq!(b["channels"][0]["node"], B);
    assert_eq!(b["channels"][0]["nodes"], Value::Null);
    assert_eq!(go["nodes"][0]["channels"][0]["depth"], 30, "Go's aliasing");
    // Channel totals: Go's sums, every node listed.
    for (i, name) in ["billing", "shipping"].iter().enumerate() {
        let (o, g) = (&ours["channels"][i], &go["channels"][i]);
        assert_eq!(o["channel_name"], *name);
        for k in [
            "node",
            "depth",
            "memory_depth",
            "in_flight_count",
            "deferred_count",
            "requeue_count",
            "message_count",
            "client_count",
            "clients",
            "paused",
        ] {
            assert_eq!(o[k], g[k], "{name} {k}");
        }
        let nodes: Vec<&Value> = o["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &n["node"])
            .collect();
        assert_eq!(nodes, [B, A]);
        assert_eq!(o["nodes"][1], g["nodes"][0], "A's row as Go lists it");
        assert_eq!(o["hostname"], "", "a total has no host name");
        assert_eq!(o["e2e_processing_latency"]["topic"], "orders");
        assert_eq!(o["e2e_processing_latency"]["channel"], *name);
    }
    insta::assert_json_snapshot!("topic_view_orders", ours);
}

#[test]
fn latency_percentiles_merge_across_nodes() {
    let node = |depth: i64, count: i64, p99: f64, p50: f64| -> NodeStatsDoc {
        parse(
            format!(
                r#"{{"topics":[{{"topic_name":"t","depth":{depth},"backend_depth":0,"message_count":{count},
                "channels":[{{"channel_name":"c","depth":1,"message_count":{count},"client_count":0,"clients":[],
                  "e2e_processing_latency":{{"count":{count},"percentiles":[{{"quantile":0.99,"value":{p99}}},{{"quantile":0.5,"value":{p50}}}]}}}}],
                "e2e_processing_latency":{{"count":{count},"percentiles":[{{"quantile":0.99,"value":{p99}}},{{"quantile":0.5,"value":{p50}}}]}}}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    };
    let mut rows = node_topics("h1:4151", "h1", &node(5, 100, 4e6, 1e6), "t", NOW);
    rows.extend(node_topics(
        "h2:4151",
        "h2",
        &node(7, 300, 8e6, 2e6),
        "t",
        NOW,
    ));
    let total = aggregate_topic("t", rows.clone());
    let p = &total
        .e2e_processing_latency
        .as_ref()
        .unwrap()
        .percentiles
        .as_ref()
        .unwrap()[0];
    assert_eq!((p.quantile, p.min, p.max, p.average), (0.99, 4e6, 8e6, 7e6));
    insta::assert_json_snapshot!("topic_view_latency", total);
    insta::assert_json_snapshot!("channel_view_latency", aggregate_channel("t", "c", &rows));
}

#[test]
fn overview_sums_each_topic_over_nodes() {
    let o = overview(&rows("", false));
    let names: Vec<&str> = o.iter().map(|t| t.topic_name.as_str()).collect();
    assert_eq!(names, ["events", "logs", "orders", "scratch"]);
    let orders = &o[2];
    assert_eq!(
        (
            orders.node_count,
            orders.channel_count,
            orders.message_count,
            orders.client_count
        ),
        (2, 2, 38, 1)
    );
    // billing 30 + 5 in flight + 1 deferred, shipping 37 + 1 deferred
    assert_eq!(orders.channel_depth, 74);
    insta::assert_json_snapshot!("overview", o);
}

#[test]
fn a_topic_nobody_carries_is_empty_not_an_error() {
    let t = aggregate_topic("nothing", vec![]);
    assert_eq!(t.nodes.as_deref(), Some(&[][..]));
    assert!(t.channels.is_empty());
    let c = aggregate_channel("nothing", "c", &[]);
    assert_eq!((c.clients, c.depth), (None, 0));
}
