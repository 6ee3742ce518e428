//! Client-side rules (go-nsq v1.1.0's, as NSQ's utilities use them):
//! options, the IDENTIFY handshake, RDY spreading and redistribution over
//! many nsqd, backoff, requeue delays, max attempts, nsqlookupd discovery,
//! and the producer's command pipeline. The async driver is in
//! `nsq-runtime-tokio`'s `client` module.

pub mod config;
pub mod discovery;
pub mod handshake;
pub mod incoming;
pub mod lookup;
pub mod producer;
pub mod rules;
pub mod state;

pub use config::{BackoffStrategy, Config};
pub use incoming::{classify, Incoming};
pub use lookup::{Lookup, Producer as LookupProducer};
pub use state::{Action, ConnId, ConsumerState, RdyError, Stats};

#[cfg(test)]
mod tests;
