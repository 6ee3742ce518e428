//! A read-only look at a running nsqd's topics and channels, for tests and
//! the simulator (which check what lookupds list and that queues drain).

use super::{Inner, Nsqd};
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

    /// The first disk error of any queue, while there is one.
    pub fn health(&self) -> Option<String> {
        self.0
            .registry
            .all()
            .iter()
            .find_map(|cell| cell.lock().topic.health())
    }
}
