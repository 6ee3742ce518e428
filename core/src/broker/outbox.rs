//! How topics and channels hand work to the runtime.

use crate::wire::Message;

/// Receives what a channel decides to send. `K` is the runtime's handle for
/// a subscribed connection.
pub trait Outbox<K> {
    /// Send `msg` (already counted as in flight) to the consumer `to`.
    fn deliver(&mut self, to: &K, msg: &Message);
    /// Close the consumer's connection (its channel or topic was deleted).
    fn close(&mut self, to: &K);
}

/// An outbox that records everything (for tests and tools).
#[derive(Debug, Clone)]
pub struct Recorder<K> {
    pub delivered: Vec<(K, Message)>,
    pub closed: Vec<K>,
}

impl<K> Default for Recorder<K> {
    fn default() -> Self {
        Recorder {
            delivered: Vec::new(),
            closed: Vec::new(),
        }
    }
}

impl<K: Clone> Outbox<K> for Recorder<K> {
    fn deliver(&mut self, to: &K, msg: &Message) {
        self.delivered.push((to.clone(), msg.clone()));
    }
    fn close(&mut self, to: &K) {
        self.closed.push(to.clone());
    }
}
