//! nsq_to_http: sends each message of a topic/channel to HTTP endpoints
//! (GET with the message in the URL, or POST with it as the body), NSQ
//! v1.3.0 compatible flags. A failed request (error, timeout, or a status
//! outside 2xx for POST / other than 200 for GET) requeues the message with
//! backoff.

use bytes::Bytes;
use clap::{ArgAction, Parser};
use nsq_bins::cli::{self, duration};
use nsq_bins::tools::common::{self, usage_error};
use nsq_bins::tools::hostpool::HostPool;
use nsq_bins::tools::timer_metrics::TimerMetrics;
use nsq_core::url::query_escape;
use nsq_runtime_tokio::client::http::HttpClient;
use nsq_runtime_tokio::client::{Consumer, Handler, HandlerError, Message};
use rand::Rng;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const APP: &str = "nsq_to_http";
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Debug, Parser)]
// Go's flag package keeps the last of a repeated flag (lists append).
#[command(args_override_self = true, name = APP, disable_version_flag = true, about = "send the messages of an NSQ topic/channel to HTTP endpoints")]
struct Flags {
    /// print version string
    #[arg(long, action = ArgAction::SetTrue)]
    version: bool,
    /// nsq topic
    #[arg(long, default_value = "")]
    topic: String,
    /// nsq channel
    #[arg(long, default_value = "nsq_to_http")]
    channel: String,
    /// max number of messages to allow in flight
    #[arg(long, default_value_t = 200)]
    max_in_flight: i64,
    /// number of concurrent publishers
    #[arg(long = "n", default_value_t = 100)]
    num_publishers: usize,
    /// the upstream request mode options: round-robin, hostpool (default), epsilon-greedy
    #[arg(long, default_value = "hostpool")]
    mode: String,
    /// % of messages to publish (float b/w 0 -> 1)
    #[arg(long, default_value_t = 1.0)]
    sample: f64,
    /// timeout for HTTP connect
    #[arg(long, default_value = "2s", value_parser = duration::parse)]
    http_client_connect_timeout: Duration,
    /// timeout for HTTP request
    #[arg(long, default_value = "20s", value_parser = duration::parse)]
    http_client_request_timeout: Duration,
    /// the # of requests between logging status (per handler), 0 disables
    #[arg(long, default_value_t = 250)]
    status_every: usize,
    /// the Content-Type used for POST requests
    #[arg(long, default_value = DEFAULT_CONTENT_TYPE)]
    content_type: String,
    /// HTTP address to make a GET request to. '%s' will be printf replaced with data (may be given multiple times)
    #[arg(long)]
    get: Vec<String>,
    /// HTTP address to make a POST request to.  data will be in the body (may be given multiple times)
    #[arg(long)]
    post: Vec<String>,
    /// Custom header for HTTP requests, 'Name: value' (may be given multiple times)
    #[arg(long)]
    header: Vec<String>,
    /// nsqd TCP address (may be given multiple times)
    #[arg(long)]
    nsqd_tcp_address: Vec<String>,
    /// lookupd HTTP address (may be given multiple times)
    #[arg(long)]
    lookupd_http_address: Vec<String>,
    /// option to passthrough to the consumer (may be given multiple times)
    #[arg(long)]
    consumer_opt: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    RoundRobin,
    HostPool,
}

