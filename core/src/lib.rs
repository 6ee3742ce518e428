//! NSQ's rules as pure state machines.
//!
//! Nothing in this crate touches a socket, a file, the system clock or a
//! thread-local RNG: time comes in as a value (`now`), randomness from seeded
//! generators owned by the state machines, and all I/O goes out as requests
//! that a runtime performs (see `io`). `runtime-tokio` drives this crate in
//! production and `runtime-sim` under the deterministic simulator.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod auth;
pub mod broker;
pub mod consumer;
pub mod diskqueue;
pub mod duration;
pub mod io;
pub mod lookup;
pub mod metadata;
pub mod options;
pub mod recovery;
pub mod stats;
pub mod tls;
pub mod wire;

pub use options::Options;

/// The version we report wherever NSQ reports its own.
pub const NSQ_VERSION: &str = "1.3.0";

/// The version line NSQ's binaries print (`nsqd v1.3.0 (built w/...)`).
pub fn version_string(app: &str) -> String {
    format!(
        "{app} v{NSQ_VERSION} (built w/rust, nsq-rs {})",
        env!("CARGO_PKG_VERSION")
    )
}
