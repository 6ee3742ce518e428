//! nsqd's flags, with NSQ v1.3.0's names and defaults, resolved against a
//! `--config` file (flags win) into core [`Options`].

use super::config::{pick, pick_list, ConfigFile};
use super::duration;
use clap::{ArgAction, Parser};
use nsq_core::options::TlsRequired;
use nsq_core::Options;
use std::time::Duration;

fn tls_required(s: &str) -> Result<TlsRequired, String> {
    match s.to_ascii_lowercase().as_str() {
        "tcp-https" => Ok(TlsRequired::ExceptHttp),
        "1" | "t" | "true" => Ok(TlsRequired::Yes),
        "0" | "f" | "false" => Ok(TlsRequired::No),
        _ => Err(format!("invalid value {s:?} (true, false, tcp-https)")),
    }
}

/// A TLS version name; empty leaves the default, as in NSQ.
fn tls_min_version(s: &str) -> Result<String, String> {
    let v = s.to_ascii_lowercase();
    match v.as_str() {
        "" | "tls1.0" | "tls1.1" | "tls1.2" | "tls1.3" => Ok(v),
        _ => Err(format!("unknown tlsVersionOption {v:?}")),
    }
}

fn percentiles(s: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .map_err(|_| format!("Could not parse: {x}"))
        })
        .collect()
}

/// nsqd: the daemon that receives, queues and delivers messages.
#[derive(Debug, Parser)]
#[command(
    // Go's flag package keeps the last of a repeated flag (lists append).
    args_override_self = true,
    name = "nsqd",
    disable_version_flag = true,
    about = "nsqd receives, queues and delivers messages to clients (NSQ v1.3.0 compatible)"
)]
pub struct NsqdFlags {
    /// print version string
    #[arg(long, action = ArgAction::SetTrue)]
    pub version: bool,
    /// path to config file (TOML; command-line flags take precedence)
    #[arg(long)]
    pub config: Option<String>,
    /// set log verbosity: debug, info, warn, error, or fatal
    #[arg(long)]
    pub log_level: Option<String>,
    /// log message prefix [default: "[nsqd] "]
    #[arg(long)]
    pub log_prefix: Option<String>,
    /// beyond NSQ: log line format, nsq (NSQ's lines) or json (one object per line) [default: nsq]
    #[arg(long)]
    pub log_format: Option<String>,
    /// [deprecated] has no effect, use --log-level
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", hide = true)]
    pub verbose: Option<bool>,
    /// unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)
    #[arg(long)]
    pub node_id: Option<i64>,
    /// [deprecated] use --node-id
    #[arg(long, hide = true)]
    pub worker_id: Option<i64>,
    /// <addr>:<port> to listen on for HTTPS clients [default: 0.0.0.0:4152]
    #[arg(long)]
    pub https_address: Option<String>,
    /// <addr>:<port> to listen on for HTTP clients [default: 0.0.0.0:4151]
    #[arg(long)]
    pub http_address: Option<String>,
    /// <addr>:<port> to listen on for TCP clients [default: 0.0.0.0:4150]
    #[arg(long)]
    pub tcp_address: Option<String>,
    /// <addr>:<port> or a full url to query auth server (may be given multiple times)
    #[arg(long)]
    pub auth_http_address: Vec<String>,
    /// HTTP method for auth requests: get or post [default: get]
    #[arg(long)]
    pub auth_http_request_method: Option<String>,
    /// address that will be registered with lookupd (defaults to the OS hostname)
    #[arg(long)]
    pub broadcast_address: Option<String>,
    /// TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)
    #[arg(long)]
    pub broadcast_tcp_port: Option<u16>,
    /// HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)
    #[arg(long)]
    pub broadcast_http_port: Option<u16>,
    /// lookupd TCP address (may be given multiple times)
    #[arg(long)]
    pub lookupd_tcp_address: Vec<String>,
    /// timeout for HTTP connect [default: 2s]
    #[arg(long, value_parser = duration::parse)]
    pub http_client_connect_timeout: Option<Duration>,
    /// timeout for HTTP request [default: 5s]
    #[arg(long, value_parser = duration::parse)]
    pub http_client_request_timeout: Option<Duration>,

