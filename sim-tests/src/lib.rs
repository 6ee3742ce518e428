//! Deterministic cluster simulations: the production nsqd and nsqlookupd
//! under madsim with crashes, partitions, pauses and slow or failing disks,
//! checked against NSQ's promises. Each run is a seed; the same seed
//! replays the same run. See README.md ("Simulation").
//!
//! Build with `RUSTFLAGS="--cfg madsim"`; without it this crate is empty.
#![cfg(madsim)]

pub mod churn;
pub mod consumer;
pub mod discovery;
pub mod ledger;
pub mod library;
pub mod lifecycle;
pub mod monitor;
pub mod nemesis;
pub mod producer;
mod runner_glue;
pub mod scenarios;
pub mod sweep;
pub mod world;

pub use ledger::Ledger;
