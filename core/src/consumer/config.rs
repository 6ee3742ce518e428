//! Client options with go-nsq v1.1.0's names, defaults and bounds, and its
//! `--consumer-opt` / `--producer-opt` syntax (`key,value`; `key` alone means
//! true).

use crate::duration;
use std::time::Duration;

/// How long to back off after the n-th consecutive failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackoffStrategy {
    /// `backoff_multiplier * 2^n` (go-nsq's default).
    #[default]
    Exponential,
    /// A uniformly random duration in `[0, backoff_multiplier * 2^n)`.
    FullJitter,
}

/// Everything a consumer or producer connection is configured by.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub dial_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// Time between nsqlookupd polls; without lookupd, time between
    /// reconnection attempts to a lost nsqd.
    pub lookupd_poll_interval: Duration,
    /// Fraction of the poll interval added at random before the first poll.
    pub lookupd_poll_jitter: f64,
    pub lookupd_poll_timeout: Duration,
    pub max_requeue_delay: Duration,
    pub default_requeue_delay: Duration,
    pub backoff_strategy: BackoffStrategy,
    /// Longest backoff; zero disables backoff.
    pub max_backoff_duration: Duration,
    pub backoff_multiplier: Duration,
    /// Messages delivered more often than this are finished unprocessed (0 = never).
    pub max_attempts: u16,
    pub low_rdy_idle_timeout: Duration,
    pub low_rdy_timeout: Duration,
    pub rdy_redistribute_interval: Duration,
    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    /// `None` disables heartbeats (go-nsq's -1).
    pub heartbeat_interval: Option<Duration>,
    pub sample_rate: i32,
    pub tls_v1: bool,
    pub tls_root_ca_file: String,
    pub tls_insecure_skip_verify: bool,
    pub tls_cert: String,
    pub tls_key: String,
    pub tls_min_version: String,
    pub deflate: bool,
    pub deflate_level: i32,
    pub snappy: bool,
    pub output_buffer_size: i64,
    /// `None` disables output buffering on the server (go-nsq's -1).
    pub output_buffer_timeout: Option<Duration>,
    pub max_in_flight: i64,
    /// Server-side message timeout for this client; zero = the server's default.
    pub msg_timeout: Duration,
    pub auth_secret: String,
}

impl Config {
    /// go-nsq's defaults. `hostname` is the machine's name (the client id is
    /// its first label, as go-nsq does).
    pub fn new(hostname: &str) -> Config {
        Config {
            dial_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(1),
            lookupd_poll_interval: Duration::from_secs(60),
            lookupd_poll_jitter: 0.3,
            lookupd_poll_timeout: Duration::from_secs(60),
            max_requeue_delay: Duration::from_secs(15 * 60),
            default_requeue_delay: Duration::from_secs(90),
            backoff_strategy: BackoffStrategy::Exponential,
            max_backoff_duration: Duration::from_secs(120),
            backoff_multiplier: Duration::from_secs(1),
            max_attempts: 5,
            low_rdy_idle_timeout: Duration::from_secs(10),
            low_rdy_timeout: Duration::from_secs(30),
            rdy_redistribute_interval: Duration::from_secs(5),
            client_id: hostname.split('.').next().unwrap_or_default().to_string(),
            hostname: hostname.to_string(),
            user_agent: format!("nsq-rs/{}", crate::NSQ_VERSION),
            heartbeat_interval: Some(Duration::from_secs(30)),
            sample_rate: 0,
            tls_v1: false,
            tls_root_ca_file: String::new(),
            tls_insecure_skip_verify: false,
            tls_cert: String::new(),
            tls_key: String::new(),
            tls_min_version: String::new(),
            deflate: false,
            deflate_level: 6,
            snappy: false,
            output_buffer_size: 16384,
            output_buffer_timeout: Some(Duration::from_millis(250)),
            max_in_flight: 1,
            msg_timeout: Duration::ZERO,
            auth_secret: String::new(),
        }
    }

    /// Applies one `--consumer-opt`/`--producer-opt` value: `key,value`, or
    /// `key` alone for true. Keys may use `-` or `_`.
    pub fn set_flag(&mut self, opt: &str) -> Result<(), String> {
        match opt.split_once(',') {
            Some((k, v)) => self.set(k, v),
            None => self.set(opt, "true"),
        }
    }

