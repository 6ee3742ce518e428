//! What an operator moving a Go NSQ v1.3.0 deployment over relies on, against
//! the real binaries: version lines, the default node id, repeated flags and
//! NSQ's example config files.

mod common;

use common::{Nsqadmin, Nsqd, Nsqlookupd, Proc};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The nine NSQ binaries, by name.
const BINARIES: [(&str, &str); 9] = [
    ("nsqd", env!("CARGO_BIN_EXE_nsqd")),
    ("nsqlookupd", env!("CARGO_BIN_EXE_nsqlookupd")),
    ("nsqadmin", env!("CARGO_BIN_EXE_nsqadmin")),
    ("nsq_tail", env!("CARGO_BIN_EXE_nsq_tail")),
    ("nsq_stat", env!("CARGO_BIN_EXE_nsq_stat")),
    ("nsq_to_file", env!("CARGO_BIN_EXE_nsq_to_file")),
    ("nsq_to_http", env!("CARGO_BIN_EXE_nsq_to_http")),
    ("nsq_to_nsq", env!("CARGO_BIN_EXE_nsq_to_nsq")),
    ("to_nsq", env!("CARGO_BIN_EXE_to_nsq")),
];

fn testdata(name: &str) -> String {
    format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `NAME vX.Y.Z (built w/TOKEN)` with TOKEN of [a-z0-9.-], as harnesses
/// written for NSQ parse it.
#[test]
fn every_binary_prints_nsqs_version_line() {
    for (name, path) in BINARIES {
        let out = Command::new(path).arg("--version").output().expect("runs");
        assert!(out.status.success(), "{name}");
        let line = String::from_utf8_lossy(&out.stdout);
        let token = line
            .trim_end()
            .strip_prefix(&format!("{name} v1.3.0 (built w/"))
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{name}: {line:?}"));
        assert!(
            !token.is_empty()
                && token.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'.'
                    || b == b'-'),
            "{name}: {line:?}"
        );
    }
}

/// Without `--node-id`, the id is Go's `crc32(md5(hostname)) % 1024` (the
/// derivation itself is checked against independent values in core).
#[test]
fn the_default_node_id_is_gos() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--tcp-address=127.0.0.1:0".to_string(),
        "--http-address=127.0.0.1:0".to_string(),
        format!("--data-path={}", dir.path().display()),
    ];
    let nsqd = Proc::start(env!("CARGO_BIN_EXE_nsqd"), &args, &["TCP", "HTTP"]);
    let want = nsq_core::Options::default_node_id(&nsq_runtime_tokio::host::hostname());
    assert!(nsqd.wait_log(&format!("ID: {want}")), "{:?}", nsqd.logs);
}