    /// path to store disk-backed messages [default: the current directory]
    #[arg(long)]
    pub data_path: Option<String>,
    /// number of messages to keep in memory (per topic/channel) [default: 10000]
    #[arg(long)]
    pub mem_queue_size: Option<i64>,
    /// number of bytes per diskqueue file before rolling [default: 104857600]
    #[arg(long)]
    pub max_bytes_per_file: Option<i64>,
    /// number of messages per diskqueue fsync [default: 2500]
    #[arg(long)]
    pub sync_every: Option<i64>,
    /// duration of time per diskqueue fsync [default: 2s]
    #[arg(long, value_parser = duration::parse)]
    pub sync_timeout: Option<Duration>,
    /// beyond NSQ: most bytes one queue may hold on disk, 0 = no limit [default: 0]
    #[arg(long)]
    pub max_disk_bytes: Option<i64>,

    /// max concurrency for checking in-flight and deferred message timeouts (accepted for compatibility) [default: 4]
    #[arg(long)]
    pub queue_scan_worker_pool_max: Option<i64>,
    /// number of channels to check per cycle (accepted for compatibility) [default: 20]
    #[arg(long)]
    pub queue_scan_selection_count: Option<i64>,

    /// default duration to wait before auto-requeing a message [default: 1m0s]
    #[arg(long, value_parser = duration::parse)]
    pub msg_timeout: Option<Duration>,
    /// maximum duration before a message will timeout [default: 15m0s]
    #[arg(long, value_parser = duration::parse)]
    pub max_msg_timeout: Option<Duration>,
    /// maximum size of a single message in bytes [default: 1048576]
    #[arg(long)]
    pub max_msg_size: Option<i64>,
    /// maximum requeuing timeout for a message [default: 1h0m0s]
    #[arg(long, value_parser = duration::parse)]
    pub max_req_timeout: Option<Duration>,
    /// maximum size of a single command body [default: 5242880]
    #[arg(long)]
    pub max_body_size: Option<i64>,

    /// maximum client configurable duration of time between client heartbeats [default: 1m0s]
    #[arg(long, value_parser = duration::parse)]
    pub max_heartbeat_interval: Option<Duration>,
    /// maximum RDY count for a client [default: 2500]
    #[arg(long)]
    pub max_rdy_count: Option<i64>,
    /// maximum client configurable size (in bytes) for a client output buffer [default: 65536]
    #[arg(long)]
    pub max_output_buffer_size: Option<i64>,
    /// maximum client configurable duration of time between flushing to a client [default: 30s]
    #[arg(long, value_parser = duration::parse)]
    pub max_output_buffer_timeout: Option<Duration>,
    /// minimum client configurable duration of time between flushing to a client [default: 25ms]
    #[arg(long, value_parser = duration::parse)]
    pub min_output_buffer_timeout: Option<Duration>,
    /// default duration of time between flushing data to clients [default: 250ms]
    #[arg(long, value_parser = duration::parse)]
    pub output_buffer_timeout: Option<Duration>,
    /// maximum channel consumer connection count per nsqd instance (0 = unlimited) [default: 0]
    #[arg(long)]
    pub max_channel_consumers: Option<i64>,

    /// UDP <addr>:<port> of a statsd daemon for pushing stats
    #[arg(long)]
    pub statsd_address: Option<String>,
    /// duration between pushing to statsd [default: 1m0s]
    #[arg(long, value_parser = duration::parse)]
    pub statsd_interval: Option<Duration>,
    /// toggle sending memory and GC stats to statsd [default: true]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub statsd_mem_stats: Option<bool>,
    /// prefix used for keys sent to statsd (%s for host replacement) [default: nsq.%s]
    #[arg(long)]
    pub statsd_prefix: Option<String>,
    /// the size in bytes of statsd UDP packets [default: 508]
    #[arg(long)]
    pub statsd_udp_packet_size: Option<i64>,
    /// Skip ephemeral topics and channels when sending stats to statsd [default: false]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub statsd_exclude_ephemeral: Option<bool>,

