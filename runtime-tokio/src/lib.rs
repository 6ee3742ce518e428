//! Drives `nsq-core` on tokio. Written against `madsim-tokio`, so the very
//! same driver runs in production (real tokio) and in the deterministic
//! simulator (`--cfg madsim`). Rules live in core; this crate only moves
//! bytes, holds locks and keeps time.

pub mod clock;
pub mod host;
#[cfg(not(madsim))]
pub mod http_api;
pub mod nsqd;
pub mod signal;

pub use nsqd::{LogLevelHook, Nsqd, NsqdError};