/// Go's flag package keeps the last of a repeated flag; lists append.
#[test]
fn the_last_of_a_repeated_flag_wins() {
    let lookupd = common::closed_port();
    let nsqd = Nsqd::start(&[
        "--mem-queue-size=1",
        "--mem-queue-size=7",
        "-max-rdy-count=3",
        "--max-rdy-count",
        "4",
        &format!("--lookupd-tcp-address={lookupd}"),
        &format!("--lookupd-tcp-address={lookupd}"),
    ]);
    let get = |opt: &str| nsqd.http_req("GET", &format!("/config/{opt}"), b"").text();
    assert_eq!(get("mem_queue_size"), "7");
    assert_eq!(get("max_rdy_count"), "4");
    assert_eq!(
        get("nsqlookupd_tcp_addresses"),
        format!(r#"["{lookupd}","{lookupd}"]"#)
    );
    // a utility: the message goes to the last --topic given
    let out = Command::new(env!("CARGO_BIN_EXE_to_nsq"))
        .args([
            &format!("--nsqd-tcp-address={}", nsqd.tcp()),
            "--topic=first",
            "--topic=last",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(b"hello\n")?;
            c.wait_with_output()
        })
        .expect("to_nsq runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let topics: Vec<String> = nsqd.stats("")["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| t["topic_name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(topics, ["last"]);
}

/// NSQ's contrib/nsqd.cfg.example (rebuilt in testdata/configs) loads; flags
/// still win, so the test's own addresses replace the file's fixed ports.
#[test]
fn nsqd_loads_nsqs_example_config() {
    let lookupd = common::closed_port();
    let nsqd = Nsqd::start(&[
        &format!("--config={}", testdata("configs/nsqd.cfg.example")),
        &format!("--lookupd-tcp-address={lookupd}"),
    ]);
    let get = |opt: &str| nsqd.http_req("GET", &format!("/config/{opt}"), b"").text();
    assert_eq!(get("max_msg_size"), "1024768");
    assert_eq!(get("max_body_size"), "5123840");
    assert_eq!(get("tls_required"), "0");
    assert_eq!(get("tls_min_version"), "769");
    assert_eq!(get("max_output_buffer_timeout"), "1000000000");
}

#[test]
fn nsqlookupd_loads_nsqs_example_config() {
    let l = Nsqlookupd::start(&[&format!(
        "--config={}",
        testdata("configs/nsqlookupd.cfg.example")
    )]);
    assert_eq!(l.get("/ping").text(), "OK");
}

/// The example names lookupds and nsqds, which nsqadmin refuses (Go's with
/// the same words); with the nsqd list taken out it starts.
#[test]
fn nsqadmin_loads_nsqs_example_config() {
    let example = testdata("configs/nsqadmin.cfg.example");
    let out = Command::new(env!("CARGO_BIN_EXE_nsqadmin"))
        .args([&format!("--config={example}"), "--http-address=127.0.0.1:0"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("use --nsqd-http-address or --lookupd-http-address not both"),
        "{err}"
    );
    let text = std::fs::read_to_string(&example).unwrap();
    let (lookupds, _) = text.split_once("nsqd_http_addresses").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let only_lookupds = dir.path().join("nsqadmin.cfg");
    std::fs::write(&only_lookupds, lookupds).unwrap();
    let admin = Nsqadmin::start(&[&format!("--config={}", only_lookupds.display())]);
    assert_eq!(admin.get("/ping").text(), "OK");
}

/// A client whose MPUB body size leaves out the 4-byte count: NSQ checks
/// the announced size and then reads the count and the messages from the
/// stream, so it is answered OK and the stream stays in step.
#[test]
fn mpub_is_read_as_nsq_reads_it() {
    let nsqd = Nsqd::start(&[]);
    let mut c = nsqd.client();
    let mut wire = b"MPUB t\n".to_vec();
    wire.extend_from_slice(&11u32.to_be_bytes()); // the messages, without the count
    wire.extend_from_slice(&2u32.to_be_bytes());
    wire.extend_from_slice(&1u32.to_be_bytes());
    wire.extend_from_slice(b"a");
    wire.extend_from_slice(&2u32.to_be_bytes());
    wire.extend_from_slice(b"bc");
    c.send(&wire);
    assert_eq!(c.response(), "OK");
    c.send(b"PUB t\n\x00\x00\x00\x01d");
    assert_eq!(c.response(), "OK");
    let depth = nsqd.stats("&topic=t")["topics"][0]["message_count"].clone();
    assert_eq!(depth, 3);

    // a bad body (count 0): NSQ has created the topic before reading it
    let mut c = nsqd.client();
    c.send(b"MPUB zero\n\x00\x00\x00\x04\x00\x00\x00\x00");
    assert_eq!(c.error(), "E_BAD_BODY MPUB invalid message count 0");
    let topics = nsqd.stats("&topic=zero")["topics"].clone();
    assert_eq!(topics[0]["topic_name"], "zero", "{topics}");
}

/// `--data-path` is created when missing (NSQ v1.3.0 refuses to start).
#[test]
fn a_missing_data_path_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a/b");
    let nsqd = Nsqd::start(&[&format!("--data-path={}", data.display())]);
    let mut c = nsqd.client();
    c.send(b"PUB t\n\x00\x00\x00\x01m");
    assert_eq!(c.response(), "OK");
    assert!(data.is_dir());
}

/// One protocol V2 exchange on any stream: the magic, a PUB, its answer.
fn pub_over(mut s: impl std::io::Read + std::io::Write) -> Vec<u8> {
    s.write_all(b"  V2PUB t\n\x00\x00\x00\x01m").unwrap();
    let mut frame = [0u8; 10];
    s.read_exact(&mut frame).unwrap();
    frame[8..].to_vec()
}

/// One HTTP/1.1 request on any stream, the whole answer back.
fn http_over(mut s: impl std::io::Read + std::io::Write, path: &str) -> common::HttpResponse {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    common::HttpResponse::parse(&raw)
}

/// The loopback addresses that reach a wildcard listener on `port`.
fn loopbacks(port: u16) -> Vec<std::net::SocketAddr> {
    let mut v = vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))];
    // where the machine has IPv6, the same socket serves it
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        v.push(std::net::SocketAddr::from((
            std::net::Ipv6Addr::LOCALHOST,
            port,
        )));
    }
    v
}

