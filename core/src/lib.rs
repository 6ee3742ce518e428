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
pub mod md5;
pub mod metadata;
pub mod options;
pub mod protocol;
pub mod recovery;
pub mod stats;
pub mod tls;
pub mod url;
pub mod wire;

pub use options::Options;

/// The version we report wherever NSQ reports its own.
pub const NSQ_VERSION: &str = "1.3.0";

/// The toolchain that built us, as one token (`rust1.95.0`; see build.rs).
pub const BUILT_WITH: &str = env!("NSQ_BUILT_WITH");

/// The version line NSQ's binaries print, in NSQ's shape
/// `NAME vX.Y.Z (built w/TOKEN)`: `nsqd v1.3.0 (built w/rust1.95.0)`.
pub fn version_string(app: &str) -> String {
    format!("{app} v{NSQ_VERSION} (built w/{BUILT_WITH})")
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_line_has_nsqs_shape() {
        let v = super::version_string("nsqd");
        let token = v
            .strip_prefix("nsqd v1.3.0 (built w/")
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{v}"));
        assert!(token.starts_with("rust") && token.len() > 4, "{v}");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'),
            "{v}"
        );
    }
}
