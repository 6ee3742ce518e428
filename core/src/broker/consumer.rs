//! A subscribed connection as its channel sees it: RDY, in-flight count and
//! the settings it negotiated.

use crate::io::Nanos;

/// What a subscriber negotiated that its channel needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerSettings {
    pub client_id: u64,
    pub msg_timeout: Nanos,
    /// 0 = every message; 1..=99 = roughly that percentage.
    pub sample_rate: i32,
}

#[derive(Debug, Clone)]
pub struct Consumer<K> {
    pub handle: K,
    pub settings: ConsumerSettings,
    pub rdy: i64,
    pub in_flight: i64,
    pub message_count: u64,
    pub finish_count: u64,
    pub requeue_count: u64,
    /// Bytes of message frames handed to the connection that it has not
    /// reported written to its socket yet ([`super::Channel::output_written`]).
    pub unwritten: u64,
    /// No delivery while `unwritten` is this high: what a connection that
    /// stops reading costs stays bounded (see `BrokerConfig::max_unwritten`).
    pub(crate) max_unwritten: u64,
    /// Whether the slot sits in the channel's ready list.
    pub(crate) listed: bool,
}

impl<K> Consumer<K> {
    pub fn new(handle: K, settings: ConsumerSettings, max_unwritten: u64) -> Self {
        Consumer {
            handle,
            settings,
            rdy: 0,
            in_flight: 0,
            message_count: 0,
            finish_count: 0,
            requeue_count: 0,
            unwritten: 0,
            max_unwritten,
            listed: false,
        }
    }

    /// NSQ's `IsReadyForMessages` (the channel's pause is checked apart),
    /// and room in the connection's output: a message may go while fewer
    /// than `max_unwritten` bytes wait to be written, so at most that plus
    /// one message waits.
    pub fn is_ready(&self) -> bool {
        self.rdy > 0 && self.in_flight < self.rdy && self.unwritten < self.max_unwritten
    }
}
