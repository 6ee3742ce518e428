//! Command-line plumbing shared by every binary.

pub mod args;
pub mod config;
pub mod duration;
pub mod flags;
pub mod logging;
pub mod nsqadmin;
pub mod nsqd;
pub mod nsqlookupd;

/// The version line NSQ's binaries print for `--version`.
pub fn version_line(app: &str) -> String {
    nsq_core::version_string(app)
}

/// The machine's host name (NSQ's default broadcast address).
pub fn hostname() -> String {
    nsq_runtime_tokio::host::hostname()
}
