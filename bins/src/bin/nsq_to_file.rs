//! nsq_to_file: writes the messages of topics to files, one per topic,
//! rotated by time, size or name, optionally gzipped (NSQ v1.3.0 compatible
//! flags). A message is finished only after it was synced to its file.

use clap::{ArgAction, Parser};
use nsq_bins::cli::{self, duration};
use nsq_bins::tools::common::{self, usage_error};
use nsq_bins::tools::file_logger::{filename_format, FileLogger, FileOptions};
use nsq_core::consumer::lookup::parse_topics;
use nsq_runtime_tokio::client::http::{Fetch, HttpClient};
use nsq_runtime_tokio::client::{Config, Consumer, Message};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const APP: &str = "nsq_to_file";

#[derive(Debug, Parser, Clone)]
// Go's flag package keeps the last of a repeated flag (lists append).
#[command(args_override_self = true, name = APP, disable_version_flag = true, about = "write NSQ topics to (rotated, optionally gzipped) files")]
struct Flags {
    /// print version string
    #[arg(long, action = ArgAction::SetTrue)]
    version: bool,
    /// set log verbosity: debug, info, warn, error, or fatal
    #[arg(long, default_value = "info")]
    log_level: String,
    /// log message prefix
    #[arg(long, default_value = "[nsq_to_file] ")]
    log_prefix: String,
    /// nsq channel
    #[arg(long, default_value = "nsq_to_file")]
    channel: String,
    /// max number of messages to allow in flight
    #[arg(long, default_value_t = 200)]
    max_in_flight: i64,
    /// directory to write output files to
    #[arg(long, default_value = "/tmp")]
    output_dir: String,
    /// directory for in-progress files before moving to output-dir
    #[arg(long, default_value = "")]
    work_dir: String,
    /// strftime compatible format for <DATETIME> in filename format
    #[arg(long, default_value = "%Y-%m-%d_%H")]
    datetime_format: String,
    /// output filename format (<TOPIC>, <HOST>, <PID>, <DATETIME>, <REV> are replaced. <REV> is increased when file already exists)
    #[arg(long, default_value = "<TOPIC>.<HOST><REV>.<DATETIME>.log")]
    filename_format: String,
    /// value to output in log filename in place of hostname. <SHORT_HOST> and <HOSTNAME> are valid replacement tokens
    #[arg(long, default_value = "")]
    host_identifier: String,
    /// gzip compression level (1-9, 1=BestSpeed, 9=BestCompression)
    #[arg(long, default_value_t = 6)]
    gzip_level: i64,
    /// gzip output files.
    #[arg(long, action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    gzip: bool,
    /// skip writing empty files
    #[arg(long, action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    skip_empty_files: bool,
    /// how frequently the topic list should be refreshed
    #[arg(long, default_value = "1m", value_parser = duration::parse)]
    topic_refresh: Duration,
    /// only log topics matching the following pattern
    #[arg(long, default_value = "")]
    topic_pattern: String,
    /// rotate the file when it grows bigger than `rotate-size` bytes
    #[arg(long, default_value_t = 0)]
    rotate_size: i64,
    /// rotate the file every duration
    #[arg(long, default_value = "0", value_parser = duration::parse)]
    rotate_interval: Duration,
    /// sync file to disk every duration
    #[arg(long, default_value = "30s", value_parser = duration::parse)]
    sync_interval: Duration,
    /// timeout for HTTP connect
    #[arg(long, default_value = "2s", value_parser = duration::parse)]
    http_client_connect_timeout: Duration,
    /// timeout for HTTP request
    #[arg(long, default_value = "5s", value_parser = duration::parse)]
    http_client_request_timeout: Duration,
    /// nsqd TCP address (may be given multiple times)
    #[arg(long)]
    nsqd_tcp_address: Vec<String>,
    /// lookupd HTTP address (may be given multiple times)
    #[arg(long)]
    lookupd_http_address: Vec<String>,
    /// nsq topic (may be given multiple times)
    #[arg(long)]
    topic: Vec<String>,
    /// option to passthrough to the consumer (may be given multiple times)
    #[arg(long)]
    consumer_opt: Vec<String>,
}

