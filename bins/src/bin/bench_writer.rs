//! bench_writer: MPUBs batches as fast as nsqd acknowledges them (NSQ's bench tool).

use clap::Parser;
use nsq_bins::bench;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    // Go's flag package keeps the last of a repeated flag (lists append).
    args_override_self = true,
    name = "bench_writer",
    about = "publish MPUB batches to nsqd as fast as it acknowledges them"
)]
struct Flags {
    /// duration of time to run
    #[arg(long, default_value = "10s", value_parser = nsq_bins::cli::duration::parse)]
    runfor: Duration,
    /// <addr>:<port> to connect to nsqd
    #[arg(long, default_value = "127.0.0.1:4150")]
    nsqd_tcp_address: String,
    /// topic to publish messages to
    #[arg(long, default_value = "sub_bench")]
    topic: String,
    /// size of messages
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// batch size of messages
    #[arg(long, default_value_t = 200)]
    batch_size: usize,
    /// number of connections (default: one per CPU, like Go's GOMAXPROCS)
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> ExitCode {
    let f = Flags::parse_from(nsq_bins::cli::args::normalize(std::env::args_os()));
    if f.batch_size == 0 || f.size == 0 {
        eprintln!("[bench_writer] --size and --batch-size must be > 0");
        return ExitCode::from(2);
    }
    let workers = f.workers.unwrap_or_else(bench::workers);
    let body = vec![b'a'; f.size];
    let batch: Vec<&[u8]> = vec![&body[..]; f.batch_size];
    let mut cmd = bytes::BytesMut::new();
    nsq_core::wire::command::encode::mpub(&mut cmd, &f.topic, &batch);
    let cmd = Arc::new(cmd.freeze());
    let total = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(workers + 1));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let mut conn = match bench::connect(&f.nsqd_tcp_address, "writer") {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "[bench_writer] cannot connect to {}: {e}",
                    f.nsqd_tcp_address
                );
                return ExitCode::FAILURE;
            }
        };
        let (cmd, total, start, runfor, n) = (
            Arc::clone(&cmd),
            Arc::clone(&total),
            Arc::clone(&start),
            f.runfor,
            f.batch_size as u64,
        );
        handles.push(std::thread::spawn(move || -> std::io::Result<()> {
            use std::io::Write;
            start.wait();
            let end = Instant::now() + runfor;
            let mut count = 0;
            loop {
                conn.write_all(&cmd)?;
                bench::read_frame(&mut conn)?;
                count += n;
                if Instant::now() >= end {
                    break;
                }
            }
            total.fetch_add(count, Ordering::Relaxed);
            Ok(())
        }));
    }
    bench::finish("bench_writer", &start, handles, &total, f.size)
}