/// NSQ's `parseCustomHeaders`: `Name: value`, both non-empty.
fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>, String> {
    raw.iter()
        .map(|s| {
            let (k, v) = s
                .split_once(':')
                .ok_or_else(|| format!("invalid header: {s:?}"))?;
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() || v.is_empty() {
                return Err(format!("invalid header: {s:?}"));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

fn main() -> ExitCode {
    let f = Flags::parse_from(cli::args::normalize(std::env::args_os()));
    if f.version {
        println!("{}", cli::version_line(APP));
        return ExitCode::SUCCESS;
    }
    cli::logging::init(&format!("[{APP}] "), "info", cli::logging::LogFormat::Nsq);
    let headers = match parse_headers(&f.header) {
        Ok(h) => h,
        Err(_) => return usage_error(APP, "--header value format should be 'key: value'"),
    };
    if f.topic.is_empty() || f.channel.is_empty() {
        return usage_error(APP, "--topic and --channel are required");
    }
    if f.content_type != DEFAULT_CONTENT_TYPE {
        if f.post.is_empty() {
            return usage_error(APP, "--content-type only used with --post");
        }
        if f.content_type.is_empty() {
            return usage_error(APP, "--content-type requires a value when used");
        }
    }
    if let Err(e) = common::check_sources(&f.nsqd_tcp_address, &f.lookupd_http_address) {
        return usage_error(APP, &e);
    }
    if f.get.is_empty() && f.post.is_empty() {
        return usage_error(APP, "--get or --post required");
    }
    if !f.get.is_empty() && !f.post.is_empty() {
        return usage_error(APP, "use --get or --post not both");
    }
    if f.get.iter().any(|g| g.matches("%s").count() != 1) {
        return usage_error(APP, "invalid GET address - must be a printf string");
    }
    let mode = match f.mode.as_str() {
        "round-robin" => Mode::RoundRobin,
        "hostpool" | "epsilon-greedy" => Mode::HostPool,
        other => {
            return usage_error(
                APP,
                &format!("invalid --mode {other:?} (round-robin, hostpool, epsilon-greedy)"),
            )
        }
    };
    if !(0.0..=1.0).contains(&f.sample) {
        return usage_error(APP, "--sample must be between 0.0 and 1.0");
    }
    if f.http_client_connect_timeout.is_zero() || f.http_client_request_timeout.is_zero() {
        return usage_error(
            APP,
            "--http-client-connect-timeout and --http-client-request-timeout should be positive",
        );
    }
    let mut cfg = match common::client_config(APP, &f.consumer_opt) {
        Ok(c) => c,
        Err(e) => return usage_error(APP, &e),
    };
    cfg.max_in_flight = f.max_in_flight;
    let (method, addresses) = if f.post.is_empty() {
        ("GET", f.get.clone())
    } else {
        ("POST", f.post.clone())
    };
    let mut request_headers = vec![(
        "User-Agent".to_string(),
        format!("{APP} v{}", nsq_core::NSQ_VERSION),
    )];
    if method == "POST" {
        request_headers.push(("Content-Type".to_string(), f.content_type.clone()));
    }
    request_headers.extend(headers);
    let rt = match common::runtime() {
        Ok(rt) => rt,
        Err(e) => return common::failure(APP, &e.to_string()),
    };
    rt.block_on(async move {
        let per_address = addresses
            .iter()
            .map(|a| {
                // one address: its line would repeat the aggregate one
                let every = if addresses.len() == 1 {
                    0
                } else {
                    f.status_every
                };
                Mutex::new(TimerMetrics::new(every, &format!("[{a}]:")))
            })
            .collect();
        let handler = Publisher {
            http: HttpClient::new(f.http_client_connect_timeout, f.http_client_request_timeout),
            method,
            headers: request_headers,
            pool: Mutex::new(HostPool::new(
                &addresses,
                f.mode == "epsilon-greedy",
                common::rng().random(),
                Instant::now(),
            )),
            addresses,
            mode,
            counter: AtomicU64::new(0),
            sample: f.sample,
            rng: Mutex::new(common::rng()),
            per_address,
            aggregate: Mutex::new(TimerMetrics::new(f.status_every, "[aggregate]:")),
        };
        let consumer = match Consumer::new(&f.topic, &f.channel, cfg) {
            Ok(c) => c,
            Err(e) => return usage_error(APP, &e.to_string()),
        };
        if let Err(e) = consumer.add_concurrent_handlers(handler, f.num_publishers) {
            return common::failure(APP, &e.to_string());
        }
        if let Err(e) = consumer.connect_to_nsqds(&f.nsqd_tcp_address).await {
            return common::failure(APP, &e.to_string());
        }
        if let Err(e) = consumer.connect_to_lookupds(&f.lookupd_http_address) {
            return usage_error(APP, &e.to_string());
        }
        tokio::select! {
            _ = nsq_runtime_tokio::signal::shutdown_signal() => {}
            _ = consumer.wait_stopped() => {}
        }
        consumer.stop().await;
        ExitCode::SUCCESS
    })
}

struct Publisher {
    http: HttpClient,
    method: &'static str,
    headers: Vec<(String, String)>,
    addresses: Vec<String>,
    mode: Mode,
    pool: Mutex<HostPool>,
    counter: AtomicU64,
    sample: f64,
    rng: Mutex<rand::rngs::SmallRng>,
    per_address: Vec<Mutex<TimerMetrics>>,
    aggregate: Mutex<TimerMetrics>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Publisher {
    async fn send(&self, addr: &str, body: &Bytes) -> Result<(), HandlerError> {
        let (url, payload, ok): (String, Bytes, fn(u16) -> bool) = if self.method == "GET" {
            let escaped = query_escape(&String::from_utf8_lossy(body));
            (addr.replacen("%s", &escaped, 1), Bytes::new(), |s| s == 200)
        } else {
            (addr.to_string(), body.clone(), |s| (200..300).contains(&s))
        };
        let resp = self
            .http
            .request(self.method, &url, &self.headers, payload)
            .await?;
        if !ok(resp.status) {
            return Err(format!("got status code {}", resp.status).into());
        }
        Ok(())
    }

    fn status(&self, i: usize, took: Duration) {
        if let Some(line) = lock(&self.per_address[i]).status(took) {
            tracing::info!("{line}");
        }
    }
}

impl Handler for Publisher {
    async fn handle_message(&self, m: Message) -> Result<(), HandlerError> {
        if self.sample < 1.0 && lock(&self.rng).random::<f64>() > self.sample {
            return Ok(());
        }
        let start = Instant::now();
        match self.mode {
            Mode::RoundRobin => {
                let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
                let i = (n % self.addresses.len() as u64) as usize;
                self.send(&self.addresses[i], m.body()).await?;
                self.status(i, start.elapsed());
            }
            Mode::HostPool => {
                let i = lock(&self.pool).get(Instant::now());
                let r = self.send(&self.addresses[i], m.body()).await;
                lock(&self.pool).mark(i, r.is_ok(), start.elapsed(), Instant::now());
                r?;
                self.status(i, start.elapsed());
            }
        }
        if let Some(line) = lock(&self.aggregate).status(start.elapsed()) {
            tracing::info!("{line}");
        }
        Ok(())
    }
}
