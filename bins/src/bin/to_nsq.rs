//! to_nsq: publishes stdin, split at a delimiter, to a topic on every given
//! nsqd (NSQ v1.3.0 compatible flags). Exits 0 only when every message was
//! acknowledged by every nsqd.

use clap::{ArgAction, Parser};
use nsq_bins::cli;
use nsq_bins::tools::common::{self, usage_error};
use nsq_runtime_tokio::client::{Ack, Producer};
use std::collections::VecDeque;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::Instant;

const APP: &str = "to_nsq";
/// Messages published but not yet acknowledged, per nsqd.
const WINDOW: usize = 256;

#[derive(Debug, Parser)]
// Go's flag package keeps the last of a repeated flag (lists append).
#[command(args_override_self = true, name = APP, disable_version_flag = true, about = "publish stdin to an NSQ topic")]
struct Flags {
    /// print version string
    #[arg(long, action = ArgAction::SetTrue)]
    version: bool,
    /// NSQ topic to publish to
    #[arg(long, default_value = "")]
    topic: String,
    /// character to split input from stdin
    #[arg(long, default_value = "\n")]
    delimiter: String,
    /// destination nsqd TCP address (may be given multiple times)
    #[arg(long)]
    nsqd_tcp_address: Vec<String>,
    /// option to passthrough to the producer (may be given multiple times)
    #[arg(long)]
    producer_opt: Vec<String>,
    /// Throttle messages to n/second. 0 to disable
    #[arg(long, default_value_t = 0)]
    rate: i64,
}

fn main() -> ExitCode {
    let f = Flags::parse_from(cli::args::normalize(std::env::args_os()));
    if f.version {
        println!("{}", cli::version_line(APP));
        return ExitCode::SUCCESS;
    }
    cli::logging::init(&format!("[{APP}] "), "info", cli::logging::LogFormat::Nsq);
    if f.topic.is_empty() {
        return usage_error(APP, "--topic required");
    }
    if !nsq_core::wire::names::is_valid_topic_name(&f.topic) {
        return usage_error(APP, "--topic is invalid");
    }
    if f.delimiter.len() != 1 {
        return usage_error(APP, "--delimiter must be a single byte");
    }
    if f.nsqd_tcp_address.is_empty() {
        return usage_error(APP, "--nsqd-tcp-address required");
    }
    let cfg = match common::client_config(APP, &f.producer_opt) {
        Ok(c) => c,
        Err(e) => return usage_error(APP, &e),
    };
    let mut producers = Vec::new();
    for addr in &f.nsqd_tcp_address {
        match Producer::new(addr, cfg.clone()) {
            Ok(p) => producers.push(p),
            Err(e) => return usage_error(APP, &format!("failed to create producer - {e}")),
        }
    }
    let delim = f.delimiter.as_bytes()[0];
    // stdin is read on its own thread; lines come through a bounded channel
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4096);
    std::thread::spawn(move || {
        let mut input = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(delim, &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&delim) {
                        line.pop();
                    }
                    if !line.is_empty() && tx.blocking_send(line).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!("reading stdin - {e}");
                    std::process::exit(1);
                }
            }
        }
    });
    let rt = match common::runtime() {
        Ok(rt) => rt,
        Err(e) => return common::failure(APP, &e.to_string()),
    };
    rt.block_on(run(f.topic, f.rate, producers, rx))
}

/// Go's throttle: a balance that grows by one every 1/rate s, capped at
/// one second's worth.
struct Throttle {
    rate: i64,
    interval: Duration,
    balance: f64,
    at: Instant,
}

impl Throttle {
    async fn take(&mut self) {
        if self.rate < 1 {
            return;
        }
        let now = Instant::now();
        let grown = now.duration_since(self.at).as_secs_f64() / self.interval.as_secs_f64();
        self.balance = (self.balance + grown).min(self.rate as f64);
        self.at = now;
        if self.balance < 1.0 {
            tokio::time::sleep(self.interval).await;
        }
        self.balance -= 1.0;
    }
}

async fn run(
    topic: String,
    rate: i64,
    producers: Vec<Producer>,
    mut lines: tokio::sync::mpsc::Receiver<Vec<u8>>,
) -> ExitCode {
    if rate >= 1 {
        tracing::info!("Throttling messages rate to max:{rate}/second");
    }
    let mut throttle = Throttle {
        rate,
        interval: Duration::from_secs(1) / rate.max(1) as u32,
        balance: 1.0,
        at: Instant::now(),
    };
    let mut pending: Vec<VecDeque<Ack>> = producers.iter().map(|_| VecDeque::new()).collect();
    let signal = nsq_runtime_tokio::signal::shutdown_signal();
    tokio::pin!(signal);
    let mut failed = None;
    'read: loop {
        let line = tokio::select! {
            l = lines.recv() => l,
            _ = &mut signal => None,
        };
        let Some(line) = line else { break };
        throttle.take().await;
        for (p, acks) in producers.iter().zip(pending.iter_mut()) {
            while acks.len() >= WINDOW {
                let Some(oldest) = acks.pop_front() else {
                    break;
                };
                if let Err(e) = oldest.await {
                    failed = Some(format!("({}) {e}", p.addr()));
                    break 'read;
                }
            }
            match p.publish_async(&topic, &line).await {
                Ok(ack) => acks.push_back(ack),
                Err(e) => {
                    failed = Some(format!("({}) {e}", p.addr()));
                    break 'read;
                }
            }
        }
    }
    for (p, acks) in producers.iter().zip(pending) {
        for ack in acks {
            if let Err(e) = ack.await {
                failed.get_or_insert_with(|| format!("({}) {e}", p.addr()));
            }
        }
        p.stop().await;
    }
    match failed {
        None => ExitCode::SUCCESS,
        Some(e) => common::failure(APP, &e),
    }
}
