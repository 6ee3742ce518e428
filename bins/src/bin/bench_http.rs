//! bench_http: publishes `/mpub` batches over HTTP keep-alive connections
//! as fast as nsqd answers them (bench_writer's pattern, over the HTTP API).

use clap::Parser;
use nsq_bins::{bench, http1};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    // Go's flag package keeps the last of a repeated flag (lists append).
    args_override_self = true,
    name = "bench_http",
    about = "publish /mpub batches to nsqd's HTTP API as fast as it answers"
)]
struct Flags {
    /// duration of time to run
    #[arg(long, default_value = "10s", value_parser = nsq_bins::cli::duration::parse)]
    runfor: Duration,
    /// <addr>:<port> of nsqd's HTTP API
    #[arg(long, default_value = "127.0.0.1:4151")]
    nsqd_http_address: String,
    /// topic to publish messages to
    #[arg(long, default_value = "sub_bench")]
    topic: String,
    /// size of messages
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// batch size of messages
    #[arg(long, default_value_t = 200)]
    batch_size: usize,
    /// send batches in /mpub's binary format instead of one message per line
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    binary: Option<bool>,
    /// number of connections (default: one per CPU)
    #[arg(long)]
    workers: Option<usize>,
}

/// The request bytes of one batch.
fn request(f: &Flags) -> Vec<u8> {
    let msg = vec![b'a'; f.size];
    let binary = f.binary.unwrap_or(false);
    let mut body = Vec::new();
    if binary {
        body.extend((f.batch_size as u32).to_be_bytes());
        for _ in 0..f.batch_size {
            body.extend((f.size as u32).to_be_bytes());
            body.extend_from_slice(&msg);
        }
    } else {
        for _ in 0..f.batch_size {
            body.extend_from_slice(&msg);
            body.push(b'\n');
        }
    }
    // Topic names are URL-safe but for the `#` of `#ephemeral`.
    let path = format!(
        "/mpub?topic={}&binary={binary}",
        f.topic.replace('#', "%23")
    );
    let mut req = http1::Conn::head("POST", &path, body.len());
    req.extend_from_slice(&body);
    req
}

fn main() -> ExitCode {
    let f = Flags::parse_from(nsq_bins::cli::args::normalize(std::env::args_os()));
    if f.batch_size == 0 || f.size == 0 || f.size > 1 << 24 {
        eprintln!("[bench_http] --size and --batch-size must be > 0");
        return ExitCode::from(2);
    }
    let addr: SocketAddr = match f.nsqd_http_address.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        _ => {
            eprintln!("[bench_http] bad address {}", f.nsqd_http_address);
            return ExitCode::from(2);
        }
    };
    let workers = f.workers.unwrap_or_else(bench::workers);
    let req = Arc::new(request(&f));
    let total = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(workers + 1));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let mut conn = match http1::Conn::connect(addr) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("[bench_http] cannot connect to {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (req, total, start, runfor, n) = (
            Arc::clone(&req),
            Arc::clone(&total),
            Arc::clone(&start),
            f.runfor,
            f.batch_size as u64,
        );
        handles.push(std::thread::spawn(move || -> std::io::Result<()> {
            start.wait();
            let end = Instant::now() + runfor;
            let mut count = 0;
            loop {
                conn.send(&req)?;
                let r = conn.reply()?;
                if r.status != 200 {
                    return Err(std::io::Error::other(format!(
                        "HTTP {}: {}",
                        r.status,
                        r.text()
                    )));
                }
                count += n;
                if Instant::now() >= end {
                    break;
                }
            }
            total.fetch_add(count, Ordering::Relaxed);
            Ok(())
        }));
    }
    bench::finish("bench_http", &start, handles, &total, f.size)
}
