//! Topics, channels, their queues and the per-connection protocol state.

pub mod backend;
pub mod channel;
pub mod client;
pub mod config;
pub mod consumer;
pub mod deferred;
pub mod guid;
pub mod inflight;
pub mod local;
pub mod outbox;
pub mod queue;
pub mod topic;

pub use backend::{Backend, BackendError};
pub use channel::Channel;
pub use client::{
    BrokerOps, Client, ClientConfig, ClientState, Reply, Subscription, TickAction, Upgrades,
};
pub use config::{BackendFactory, BrokerConfig};
pub use consumer::{Consumer, ConsumerSettings};
pub use local::LocalBroker;
pub use outbox::Outbox;
pub use topic::{ChannelEvent, QueueKey, Topic};