fn main() -> ExitCode {
    let f = Flags::parse_from(cli::args::normalize(std::env::args_os()));
    if f.version {
        println!("{}", cli::version_line(APP));
        return ExitCode::SUCCESS;
    }
    if let Err(e) = cli::logging::parse_level(&f.log_level) {
        return usage_error(APP, &format!("--log-level is invalid: {e}"));
    }
    cli::logging::init(&f.log_prefix, &f.log_level, cli::logging::LogFormat::Nsq);
    if f.channel.is_empty() {
        return usage_error(APP, "--channel is required");
    }
    if f.http_client_connect_timeout.is_zero() {
        return usage_error(APP, "--http-client-connect-timeout should be positive");
    }
    if f.http_client_request_timeout.is_zero() {
        return usage_error(APP, "--http-client-request-timeout should be positive");
    }
    if let Err(e) = common::check_sources(&f.nsqd_tcp_address, &f.lookupd_http_address) {
        return usage_error(APP, &format!("{e}."));
    }
    if !(1..=9).contains(&f.gzip_level) {
        return usage_error(
            APP,
            &format!(
                "invalid --gzip-level value ({}), should be 1-9",
                f.gzip_level
            ),
        );
    }
    if f.topic.is_empty() && f.topic_pattern.is_empty() {
        return usage_error(APP, "--topic or --topic-pattern required");
    }
    if f.topic.is_empty() && f.lookupd_http_address.is_empty() {
        return usage_error(
            APP,
            "--lookupd-http-address must be specified when no --topic specified",
        );
    }
    if f.sync_interval.is_zero() || f.topic_refresh.is_zero() {
        return usage_error(
            APP,
            "--sync-interval and --topic-refresh should be positive",
        );
    }
    let pattern = if f.topic_pattern.is_empty() {
        None
    } else {
        match regex::Regex::new(&f.topic_pattern) {
            Ok(r) => Some(r),
            Err(e) => return usage_error(APP, &format!("invalid --topic-pattern - {e}")),
        }
    };
    let mut cfg = match common::client_config(APP, &f.consumer_opt) {
        Ok(c) => c,
        Err(e) => return usage_error(APP, &e),
    };
    cfg.max_in_flight = f.max_in_flight;
    let output_dir = PathBuf::from(&f.output_dir);
    let work_dir = if f.work_dir.is_empty() {
        output_dir.clone()
    } else {
        PathBuf::from(&f.work_dir)
    };
    let file_opts = FileOptions {
        output_dir,
        work_dir,
        datetime_format: f.datetime_format.clone(),
        filename_format: f.filename_format.clone(),
        host_identifier: f.host_identifier.clone(),
        gzip: f.gzip,
        gzip_level: f.gzip_level as u32,
        rotate_size: f.rotate_size,
        rotate_interval: f.rotate_interval,
        skip_empty_files: f.skip_empty_files,
    };
    // a bad --filename-format is a flag error, whatever the topic
    if let Err(e) = filename_format(&file_opts, "topic", &cli::hostname(), std::process::id()) {
        return usage_error(APP, &e);
    }
    let rt = match common::runtime() {
        Ok(rt) => rt,
        Err(e) => return common::failure(APP, &e.to_string()),
    };
    rt.block_on(Discoverer::new(f, cfg, file_opts, pattern).run())
}

/// What a topic's file thread is told.
enum Event {
    Msg(Message),
    /// SIGINT/SIGTERM: stop consuming, sync what is held.
    Term,
    /// SIGHUP: sync and close the file (the next message opens a new one).
    Hup,
    /// The consumer stopped: sync, close, exit.
    Stopped,
}

struct TopicLogger {
    events: mpsc::Sender<Event>,
    thread: std::thread::JoinHandle<()>,
}

