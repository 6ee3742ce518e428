//! nsqd's statistics: what `/stats` (JSON and text), statsd and
//! Prometheus show, built from core's topics and channels plus what the
//! runtime knows about each connection, and the end-to-end latency sketch.

mod collect;
pub mod gofmt;
pub mod model;
pub mod prometheus;
mod quantile;
pub mod statsd;
pub mod text;

pub use collect::{
    client_stats, producers_stats, topic_stats, topics_stats, ClientIdentity, ConsumerCounts,
    StatsFilter, TlsInfo,
};
pub use model::{
    ChannelStats, ClientStats, Latency, MemStats, Percentile, PubCount, StatsDoc, TopicStats,
};
pub use quantile::Quantile;

use crate::io::{Nanos, SECOND};

/// NSQ's health text: `OK`, or `NOK - <error>`.
pub fn health_text(error: Option<&str>) -> String {
    match error {
        None => "OK".into(),
        Some(e) => format!("NOK - {e}"),
    }
}

/// The `/stats` document. When the topic filter matched nothing NSQ
/// reports no producers either.
pub fn stats_doc(
    health: String,
    start_time: Nanos,
    topics: Option<Vec<TopicStats>>,
    producers: Option<Vec<ClientStats>>,
    memory: Option<MemStats>,
) -> StatsDoc {
    let producers = if topics.is_none() { None } else { producers };
    StatsDoc {
        version: crate::NSQ_VERSION.to_string(),
        health,
        start_time: start_time.div_euclid(SECOND),
        topics,
        memory,
        producers,
    }
}