/// `--tcp-address=:PORT` (and the HTTP ones) listen on every interface, as
/// Go's do, in all three daemons. (The one place tests bind more than
/// loopback: the wildcard is what is tested, on ports the kernel picks.)
#[test]
fn colon_port_listens_on_every_interface() {
    use std::net::TcpStream;
    let dir = tempfile::tempdir().unwrap();
    let nsqd = Proc::start(
        env!("CARGO_BIN_EXE_nsqd"),
        &[
            "--tcp-address=:0".into(),
            "--http-address=:0".into(),
            format!("--data-path={}", dir.path().display()),
        ],
        &["TCP", "HTTP"],
    );
    assert!(nsqd.addr("TCP").ip().is_unspecified(), "{:?}", nsqd.addrs);
    for a in loopbacks(nsqd.addr("TCP").port()) {
        assert_eq!(pub_over(TcpStream::connect(a).unwrap()), b"OK", "{a}");
    }
    for a in loopbacks(nsqd.addr("HTTP").port()) {
        assert_eq!(
            http_over(TcpStream::connect(a).unwrap(), "/ping").text(),
            "OK"
        );
    }
    let lookupd = Proc::start(
        env!("CARGO_BIN_EXE_nsqlookupd"),
        &["--tcp-address=:0".into(), "--http-address=:0".into()],
        &["TCP", "HTTP"],
    );
    for a in loopbacks(lookupd.addr("HTTP").port()) {
        assert_eq!(
            http_over(TcpStream::connect(a).unwrap(), "/ping").text(),
            "OK"
        );
    }
    for a in loopbacks(lookupd.addr("TCP").port()) {
        let mut c = common::LookupClient::connect(a);
        c.send(b"  V1PING\n");
        assert_eq!(c.response(), "OK");
    }
    let admin = Proc::start(
        env!("CARGO_BIN_EXE_nsqadmin"),
        &[
            "--http-address=:0".into(),
            format!("--nsqd-http-address={}", nsqd.listen_text("HTTP")),
        ],
        &["HTTP"],
    );
    for a in loopbacks(admin.addr("HTTP").port()) {
        assert_eq!(
            http_over(TcpStream::connect(a).unwrap(), "/ping").text(),
            "OK"
        );
    }
    // and IPv6 literals in brackets
    if loopbacks(0).len() == 2 {
        let l = Nsqlookupd::start(&["--tcp-address=[::1]:0", "--http-address=[::1]:0"]);
        assert_eq!(l.get("/ping").text(), "OK");
    }
}