struct Discoverer {
    f: Flags,
    cfg: Config,
    file_opts: FileOptions,
    pattern: Option<regex::Regex>,
    topics: BTreeMap<String, TopicLogger>,
}

impl Discoverer {
    fn new(f: Flags, cfg: Config, file_opts: FileOptions, pattern: Option<regex::Regex>) -> Self {
        Discoverer {
            f,
            cfg,
            file_opts,
            pattern,
            topics: BTreeMap::new(),
        }
    }

    async fn run(mut self) -> ExitCode {
        let fixed = self.f.topic.clone();
        if let Err(code) = self.update_topics(&fixed).await {
            return code;
        }
        let http = HttpClient::new(
            self.f.http_client_connect_timeout,
            self.f.http_client_request_timeout,
        );
        let discover = fixed.is_empty();
        let mut hup = hangup();
        let term = nsq_runtime_tokio::signal::shutdown_signal();
        tokio::pin!(term);
        // unlike NSQ (first look after one --topic-refresh), look at once
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next), if discover => {
                    next += self.f.topic_refresh;
                    match lookupd_topics(&http, &self.f.lookupd_http_address).await {
                        Ok(topics) => {
                            if let Err(code) = self.update_topics(&topics).await {
                                return code;
                            }
                        }
                        Err(e) => tracing::error!("could not retrieve topic list: {e}"),
                    }
                }
                _ = &mut term => break,
                _ = recv_hup(&mut hup) => {
                    for t in self.topics.values() {
                        let _ = t.events.send(Event::Hup);
                    }
                }
            }
        }
        for t in self.topics.values() {
            let _ = t.events.send(Event::Term);
        }
        let threads: Vec<_> = std::mem::take(&mut self.topics)
            .into_values()
            .map(|t| t.thread)
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        ExitCode::SUCCESS
    }

    async fn update_topics(&mut self, topics: &[String]) -> Result<(), ExitCode> {
        for topic in topics {
            if self.topics.contains_key(topic) {
                continue;
            }
            if let Some(p) = &self.pattern {
                if !p.is_match(topic) {
                    tracing::warn!(
                        "skipping topic {topic} (doesn't match pattern {})",
                        self.f.topic_pattern
                    );
                    continue;
                }
            }
            match self.start_topic(topic).await {
                Ok(t) => {
                    self.topics.insert(topic.clone(), t);
                }
                Err(e) if self.f.topic.is_empty() => {
                    tracing::error!("couldn't create logger for new topic {topic}: {e}")
                }
                Err(e) => return Err(common::failure(APP, &e)),
            }
        }
        Ok(())
    }

    async fn start_topic(&self, topic: &str) -> Result<TopicLogger, String> {
        let format = filename_format(&self.file_opts, topic, &cli::hostname(), std::process::id())?;
        let consumer = Arc::new(
            Consumer::new(topic, &self.f.channel, self.cfg.clone()).map_err(|e| e.to_string())?,
        );
        let mut messages = consumer.messages().map_err(|e| e.to_string())?;
        consumer
            .connect_to_nsqds(&self.f.nsqd_tcp_address)
            .await
            .map_err(|e| e.to_string())?;
        consumer
            .connect_to_lookupds(&self.f.lookupd_http_address)
            .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel();
        let forward = tx.clone();
        tokio::spawn(async move {
            while let Some(m) = messages.recv().await {
                if let Err(mpsc::SendError(Event::Msg(m))) = forward.send(Event::Msg(m)) {
                    m.requeue_without_backoff(Some(Duration::ZERO));
                }
            }
            let _ = forward.send(Event::Stopped);
        });
        let router = Router {
            topic: topic.to_string(),
            channel: self.f.channel.clone(),
            logger: FileLogger::new(self.file_opts.clone(), format),
            consumer,
            rt: tokio::runtime::Handle::current(),
            sync_interval: self.f.sync_interval,
            batch: self.f.max_in_flight.max(1) as usize,
            skip_empty: self.f.skip_empty_files,
        };
        let thread = std::thread::Builder::new()
            .name(format!("file-{topic}"))
            .spawn(move || router.run(rx))
            .map_err(|e| e.to_string())?;
        Ok(TopicLogger { events: tx, thread })
    }
}

