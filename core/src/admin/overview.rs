//! `/api/overview` (ours; Go nsqadmin has no such call): every topic's
//! cluster totals from one round of `/stats`, so the topics page can show
//! live depth and rates without asking once per topic.

use super::stats::TopicStats;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicSummary {
    pub topic_name: String,
    pub depth: i64,
    pub memory_depth: i64,
    pub backend_depth: i64,
    pub message_count: i64,
    /// Nodes that carry the topic.
    pub node_count: i64,
    /// Distinct channel names over all nodes.
    pub channel_count: i64,
    /// Consumers over all channels and nodes.
    pub client_count: i64,
    /// Messages waiting in all channels (depth + in flight + deferred).
    pub channel_depth: i64,
    pub paused: bool,
}

/// Per-topic totals of per-node rows, sorted by topic name.
pub fn overview(rows: &[TopicStats]) -> Vec<TopicSummary> {
    let mut by_topic: BTreeMap<&str, (TopicSummary, Vec<&str>)> = BTreeMap::new();
    for r in rows {
        let (s, channels) = by_topic.entry(&r.topic_name).or_insert_with(|| {
            (
                TopicSummary {
                    topic_name: r.topic_name.clone(),
                    depth: 0,
                    memory_depth: 0,
                    backend_depth: 0,
                    message_count: 0,
                    node_count: 0,
                    channel_count: 0,
                    client_count: 0,
                    channel_depth: 0,
                    paused: false,
                },
                Vec::new(),
            )
        });
        s.depth += r.depth;
        s.memory_depth += r.memory_depth;
        s.backend_depth += r.backend_depth;
        s.message_count += r.message_count;
        s.node_count += 1;
        s.paused |= r.paused;
        for c in &r.channels {
            s.client_count += c.client_count;
            s.channel_depth += c.depth + c.in_flight_count + c.deferred_count;
            channels.push(&c.channel_name);
        }
    }
    by_topic
        .into_values()
        .map(|(mut s, mut channels)| {
            channels.sort_unstable();
            channels.dedup();
            s.channel_count = channels.len() as i64;
            s
        })
        .collect()
}
