//! Shared by bench_writer and bench_reader (NSQ's bench pattern): flags,
//! the connection handshake and the report line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Workers, like Go's GOMAXPROCS default.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Connects, sends the magic and IDENTIFY, and reads the IDENTIFY answer.
pub fn connect(addr: &str, role: &str) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut hello = bytes::BytesMut::new();
    hello.extend_from_slice(b"  V2");
    let identify = format!(
        r#"{{"client_id":"{role}","hostname":"{role}","user_agent":"bench_{role}/{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    nsq_core::wire::command::encode::identify(&mut hello, identify.as_bytes());
    s.write_all(&hello)?;
    read_frame(&mut s)?;
    Ok(s)
}

/// Reads one whole frame; errors on an error frame.
pub fn read_frame(s: &mut TcpStream) -> std::io::Result<(i32, Vec<u8>)> {
    let mut head = [0u8; 8];
    s.read_exact(&mut head)?;
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let ty = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let mut data = vec![0u8; size.saturating_sub(4)];
    s.read_exact(&mut data)?;
    if ty == 1 {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&data).into_owned(),
        ));
    }
    Ok((ty, data))
}

/// NSQ's report line: `duration: ... - X mb/s - Y ops/s - Z us/op`.
pub fn report(who: &str, elapsed: Duration, msgs: u64, size: usize) -> String {
    let secs = elapsed.as_secs_f64();
    let mb = (msgs as f64 * size as f64) / secs / 1024.0 / 1024.0;
    let ops = msgs as f64 / secs;
    let us = if msgs == 0 {
        0.0
    } else {
        elapsed.as_micros() as f64 / msgs as f64
    };
    format!("[{who}] duration: {secs:.6}s - {mb:.3}mb/s - {ops:.3}ops/s - {us:.3}us/op")
}

/// Releases the workers waiting on `start`, waits for them all, prints the
/// report over the time they ran and says whether every worker succeeded.
pub fn finish(
    who: &str,
    start: &std::sync::Barrier,
    workers: Vec<std::thread::JoinHandle<std::io::Result<()>>>,
    total: &std::sync::atomic::AtomicU64,
    size: usize,
) -> std::process::ExitCode {
    start.wait();
    let t0 = std::time::Instant::now();
    let mut failed = false;
    for h in workers {
        if let Ok(Err(e)) | Err(e) = h
            .join()
            .map_err(|_| std::io::Error::other("worker panicked"))
        {
            eprintln!("[{who}] {e}");
            failed = true;
        }
    }
    let msgs = total.load(std::sync::atomic::Ordering::Relaxed);
    println!("{}", report(who, t0.elapsed(), msgs, size));
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
