//! nsqd's flags, with NSQ v1.3.0's names and defaults, resolved against a
//! `--config` file (flags win) into core [`Options`].

use super::config::{pick, ConfigFile};
use super::duration;
use super::flags::{daemon_flags, log_format, FlagValue};
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

/// An option NSQ checks itself from the value's text (`log_level`,
/// `tls_required = false`, `tls_min_version = "tls1.2"`): the flag (checked
/// when parsed), else the file's text checked by `parse`. The file's value must
/// be text even when the flag is given.
fn checked<T>(
    flag: Option<T>,
    file: &ConfigFile,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match (flag, file.string(key)?) {
        (Some(v), _) => Ok(Some(v)),
        (None, Some(s)) => parse(&s)
            .map(Some)
            .map_err(|_| format!("failed parsing {key} {s}")),
        (None, None) => Ok(None),
    }
}

daemon_flags! {
    /// nsqd: the daemon that receives, queues and delivers messages.
    #[command(
        name = "nsqd",
        about = "nsqd receives, queues and delivers messages to clients (NSQ v1.3.0 compatible)"
    )]
    pub struct NsqdFlags => Options {
        /// set log verbosity: debug, info, warn, error, or fatal
        #[arg(long)]
        log_level: Option<String> => _,
        /// log message prefix [default: "[nsqd] "]
        #[arg(long)]
        log_prefix: Option<String> => _,
        /// beyond NSQ: log line format, nsq (NSQ's lines) or json (one object per line) [default: nsq]
        #[arg(long)]
        log_format: Option<String> => _,
        /// unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)
        #[arg(long)]
        node_id: Option<i64> => _,
        /// [deprecated] use --node-id
        #[arg(long, hide = true)]
        worker_id: Option<i64> => _,
        /// <addr>:<port> to listen on for HTTPS clients [default: 0.0.0.0:4152]
        #[arg(long)]
        https_address: Option<String>,
        /// <addr>:<port> to listen on for HTTP clients [default: 0.0.0.0:4151]
        #[arg(long)]
        http_address: Option<String>,
        /// <addr>:<port> to listen on for TCP clients [default: 0.0.0.0:4150]
        #[arg(long)]
        tcp_address: Option<String>,
        /// <addr>:<port> or a full url to query auth server (may be given multiple times)
        #[arg(long)]
        auth_http_address: Vec<String> => auth_http_addresses,
        /// HTTP method for auth requests: get or post [default: get]
        #[arg(long)]
        auth_http_request_method: Option<String>,
        /// address that will be registered with lookupd (defaults to the OS hostname)
        #[arg(long)]
        broadcast_address: Option<String>,
        /// TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)
        #[arg(long)]
        broadcast_tcp_port: Option<u16>,
        /// HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)
        #[arg(long)]
        broadcast_http_port: Option<u16>,
        /// lookupd TCP address (may be given multiple times)
        #[arg(long)]
        lookupd_tcp_address: Vec<String> => lookupd_tcp_addresses "nsqlookupd_tcp_addresses",
        /// timeout for HTTP connect [default: 2s]
        #[arg(long, value_parser = duration::parse)]
        http_client_connect_timeout: Option<Duration>,
        /// timeout for HTTP request [default: 5s]
        #[arg(long, value_parser = duration::parse)]
        http_client_request_timeout: Option<Duration>,

        /// path to store disk-backed messages [default: the current directory]
        #[arg(long)]
        data_path: Option<String>,
        /// number of messages to keep in memory (per topic/channel) [default: 10000]
        #[arg(long)]
        mem_queue_size: Option<i64>,
        /// number of bytes per diskqueue file before rolling [default: 104857600]
        #[arg(long)]
        max_bytes_per_file: Option<i64>,
        /// number of messages per diskqueue fsync [default: 2500]
        #[arg(long)]
        sync_every: Option<i64>,
        /// duration of time per diskqueue fsync [default: 2s]
        #[arg(long, value_parser = duration::parse)]
        sync_timeout: Option<Duration>,
        /// beyond NSQ: most bytes one queue may hold on disk, 0 = no limit [default: 0]
        #[arg(long)]
        max_disk_bytes: Option<i64>,

        /// max concurrency for checking in-flight and deferred message timeouts (accepted for compatibility) [default: 4]
        #[arg(long)]
        queue_scan_worker_pool_max: Option<i64>,
        /// number of channels to check per cycle (accepted for compatibility) [default: 20]
        #[arg(long)]
        queue_scan_selection_count: Option<i64>,

        /// default duration to wait before auto-requeing a message [default: 1m0s]
        #[arg(long, value_parser = duration::parse)]
        msg_timeout: Option<Duration>,
        /// maximum duration before a message will timeout [default: 15m0s]
        #[arg(long, value_parser = duration::parse)]
        max_msg_timeout: Option<Duration>,
        /// maximum size of a single message in bytes [default: 1048576]
        #[arg(long)]
        max_msg_size: Option<i64>,
        /// maximum requeuing timeout for a message [default: 1h0m0s]
        #[arg(long, value_parser = duration::parse)]
        max_req_timeout: Option<Duration>,
        /// maximum size of a single command body [default: 5242880]
        #[arg(long)]
        max_body_size: Option<i64>,

        /// maximum client configurable duration of time between client heartbeats [default: 1m0s]
        #[arg(long, value_parser = duration::parse)]
        max_heartbeat_interval: Option<Duration>,
        /// maximum RDY count for a client [default: 2500]
        #[arg(long)]
        max_rdy_count: Option<i64>,
        /// maximum client configurable size (in bytes) for a client output buffer [default: 65536]
        #[arg(long)]
        max_output_buffer_size: Option<i64>,
        /// maximum client configurable duration of time between flushing to a client [default: 30s]
        #[arg(long, value_parser = duration::parse)]
        max_output_buffer_timeout: Option<Duration>,
        /// minimum client configurable duration of time between flushing to a client [default: 25ms]
        #[arg(long, value_parser = duration::parse)]
        min_output_buffer_timeout: Option<Duration>,
        /// default duration of time between flushing data to clients [default: 250ms]
        #[arg(long, value_parser = duration::parse)]
        output_buffer_timeout: Option<Duration>,
        /// maximum channel consumer connection count per nsqd instance (0 = unlimited) [default: 0]
        #[arg(long)]
        max_channel_consumers: Option<i64>,

        /// UDP <addr>:<port> of a statsd daemon for pushing stats
        #[arg(long)]
        statsd_address: Option<String>,
        /// duration between pushing to statsd [default: 1m0s]
        #[arg(long, value_parser = duration::parse)]
        statsd_interval: Option<Duration>,
        /// toggle sending memory and GC stats to statsd [default: true]
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        statsd_mem_stats: Option<bool>,
        /// prefix used for keys sent to statsd (%s for host replacement) [default: nsq.%s]
        #[arg(long)]
        statsd_prefix: Option<String>,
        /// the size in bytes of statsd UDP packets [default: 508]
        #[arg(long)]
        statsd_udp_packet_size: Option<i64>,
        /// Skip ephemeral topics and channels when sending stats to statsd [default: false]
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        statsd_exclude_ephemeral: Option<bool>,

        /// message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated '1.0,0.99,0.95', default none)
        #[arg(long, value_parser = percentiles)]
        e2e_processing_latency_percentile: Vec<Vec<f64>> => _,
        /// calculate end to end latency quantiles for this duration of time [default: 10m0s]
        #[arg(long, value_parser = duration::parse)]
        e2e_processing_latency_window_time: Option<Duration>,

        /// path to certificate file
        #[arg(long)]
        tls_cert: Option<String>,
        /// path to key file
        #[arg(long)]
        tls_key: Option<String>,
        /// client certificate auth policy ('require' or 'require-verify')
        #[arg(long)]
        tls_client_auth_policy: Option<String>,
        /// path to certificate authority file
        #[arg(long)]
        tls_root_ca_file: Option<String>,
        /// require TLS for client connections (true, false, tcp-https) [default: false]
        #[arg(long, value_parser = tls_required, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        tls_required: Option<TlsRequired> => _,
        /// minimum SSL/TLS version acceptable ('tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3') [default: tls1.0]
        #[arg(long, value_parser = tls_min_version)]
        tls_min_version: Option<String> => _,

        /// enable deflate feature negotiation (client compression) [default: true]
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        deflate: Option<bool>,
        /// max deflate compression level a client can negotiate (> values == > nsqd CPU usage) [default: 6]
        #[arg(long)]
        max_deflate_level: Option<i64>,
        /// enable snappy feature negotiation (client compression) [default: true]
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        snappy: Option<bool>,
    }
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
    pub fn resolve(mut self, hostname: &str) -> Result<NsqdSettings, String> {
        let f = &self.config_file()?;
        let d = Options::default();
        let log_level = checked(self.log_level.take(), f, "log_level", |s| {
            super::logging::parse_level(s).map(|_| s.to_string())
        })?
        .unwrap_or_else(|| "info".into());
        super::logging::parse_level(&log_level)?;
        let log_prefix = pick(
            self.log_prefix.take(),
            f.string("log_prefix"),
            "[nsqd] ".into(),
        )?;
        let log_format = log_format(self.log_format.take(), f)?;
        let tls_required =
            checked(self.tls_required, f, "tls_required", tls_required)?.unwrap_or(d.tls_required);
        let tls_min = checked(
            self.tls_min_version.take(),
            f,
            "tls_min_version",
            tls_min_version,
        )?
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| d.tls_min_version.clone());
        let mut percentiles = pick(
            self.e2e_processing_latency_percentile.concat().take_given(),
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
        let mut options = Options {
            node_id,
            broadcast_address: hostname.to_string(),
            e2e_processing_latency_percentiles: percentiles,
            tls_required,
            tls_min_version: tls_min,
            ..d
        };
        self.merge_into(f, &mut options)?;
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
    use clap::Parser;
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
