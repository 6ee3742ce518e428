//! nsq_stat: polls `/stats` of every nsqd that has a topic and prints one
//! channel's rates and totals every interval (NSQ v1.3.0 compatible flags
//! and table).

use clap::{ArgAction, Parser};
use nsq_bins::cli::{self, duration};
use nsq_bins::tools::common::{self, usage_error};
use nsq_bins::tools::stat;
use nsq_core::admin::producer::join_host_port;
use nsq_core::admin::{query, ChannelStats};
use nsq_core::consumer::lookup::parse_lookup;
use nsq_runtime_tokio::client::http::{Fetch, HttpClient};
use std::process::ExitCode;
use std::time::Duration;

const APP: &str = "nsq_stat";

#[derive(Debug, Parser)]
// Go's flag package keeps the last of a repeated flag (lists append).
#[command(args_override_self = true, name = APP, disable_version_flag = true, about = "print an NSQ channel's rates and totals every interval")]
struct Flags {
    /// print version
    #[arg(long, action = ArgAction::SetTrue)]
    version: bool,
    /// NSQ topic
    #[arg(long, default_value = "")]
    topic: String,
    /// NSQ channel
    #[arg(long, default_value = "")]
    channel: String,
    /// duration of time between polling/printing output
    #[arg(long, default_value = "2s", value_parser = duration::parse)]
    interval: Duration,
    /// timeout for HTTP connect
    #[arg(long, default_value = "2s", value_parser = duration::parse)]
    http_client_connect_timeout: Duration,
    /// timeout for HTTP request
    #[arg(long, default_value = "5s", value_parser = duration::parse)]
    http_client_request_timeout: Duration,
    /// number of reports
    #[arg(long)]
    count: Option<i64>,
    /// nsqd HTTP address (may be given multiple times)
    #[arg(long)]
    nsqd_http_address: Vec<String>,
    /// lookupd HTTP address (may be given multiple times)
    #[arg(long)]
    lookupd_http_address: Vec<String>,
}

fn main() -> ExitCode {
    let f = Flags::parse_from(cli::args::normalize(std::env::args_os()));
    if f.version {
        println!("{}", cli::version_line(APP));
        return ExitCode::SUCCESS;
    }
    cli::logging::init(&format!("[{APP}] "), "warn", cli::logging::LogFormat::Nsq);
    if f.topic.is_empty() || f.channel.is_empty() {
        return usage_error(APP, "--topic and --channel are required");
    }
    if f.interval.is_zero() {
        return usage_error(APP, "--interval should be positive");
    }
    if f.http_client_connect_timeout.is_zero() {
        return usage_error(APP, "--http-client-connect-timeout should be positive");
    }
    if f.http_client_request_timeout.is_zero() {
        return usage_error(APP, "--http-client-request-timeout should be positive");
    }
    if f.count.is_some_and(|c| c <= 0) {
        return usage_error(APP, "--count should be positive");
    }
    match (
        f.nsqd_http_address.is_empty(),
        f.lookupd_http_address.is_empty(),
    ) {
        (true, true) => {
            return usage_error(
                APP,
                "--nsqd-http-address or --lookupd-http-address required",
            )
        }
        (false, false) => {
            return usage_error(
                APP,
                "use --nsqd-http-address or --lookupd-http-address not both",
            )
        }
        _ => {}
    }
    if f.nsqd_http_address.iter().any(|a| a.starts_with("http")) {
        return usage_error(
            APP,
            "--nsqd-http-address error - address should not contain scheme",
        );
    }
    if f.lookupd_http_address.iter().any(|a| a.starts_with("http")) {
        return usage_error(
            APP,
            "--lookupd-http-address error - address should not contain scheme",
        );
    }
    let rt = match common::runtime() {
        Ok(rt) => rt,
        Err(e) => return common::failure(APP, &e.to_string()),
    };
    rt.block_on(async move {
        tokio::select! {
            code = stat_loop(&f) => code,
            _ = nsq_runtime_tokio::signal::shutdown_signal() => ExitCode::SUCCESS,
        }
    })
}

