//! The rows nsqadmin serves: one nsqd's topics, channels and clients,
//! labelled with the node they came from (fields and order as NSQ v1.3.0's
//! `clusterinfo` types serialise them).

use super::input::{NodeChannel, NodeClient, NodeStatsDoc, NodeTopic};
use super::latency::LatencyAggregate;
use crate::io::{Nanos, SECOND};
use serde::Serialize;

/// A topic on one node (`node` = its HTTP address), or the total over
/// nodes (`node` = `*`, with the per-node rows in `nodes`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicStats {
    pub node: String,
    pub hostname: String,
    pub topic_name: String,
    pub depth: i64,
    pub memory_depth: i64,
    pub backend_depth: i64,
    pub message_count: i64,
    /// `null` on a per-node row.
    pub nodes: Option<Vec<TopicStats>>,
    pub channels: Vec<ChannelStats>,
    pub paused: bool,
    pub e2e_processing_latency: Option<LatencyAggregate>,
}

/// A channel on one node, or the total over nodes (`node` = `*`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelStats {
    pub node: String,
    pub hostname: String,
    pub topic_name: String,
    pub channel_name: String,
    pub depth: i64,
    pub memory_depth: i64,
    pub backend_depth: i64,
    pub in_flight_count: i64,
    pub deferred_count: i64,
    pub requeue_count: i64,
    pub timeout_count: i64,
    pub message_count: i64,
    pub client_count: i64,
    /// `null` on a per-node row.
    pub nodes: Option<Vec<ChannelStats>>,
    /// `null` when nsqd was asked without clients (or a total has none).
    pub clients: Option<Vec<ClientStats>>,
    pub paused: bool,
    pub e2e_processing_latency: Option<LatencyAggregate>,
}

/// A consumer connection, with the node it is connected to and for how long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientStats {
    pub node: String,
    pub remote_address: String,
    pub version: String,
    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    pub connect_ts: i64,
    /// Nanoseconds since `connect_ts`, counted in whole seconds.
    pub connected: i64,
    pub in_flight_count: i64,
    pub ready_count: i64,
    pub finish_count: i64,
    pub requeue_count: i64,
    pub message_count: i64,
    pub sample_rate: i32,
    pub deflate: bool,
    pub snappy: bool,
    pub authed: bool,
    pub auth_identity: String,
    pub auth_identity_url: String,
    pub tls: bool,
    pub tls_cipher_suite: String,
    pub tls_version: String,
    pub tls_negotiated_protocol: String,
    pub tls_negotiated_protocol_is_mutual: bool,
}

/// One nsqd's `/stats` as nsqadmin rows: `node` is the HTTP address it was
/// asked at, `hostname` what the node calls itself; only `topic` if given.
/// `now` dates the clients' connection times.
pub fn node_topics(
    node: &str,
    hostname: &str,
    doc: &NodeStatsDoc,
    topic: &str,
    now: Nanos,
) -> Vec<TopicStats> {
    doc.topics
        .iter()
        .flatten()
        .filter(|t| topic.is_empty() || t.topic_name == topic)
        .map(|t| topic_row(node, hostname, t, now))
        .collect()
}

fn topic_row(node: &str, hostname: &str, t: &NodeTopic, now: Nanos) -> TopicStats {
    TopicStats {
        node: node.to_string(),
        hostname: hostname.to_string(),
        topic_name: t.topic_name.clone(),
        depth: t.depth,
        memory_depth: t.depth - t.backend_depth,
        backend_depth: t.backend_depth,
        message_count: t.message_count,
        nodes: None,
        channels: t
            .channels
            .iter()
            .flatten()
            .map(|c| channel_row(node, hostname, &t.topic_name, c, now))
            .collect(),
        paused: t.paused,
        e2e_processing_latency: t
            .e2e_processing_latency
            .as_ref()
            .map(LatencyAggregate::from_node),
    }
}

fn channel_row(
    node: &str,
    hostname: &str,
    topic: &str,
    c: &NodeChannel,
    now: Nanos,
) -> ChannelStats {
    ChannelStats {
        node: node.to_string(),
        hostname: hostname.to_string(),
        topic_name: topic.to_string(),
        channel_name: c.channel_name.clone(),
        depth: c.depth,
        memory_depth: c.depth - c.backend_depth,
        backend_depth: c.backend_depth,
        in_flight_count: c.in_flight_count,
        deferred_count: c.deferred_count,
        requeue_count: c.requeue_count,
        timeout_count: c.timeout_count,
        message_count: c.message_count,
        client_count: c.client_count,
        nodes: None,
        clients: c
            .clients
            .as_ref()
            .map(|cs| cs.iter().map(|cl| client_row(node, cl, now)).collect()),
        paused: c.paused,
        e2e_processing_latency: c
            .e2e_processing_latency
            .as_ref()
            .map(LatencyAggregate::from_node),
    }
}

fn client_row(node: &str, c: &NodeClient, now: Nanos) -> ClientStats {
    let now_secs = now.div_euclid(SECOND);
    ClientStats {
        node: node.to_string(),
        remote_address: c.remote_address.clone(),
        version: c.version.clone(),
        client_id: c.client_id.clone(),
        hostname: c.hostname.clone(),
        user_agent: c.user_agent.clone(),
        connect_ts: c.connect_ts,
        connected: now_secs.saturating_sub(c.connect_ts).saturating_mul(SECOND),
        in_flight_count: c.in_flight_count,
        ready_count: c.ready_count,
        finish_count: c.finish_count,
        requeue_count: c.requeue_count,
        message_count: c.message_count,
        sample_rate: c.sample_rate,
        deflate: c.deflate,
        snappy: c.snappy,
        authed: c.authed,
        auth_identity: c.auth_identity.clone(),
        auth_identity_url: c.auth_identity_url.clone(),
        tls: c.tls,
        tls_cipher_suite: c.tls_cipher_suite.clone(),
        tls_version: c.tls_version.clone(),
        tls_negotiated_protocol: c.tls_negotiated_protocol.clone(),
        tls_negotiated_protocol_is_mutual: c.tls_negotiated_protocol_is_mutual,
    }
}

/// nsqadmin's `/api/nodes/:node` figures: every client of every channel,
/// every message of every topic.
pub fn node_totals(topics: &[TopicStats]) -> (i64, i64) {
    let messages = topics.iter().map(|t| t.message_count).sum();
    let clients = topics
        .iter()
        .flat_map(|t| &t.channels)
        .map(|c| c.clients.as_ref().map_or(0, |v| v.len() as i64))
        .sum();
    (messages, clients)
}
