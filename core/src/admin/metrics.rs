//! nsqadmin's `GET /metrics` (beyond NSQ): the cluster totals it shows on
//! its pages, from one round of every node's `/stats`, in the Prometheus
//! text format. Each topic and channel is summed over the nodes that carry
//! it; per-node figures are each nsqd's own `/metrics`.

use super::counter::{counter, total};
use super::overview::{overview, TopicSummary};
use super::stats::{ChannelStats, TopicStats};
use crate::stats::prometheus::{Exposition, ProcessStats};
use std::collections::BTreeMap;

/// What one scrape of the cluster found.
#[derive(Debug, Clone, Copy)]
pub struct Scrape<'a> {
    /// The nsqd nodes found (through the lookupds or as configured).
    pub nodes: usize,
    /// Every node's topic rows (no clients).
    pub rows: &'a [TopicStats],
    /// Nodes that did not answer, plus one for a step no node answered.
    pub errors: usize,
    /// Whether every step had at least one answer.
    pub reachable: bool,
}

type TopicFigure = fn(&TopicSummary) -> i64;

const TOPIC_FIGURES: &[(&str, &str, &str, TopicFigure)] = &[
    (
        "nsqadmin_topic_depth",
        "gauge",
        "Messages waiting in the topic itself on all nodes (memory and disk).",
        |t| t.depth,
    ),
    (
        "nsqadmin_topic_backend_depth",
        "gauge",
        "Messages of the topic waiting on disk, on all nodes.",
        |t| t.backend_depth,
    ),
    (
        "nsqadmin_topic_messages_total",
        "counter",
        "Messages published to the topic, on all nodes.",
        |t| t.message_count,
    ),
    (
        "nsqadmin_topic_channel_depth",
        "gauge",
        "Messages waiting in the topic's channels (depth, in flight and deferred), on all nodes.",
        |t| t.channel_depth,
    ),
    (
        "nsqadmin_topic_nodes",
        "gauge",
        "Nodes that carry the topic.",
        |t| t.node_count,
    ),
    (
        "nsqadmin_topic_channels",
        "gauge",
        "Channels of the topic (distinct names over all nodes).",
        |t| t.channel_count,
    ),
    (
        "nsqadmin_topic_clients",
        "gauge",
        "Consumers of the topic's channels, on all nodes.",
        |t| t.client_count,
    ),
    (
        "nsqadmin_topic_paused",
        "gauge",
        "1 when the topic is paused on any node.",
        |t| i64::from(t.paused),
    ),
];

type ChannelFigure = fn(&ChannelStats) -> i64;

const CHANNEL_FIGURES: &[(&str, &str, &str, ChannelFigure)] = &[
    (
        "nsqadmin_channel_depth",
        "gauge",
        "Messages waiting in the channel on all nodes (memory and disk).",
        |c| c.depth,
    ),
    (
        "nsqadmin_channel_backend_depth",
        "gauge",
        "Messages of the channel waiting on disk, on all nodes.",
        |c| c.backend_depth,
    ),
    (
        "nsqadmin_channel_in_flight",
        "gauge",
        "Messages of the channel sent to consumers and not yet finished, on all nodes.",
        |c| c.in_flight_count,
    ),
    (
        "nsqadmin_channel_deferred",
        "gauge",
        "Deferred messages of the channel, on all nodes.",
        |c| c.deferred_count,
    ),
    (
        "nsqadmin_channel_messages_total",
        "counter",
        "Messages the channel received, on all nodes.",
        |c| c.message_count,
    ),
    (
        "nsqadmin_channel_requeued_total",
        "counter",
        "Messages of the channel requeued by consumers, on all nodes.",
        |c| c.requeue_count,
    ),
    (
        "nsqadmin_channel_timed_out_total",
        "counter",
        "In-flight messages of the channel that timed out, on all nodes.",
        |c| c.timeout_count,
    ),
    (
        "nsqadmin_channel_clients",
        "gauge",
        "Consumers of the channel, on all nodes.",
        |c| c.client_count,
    ),
    (
        "nsqadmin_channel_paused",
        "gauge",
        "1 when the channel is paused on any node.",
        |c| i64::from(c.paused),
    ),
];

/// Sums of the channel rows of every node, keyed by (topic, channel).
fn channel_totals(rows: &[TopicStats]) -> BTreeMap<(&str, &str), ChannelStats> {
    let mut out: BTreeMap<(&str, &str), ChannelStats> = BTreeMap::new();
    for c in rows.iter().flat_map(|t| &t.channels) {
        let key = (c.topic_name.as_str(), c.channel_name.as_str());
        match out.get_mut(&key) {
            None => {
                out.insert(key, c.clone());
            }
            Some(s) => {
                s.depth += c.depth;
                s.memory_depth += c.memory_depth;
                s.backend_depth += c.backend_depth;
                s.in_flight_count += c.in_flight_count;
                s.deferred_count += c.deferred_count;
                s.requeue_count += c.requeue_count;
                s.timeout_count += c.timeout_count;
                s.message_count += c.message_count;
                s.client_count += c.client_count;
                s.paused |= c.paused;
            }
        }
    }
    out
}

