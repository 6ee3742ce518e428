//! Deterministic cluster simulations: the production nsqd and nsqlookupd
//! under madsim with crashes, partitions, pauses and slow or failing disks,
//! checked against NSQ's promises. Each run is a seed; the same seed
//! replays the same run. See README.md ("Simulation").
//!
//! Build with `RUSTFLAGS="--cfg madsim"`; without it only [`results`] (a
//! sweep's results file, plain std) is built, so `scripts/sim.sh summary`
//! needs no simulation build.

#[cfg(madsim)]
pub mod churn;
#[cfg(madsim)]
pub mod consumer;
#[cfg(madsim)]
pub mod discovery;
#[cfg(madsim)]
pub mod ledger;
#[cfg(madsim)]
pub mod library;
#[cfg(madsim)]
pub mod lifecycle;
#[cfg(madsim)]
pub mod monitor;
#[cfg(madsim)]
pub mod nemesis;
#[cfg(madsim)]
pub mod producer;
pub mod results;
#[cfg(madsim)]
mod runner_glue;
#[cfg(madsim)]
pub mod scenarios;
#[cfg(madsim)]
pub mod sweep;
#[cfg(madsim)]
pub mod world;

#[cfg(madsim)]
pub use ledger::Ledger;
