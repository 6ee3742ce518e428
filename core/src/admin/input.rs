//! What nsqd and nsqlookupd answer, read the way Go's `encoding/json` reads
//! them into nsqadmin's structs: missing fields are zero, unknown ones are
//! ignored, so nodes of other NSQ versions can be read too.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Parses an answer body; the error says what was expected.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("failed to decode JSON - {e}"))
}

/// nsqd's `/stats?format=json`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeStatsDoc {
    pub topics: Option<Vec<NodeTopic>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeTopic {
    pub topic_name: String,
    pub channels: Option<Vec<NodeChannel>>,
    pub depth: i64,
    pub backend_depth: i64,
    pub message_count: i64,
    pub paused: bool,
    pub e2e_processing_latency: Option<NodeLatency>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeChannel {
    pub channel_name: String,
    pub depth: i64,
    pub backend_depth: i64,
    pub in_flight_count: i64,
    pub deferred_count: i64,
    pub requeue_count: i64,
    pub timeout_count: i64,
    pub message_count: i64,
    pub client_count: i64,
    /// `null` when nsqd was asked without clients.
    pub clients: Option<Vec<NodeClient>>,
    pub paused: bool,
    pub e2e_processing_latency: Option<NodeLatency>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeClient {
    pub remote_address: String,
    pub version: String,
    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    pub connect_ts: i64,
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

/// A node's end-to-end latency: `{"count":N,"percentiles":[{"quantile":0.99,"value":ns}]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeLatency {
    pub count: i64,
    pub percentiles: Option<Vec<BTreeMap<String, f64>>>,
}

/// nsqd's `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NsqdInfo {
    pub version: String,
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: i64,
    pub tcp_port: i64,
}

/// nsqlookupd's `/topics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LookupdTopics {
    pub topics: Vec<String>,
}

/// nsqlookupd's `/channels?topic=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LookupdChannels {
    pub channels: Vec<String>,
}

/// A producer in nsqlookupd's `/nodes` (with its topics and tombstones) or
/// `/lookup` (without).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LookupdProducer {
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    pub topics: Vec<String>,
    /// Parallel to `topics`.
    pub tombstones: Vec<bool>,
}

/// nsqlookupd's `/nodes` and `/lookup?topic=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LookupdProducers {
    pub producers: Vec<LookupdProducer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_are_zero_unknown_ones_ignored() {
        let d: NodeStatsDoc = parse(
            br#"{"version":"0.3.8","topics":[{"topic_name":"t","depth":3,"new":1,
                "channels":[{"channel_name":"c","clients":null}]}]}"#,
        )
        .unwrap();
        let t = &d.topics.as_ref().unwrap()[0];
        assert_eq!((t.depth, t.backend_depth, t.paused), (3, 0, false));
        let c = &t.channels.as_ref().unwrap()[0];
        assert_eq!(
            (c.clients.as_ref(), c.e2e_processing_latency.as_ref()),
            (None, None)
        );
        let none: NodeStatsDoc = parse(br#"{"topics":null}"#).unwrap();
        assert_eq!(none.topics, None);
        assert!(parse::<NodeStatsDoc>(b"<html>").is_err());
        assert!(parse::<NodeStatsDoc>(br#"{"topics":[{"depth":"x"}]}"#).is_err());
    }
}