    /// Sets one option by go-nsq's name, checking go-nsq's bounds.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let key = key.replace('-', "_");
        let k = key.as_str();
        let dur = |min: Option<Duration>, max: Option<Duration>| -> Result<Duration, String> {
            let d = parse_duration(value)
                .map_err(|e| format!("failed to coerce option {k} ({value}) - {e}"))?;
            check_range(k, d, min, max, |d| duration::format(*d))?;
            Ok(d)
        };
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        match k {
            "dial_timeout" => self.dial_timeout = dur(None, None)?,
            "read_timeout" => self.read_timeout = dur(Some(ms(100)), Some(s(300)))?,
            "write_timeout" => self.write_timeout = dur(Some(ms(100)), Some(s(300)))?,
            "lookupd_poll_interval" => {
                self.lookupd_poll_interval = dur(Some(ms(10)), Some(s(300)))?
            }
            "lookupd_poll_jitter" => {
                let f: f64 = parse_num(k, value)?;
                check_range(k, f, Some(0.0), Some(1.0), |f| f.to_string())?;
                self.lookupd_poll_jitter = f;
            }
            "lookupd_poll_timeout" => self.lookupd_poll_timeout = dur(None, None)?,
            "max_requeue_delay" => self.max_requeue_delay = dur(Some(s(0)), Some(s(3600)))?,
            "default_requeue_delay" => self.default_requeue_delay = dur(Some(s(0)), Some(s(3600)))?,
            "backoff_strategy" => {
                self.backoff_strategy = match value {
                    "" | "exponential" => BackoffStrategy::Exponential,
                    "full_jitter" => BackoffStrategy::FullJitter,
                    _ => {
                        return Err(format!(
                            "failed to coerce option {k} ({value}) - invalid value type"
                        ))
                    }
                }
            }
            "max_backoff_duration" => self.max_backoff_duration = dur(Some(s(0)), Some(s(3600)))?,
            "backoff_multiplier" => self.backoff_multiplier = dur(Some(s(0)), Some(s(3600)))?,
            "max_attempts" => self.max_attempts = parse_num(k, value)?,
            "low_rdy_idle_timeout" => self.low_rdy_idle_timeout = dur(Some(s(1)), Some(s(300)))?,
            "low_rdy_timeout" => self.low_rdy_timeout = dur(Some(s(1)), Some(s(300)))?,
            "rdy_redistribute_interval" => {
                self.rdy_redistribute_interval = dur(Some(ms(1)), Some(s(5)))?
            }
            "client_id" => self.client_id = value.to_string(),
            "hostname" => self.hostname = value.to_string(),
            "user_agent" => self.user_agent = value.to_string(),
            "heartbeat_interval" => {
                self.heartbeat_interval = if value.trim() == "-1" {
                    None
                } else {
                    Some(dur(None, None)?)
                }
            }
            "sample_rate" => {
                let n: i32 = parse_num(k, value)?;
                check_range(k, n, Some(0), Some(99), |n| n.to_string())?;
                self.sample_rate = n;
            }
            "tls_v1" => self.tls_v1 = parse_bool(k, value)?,
            "tls_root_ca_file" => self.tls_root_ca_file = value.to_string(),
            "tls_insecure_skip_verify" => self.tls_insecure_skip_verify = parse_bool(k, value)?,
            "tls_cert" => self.tls_cert = value.to_string(),
            "tls_key" => self.tls_key = value.to_string(),
            "tls_min_version" => match value {
                "ssl3.0" | "tls1.0" | "tls1.1" | "tls1.2" => self.tls_min_version = value.into(),
                _ => return Err(format!("ERROR: {value} is not a tls version")),
            },
            "deflate" => self.deflate = parse_bool(k, value)?,
            "deflate_level" => {
                let n: i32 = parse_num(k, value)?;
                check_range(k, n, Some(1), Some(9), |n| n.to_string())?;
                self.deflate_level = n;
            }
            "snappy" => self.snappy = parse_bool(k, value)?,
            "output_buffer_size" => self.output_buffer_size = parse_num(k, value)?,
            "output_buffer_timeout" => {
                self.output_buffer_timeout = if value.trim() == "-1" {
                    None
                } else {
                    Some(dur(None, None)?)
                }
            }
            "max_in_flight" => {
                let n: i64 = parse_num(k, value)?;
                check_range(k, n, Some(0), None, |n| n.to_string())?;
                self.max_in_flight = n;
            }
            "msg_timeout" => self.msg_timeout = dur(Some(s(0)), None)?,
            "auth_secret" => self.auth_secret = value.to_string(),
            _ => return Err(format!("invalid option {k}")),
        }
        Ok(())
    }

    /// go-nsq's `Validate`: the heartbeat must come well within the read timeout.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(hb) = self.heartbeat_interval {
            if hb > self.read_timeout {
                return Err(format!(
                    "HeartbeatInterval {} must be less than ReadTimeout {}",
                    duration::format(hb),
                    duration::format(self.read_timeout)
                ));
            }
        }
        if self.max_in_flight < 0 {
            return Err(format!("invalid MaxInFlight ! {} < 0", self.max_in_flight));
        }
        Ok(())
    }
}

