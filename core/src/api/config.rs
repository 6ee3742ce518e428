//! `GET|PUT /config/:opt`: every nsqd option by its config-file name, as
//! NSQ serialises it (durations in nanoseconds, `tls_required` and
//! `tls_min_version` as Go's numbers); `nsqlookupd_tcp_addresses` and
//! `log_level` can be changed at run time.

use super::ApiError;
use crate::io::nanos;
use crate::options::TlsRequired;
use crate::Options;
use serde_json::{json, Value};

pub const INVALID_OPTION: ApiError = ApiError::new(400, "INVALID_OPTION");
/// A PUT body that is empty or longer than `--max-msg-size`.
pub const VALUE_TOO_BIG: ApiError = ApiError::new(413, "INVALID_VALUE");
pub const INVALID_VALUE: ApiError = ApiError::new(400, "INVALID_VALUE");

/// NSQ's log levels; the number is what `/config/log_level` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Fatal = 5,
}

impl LogLevel {
    /// NSQ's `ParseLogLevel` (case-insensitive) with its error text.
    pub fn parse(s: &str) -> Result<LogLevel, String> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            "fatal" => Ok(LogLevel::Fatal),
            _ => Err(format!(
                "invalid log level '{s}' (debug, info, warn, error, fatal)"
            )),
        }
    }

    /// The `tracing` level that shows what this NSQ level shows.
    pub fn tracing_level(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            // only FATAL lines, which are written outside `tracing`
            LogLevel::Fatal => "off",
        }
    }
}

/// The options that can change at run time, as they are now.
#[derive(Debug, Clone, Copy)]
pub struct Live<'a> {
    pub log_level: LogLevel,
    pub lookupd_tcp_addresses: &'a [String],
}

fn tls_version_number(v: &str) -> u16 {
    match v {
        "tls1.1" => 0x0302,
        "tls1.2" => 0x0303,
        "tls1.3" => 0x0304,
        _ => 0x0301,
    }
}

/// A float as Go's JSON writes it (`1`, not `1.0`).
fn go_float(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// The value of option `name` (its config-file name), or `None` if nsqd
/// has no such option.
pub fn option_value(opts: &Options, live: Live<'_>, name: &str) -> Option<Value> {
    let o = opts;
    Some(match name {
        "id" => json!(o.node_id),
        "log_level" => json!(live.log_level as i64),
        "tcp_address" => json!(o.tcp_address),
        "http_address" => json!(o.http_address),
        "https_address" => json!(o.https_address),
        "broadcast_address" => json!(o.broadcast_address),
        "broadcast_tcp_port" => json!(o.broadcast_tcp_port),
        "broadcast_http_port" => json!(o.broadcast_http_port),
        "nsqlookupd_tcp_addresses" => json!(live.lookupd_tcp_addresses),
        "auth_http_addresses" => json!(o.auth_http_addresses),
        "http_client_connect_timeout" => json!(nanos(o.http_client_connect_timeout)),
        "http_client_request_timeout" => json!(nanos(o.http_client_request_timeout)),
        "data_path" => json!(o.data_path),
        "mem_queue_size" => json!(o.mem_queue_size),
        "max_bytes_per_file" => json!(o.max_bytes_per_file),
        "sync_every" => json!(o.sync_every),
        "sync_timeout" => json!(nanos(o.sync_timeout)),
        "max_disk_bytes" => json!(o.max_disk_bytes),
        "queue_scan_selection_count" => json!(o.queue_scan_selection_count),
        "queue_scan_worker_pool_max" => json!(o.queue_scan_worker_pool_max),
        "msg_timeout" => json!(nanos(o.msg_timeout)),
        "max_msg_timeout" => json!(nanos(o.max_msg_timeout)),
        "max_msg_size" => json!(o.max_msg_size),
        "max_body_size" => json!(o.max_body_size),
        "max_req_timeout" => json!(nanos(o.max_req_timeout)),
        "max_heartbeat_interval" => json!(nanos(o.max_heartbeat_interval)),
        "max_rdy_count" => json!(o.max_rdy_count),
        "max_output_buffer_size" => json!(o.max_output_buffer_size),
        "max_output_buffer_timeout" => json!(nanos(o.max_output_buffer_timeout)),
        "min_output_buffer_timeout" => json!(nanos(o.min_output_buffer_timeout)),
        "output_buffer_timeout" => json!(nanos(o.output_buffer_timeout)),
        "max_channel_consumers" => json!(o.max_channel_consumers),
        "statsd_address" => json!(o.statsd_address),
        "statsd_prefix" => json!(o.statsd_prefix),
        "statsd_interval" => json!(nanos(o.statsd_interval)),
        "statsd_mem_stats" => json!(o.statsd_mem_stats),
        "statsd_udp_packet_size" => json!(o.statsd_udp_packet_size),
        "statsd_exclude_ephemeral" => json!(o.statsd_exclude_ephemeral),
        "e2e_processing_latency_window_time" => {
            json!(nanos(o.e2e_processing_latency_window_time))
        }
        "e2e_processing_latency_percentiles" => Value::Array(
            o.e2e_processing_latency_percentiles
                .iter()
                .map(|&p| go_float(p))
                .collect(),
        ),
        "tls_cert" => json!(o.tls_cert),
        "tls_key" => json!(o.tls_key),
        "tls_client_auth_policy" => json!(o.tls_client_auth_policy),
        "tls_root_ca_file" => json!(o.tls_root_ca_file),
        "tls_required" => json!(match o.tls_required {
            TlsRequired::No => 0,
            TlsRequired::ExceptHttp => 1,
            TlsRequired::Yes => 2,
        }),
        "tls_min_version" => json!(tls_version_number(&o.tls_min_version)),
        "deflate" => json!(o.deflate),
        "max_deflate_level" => json!(o.max_deflate_level),
        "snappy" => json!(o.snappy),
        _ => return None,
    })
}

/// A run-time change asked for with `PUT /config/:opt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    LookupdTcpAddresses(Vec<String>),
    LogLevel(LogLevel),
}