/// The whole exposition.
pub fn render(s: &Scrape<'_>, process: Option<&ProcessStats>) -> String {
    let mut o = Exposition::new();
    o.family("nsqadmin_info", "gauge", "nsqadmin's version (always 1).");
    o.sample("nsqadmin_info", &[("version", crate::NSQ_VERSION)], 1);
    o.single(
        "nsqadmin_cluster_reachable",
        "gauge",
        "1 when this scrape reached the cluster (some lookupd or nsqd answered each question), else 0.",
        u8::from(s.reachable),
    );
    o.single(
        "nsqadmin_errors",
        "gauge",
        "Nodes (nsqlookupd or nsqd) that did not answer this scrape.",
        s.errors,
    );
    o.single(
        "nsqadmin_nodes",
        "gauge",
        "nsqd nodes in the cluster.",
        s.nodes,
    );
    let topics = overview(s.rows);
    o.single(
        "nsqadmin_topics",
        "gauge",
        "Topics carried by any node.",
        topics.len(),
    );
    o.single(
        "nsqadmin_messages_total",
        "counter",
        "Messages handed to any channel on any node (the counter page's figure).",
        total(&counter(s.rows)),
    );
    for (name, kind, help, f) in TOPIC_FIGURES {
        o.family(name, kind, help);
        for t in &topics {
            o.sample(name, &[("topic", &t.topic_name)], f(t));
        }
    }
    let channels = channel_totals(s.rows);
    for (name, kind, help, f) in CHANNEL_FIGURES {
        o.family(name, kind, help);
        for ((topic, channel), c) in &channels {
            o.sample(name, &[("topic", topic), ("channel", channel)], f(c));
        }
    }
    if let Some(p) = process {
        o.process(p);
    }
    o.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::input::NodeStatsDoc;
    use crate::admin::stats::node_topics;

    fn rows() -> Vec<TopicStats> {
        let doc = |depth: i64, paused: bool| -> NodeStatsDoc {
            serde_json::from_value(serde_json::json!({
                "version": "1.3.0", "health": "OK", "start_time": 1,
                "topics": [{
                    "topic_name": "orders", "depth": depth, "backend_depth": 1,
                    "message_count": 10, "message_bytes": 100, "paused": false,
                    "e2e_processing_latency": {"count": 0, "percentiles": null},
                    "channels": [{
                        "channel_name": "billing", "depth": 3, "backend_depth": 1,
                        "in_flight_count": 2, "deferred_count": 1, "message_count": 10,
                        "requeue_count": 4, "timeout_count": 5, "client_count": 1,
                        "clients": null, "paused": paused,
                        "e2e_processing_latency": {"count": 0, "percentiles": null}
                    }]
                }],
                "producers": null
            }))
            .expect("a node's /stats")
        };
        let mut r = node_topics("10.0.0.1:4151", "a", &doc(2, false), "", 0);
        r.extend(node_topics("10.0.0.2:4151", "b", &doc(5, true), "", 0));
        r
    }

    #[test]
    fn sums_topics_and_channels_over_the_nodes() {
        let rows = rows();
        let text = render(
            &Scrape {
                nodes: 2,
                rows: &rows,
                errors: 1,
                reachable: true,
            },
            None,
        );
        for line in [
            "nsqadmin_cluster_reachable 1",
            "nsqadmin_errors 1",
            "nsqadmin_nodes 2",
            "nsqadmin_topics 1",
            "nsqadmin_messages_total 20",
            "nsqadmin_topic_depth{topic=\"orders\"} 7",
            "nsqadmin_topic_backend_depth{topic=\"orders\"} 2",
            "nsqadmin_topic_messages_total{topic=\"orders\"} 20",
            "nsqadmin_topic_channel_depth{topic=\"orders\"} 12",
            "nsqadmin_topic_nodes{topic=\"orders\"} 2",
            "nsqadmin_topic_channels{topic=\"orders\"} 1",
            "nsqadmin_topic_clients{topic=\"orders\"} 2",
            "nsqadmin_channel_depth{topic=\"orders\",channel=\"billing\"} 6",
            "nsqadmin_channel_in_flight{topic=\"orders\",channel=\"billing\"} 4",
            "nsqadmin_channel_deferred{topic=\"orders\",channel=\"billing\"} 2",
            "nsqadmin_channel_requeued_total{topic=\"orders\",channel=\"billing\"} 8",
            "nsqadmin_channel_timed_out_total{topic=\"orders\",channel=\"billing\"} 10",
            "nsqadmin_channel_messages_total{topic=\"orders\",channel=\"billing\"} 20",
            "nsqadmin_channel_paused{topic=\"orders\",channel=\"billing\"} 1",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} in\n{text}");
        }
        assert!(text.contains("# TYPE nsqadmin_channel_messages_total counter\n"));
    }

    #[test]
    fn an_unreachable_cluster_is_said_so() {
        let text = render(
            &Scrape {
                nodes: 0,
                rows: &[],
                errors: 1,
                reachable: false,
            },
            None,
        );
        assert!(text.contains("\nnsqadmin_cluster_reachable 0\n"));
        assert!(text.contains("\nnsqadmin_topics 0\n"));
    }
}