    /// message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated '1.0,0.99,0.95', default none)
    #[arg(long, value_parser = percentiles)]
    pub e2e_processing_latency_percentile: Vec<Vec<f64>>,
    /// calculate end to end latency quantiles for this duration of time [default: 10m0s]
    #[arg(long, value_parser = duration::parse)]
    pub e2e_processing_latency_window_time: Option<Duration>,

    /// path to certificate file
    #[arg(long)]
    pub tls_cert: Option<String>,
    /// path to key file
    #[arg(long)]
    pub tls_key: Option<String>,
    /// client certificate auth policy ('require' or 'require-verify')
    #[arg(long)]
    pub tls_client_auth_policy: Option<String>,
    /// path to certificate authority file
    #[arg(long)]
    pub tls_root_ca_file: Option<String>,
    /// require TLS for client connections (true, false, tcp-https) [default: false]
    #[arg(long, value_parser = tls_required, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_required: Option<TlsRequired>,
    /// minimum SSL/TLS version acceptable ('tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3') [default: tls1.0]
    #[arg(long, value_parser = tls_min_version)]
    pub tls_min_version: Option<String>,

    /// enable deflate feature negotiation (client compression) [default: true]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub deflate: Option<bool>,
    /// max deflate compression level a client can negotiate (> values == > nsqd CPU usage) [default: 6]
    #[arg(long)]
    pub max_deflate_level: Option<i64>,
    /// enable snappy feature negotiation (client compression) [default: true]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub snappy: Option<bool>,
}

/// Resolved settings for the nsqd binary: core options plus logging.
#[derive(Debug, Clone)]
pub struct NsqdSettings {
    pub options: Options,
    pub log_level: String,
    pub log_prefix: String,
    pub log_format: super::logging::LogFormat,
}

