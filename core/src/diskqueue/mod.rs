//! NSQ's diskqueue as a state machine over the abstract [`crate::io::Disk`]:
//! go-diskqueue's file format, group-committed writes, acknowledgement
//! tracking so a crash never loses what was in flight, and crash recovery
//! that keeps every good record.

pub mod files;
pub mod job;
pub mod open;
pub mod outstanding;
pub mod queue;
pub mod record;

pub use files::{Meta, Pos};
pub use job::{execute, step, IoJob, IoOutcome};
pub use open::open;
pub use queue::{DiskQueue, DqConfig, Recovery};

#[cfg(test)]
mod tests;
