//! Drives the production nsqd and nsqlookupd (`nsq-runtime-tokio`, written
//! against madsim-tokio) under the madsim simulator: simulated nodes with
//! their own IPs, a network that partitions, delays and drops, a disk per
//! nsqd that survives crashes (keeping only what was synced), and a runner
//! that replays any run from its seed.
//!
//! Build with `RUSTFLAGS="--cfg madsim"`; without it this crate is empty.
#![cfg(madsim)]

pub mod cluster;
pub mod disk;
pub mod runner;
pub mod wire;

pub use cluster::{Cluster, LookupdNode, NsqdNode};
pub use disk::SimDisk;
