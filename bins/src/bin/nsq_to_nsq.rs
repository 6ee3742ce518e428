//! nsq_to_nsq: republishes the messages of topics/channel to other nsqd
//! (NSQ v1.3.0 compatible flags). A message is finished only after the
//! destination acknowledged it, and requeued if it refused or failed.

use clap::{ArgAction, Parser};
use nsq_bins::cli;
use nsq_bins::tools::common::{self, usage_error};
use nsq_bins::tools::hostpool::HostPool;
use nsq_bins::tools::json_filter::{JsonFilter, Verdict};
use nsq_bins::tools::timer_metrics::TimerMetrics;
use nsq_core::wire::names::{is_valid_channel_name, is_valid_topic_name};
use nsq_runtime_tokio::client::{Consumer, Message, Producer};
use rand::Rng;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const APP: &str = "nsq_to_nsq";

#[derive(Debug, Parser)]
// Go's flag package keeps the last of a repeated flag (lists append).
#[command(args_override_self = true, name = APP, disable_version_flag = true, about = "republish NSQ topics to other nsqd")]
struct Flags {
    /// print version string
    #[arg(long, action = ArgAction::SetTrue)]
    version: bool,
    /// nsq channel
    #[arg(long, default_value = "nsq_to_nsq")]
    channel: String,
    /// use this destination topic for all consumed topics (default is consumed topic name)
    #[arg(long, default_value = "")]
    destination_topic: String,
    /// max number of messages to allow in flight
    #[arg(long, default_value_t = 200)]
    max_in_flight: i64,
    /// the # of requests between logging status (per destination), 0 disables
    #[arg(long, default_value_t = 250)]
    status_every: usize,
    /// the upstream request mode options: round-robin, hostpool (default), epsilon-greedy
    #[arg(long, default_value = "hostpool")]
    mode: String,
    /// nsqd TCP address (may be given multiple times)
    #[arg(long)]
    nsqd_tcp_address: Vec<String>,
    /// destination nsqd TCP address (may be given multiple times)
    #[arg(long)]
    destination_nsqd_tcp_address: Vec<String>,
    /// lookupd HTTP address (may be given multiple times)
    #[arg(long)]
    lookupd_http_address: Vec<String>,
    /// nsq topic (may be given multiple times)
    #[arg(long)]
    topic: Vec<String>,
    /// for JSON messages: pass this field (may be given multiple times)
    #[arg(long)]
    whitelist_json_field: Vec<String>,
    /// for JSON messages: only pass messages that contain this field
    #[arg(long, default_value = "")]
    require_json_field: String,
    /// for JSON messages: only pass messages in which the required field has this value
    #[arg(long, default_value = "")]
    require_json_value: String,
    /// option to passthrough to the consumer (may be given multiple times)
    #[arg(long)]
    consumer_opt: Vec<String>,
    /// option to passthrough to the producers (may be given multiple times)
    #[arg(long)]
    producer_opt: Vec<String>,
}

fn main() -> ExitCode {
    let f = Flags::parse_from(cli::args::normalize(std::env::args_os()));
    if f.version {
        println!("{}", cli::version_line(APP));
        return ExitCode::SUCCESS;
    }
    cli::logging::init(&format!("[{APP}] "), "info", cli::logging::LogFormat::Nsq);
    if f.topic.is_empty() || f.channel.is_empty() {
        return usage_error(APP, "--topic and --channel are required");
    }
    if f.topic.iter().any(|t| !is_valid_topic_name(t)) {
        return usage_error(APP, "--topic is invalid");
    }
    if !f.destination_topic.is_empty() && !is_valid_topic_name(&f.destination_topic) {
        return usage_error(APP, "--destination-topic is invalid");
    }
    if !is_valid_channel_name(&f.channel) {
        return usage_error(APP, "--channel is invalid");
    }
    if let Err(e) = common::check_sources(&f.nsqd_tcp_address, &f.lookupd_http_address) {
        return usage_error(APP, &e);
    }
    if f.destination_nsqd_tcp_address.is_empty() {
        return usage_error(APP, "--destination-nsqd-tcp-address required");
    }
    let round_robin = match f.mode.as_str() {
        "round-robin" => true,
        "hostpool" | "epsilon-greedy" => false,
        other => {
            return usage_error(
                APP,
                &format!("invalid --mode {other:?} (round-robin, hostpool, epsilon-greedy)"),
            )
        }
    };
    let mut ccfg = match common::client_config(APP, &f.consumer_opt) {
        Ok(c) => c,
        Err(e) => return usage_error(APP, &e),
    };
    ccfg.max_in_flight = f.max_in_flight;
    let pcfg = match common::client_config(APP, &f.producer_opt) {
        Ok(c) => c,
        Err(e) => return usage_error(APP, &e),
    };
    let mut producers = Vec::new();
    for addr in &f.destination_nsqd_tcp_address {
        match Producer::new(addr, pcfg.clone()) {
            Ok(p) => producers.push(p),
            Err(e) => return usage_error(APP, &format!("failed creating producer {e}")),
        }
    }
    let dests = &f.destination_nsqd_tcp_address;
    let shared = Arc::new(Shared {
        round_robin,
        counter: AtomicU64::new(0),
        pool: Mutex::new(HostPool::new(
            dests,
            f.mode == "epsilon-greedy",
            common::rng().random(),
            Instant::now(),
        )),
        per_address: dests
            .iter()
            .map(|a| {
                let every = if dests.len() == 1 { 0 } else { f.status_every };
                Mutex::new(TimerMetrics::new(every, &format!("[{a}]:")))
            })
            .collect(),
        aggregate: Mutex::new(TimerMetrics::new(f.status_every, "[aggregate]:")),
        filter: JsonFilter {
            require_field: f.require_json_field.clone(),
            require_value: f.require_json_value.clone(),
            whitelist: f.whitelist_json_field.clone(),
        },
        producers,
    });
    let rt = match common::runtime() {
        Ok(rt) => rt,
        Err(e) => return common::failure(APP, &e.to_string()),
    };
    rt.block_on(run(f, ccfg, shared))
}

