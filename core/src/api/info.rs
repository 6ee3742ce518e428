//! `GET /info`.

use crate::io::{nanos, Nanos, SECOND};
use crate::Options;
use serde::{Deserialize, Serialize};

/// nsqd's `/info` document, in NSQ's field order (durations in nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub version: String,
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: i64,
    pub tcp_port: i64,
    pub start_time: i64,
    pub max_heartbeat_interval: i64,
    pub max_output_buffer_size: i64,
    pub max_output_buffer_timeout: i64,
    pub max_deflate_level: i64,
}

impl Info {
    /// `http_port` and `tcp_port` are -1 for a unix socket, as in NSQ.
    pub fn new(
        opts: &Options,
        hostname: &str,
        http_port: i64,
        tcp_port: i64,
        start: Nanos,
    ) -> Self {
        Info {
            version: crate::NSQ_VERSION.into(),
            broadcast_address: opts.broadcast_address.clone(),
            hostname: hostname.into(),
            http_port,
            tcp_port,
            start_time: start.div_euclid(SECOND),
            max_heartbeat_interval: nanos(opts.max_heartbeat_interval),
            max_output_buffer_size: opts.max_output_buffer_size,
            max_output_buffer_timeout: nanos(opts.max_output_buffer_timeout),
            max_deflate_level: opts.max_deflate_level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_json() {
        let opts = Options {
            broadcast_address: "127.0.0.1".into(),
            ..Options::default()
        };
        let info = Info::new(&opts, "vm", 55263, 35077, 1_795_290_984 * SECOND + 5);
        insta::assert_json_snapshot!("info", info);
    }
}
