//! nsqd's options with NSQ v1.3.0's defaults (the flag layer in `bins`
//! maps flags and config files onto this).

use crate::wire::command::Limits;
use std::time::Duration;

/// Whether clients must use TLS (`--tls-required`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsRequired {
    #[default]
    No,
    /// TCP must use TLS; plain HTTP stays allowed (`tcp-https`).
    ExceptHttp,
    Yes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub node_id: i64,
    pub tcp_address: String,
    pub http_address: String,
    pub https_address: String,
    pub broadcast_address: String,
    pub broadcast_tcp_port: u16,
    pub broadcast_http_port: u16,
    pub lookupd_tcp_addresses: Vec<String>,
    pub auth_http_addresses: Vec<String>,
    pub auth_http_request_method: String,
    pub http_client_connect_timeout: Duration,
    pub http_client_request_timeout: Duration,

    pub data_path: String,
    pub mem_queue_size: i64,
    pub max_bytes_per_file: i64,
    pub sync_every: i64,
    pub sync_timeout: Duration,
    /// Beyond NSQ: the most bytes one queue may hold on disk (0 = no limit).
    pub max_disk_bytes: i64,

    pub queue_scan_interval: Duration,
    pub queue_scan_refresh_interval: Duration,
    pub queue_scan_selection_count: i64,
    pub queue_scan_worker_pool_max: i64,
    pub queue_scan_dirty_percent: f64,

    pub msg_timeout: Duration,
    pub max_msg_timeout: Duration,
    pub max_msg_size: i64,
    pub max_body_size: i64,
    pub max_req_timeout: Duration,
    pub client_timeout: Duration,

    pub max_heartbeat_interval: Duration,
    pub max_rdy_count: i64,
    pub max_output_buffer_size: i64,
    /// Beyond NSQ (no flag): message bytes a connection may have waiting
    /// to be written before its channel stops handing it messages (README:
    /// Limits). The simulator sets it small to reach it quickly.
    pub max_unwritten_bytes: u64,
    pub max_output_buffer_timeout: Duration,
    pub min_output_buffer_timeout: Duration,
    pub output_buffer_timeout: Duration,
    pub max_channel_consumers: i64,

    pub statsd_address: String,
    pub statsd_prefix: String,
    pub statsd_interval: Duration,
    pub statsd_mem_stats: bool,
    pub statsd_udp_packet_size: i64,
    pub statsd_exclude_ephemeral: bool,

    pub e2e_processing_latency_window_time: Duration,
    pub e2e_processing_latency_percentiles: Vec<f64>,

    pub tls_cert: String,
    pub tls_key: String,
    pub tls_client_auth_policy: String,
    pub tls_root_ca_file: String,
    pub tls_required: TlsRequired,
    /// Minimum TLS version as NSQ names it (`tls1.0` ... `tls1.3`).
    pub tls_min_version: String,

    pub deflate: bool,
    pub max_deflate_level: i64,
    pub snappy: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            node_id: 0,
            tcp_address: "0.0.0.0:4150".into(),
            http_address: "0.0.0.0:4151".into(),
            https_address: "0.0.0.0:4152".into(),
            broadcast_address: String::new(),
            broadcast_tcp_port: 0,
            broadcast_http_port: 0,
            lookupd_tcp_addresses: Vec::new(),
            auth_http_addresses: Vec::new(),
            auth_http_request_method: "get".into(),
            http_client_connect_timeout: Duration::from_secs(2),
            http_client_request_timeout: Duration::from_secs(5),

            data_path: String::new(),
            mem_queue_size: 10_000,
            max_bytes_per_file: 100 * 1024 * 1024,
            sync_every: 2500,
            sync_timeout: Duration::from_secs(2),
            max_disk_bytes: 0,

            queue_scan_interval: Duration::from_millis(100),
            queue_scan_refresh_interval: Duration::from_secs(5),
            queue_scan_selection_count: 20,
            queue_scan_worker_pool_max: 4,
            queue_scan_dirty_percent: 0.25,

            msg_timeout: Duration::from_secs(60),
            max_msg_timeout: Duration::from_secs(15 * 60),
            max_msg_size: 1024 * 1024,
            max_body_size: 5 * 1024 * 1024,
            max_req_timeout: Duration::from_secs(3600),
            client_timeout: Duration::from_secs(60),

            max_heartbeat_interval: Duration::from_secs(60),
            max_rdy_count: 2500,
            max_output_buffer_size: 64 * 1024,
            max_unwritten_bytes: crate::broker::config::MAX_UNWRITTEN,
            max_output_buffer_timeout: Duration::from_secs(30),
            min_output_buffer_timeout: Duration::from_millis(25),
            output_buffer_timeout: Duration::from_millis(250),
            max_channel_consumers: 0,

            statsd_address: String::new(),
            statsd_prefix: "nsq.%s".into(),
            statsd_interval: Duration::from_secs(60),
            statsd_mem_stats: true,
            statsd_udp_packet_size: 508,
            statsd_exclude_ephemeral: false,

            e2e_processing_latency_window_time: Duration::from_secs(600),
            e2e_processing_latency_percentiles: Vec::new(),

            tls_cert: String::new(),
            tls_key: String::new(),
            tls_client_auth_policy: String::new(),
            tls_root_ca_file: String::new(),
            tls_required: TlsRequired::No,
            tls_min_version: "tls1.0".into(),

            deflate: true,
            max_deflate_level: 6,
            snappy: true,
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Options {
    /// The command size limits the protocol parser enforces.
    pub fn limits(&self) -> Limits {
        Limits {
            max_msg_size: self.max_msg_size,
            max_body_size: self.max_body_size,
            max_req_timeout_ms: ms(self.max_req_timeout),
        }
    }

    /// NSQ's start-up checks of option values.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=9).contains(&self.max_deflate_level) {
            return Err("--max-deflate-level must be [1,9]".into());
        }
        if !(0..1024).contains(&self.node_id) {
            return Err("--node-id must be [0,1024)".into());
        }
        for p in &self.e2e_processing_latency_percentiles {
            if *p <= 0.0 || *p > 1.0 {
                return Err(format!("invalid E2E processing latency percentile: {p}"));
            }
        }
        if self.mem_queue_size < 0 {
            return Err("--mem-queue-size must be >= 0".into());
        }
        if self.max_bytes_per_file <= 0 {
            return Err("--max-bytes-per-file must be > 0".into());
        }
        if self.max_msg_size <= 0 || self.max_body_size <= 0 {
            return Err("--max-msg-size and --max-body-size must be > 0".into());
        }
        if self.max_rdy_count < 0 {
            return Err("--max-rdy-count must be >= 0".into());
        }
        crate::auth::AuthMethod::parse(&self.auth_http_request_method)?;
        Ok(())
    }

    /// NSQ's default node id: `crc32(md5(hostname)) % 1024` (IEEE CRC-32
    /// of the 16-byte digest), so a node moved over from Go nsqd keeps its
    /// message id space.
    pub fn default_node_id(hostname: &str) -> i64 {
        let digest = crate::md5::digest(hostname.as_bytes());
        i64::from(crc32fast::hash(&digest) % 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::Options;

    #[test]
    fn default_node_id_is_gos_derivation() {
        // Computed independently: Python's zlib.crc32(hashlib.md5(h).digest()) % 1024.
        let cases = [
            ("vm", 617),
            ("localhost", 16),
            ("nsqd-0.nsqd.default.svc.cluster.local", 651),
            ("ip-10-0-1-23", 939),
            ("", 812),
        ];
        for (host, id) in cases {
            assert_eq!(Options::default_node_id(host), id, "{host:?}");
        }
    }
}