struct Shared {
    producers: Vec<Producer>,
    round_robin: bool,
    counter: AtomicU64,
    pool: Mutex<HostPool>,
    per_address: Vec<Mutex<TimerMetrics>>,
    aggregate: Mutex<TimerMetrics>,
    filter: JsonFilter,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn run(f: Flags, cfg: nsq_runtime_tokio::client::Config, shared: Arc<Shared>) -> ExitCode {
    let mut consumers = Vec::new();
    let mut pumps = Vec::new();
    for topic in &f.topic {
        let consumer = match Consumer::new(topic, &f.channel, cfg.clone()) {
            Ok(c) => c,
            Err(e) => return usage_error(APP, &e.to_string()),
        };
        let mut messages = match consumer.messages() {
            Ok(m) => m,
            Err(e) => return common::failure(APP, &e.to_string()),
        };
        let dest = if f.destination_topic.is_empty() {
            topic.clone()
        } else {
            f.destination_topic.clone()
        };
        let shared = Arc::clone(&shared);
        pumps.push(tokio::spawn(async move {
            let mut acks = tokio::task::JoinSet::new();
            while let Some(m) = messages.recv().await {
                forward(&shared, &dest, m, &mut acks).await;
                // reap finished acknowledgements as we go
                while acks.try_join_next().is_some() {}
            }
            while acks.join_next().await.is_some() {}
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
    nsq_runtime_tokio::signal::shutdown_signal().await;
    for c in &consumers {
        c.stop().await;
    }
    for p in pumps {
        let _ = p.await;
    }
    for p in &shared.producers {
        p.stop().await;
    }
    ExitCode::SUCCESS
}

/// Publishes one message (pipelined) and answers it when the destination did.
async fn forward(
    shared: &Arc<Shared>,
    dest: &str,
    m: Message,
    acks: &mut tokio::task::JoinSet<()>,
) {
    let body = match shared.filter.apply(m.body()) {
        Verdict::Pass(b) => b,
        Verdict::Skip => return m.finish(),
        Verdict::Backoff => return m.requeue(None),
    };
    let start = Instant::now();
    let i = if shared.round_robin {
        let n = shared.counter.fetch_add(1, Ordering::Relaxed) + 1;
        (n % shared.producers.len() as u64) as usize
    } else {
        lock(&shared.pool).get(start)
    };
    let sent = shared.producers[i].publish_async(dest, &body).await;
    let ack = match sent {
        Ok(ack) => ack,
        Err(e) => {
            tracing::error!("({}) publish failed - {e}", shared.producers[i].addr());
            if !shared.round_robin {
                lock(&shared.pool).mark(i, false, start.elapsed(), Instant::now());
            }
            return m.requeue(None);
        }
    };
    let shared = Arc::clone(shared);
    acks.spawn(async move {
        let r = ack.await;
        let took = start.elapsed();
        if !shared.round_robin {
            lock(&shared.pool).mark(i, r.is_ok(), took, Instant::now());
        }
        match r {
            Ok(()) => m.finish(),
            Err(e) => {
                tracing::error!("({}) publish failed - {e}", shared.producers[i].addr());
                m.requeue(None);
            }
        }
        if let Some(line) = lock(&shared.per_address[i]).status(took) {
            tracing::info!("{line}");
        }
        if let Some(line) = lock(&shared.aggregate).status(took) {
            tracing::info!("{line}");
        }
    });
}
