//! The JSON documents nsqadmin's API answers, field for field as NSQ
//! v1.3.0 writes them: every success carries `message` last (`""`, or the
//! warnings of nodes that could not be asked).

use super::counter::CounterStats;
use super::overview::TopicSummary;
use super::producer::Producer;
use super::stats::TopicStats;
use serde::Serialize;
use std::collections::BTreeMap;

/// A topic or channel document with `message` after its own fields.
#[derive(Debug, Clone, Serialize)]
pub struct WithMessage<T> {
    #[serde(flatten)]
    pub inner: T,
    pub message: String,
}

/// `GET /api/topics`.
#[derive(Debug, Clone, Serialize)]
pub struct Topics {
    pub topics: Vec<String>,
    pub message: String,
}

/// `GET /api/topics?inactive=true`: topics no node carries, with the
/// channels lookupd still knows of.
#[derive(Debug, Clone, Serialize)]
pub struct InactiveTopics {
    pub topics: BTreeMap<String, Vec<String>>,
    pub message: String,
}

/// `GET /api/nodes`.
#[derive(Debug, Clone, Serialize)]
pub struct Nodes {
    pub nodes: Vec<Producer>,
    pub message: String,
}

/// `GET /api/nodes/:node`.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub node: String,
    pub topics: Vec<TopicStats>,
    pub total_messages: i64,
    pub total_clients: i64,
    pub message: String,
}

/// `GET /api/counter`.
#[derive(Debug, Clone, Serialize)]
pub struct Counter {
    pub stats: BTreeMap<String, CounterStats>,
    pub message: String,
}

/// `GET /api/overview` (ours).
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub topics: Vec<TopicSummary>,
    pub message: String,
}

/// The answer of an action.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub message: String,
}

/// `GET /api/graphite`.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub rate: String,
}