async fn stat_loop(f: &Flags) -> ExitCode {
    let http = HttpClient::new(f.http_client_connect_timeout, f.http_client_request_timeout);
    let mut old: Option<ChannelStats> = None;
    let mut i: i64 = 0;
    // NSQ polls count+1 times: the first poll only sets the baseline
    while f.count.is_none_or(|c| c >= i) {
        let producers = if f.lookupd_http_address.is_empty() {
            nsqd_producers(&http, &f.topic, &f.nsqd_http_address).await
        } else {
            lookupd_producers(&http, &f.topic, &f.lookupd_http_address).await
        };
        let producers = match producers {
            Ok(p) => p,
            Err(e) => return common::failure(APP, &format!("failed to get topic producers - {e}")),
        };
        let stats = match channel_stats(&http, &producers, &f.topic, &f.channel).await {
            Ok(s) => s,
            Err(e) => return common::failure(APP, &format!("failed to get nsqd stats - {e}")),
        };
        let Some(c) = stats else {
            return common::failure(
                APP,
                &format!(
                    "failed to find channel({}) in stats metadata for topic({})",
                    f.channel, f.topic
                ),
            );
        };
        if i % 25 == 0 {
            println!("{}", stat::header());
        }
        if let Some(o) = &old {
            println!("{}", stat::row(&c, o, f.interval.as_secs_f64()));
        }
        old = Some(c);
        i += 1;
        tokio::time::sleep(f.interval).await;
    }
    ExitCode::SUCCESS
}

/// The HTTP addresses of the nsqd that have `topic`, via nsqlookupd.
async fn lookupd_producers(
    http: &HttpClient,
    topic: &str,
    lookupds: &[String],
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for addr in lookupds {
        let url = format!("http://{addr}{}", query::lookupd_lookup(topic));
        match http.get_v1(&url).await.and_then(|r| r.check_ok()) {
            Ok(r) => match parse_lookup(&r.body, r.nsq_v1) {
                Ok(l) => {
                    for p in l.producers {
                        let a = p.http_address();
                        if !out.contains(&a) {
                            out.push(a);
                        }
                    }
                }
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !lookupds.is_empty() && errors.len() == lookupds.len() {
        return Err(format!(
            "failed to query any nsqlookupd: {}",
            errors.join("\n")
        ));
    }
    Ok(out)
}

/// The nsqd (of those given) that have `topic`, at the HTTP address their
/// `/info` reports.
async fn nsqd_producers(
    http: &HttpClient,
    topic: &str,
    nsqds: &[String],
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for addr in nsqds {
        let url = format!("http://{addr}{}", query::nsqd_stats(topic, "", false));
        let names = match http.get_v1(&url).await.and_then(|r| r.check_ok()) {
            Ok(r) => stat::topic_names(&r.body, r.nsq_v1),
            Err(e) => Err(e.to_string()),
        };
        let names = match names {
            Ok(n) => n,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if !names.iter().any(|n| n == topic) {
            continue;
        }
        let info = match http
            .get_v1(&format!("http://{addr}{}", query::NSQD_INFO))
            .await
            .and_then(|r| r.check_ok())
        {
            Ok(r) => stat::parse_info(&r.body, r.nsq_v1),
            Err(e) => Err(e.to_string()),
        };
        match info {
            Ok(i) if !i.broadcast_address.is_empty() && i.http_port != 0 => {
                out.push(join_host_port(&i.broadcast_address, i.http_port))
            }
            // older nsqd: the address we were given
            Ok(_) => out.push(addr.clone()),
            Err(e) => errors.push(e),
        }
    }
    if !nsqds.is_empty() && errors.len() == nsqds.len() {
        return Err(format!("failed to query any nsqd: {}", errors.join("\n")));
    }
    Ok(out)
}

/// The channel's numbers summed over `producers`; `None` if none has it.
async fn channel_stats(
    http: &HttpClient,
    producers: &[String],
    topic: &str,
    channel: &str,
) -> Result<Option<ChannelStats>, String> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for addr in producers {
        let url = format!("http://{addr}{}", query::nsqd_stats(topic, channel, false));
        match http.get_v1(&url).await.and_then(|r| r.check_ok()) {
            Ok(r) => match stat::topic_rows(&r.body, r.nsq_v1, topic) {
                Ok(node) => rows.extend(node),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !producers.is_empty() && errors.len() == producers.len() {
        return Err(format!("failed to query any nsqd: {}", errors.join("\n")));
    }
    Ok(stat::channel_total(topic, channel, &rows))
}
