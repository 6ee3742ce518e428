//! Cluster totals: a topic or channel summed over the nodes that carry it.
//!
//! Go nsqadmin v1.3.0 builds the topic total by appending the first node's
//! channel records and merging the other nodes into them in place, so in
//! its answer that node's per-node row shows cluster totals and each
//! channel total lists every node but that one. Here per-node rows stay the
//! node's own figures, and every total lists all the nodes it sums.

use super::latency::LatencyAggregate;
use super::stats::{ChannelStats, TopicStats};
use std::collections::BTreeMap;

/// Orders per-node rows by host name, then node address (Go sorts by host
/// name only, which leaves nodes of one host in a random order).
fn by_host<T>(rows: &mut [T], key: impl Fn(&T) -> (&str, &str)) {
    rows.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// The total of `topic` over its per-node rows (from [`super::node_topics`]).
pub fn aggregate_topic(topic: &str, mut rows: Vec<TopicStats>) -> TopicStats {
    rows.retain(|r| r.topic_name == topic);
    by_host(&mut rows, |r| (&r.hostname, &r.node));
    let mut total = TopicStats {
        node: "*".to_string(),
        hostname: String::new(),
        topic_name: topic.to_string(),
        depth: 0,
        memory_depth: 0,
        backend_depth: 0,
        message_count: 0,
        nodes: None,
        channels: Vec::new(),
        paused: false,
        e2e_processing_latency: Some(LatencyAggregate::total(topic, "")),
    };
    let mut channels: BTreeMap<&str, Vec<ChannelStats>> = BTreeMap::new();
    for r in &rows {
        total.depth += r.depth;
        total.memory_depth += r.memory_depth;
        total.backend_depth += r.backend_depth;
        total.message_count += r.message_count;
        total.paused |= r.paused;
        if let (Some(t), Some(l)) = (
            total.e2e_processing_latency.as_mut(),
            r.e2e_processing_latency.as_ref(),
        ) {
            t.add(l);
        }
        for c in &r.channels {
            channels.entry(&c.channel_name).or_default().push(c.clone());
        }
    }
    total.channels = channels
        .into_iter()
        .map(|(name, rows)| channel_total(topic, name, rows))
        .collect();
    total.nodes = Some(rows);
    total
}

/// The total of `topic`/`channel` over per-node topic rows.
pub fn aggregate_channel(topic: &str, channel: &str, topic_rows: &[TopicStats]) -> ChannelStats {
    let rows = topic_rows
        .iter()
        .filter(|t| t.topic_name == topic)
        .flat_map(|t| &t.channels)
        .filter(|c| c.channel_name == channel)
        .cloned()
        .collect();
    channel_total(topic, channel, rows)
}

fn channel_total(topic: &str, channel: &str, mut rows: Vec<ChannelStats>) -> ChannelStats {
    by_host(&mut rows, |r| (&r.hostname, &r.node));
    let mut total = ChannelStats {
        node: "*".to_string(),
        hostname: String::new(),
        topic_name: topic.to_string(),
        channel_name: channel.to_string(),
        depth: 0,
        memory_depth: 0,
        backend_depth: 0,
        in_flight_count: 0,
        deferred_count: 0,
        requeue_count: 0,
        timeout_count: 0,
        message_count: 0,
        client_count: 0,
        nodes: None,
        clients: None,
        paused: false,
        e2e_processing_latency: Some(LatencyAggregate::total(topic, channel)),
    };
    let mut clients = Vec::new();
    for r in &rows {
        total.depth += r.depth;
        total.memory_depth += r.memory_depth;
        total.backend_depth += r.backend_depth;
        total.in_flight_count += r.in_flight_count;
        total.deferred_count += r.deferred_count;
        total.requeue_count += r.requeue_count;
        total.timeout_count += r.timeout_count;
        total.message_count += r.message_count;
        total.client_count += r.client_count;
        total.paused |= r.paused;
        if let (Some(t), Some(l)) = (
            total.e2e_processing_latency.as_mut(),
            r.e2e_processing_latency.as_ref(),
        ) {
            t.add(l);
        }
        clients.extend(r.clients.iter().flatten().cloned());
    }
    // Stable: a node's clients keep nsqd's order within a host name.
    clients.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    // As in NSQ: no clients anywhere is `null`.
    total.clients = (!clients.is_empty()).then_some(clients);
    total.nodes = Some(rows);
    total
}