/// go-nsq reads bare integers as milliseconds.
fn parse_duration(v: &str) -> Result<Duration, String> {
    match v.trim().parse::<u64>() {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => duration::parse(v),
    }
}

fn parse_num<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("failed to coerce option {k} ({v}) - invalid syntax"))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(k: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!(
            "failed to coerce option {k} ({v}) - invalid syntax"
        )),
    }
}

fn check_range<T: PartialOrd>(
    k: &str,
    v: T,
    min: Option<T>,
    max: Option<T>,
    show: impl Fn(&T) -> String,
) -> Result<(), String> {
    if let Some(min) = min {
        if v < min {
            return Err(format!("invalid {k} ! {} < {}", show(&v), show(&min)));
        }
    }
    if let Some(max) = max {
        if v > max {
            return Err(format!("invalid {k} ! {} > {}", show(&v), show(&max)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_go_nsqs() {
        let c = Config::new("box.example.com");
        assert_eq!(c.client_id, "box");
        assert_eq!(c.max_in_flight, 1);
        assert_eq!(c.max_attempts, 5);
        assert_eq!(c.lookupd_poll_interval, Duration::from_secs(60));
        assert_eq!(c.heartbeat_interval, Some(Duration::from_secs(30)));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn flags_set_options_like_go_nsq() {
        let mut c = Config::new("h");
        c.set_flag("max_attempts,10").unwrap();
        c.set_flag("lookupd-poll-interval,250ms").unwrap();
        c.set_flag("read_timeout,5000").unwrap();
        c.set_flag("snappy").unwrap();
        c.set_flag("heartbeat_interval,-1").unwrap();
        c.set_flag("backoff_strategy,full_jitter").unwrap();
        assert_eq!(c.max_attempts, 10);
        assert_eq!(c.lookupd_poll_interval, Duration::from_millis(250));
        assert_eq!(c.read_timeout, Duration::from_secs(5));
        assert!(c.snappy);
        assert_eq!(c.heartbeat_interval, None);
        assert_eq!(c.backoff_strategy, BackoffStrategy::FullJitter);
    }

    #[test]
    fn bad_values_are_refused_with_go_nsqs_words() {
        let mut c = Config::new("h");
        assert_eq!(c.set_flag("nope,1"), Err("invalid option nope".into()));
        assert_eq!(
            c.set_flag("read_timeout,10ms"),
            Err("invalid read_timeout ! 10ms < 100ms".into())
        );
        assert_eq!(
            c.set_flag("sample_rate,100"),
            Err("invalid sample_rate ! 100 > 99".into())
        );
        assert!(c.set_flag("max_attempts,lots").is_err());
        assert!(c.set_flag("max_attempts,70000").is_err());
        assert!(c.set_flag("snappy,maybe").is_err());
        c.set_flag("heartbeat_interval,2m").unwrap();
        assert!(c.validate().unwrap_err().contains("HeartbeatInterval"));
    }
}
