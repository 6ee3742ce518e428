//! `/api/counter`: messages through each channel on each node, keyed
//! `topic:channel:node` (the web UI sums them and animates the growth).

use super::stats::TopicStats;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterStats {
    pub node: String,
    pub topic_name: String,
    pub channel_name: String,
    pub message_count: i64,
}

/// The counter over per-node topic rows of every node.
pub fn counter(rows: &[TopicStats]) -> BTreeMap<String, CounterStats> {
    let mut out: BTreeMap<String, CounterStats> = BTreeMap::new();
    for c in rows.iter().flat_map(|t| &t.channels) {
        let key = format!("{}:{}:{}", c.topic_name, c.channel_name, c.node);
        out.entry(key)
            .or_insert_with(|| CounterStats {
                node: c.node.clone(),
                topic_name: c.topic_name.clone(),
                channel_name: c.channel_name.clone(),
                message_count: 0,
            })
            .message_count += c.message_count;
    }
    out
}

/// The sum of a counter: every message every channel has been handed.
pub fn total(stats: &BTreeMap<String, CounterStats>) -> i64 {
    stats.values().map(|s| s.message_count).sum()
}
