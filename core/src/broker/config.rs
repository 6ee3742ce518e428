//! The slice of nsqd's options that topics and channels need.

use super::storage::Storage;
use crate::diskqueue::{files, DiskQueue, DqConfig};
use crate::io::{nanos, Nanos};
use crate::options::Options;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i64,
    pub mem_queue_size: usize,
    pub max_msg_timeout: Nanos,
    pub max_channel_consumers: usize,
    /// The diskqueue settings of durable queues (`None`: nsqd has no
    /// disk, and a queue refuses what its memory part cannot hold).
    pub disk: Option<Arc<Options>>,
    /// --e2e-processing-latency-percentile (empty: latency is not tracked).
    pub e2e_percentiles: Arc<[f64]>,
    /// --e2e-processing-latency-window-time
    pub e2e_window: Nanos,
    /// The most bytes of message frames a connection may have waiting to be
    /// written before delivery to it stops (README: Limits).
    pub max_unwritten: u64,
}

/// Message bytes a connection may have waiting to be written before its
/// channel stops handing it messages: 1 MiB (plus the one message that
/// crossed the line). Enough for 2,500 messages of 400 bytes in flight
/// at once; a consumer that stops reading costs no more.
pub const MAX_UNWRITTEN: u64 = 1 << 20;

impl BrokerConfig {
    /// `with_disk`: durable queues overflow to diskqueues (else they refuse).
    pub fn from_options(opts: &Options, with_disk: bool) -> Self {
        BrokerConfig {
            node_id: opts.node_id,
            mem_queue_size: usize::try_from(opts.mem_queue_size).unwrap_or(0),
            max_msg_timeout: nanos(opts.max_msg_timeout),
            max_channel_consumers: usize::try_from(opts.max_channel_consumers).unwrap_or(0),
            disk: with_disk.then(|| Arc::new(opts.clone())),
            e2e_percentiles: opts.e2e_processing_latency_percentiles.as_slice().into(),
            e2e_window: nanos(opts.e2e_processing_latency_window_time),
            max_unwritten: opts.max_unwritten_bytes.max(1),
        }
    }

    /// The settings of the diskqueue of `topic` (or of its `channel`).
    pub fn disk_config(&self, topic: &str, channel: Option<&str>) -> Option<DqConfig> {
        let opts = self.disk.as_ref()?;
        let name = match channel {
            Some(c) => files::channel_queue_name(topic, c),
            None => topic.to_string(),
        };
        Some(DqConfig::from_options(&name, opts))
    }

    /// The storage of a queue created now. Its diskqueue starts empty: a
    /// queue with files is opened (a disk job) before its topic is built,
    /// when nsqd loads its data at start.
    pub(crate) fn new_storage(
        &self,
        topic: &str,
        channel: Option<&str>,
        ephemeral: bool,
    ) -> Storage {
        if ephemeral {
            return Storage::discard();
        }
        match self.disk_config(topic, channel) {
            Some(cfg) => Storage::disk(DiskQueue::new_empty(cfg)),
            None => Storage::Refuse,
        }
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self::from_options(&Options::default(), false)
    }
}