/// Checks a PUT in NSQ's order: the body first (empty → 413), then the
/// option, then its value. (A body longer than `--max-msg-size` is the
/// reader's to refuse, with [`VALUE_TOO_BIG`].)
pub fn parse_put(opt: &str, body: &[u8]) -> Result<Change, ApiError> {
    if body.is_empty() {
        return Err(VALUE_TOO_BIG);
    }
    match opt {
        "nsqlookupd_tcp_addresses" => {
            let v: Option<Vec<String>> = serde_json::from_slice(body).map_err(|_| INVALID_VALUE)?;
            Ok(Change::LookupdTcpAddresses(v.unwrap_or_default()))
        }
        "log_level" => {
            let s = std::str::from_utf8(body).map_err(|_| INVALID_VALUE)?;
            LogLevel::parse(s)
                .map(Change::LogLevel)
                .map_err(|_| INVALID_VALUE)
        }
        _ => Err(INVALID_OPTION),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live<'static> {
        Live {
            log_level: LogLevel::Info,
            lookupd_tcp_addresses: &[],
        }
    }

    #[test]
    fn values_serialise_as_nsqs() {
        let o = Options::default();
        let get = |n: &str| option_value(&o, live(), n).map(|v| v.to_string());
        assert_eq!(get("mem_queue_size").as_deref(), Some("10000"));
        assert_eq!(get("msg_timeout").as_deref(), Some("60000000000"));
        assert_eq!(get("log_level").as_deref(), Some("2"));
        assert_eq!(get("nsqlookupd_tcp_addresses").as_deref(), Some("[]"));
        assert_eq!(get("tls_min_version").as_deref(), Some("769"));
        assert_eq!(get("tls_required").as_deref(), Some("0"));
        assert_eq!(get("statsd_prefix").as_deref(), Some("\"nsq.%s\""));
        assert_eq!(
            get("e2e_processing_latency_percentiles").as_deref(),
            Some("[]")
        );
        assert_eq!(get("queue_scan_interval"), None, "no flag in NSQ");
        let o = Options {
            e2e_processing_latency_percentiles: vec![1.0, 0.99],
            ..Options::default()
        };
        let v = option_value(&o, live(), "e2e_processing_latency_percentiles");
        assert_eq!(v.map(|v| v.to_string()).as_deref(), Some("[1,0.99]"));
        assert_eq!(get("lookupd_tcp_address"), None, "flag names are not keys");
    }

    #[test]
    fn puts_check_body_option_value_in_order() {
        assert_eq!(parse_put("nope", b""), Err(VALUE_TOO_BIG));
        assert_eq!(parse_put("nope", b"x"), Err(INVALID_OPTION));
        assert_eq!(parse_put("log_level", b"loud"), Err(INVALID_VALUE));
        assert_eq!(parse_put("log_level", b"debug\n"), Err(INVALID_VALUE));
        assert_eq!(
            parse_put("log_level", b"WARN"),
            Ok(Change::LogLevel(LogLevel::Warn))
        );
        assert_eq!(
            parse_put("nsqlookupd_tcp_addresses", br#"["a:1", "b:2"]"#),
            Ok(Change::LookupdTcpAddresses(vec![
                "a:1".into(),
                "b:2".into()
            ]))
        );
        assert_eq!(
            parse_put("nsqlookupd_tcp_addresses", b"null"),
            Ok(Change::LookupdTcpAddresses(vec![]))
        );
        assert_eq!(
            parse_put("nsqlookupd_tcp_addresses", br#"["a", 1]"#),
            Err(INVALID_VALUE)
        );
    }
}