impl NsqdFlags {
    /// Merges flags, the config file and NSQ's defaults.
    pub fn resolve(self, hostname: &str) -> Result<NsqdSettings, String> {
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        let d = Options::default();
        let f = &file;
        // NSQ checks these three itself, from the value's text (`false`, `"tls1.2"`).
        let log_level = match (self.log_level, f.string("log_level")?) {
            (Some(v), _) => v,
            (None, Some(s)) => {
                super::logging::parse_level(&s)
                    .map_err(|_| format!("failed parsing log_level {s}"))?;
                s
            }
            (None, None) => "info".into(),
        };
        super::logging::parse_level(&log_level)?;
        let log_prefix = pick(self.log_prefix, f.string("log_prefix"), "[nsqd] ".into())?;
        let log_format = super::logging::LogFormat::parse(&pick(
            self.log_format,
            f.string("log_format"),
            String::new(),
        )?)?;
        let tls_required = match (self.tls_required, f.string("tls_required")?) {
            (Some(v), _) => v,
            (None, Some(s)) => {
                tls_required(&s).map_err(|_| format!("failed parsing tls_required {s}"))?
            }
            (None, None) => d.tls_required,
        };
        let tls_min = match (self.tls_min_version, f.string("tls_min_version")?) {
            (Some(v), _) => v,
            (None, Some(s)) => {
                tls_min_version(&s).map_err(|_| format!("failed parsing tls_min_version {s}"))?
            }
            (None, None) => String::new(),
        };
        let tls_min = match tls_min.as_str() {
            "" => d.tls_min_version.clone(),
            _ => tls_min,
        };
        let flag_percentiles: Vec<f64> = self
            .e2e_processing_latency_percentile
            .into_iter()
            .flatten()
            .collect();
        let mut percentiles = pick_list(
            flag_percentiles,
            f.floats("e2e_processing_latency_percentiles"),
            vec![],
        )?;
        percentiles.sort_by(|a, b| b.total_cmp(a));
        let node_id = match self.node_id.or(self.worker_id) {
            Some(v) => v,
            None => f
                .int("id")?
                .unwrap_or_else(|| Options::default_node_id(hostname)),
        };
        let options = Options {
            node_id,
            tcp_address: pick(self.tcp_address, f.string("tcp_address"), d.tcp_address)?,
            http_address: pick(self.http_address, f.string("http_address"), d.http_address)?,
            https_address: pick(
                self.https_address,
                f.string("https_address"),
                d.https_address,
            )?,
            broadcast_address: pick(
                self.broadcast_address,
                f.string("broadcast_address"),
                hostname.to_string(),
            )?,
            broadcast_tcp_port: pick(
                self.broadcast_tcp_port,
                f.int("broadcast_tcp_port").map(|v| v.map(|p| p as u16)),
                0,
            )?,
            broadcast_http_port: pick(
                self.broadcast_http_port,
                f.int("broadcast_http_port").map(|v| v.map(|p| p as u16)),
                0,
            )?,
            lookupd_tcp_addresses: pick_list(
                self.lookupd_tcp_address,
                f.strings("nsqlookupd_tcp_addresses"),
                vec![],
            )?,
            auth_http_addresses: pick_list(
                self.auth_http_address,
                f.strings("auth_http_addresses"),
                vec![],
            )?,
            auth_http_request_method: pick(
                self.auth_http_request_method,
                f.string("auth_http_request_method"),
                d.auth_http_request_method,
            )?,
            http_client_connect_timeout: pick(
                self.http_client_connect_timeout,
                f.duration("http_client_connect_timeout"),
                d.http_client_connect_timeout,
            )?,
            http_client_request_timeout: pick(
                self.http_client_request_timeout,
                f.duration("http_client_request_timeout"),
                d.http_client_request_timeout,
            )?,
            data_path: pick(self.data_path, f.string("data_path"), d.data_path)?,
            mem_queue_size: pick(
                self.mem_queue_size,
                f.int("mem_queue_size"),
                d.mem_queue_size,
            )?,
            max_bytes_per_file: pick(
                self.max_bytes_per_file,
                f.int("max_bytes_per_file"),
                d.max_bytes_per_file,
            )?,
            sync_every: pick(self.sync_every, f.int("sync_every"), d.sync_every)?,
            sync_timeout: pick(
                self.sync_timeout,
                f.duration("sync_timeout"),
                d.sync_timeout,
            )?,
            max_disk_bytes: pick(
                self.max_disk_bytes,
                f.int("max_disk_bytes"),
                d.max_disk_bytes,
            )?,
            queue_scan_interval: d.queue_scan_interval,
            queue_scan_refresh_interval: d.queue_scan_refresh_interval,
            queue_scan_selection_count: pick(
                self.queue_scan_selection_count,
                f.int("queue_scan_selection_count"),
                d.queue_scan_selection_count,
            )?,
            queue_scan_worker_pool_max: pick(
                self.queue_scan_worker_pool_max,
                f.int("queue_scan_worker_pool_max"),
                d.queue_scan_worker_pool_max,
            )?,
            queue_scan_dirty_percent: d.queue_scan_dirty_percent,
            msg_timeout: pick(self.msg_timeout, f.duration("msg_timeout"), d.msg_timeout)?,
            max_msg_timeout: pick(
                self.max_msg_timeout,
                f.duration("max_msg_timeout"),
                d.max_msg_timeout,
            )?,
            max_msg_size: pick(self.max_msg_size, f.int("max_msg_size"), d.max_msg_size)?,
            max_body_size: pick(self.max_body_size, f.int("max_body_size"), d.max_body_size)?,
            max_req_timeout: pick(
                self.max_req_timeout,
                f.duration("max_req_timeout"),
                d.max_req_timeout,
            )?,
            client_timeout: d.client_timeout,
            max_heartbeat_interval: pick(
                self.max_heartbeat_interval,
                f.duration("max_heartbeat_interval"),
                d.max_heartbeat_interval,
            )?,
            max_rdy_count: pick(self.max_rdy_count, f.int("max_rdy_count"), d.max_rdy_count)?,
            max_output_buffer_size: pick(
                self.max_output_buffer_size,
                f.int("max_output_buffer_size"),
                d.max_output_buffer_size,
            )?,
            max_unwritten_bytes: d.max_unwritten_bytes,
            max_output_buffer_timeout: pick(
                self.max_output_buffer_timeout,
                f.duration("max_output_buffer_timeout"),
                d.max_output_buffer_timeout,
            )?,
            min_output_buffer_timeout: pick(
                self.min_output_buffer_timeout,
                f.duration("min_output_buffer_timeout"),
                d.min_output_buffer_timeout,
            )?,
            output_buffer_timeout: pick(
                self.output_buffer_timeout,
                f.duration("output_buffer_timeout"),
                d.output_buffer_timeout,
            )?,
            max_channel_consumers: pick(
                self.max_channel_consumers,
                f.int("max_channel_consumers"),
                d.max_channel_consumers,
            )?,
            statsd_address: pick(
                self.statsd_address,
                f.string("statsd_address"),
                d.statsd_address,
            )?,
            statsd_prefix: pick(
                self.statsd_prefix,
                f.string("statsd_prefix"),
                d.statsd_prefix,
            )?,
            statsd_interval: pick(
                self.statsd_interval,
                f.duration("statsd_interval"),
                d.statsd_interval,
            )?,
            statsd_mem_stats: pick(
                self.statsd_mem_stats,
                f.bool("statsd_mem_stats"),
                d.statsd_mem_stats,
            )?,
            statsd_udp_packet_size: pick(
                self.statsd_udp_packet_size,
                f.int("statsd_udp_packet_size"),
                d.statsd_udp_packet_size,
            )?,
            statsd_exclude_ephemeral: pick(
                self.statsd_exclude_ephemeral,
                f.bool("statsd_exclude_ephemeral"),
                d.statsd_exclude_ephemeral,
            )?,
            e2e_processing_latency_window_time: pick(
                self.e2e_processing_latency_window_time,
                f.duration("e2e_processing_latency_window_time"),
                d.e2e_processing_latency_window_time,
            )?,
            e2e_processing_latency_percentiles: percentiles,
            tls_cert: pick(self.tls_cert, f.string("tls_cert"), d.tls_cert)?,
            tls_key: pick(self.tls_key, f.string("tls_key"), d.tls_key)?,
            tls_client_auth_policy: pick(
                self.tls_client_auth_policy,
                f.string("tls_client_auth_policy"),
                d.tls_client_auth_policy,
            )?,
            tls_root_ca_file: pick(
                self.tls_root_ca_file,
                f.string("tls_root_ca_file"),
                d.tls_root_ca_file,
            )?,
            tls_required,
            tls_min_version: tls_min,
            deflate: pick(self.deflate, f.bool("deflate"), d.deflate)?,
            max_deflate_level: pick(
                self.max_deflate_level,
                f.int("max_deflate_level"),
                d.max_deflate_level,
            )?,
            snappy: pick(self.snappy, f.bool("snappy"), d.snappy)?,
        };
        Ok(NsqdSettings {
            options,
            log_level,
            log_prefix,
            log_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn parse(args: &[&str]) -> NsqdFlags {
        let argv = super::super::args::normalize(
            std::iter::once("nsqd")
                .chain(args.iter().copied())
                .map(Into::into),
        );
        NsqdFlags::try_parse_from(argv).unwrap()
    }

    #[test]
    fn defaults_are_nsqs() {
        let s = parse(&[]).resolve("host").unwrap();
        assert_eq!(s.options.tcp_address, "0.0.0.0:4150");
        assert_eq!(s.options.mem_queue_size, 10_000);
        assert_eq!(s.options.msg_timeout, Duration::from_secs(60));
        assert_eq!(s.options.broadcast_address, "host");
        assert!((0..1024).contains(&s.options.node_id));
        assert_eq!(s.log_level, "info");
    }

    #[test]
    fn go_style_flags() {
        let s = parse(&[
            "-mem-queue-size=5",
            "--msg-timeout",
            "90s",
            "--lookupd-tcp-address=a:1",
            "--lookupd-tcp-address=b:2",
            "--snappy=false",
            "--deflate",
            "--e2e-processing-latency-percentile=0.5,0.99",
            "--tls-required=tcp-https",
        ])
        .resolve("h")
        .unwrap();
        let o = s.options;
        assert_eq!(o.mem_queue_size, 5);
        assert_eq!(o.msg_timeout, Duration::from_secs(90));
        assert_eq!(o.lookupd_tcp_addresses, vec!["a:1", "b:2"]);
        assert!(!o.snappy);
        assert!(o.deflate);
        assert_eq!(o.e2e_processing_latency_percentiles, vec![0.99, 0.5]);
        assert_eq!(o.tls_required, TlsRequired::ExceptHttp);
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "mem_queue_size = 7\nmax_rdy_count = 9\nid = 12\nnsqlookupd_tcp_addresses = [\"l:4160\"]").unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let o = parse(&["--config", &path, "--max-rdy-count=3"])
            .resolve("h")
            .unwrap()
            .options;
        assert_eq!((o.mem_queue_size, o.max_rdy_count, o.node_id), (7, 3, 12));
        assert_eq!(o.lookupd_tcp_addresses, vec!["l:4160"]);
    }

    #[test]
    fn nsqs_example_config_loads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/configs/nsqd.cfg.example"
        );
        let s = parse(&["--config", path]).resolve("h").unwrap();
        let o = s.options;
        assert_eq!(s.log_level, "info");
        assert_eq!(o.lookupd_tcp_addresses, vec!["127.0.0.1:4160"]);
        assert_eq!(o.max_msg_size, 1_024_768);
        assert_eq!(o.max_msg_timeout, Duration::from_secs(15 * 60));
        assert_eq!(o.max_output_buffer_timeout, Duration::from_secs(1));
        assert_eq!(o.e2e_processing_latency_percentiles, vec![1.0, 0.99, 0.95]);
        assert_eq!(o.tls_required, TlsRequired::No);
        assert_eq!(o.tls_min_version, Options::default().tls_min_version);
        assert!(o.deflate && o.snappy && o.statsd_mem_stats);
        assert_eq!((o.tls_cert.as_str(), o.tls_key.as_str()), ("", ""));
    }

