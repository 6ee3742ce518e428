//! nsqadmin's rules, without I/O: what it asks nsqd and nsqlookupd (paths and
//! queries), how it reads their answers (leniently, as Go's `encoding/json`
//! does), and how it merges every node's `/stats` into the cluster view its
//! API serves (topic and channel totals, per-node rows, clients, end-to-end
//! latency percentiles, the message counter). The runtime fetches; this
//! module decides.
//!
//! Where Go nsqadmin v1.3.0 has an accident we serve what it meant (see
//! `aggregate` and the README's list of differences).

pub mod action;
pub mod aggregate;
pub mod counter;
pub mod errors;
pub mod gojson;
pub mod graphite;
pub mod input;
pub mod latency;
pub mod metrics;
pub mod notify;
pub mod options;
pub mod overview;
pub mod producer;
pub mod query;
pub mod replies;
pub mod stats;

pub use aggregate::{aggregate_channel, aggregate_topic};
pub use errors::{gather, warning_message, Gathered};
pub use options::AdminOptions;
pub use producer::{Producer, ProducerTopic};
pub use stats::{node_topics, ChannelStats, ClientStats, TopicStats};
