//! nsq_tail: prints the messages of one or more topics to stdout (NSQ v1.3.0
//! compatible flags).

use clap::{ArgAction, Parser};
use nsq_bins::cli;
use nsq_bins::tools::common::{self, usage_error};
use nsq_runtime_tokio::client::Consumer;
use rand::Rng;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const APP: &str = "nsq_tail";

#[derive(Debug, Parser)]
// Go's flag package keeps the last of a repeated flag (lists append).
#[command(args_override_self = true, name = APP, disable_version_flag = true, about = "print the messages of NSQ topics to stdout")]
struct Flags {
    /// print version string
    #[arg(long, action = ArgAction::SetTrue)]
    version: bool,
    /// NSQ channel (default: an ephemeral one, tail<random>#ephemeral)
    #[arg(long, default_value = "")]
    channel: String,
    /// max number of messages to allow in flight
    #[arg(long, default_value_t = 200)]
    max_in_flight: i64,
    /// total messages to show (will wait if starved)
    #[arg(long = "n", default_value_t = 0)]
    total_messages: u64,
    /// print topic name where message was received
    #[arg(long, action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    print_topic: bool,
    /// nsqd TCP address (may be given multiple times)
    #[arg(long)]
    nsqd_tcp_address: Vec<String>,
    /// lookupd HTTP address (may be given multiple times)
    #[arg(long)]
    lookupd_http_address: Vec<String>,
    /// NSQ topic (may be given multiple times)
    #[arg(long)]
    topic: Vec<String>,
    /// option to passthrough to the consumer (may be given multiple times), e.g. max_attempts,10
    #[arg(long)]
    consumer_opt: Vec<String>,
}

fn main() -> ExitCode {
    let mut f = Flags::parse_from(cli::args::normalize(std::env::args_os()));
    if f.version {
        println!("{}", cli::version_line(APP));
        return ExitCode::SUCCESS;
    }
    cli::logging::init(&format!("[{APP}] "), "info", cli::logging::LogFormat::Nsq);
    if f.channel.is_empty() {
        let n = common::rng().random_range(0..999_999);
        f.channel = format!("tail{n:06}#ephemeral");
    }
    if let Err(e) = common::check_sources(&f.nsqd_tcp_address, &f.lookupd_http_address) {
        return usage_error(APP, &e);
    }
    if f.topic.is_empty() {
        return usage_error(APP, "--topic required");
    }
    // don't ask for more messages than we want
    if f.total_messages > 0 && (f.total_messages as i64) < f.max_in_flight {
        f.max_in_flight = f.total_messages as i64;
    }
    let mut cfg = match common::client_config(APP, &f.consumer_opt) {
        Ok(c) => c,
        Err(e) => return usage_error(APP, &e),
    };
    cfg.max_in_flight = f.max_in_flight;
    let rt = match common::runtime() {
        Ok(rt) => rt,
        Err(e) => return common::failure(APP, &e.to_string()),
    };
    rt.block_on(run(f, cfg))
}

async fn run(f: Flags, cfg: nsq_runtime_tokio::client::Config) -> ExitCode {
    let out = Arc::new(Mutex::new(std::io::BufWriter::new(std::io::stdout())));
    let done = Arc::new(tokio::sync::Notify::new());
    let reached = Arc::new(AtomicBool::new(false));
    let mut consumers = Vec::new();
    let mut printers = Vec::new();
    for topic in &f.topic {
        tracing::info!("Adding consumer for topic: {topic}");
        let consumer = match Consumer::new(topic, &f.channel, cfg.clone()) {
            Ok(c) => Arc::new(c),
            Err(e) => return usage_error(APP, &e.to_string()),
        };
        let mut messages = match consumer.messages() {
            Ok(m) => m,
            Err(e) => return common::failure(APP, &e.to_string()),
        };
        let (out, done, reached) = (Arc::clone(&out), Arc::clone(&done), Arc::clone(&reached));
        let (topic, print_topic, total) = (topic.clone(), f.print_topic, f.total_messages);
        printers.push(tokio::spawn(async move {
            let mut shown = 0u64;
            while let Some(m) = messages.recv().await {
                if reached.load(Ordering::Acquire) {
                    m.requeue_without_backoff(Some(Duration::ZERO));
                    continue;
                }
                let wrote = {
                    let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
                    let mut r = Ok(());
                    if print_topic {
                        r = r.and_then(|_| w.write_all(topic.as_bytes()));
                        r = r.and_then(|_| w.write_all(b" | "));
                    }
                    r = r.and_then(|_| w.write_all(m.body()));
                    r = r.and_then(|_| w.write_all(b"\n"));
                    r
                };
                if let Err(e) = wrote {
                    tracing::error!("failed to write to os.Stdout - {e}");
                    std::process::exit(1);
                }
                m.finish();
                shown += 1;
                // flush when nothing else is waiting
                if messages.is_empty() {
                    let _ = out.lock().unwrap_or_else(|e| e.into_inner()).flush();
                }
                if total > 0 && shown >= total {
                    reached.store(true, Ordering::Release);
                    done.notify_one();
                }
            }
        }));
        consumers.push(consumer);
    }
    for c in &consumers {
        if let Err(e) = c.connect_to_nsqds(&f.nsqd_tcp_address).await {
            return common::failure(APP, &e.to_string());
        }
        if let Err(e) = c.connect_to_lookupds(&f.lookupd_http_address) {
            return usage_error(APP, &e.to_string());
        }
    }
    tokio::select! {
        _ = nsq_runtime_tokio::signal::shutdown_signal() => {}
        _ = done.notified() => {}
    }
    for c in &consumers {
        c.stop().await;
    }
    for p in printers {
        let _ = p.await;
    }
    let flushed = out.lock().unwrap_or_else(|e| e.into_inner()).flush();
    match flushed {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => common::failure(APP, &format!("failed to write to os.Stdout - {e}")),
    }
}
