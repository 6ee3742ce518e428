//! Topics, channels, their queues and the per-connection protocol state.

pub mod channel;
pub mod client;
pub mod config;
pub mod consumer;
pub mod deferred;
pub(crate) mod deletion;
pub mod guid;
pub mod inflight;
pub mod local;
pub mod outbox;
pub mod queue;
pub mod storage;
pub mod topic;

pub use channel::Channel;
pub use client::{
    Client, ClientConfig, ClientState, Exec, Reply, Subscription, TickAction, Upgrades,
};
pub use config::BrokerConfig;
pub use consumer::{Consumer, ConsumerSettings};
pub use local::LocalBroker;
pub use outbox::Outbox;
pub use storage::{Storage, StorageError};
pub use topic::{ChannelEvent, QueueKey, Topic};