/// One topic's file work, on its own thread (file I/O blocks).
struct Router {
    topic: String,
    channel: String,
    logger: FileLogger,
    consumer: Arc<Consumer>,
    rt: tokio::runtime::Handle,
    sync_interval: Duration,
    batch: usize,
    skip_empty: bool,
}

impl Router {
    fn fatal(&self, what: &str, e: std::io::Error) -> ! {
        // unsynced messages are not finished: nsqd delivers them again
        tracing::error!("[{}/{}] {what}: {e}", self.topic, self.channel);
        std::process::exit(1);
    }

    fn run(mut self, events: mpsc::Receiver<Event>) {
        let mut held: Vec<Message> = Vec::with_capacity(self.batch);
        let mut next_tick = Some(Instant::now() + self.sync_interval);
        let mut draining = false;
        loop {
            let (mut sync, mut close, mut exit) = (false, false, false);
            let ev = match next_tick {
                Some(t) => events.recv_timeout(t.saturating_duration_since(Instant::now())),
                None => events
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            let now = Instant::now();
            match ev {
                Ok(Event::Stopped) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    (sync, close, exit) = (true, true, true);
                }
                Ok(Event::Term) => {
                    next_tick = None;
                    draining = true;
                    let c = Arc::clone(&self.consumer);
                    self.rt.spawn(async move { c.stop().await });
                    sync = true;
                }
                Ok(Event::Hup) => (sync, close) = (true, true),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(t) = next_tick.as_mut() {
                        while *t <= now {
                            *t += self.sync_interval;
                        }
                    }
                    if self.logger.needs_rotation(now) {
                        if self.skip_empty {
                            close = true;
                        } else if let Err(e) = self.logger.update_file(now) {
                            self.fatal("unable to open file", e);
                        }
                    }
                    sync = true;
                }
                Ok(Event::Msg(m)) => {
                    if self.logger.needs_rotation(now) {
                        if let Err(e) = self.logger.update_file(now) {
                            self.fatal("unable to open file", e);
                        }
                        sync = true;
                    }
                    if let Err(e) = self
                        .logger
                        .write(m.body())
                        .and_then(|_| self.logger.write(b"\n"))
                    {
                        self.fatal("writing message to disk", e);
                    }
                    held.push(m);
                    if held.len() >= self.batch || draining {
                        sync = true;
                    }
                }
            }
            if (sync || self.consumer.is_starved()) && !held.is_empty() {
                tracing::info!(
                    "[{}/{}] syncing {} records to disk",
                    self.topic,
                    self.channel,
                    held.len()
                );
                if let Err(e) = self.logger.sync() {
                    self.fatal("failed syncing messages", e);
                }
                for m in held.drain(..) {
                    m.finish();
                }
            }
            if close {
                if let Err(e) = self.logger.close() {
                    self.fatal("failed to close file", e);
                }
            }
            if exit {
                break;
            }
        }
    }
}

async fn lookupd_topics(http: &HttpClient, lookupds: &[String]) -> Result<Vec<String>, String> {
    let mut topics = Vec::new();
    let mut errors = Vec::new();
    for addr in lookupds {
        let url = format!("http://{addr}/topics");
        tracing::info!("CI: querying nsqlookupd {url}");
        match http.get_v1(&url).await.and_then(|r| r.check_ok()) {
            Ok(r) => match parse_topics(&r.body, r.nsq_v1) {
                Ok(t) => topics.extend(t),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.len() == lookupds.len() {
        return Err(format!(
            "failed to query any nsqlookupd: {}",
            errors.join("\n")
        ));
    }
    topics.sort();
    topics.dedup();
    Ok(topics)
}

type Hup = Option<tokio::signal::unix::Signal>;

fn hangup() -> Hup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

async fn recv_hup(h: &mut Hup) {
    match h {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
