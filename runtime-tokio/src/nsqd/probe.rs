//! A read-only look at a running nsqd's topics and channels, for tests and
//! the simulator (which check what lookupds list and that queues drain).

use super::{admin, Inner, Nsqd};
use crate::clock;
use std::sync::Arc;

/// One channel's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCounts {
    pub name: String,
    /// Messages waiting (memory + disk).
    pub depth: u64,
    pub in_flight: usize,
    pub deferred: usize,
    pub consumers: usize,
}

/// One topic's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCounts {
    pub name: String,
    pub depth: u64,
    pub channels: Vec<ChannelCounts>,
}

/// One durable queue's live data (see `DiskQueue::live_bytes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueBytes {
    /// The queue's file name stem: the topic, or `topic:channel`.
    pub name: String,
    pub live: u64,
    pub max_bytes_per_file: u64,
}

/// Outlives nothing: it holds the nsqd's state, not its tasks.
#[derive(Clone)]
pub struct Probe(Arc<Inner>);

impl Nsqd {
    pub fn probe(&self) -> Probe {
        Probe(Arc::clone(&self.inner))
    }
}

impl Probe {
    /// Every live topic with its channels, in name order.
    pub fn topics(&self) -> Vec<TopicCounts> {
        self.0
            .registry
            .all()
            .iter()
            .filter_map(|cell| {
                let st = cell.lock();
                if st.deleted {
                    return None;
                }
                let channels = st
                    .topic
                    .channels()
                    .map(|c| ChannelCounts {
                        name: c.name().to_string(),
                        depth: c.depth(),
                        in_flight: c.in_flight_count(),
                        deferred: c.deferred_count(),
                        consumers: c.consumer_count(),
                    })
                    .collect();
                Some(TopicCounts {
                    name: cell.name.clone(),
                    depth: st.topic.depth(),
                    channels,
                })
            })
            .collect()
    }

    /// Every durable queue's live bytes.
    pub fn queue_bytes(&self) -> Vec<QueueBytes> {
        let mut v = Vec::new();
        for cell in self.0.registry.all() {
            let st = cell.lock();
            if st.deleted {
                continue;
            }
            let queues =
                std::iter::once(st.topic.backlog()).chain(st.topic.channels().map(|c| c.queue()));
            for q in queues {
                if let Some(dq) = q.disk_ref() {
                    v.push(QueueBytes {
                        name: dq.name().to_string(),
                        live: dq.live_bytes(),
                        max_bytes_per_file: dq.config().max_bytes_per_file,
                    });
                }
            }
        }
        v
    }

    /// The client ids of the live connections.
    pub fn client_ids(&self) -> Vec<String> {
        self.0
            .conns
            .all()
            .iter()
            .map(|c| c.info().identity.client_id.clone())
            .collect()
    }

    /// The most bytes any one connection holds for its client (waiting to
    /// be written, or being written): in all, and of message frames.
    pub fn max_connection_output(&self) -> (u64, u64) {
        let conns = self.0.conns.all();
        let all = conns.iter().map(|c| c.held()).max().unwrap_or(0);
        let msgs = conns.iter().map(|c| c.held_messages()).max().unwrap_or(0);
        (all, msgs)
    }

    /// Creates a channel (and its topic), as `POST /channel/create` does
    /// after `POST /topic/create`.
    pub fn create_channel(&self, topic: &str, channel: &str) {
        self.0.registry.get_or_create(topic);
        let _ = admin::create_channel(&self.0.registry, topic, channel, clock::now());
    }

    /// Deletes a channel as `POST /channel/delete` does: true once the
    /// deletion is committed, false if there was no such channel.
    pub async fn delete_channel(&self, topic: &str, channel: &str) -> bool {
        match admin::delete_channel(&self.0.registry, topic, channel) {
            Ok(cell) => {
                cell.deletion_committed(Some(channel)).await;
                true
            }
            Err(_) => false,
        }
    }

    /// Deletes a topic as `POST /topic/delete` does: true once committed.
    pub async fn delete_topic(&self, topic: &str) -> bool {
        match admin::delete_topic(&self.0.registry, topic) {
            Ok(cell) => {
                cell.deletion_committed(None).await;
                true
            }
            Err(_) => false,
        }
    }

    /// The first disk error of any queue, while there is one.
    pub fn health(&self) -> Option<String> {
        self.0
            .registry
            .all()
            .iter()
            .find_map(|cell| cell.lock().topic.health())
    }
}