/// nsqd takes a unix socket path for --tcp-address and --http-address and
/// serves the protocol and its HTTP API there; /info says -1 for their
/// ports and lookupds are told the broadcast ports (0 unless set, as NSQ).
#[test]
fn nsqd_serves_on_unix_sockets() {
    use std::os::unix::net::UnixStream;
    let lookupd = Nsqlookupd::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let tcp_sock = dir.path().join("nsqd.sock");
    let http_sock = dir.path().join("nsqd-http.sock");
    let nsqd = Proc::start(
        env!("CARGO_BIN_EXE_nsqd"),
        &[
            format!("--tcp-address={}", tcp_sock.display()),
            format!("--http-address={}", http_sock.display()),
            format!("--data-path={}", dir.path().display()),
            "--broadcast-address=127.0.0.1".into(),
            "--broadcast-tcp-port=4150".into(),
            "--broadcast-http-port=4151".into(),
            format!("--lookupd-tcp-address={}", lookupd.tcp()),
        ],
        &["TCP", "HTTP"],
    );
    assert_eq!(nsqd.listen_text("TCP"), tcp_sock.display().to_string());
    assert_eq!(pub_over(UnixStream::connect(&tcp_sock).unwrap()), b"OK");
    let info = http_over(UnixStream::connect(&http_sock).unwrap(), "/info").json();
    assert_eq!(
        (info["tcp_port"].clone(), info["http_port"].clone()),
        (serde_json::json!(-1), serde_json::json!(-1))
    );
    let stats = http_over(
        UnixStream::connect(&http_sock).unwrap(),
        "/stats?format=json",
    )
    .json();
    assert_eq!(stats["topics"][0]["topic_name"], "t");
    let producers = common::eventually(Duration::from_secs(10), || {
        let p = lookupd.get("/lookup?topic=t").json()["producers"].clone();
        (p.as_array().map_or(0, Vec::len) == 1).then_some(p)
    })
    .expect("registered with the broadcast ports");
    assert_eq!(
        (
            producers[0]["tcp_port"].clone(),
            producers[0]["http_port"].clone()
        ),
        (serde_json::json!(4150), serde_json::json!(4151))
    );
    // the socket files go when nsqd stops, as Go's listeners remove them
    let mut nsqd = nsqd;
    assert!(nsqd.signal_and_wait("-TERM").success());
    assert!(!tcp_sock.exists() && !http_sock.exists());
}

/// Every listener's backlog is the kernel's somaxconn (Go's), not 128.
#[test]
fn listeners_use_the_kernels_backlog() {
    let Ok(ss) = Command::new("ss").arg("-V").output() else {
        eprintln!("skipped: no `ss` (iproute2) to read listen backlogs with");
        return;
    };
    assert!(ss.status.success());
    let want = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "4096".into());
    let nsqd = Nsqd::start(&[]);
    let lookupd = Nsqlookupd::start(&[]);
    let admin = Nsqadmin::start(&[&format!("--nsqd-http-address={}", nsqd.http())]);
    let listening =
        String::from_utf8(Command::new("ss").args(["-ltnH"]).output().unwrap().stdout).unwrap();
    for addr in [
        nsqd.tcp(),
        nsqd.http(),
        lookupd.tcp(),
        lookupd.http(),
        admin.http(),
    ] {
        let line = listening
            .lines()
            .find(|l| l.split_whitespace().nth(3) == Some(&addr.to_string()))
            .unwrap_or_else(|| panic!("{addr} in {listening}"));
        // State Recv-Q Send-Q(= the backlog of a listener) Local Peer
        assert_eq!(
            line.split_whitespace().nth(2),
            Some(want.as_str()),
            "{line}"
        );
    }
}

/// NSQ's log line: prefix, `YYYY/MM/DD HH:MM:SS.micro`, lg's level name.
fn nsq_log_line(prefix: &str) -> regex::Regex {
    let prefix = regex::escape(prefix);
    regex::Regex::new(&format!(
        r"^{prefix}\d{{4}}/\d{{2}}/\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}\.\d{{6}} (DEBUG|INFO|WARNING|ERROR|FATAL): "
    ))
    .unwrap()
}