    #[test]
    fn config_values_as_nsq_reads_them() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "tls_required = true\ntls_min_version = \"TLS1.2\"\nlog_level = \"WARN\"\nsnappy = \"false\"\nsync_timeout = 250\nnsqlookupd_tcp_addresses = \"a:1,b:2\"\nbroadcast_tcp_port = \"4000\""
        )
        .unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let s = parse(&["--config", &path]).resolve("h").unwrap();
        let o = s.options;
        assert_eq!(o.tls_required, TlsRequired::Yes);
        assert_eq!(o.tls_min_version, "tls1.2");
        assert_eq!(s.log_level, "WARN");
        assert!(!o.snappy);
        assert_eq!(o.sync_timeout, Duration::from_millis(250));
        assert_eq!(o.lookupd_tcp_addresses, vec!["a:1", "b:2"]);
        assert_eq!(o.broadcast_tcp_port, 4000);
        for (line, err) in [
            ("tls_required = 2", "failed parsing tls_required 2"),
            (
                "tls_min_version = \"ssl3.0\"",
                "failed parsing tls_min_version ssl3.0",
            ),
            ("log_level = \"loud\"", "failed parsing log_level loud"),
        ] {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            writeln!(file, "{line}").unwrap();
            let path = file.path().to_str().unwrap().to_string();
            assert_eq!(parse(&["--config", &path]).resolve("h").unwrap_err(), err);
        }
    }

    #[test]
    fn the_last_of_a_repeated_flag_wins() {
        let o = parse(&[
            "--mem-queue-size=1",
            "-mem-queue-size=2",
            "--snappy=false",
            "--snappy",
            "--tls-min-version=tls1.3",
            "--tls-min-version=",
            "--lookupd-tcp-address=a:1",
            "--lookupd-tcp-address=b:2",
        ])
        .resolve("h")
        .unwrap()
        .options;
        assert_eq!(o.mem_queue_size, 2);
        assert!(o.snappy);
        assert_eq!(o.tls_min_version, Options::default().tls_min_version);
        assert_eq!(o.lookupd_tcp_addresses, vec!["a:1", "b:2"]);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(NsqdFlags::try_parse_from(["nsqd", "--msg-timeout=5"]).is_err());
        assert!(NsqdFlags::try_parse_from(["nsqd", "--mem-queue-size=x"]).is_err());
        assert!(parse(&["--log-level=loud"]).resolve("h").is_err());
        assert!(parse(&["--config=/nonexistent/x.toml"])
            .resolve("h")
            .is_err());
    }
}
