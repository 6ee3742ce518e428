//! The slice of nsqd's options that topics and channels need.

use super::backend::{Backend, Discard, Refuse};
use crate::io::{nanos, Nanos};
use crate::options::Options;
use std::sync::Arc;

/// Makes the backend of a durable topic or channel (ephemeral ones always
/// use [`Discard`]). The runtime supplies the diskqueue here.
pub trait BackendFactory: Send + Sync + std::fmt::Debug {
    fn topic_backend(&self, topic: &str) -> Box<dyn Backend>;
    fn channel_backend(&self, topic: &str, channel: &str) -> Box<dyn Backend>;
}

/// A factory for queues without disk: overflow beyond memory is refused.
#[derive(Debug, Default)]
pub struct MemoryOnly;

impl BackendFactory for MemoryOnly {
    fn topic_backend(&self, _: &str) -> Box<dyn Backend> {
        Box::new(Refuse)
    }
    fn channel_backend(&self, _: &str, _: &str) -> Box<dyn Backend> {
        Box::new(Refuse)
    }
}

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i64,
    pub mem_queue_size: usize,
    pub max_msg_timeout: Nanos,
    pub max_channel_consumers: usize,
    pub backends: Arc<dyn BackendFactory>,
    /// --e2e-processing-latency-percentile (empty: latency is not tracked).
    pub e2e_percentiles: Arc<[f64]>,
    /// --e2e-processing-latency-window-time
    pub e2e_window: Nanos,
}

impl BrokerConfig {
    pub fn from_options(opts: &Options, backends: Arc<dyn BackendFactory>) -> Self {
        BrokerConfig {
            node_id: opts.node_id,
            mem_queue_size: usize::try_from(opts.mem_queue_size).unwrap_or(0),
            max_msg_timeout: nanos(opts.max_msg_timeout),
            max_channel_consumers: usize::try_from(opts.max_channel_consumers).unwrap_or(0),
            backends,
            e2e_percentiles: opts.e2e_processing_latency_percentiles.as_slice().into(),
            e2e_window: nanos(opts.e2e_processing_latency_window_time),
        }
    }

    pub(crate) fn backend_for(
        &self,
        topic: &str,
        channel: Option<&str>,
        ephemeral: bool,
    ) -> Box<dyn Backend> {
        if ephemeral {
            return Box::new(Discard::default());
        }
        match channel {
            Some(c) => self.backends.channel_backend(topic, c),
            None => self.backends.topic_backend(topic),
        }
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self::from_options(&Options::default(), Arc::new(MemoryOnly))
    }
}
