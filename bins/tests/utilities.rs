//! NSQ's utilities as real binaries against our nsqd on loopback (and, for
//! lookupd and nsqd's HTTP stats, small fake HTTP servers that serve
//! fixture-shaped JSON).

mod common;

use common::Nsqd;
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin(name: &str) -> &'static str {
    match name {
        "nsq_tail" => env!("CARGO_BIN_EXE_nsq_tail"),
        "to_nsq" => env!("CARGO_BIN_EXE_to_nsq"),
        "nsq_to_file" => env!("CARGO_BIN_EXE_nsq_to_file"),
        "nsq_to_http" => env!("CARGO_BIN_EXE_nsq_to_http"),
        "nsq_to_nsq" => env!("CARGO_BIN_EXE_nsq_to_nsq"),
        "nsq_stat" => env!("CARGO_BIN_EXE_nsq_stat"),
        other => panic!("no binary {other}"),
    }
}

/// Runs `name` to completion with `stdin`, killing it after `limit`.
fn run(name: &str, args: &[String], stdin: &[u8], limit: Duration) -> Output {
    let mut child = Command::new(bin(name))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let s = child.wait().expect("wait");
            let err = err_t.join().unwrap_or_default();
            panic!("{name} ran over {limit:?} ({s}); stderr:\n{}", String::from_utf8_lossy(&err));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn to_nsq_then_nsq_tail_round_trip_ten_thousand_lines() {
    let nsqd = Nsqd::start(&["--mem-queue-size=100000"]);
    let addr = nsqd.tcp().to_string();
    let lines: Vec<String> = (0..10_000).map(|i| format!("line {i} {}", "x".repeat(i % 50))).collect();
    let input = lines.join("\n") + "\n";
    let out = run(
        "to_nsq",
        &args(&["--topic=rt", &format!("--nsqd-tcp-address={addr}")]),
        input.as_bytes(),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "to_nsq: {}", String::from_utf8_lossy(&out.stderr));
    let out = run(
        "nsq_tail",
        &args(&["-topic=rt", &format!("-nsqd-tcp-address={addr}"), "-n=10000"]),
        b"",
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "nsq_tail: {}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(got.len(), 10_000);
    let (mut a, mut b) = (got.clone(), lines.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b);
}
