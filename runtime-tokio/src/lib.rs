//! Drives `nsq-core` on tokio. Written against `madsim-tokio`, so the very
//! same driver runs in production (real tokio) and in the deterministic
//! simulator (`--cfg madsim`). Rules live in core; this crate only moves
//! bytes, holds locks and keeps time.

pub mod client;
pub mod clock;
#[cfg(not(madsim))]
pub mod disk;
pub mod host;
#[cfg(not(madsim))]
pub mod http_api;
#[cfg(not(madsim))]
pub mod http_client;
pub mod listen;
pub mod lookupd;
pub mod net;
#[cfg(not(madsim))]
pub mod nsqadmin;
pub mod nsqd;
#[cfg(not(madsim))]
mod process;
pub mod signal;
pub mod stream;
pub mod tls;
pub mod x509v1;

pub use lookupd::{Nsqlookupd, NsqlookupdError};
#[cfg(not(madsim))]
pub use nsqadmin::{Nsqadmin, NsqadminError};
pub use nsqd::{LogLevelHook, Nsqd, NsqdError};