/// Lines are NSQ's (prefix, time, level names, texts), `--log-level=debug`
/// shows each command and IDENTIFY, and HTTP access lines name the caller.
#[test]
fn logs_are_written_as_nsq_writes_them() {
    let re = nsq_log_line("[nsqd] ");
    // a line of Go nsqd v1.3.0, for the pattern itself
    assert!(re.is_match("[nsqd] 2026/12/04 18:02:08.276784 INFO: TCP: listening on [::]:4150"));
    let nsqd = Nsqd::start(&["--log-level=debug"]);
    let mut c = nsqd.client();
    c.send(&common::identify_cmd(
        br#"{"client_id":"c1","hostname":"h1","user_agent":"ua/1"}"#,
    ));
    assert_eq!(c.response(), "OK");
    c.send(b"SUB t ch\n");
    assert_eq!(c.response(), "OK");
    let me = c.stream.local_addr().unwrap();
    assert_eq!(nsqd.http_req("GET", "/ping", b"").text(), "OK");
    for want in [
        " INFO: nsqd v1.3.0 (built w/rust".to_string(),
        " INFO: ID: 7".into(),
        format!(" INFO: TCP: listening on {}", nsqd.tcp()),
        format!(" INFO: CLIENT({me}): desired protocol magic '  V2'"),
        format!(" DEBUG: PROTOCOL(V2): [{me}] [IDENTIFY]"),
        format!(" INFO: [{me}] IDENTIFY: {{ClientID:c1 Hostname:h1 HeartbeatInterval:0"),
        format!(" DEBUG: PROTOCOL(V2): [{me}] [SUB t ch]"),
        " INFO: TOPIC(t): created".into(),
        " INFO: TOPIC(t): new channel(ch)".into(),
        " INFO: 200 GET /ping (127.0.0.1:".into(),
    ] {
        assert!(
            nsqd.proc.wait_log(&want),
            "{want:?} in {:?}",
            nsqd.proc.logs
        );
    }
    for line in nsqd.proc.logs.lock().unwrap().iter() {
        assert!(re.is_match(line), "{line:?}");
    }

    // the other daemons' prefixes, --log-prefix, and FATAL lines
    let l = Nsqlookupd::start(&[]);
    let a = Nsqadmin::start(&[&format!("--lookupd-http-address={}", l.http())]);
    for (proc, prefix) in [(&l.proc, "[nsqlookupd] "), (&a.proc, "[nsqadmin] ")] {
        let re = nsq_log_line(prefix);
        let logs = proc.logs.lock().unwrap();
        assert!(
            !logs.is_empty() && logs.iter().all(|l| re.is_match(l)),
            "{logs:?}"
        );
    }
    let custom = Nsqd::start(&["--log-prefix=<custom> "]);
    let logs = custom.proc.logs.lock().unwrap().clone();
    assert!(
        logs.iter().all(|l| nsq_log_line("<custom> ").is_match(l)),
        "{logs:?}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_nsqd"))
        .args(["--tcp-address=127.0.0.1:0", "--max-deflate-level=10"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let fatal = err.lines().last().unwrap_or_default();
    assert!(nsq_log_line("[nsqd] ").is_match(fatal), "{err}");
    assert!(
        fatal.ends_with(" FATAL: failed to instantiate nsqd - --max-deflate-level must be [1,9]"),
        "{err}"
    );
}

/// `--log-format=json`: one JSON object per line, for log collectors.
#[test]
fn logs_as_json_lines() {
    let nsqd = Nsqd::start(&["--log-format=json"]);
    assert!(nsqd.proc.wait_log("listening on"));
    for line in nsqd.proc.logs.lock().unwrap().iter() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(
            v["time"].is_string() && v["level"].is_string() && v["msg"].is_string(),
            "{v}"
        );
    }
}
