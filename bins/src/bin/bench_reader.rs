//! bench_reader: consumes and FINs as fast as nsqd delivers (NSQ's bench tool).

use clap::Parser;
use nsq_bins::bench;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    // Go's flag package keeps the last of a repeated flag (lists append).
    args_override_self = true,
    name = "bench_reader",
    about = "consume from nsqd and FIN every message as fast as it arrives"
)]
struct Flags {
    /// duration of time to run
    #[arg(long, default_value = "10s", value_parser = nsq_bins::cli::duration::parse)]
    runfor: Duration,
    /// <addr>:<port> to connect to nsqd
    #[arg(long, default_value = "127.0.0.1:4150")]
    nsqd_tcp_address: String,
    /// size of messages (for the MB/s figure)
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// topic to receive messages on
    #[arg(long, default_value = "sub_bench")]
    topic: String,
    /// channel to receive messages on
    #[arg(long, default_value = "ch")]
    channel: String,
    /// RDY count to use
    #[arg(long, default_value_t = 2500)]
    rdy: u64,
    /// number of connections (default: one per CPU, like Go's GOMAXPROCS)
    #[arg(long)]
    workers: Option<usize>,
}

/// Reads frames and answers every message with FIN, one write per read.
fn consume(conn: &mut std::net::TcpStream, end: Instant) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut have = 0;
    let mut fins = Vec::with_capacity(64 * 1024);
    let mut count = 0;
    conn.set_read_timeout(Some(Duration::from_millis(200)))?;
    while Instant::now() < end {
        let n = match conn.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        have += n;
        let mut at = 0;
        while have - at >= 8 {
            let size =
                u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
            if have - at < 4 + size {
                break;
            }
            let ty = i32::from_be_bytes([buf[at + 4], buf[at + 5], buf[at + 6], buf[at + 7]]);
            match ty {
                2 if size >= 30 => {
                    fins.extend_from_slice(b"FIN ");
                    fins.extend_from_slice(&buf[at + 18..at + 34]);
                    fins.push(b'\n');
                    count += 1;
                }
                1 => {
                    return Err(std::io::Error::other(
                        String::from_utf8_lossy(&buf[at + 8..at + 4 + size]).into_owned(),
                    ));
                }
                _ => {
                    if &buf[at + 8..at + 4 + size] == b"_heartbeat_" {
                        fins.extend_from_slice(b"NOP\n");
                    }
                }
            }
            at += 4 + size;
        }
        buf.copy_within(at..have, 0);
        have -= at;
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        if !fins.is_empty() {
            conn.write_all(&fins)?;
            fins.clear();
        }
    }
    Ok(count)
}

fn main() -> ExitCode {
    let f = Flags::parse_from(nsq_bins::cli::args::normalize(std::env::args_os()));
    let workers = f.workers.unwrap_or_else(bench::workers);
    let total = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(workers + 1));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let mut conn = match bench::connect(&f.nsqd_tcp_address, "reader") {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "[bench_reader] cannot connect to {}: {e}",
                    f.nsqd_tcp_address
                );
                return ExitCode::FAILURE;
            }
        };
        let sub = format!("SUB {} {}\n", f.topic, f.channel);
        if let Err(e) = conn
            .write_all(sub.as_bytes())
            .and_then(|_| bench::read_frame(&mut conn))
        {
            eprintln!("[bench_reader] SUB failed: {e}");
            return ExitCode::FAILURE;
        }
        let (total, start, runfor, rdy) = (Arc::clone(&total), Arc::clone(&start), f.runfor, f.rdy);
        handles.push(std::thread::spawn(move || -> std::io::Result<()> {
            start.wait();
            let end = Instant::now() + runfor;
            conn.write_all(format!("RDY {rdy}\n").as_bytes())?;
            let n = consume(&mut conn, end)?;
            total.fetch_add(n, Ordering::Relaxed);
            Ok(())
        }));
    }
    bench::finish("bench_reader", &start, handles, &total, f.size)
}
