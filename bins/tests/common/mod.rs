//! Test harness: the real binaries on loopback port 0, raw protocol clients.
#![allow(dead_code)]

use bytes::BytesMut;
use nsq_core::wire::frame::{Frame, FrameDecoder};
use std::io::{BufRead, BufReader, Read as _, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Go NSQ v1.3.0 captures kept in the repository (`testdata/`).
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// A loopback address whose port was free a moment ago (for addresses a
/// test must name but nothing should answer at).
pub fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// A captured Go response (testdata/http-samples): status, headers
/// (lower-case names) and body.
pub fn http_capture(name: &str) -> nsq_bins::http1::Reply {
    let raw = std::fs::read(fixtures().join("http-samples").join(name)).expect(name);
    let split = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("a blank line after the headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    nsq_bins::http1::Reply {
        status,
        headers,
        body: raw[split + 2..].to_vec(),
    }
}

/// A running binary, killed when dropped.
pub struct Proc {
    child: Child,
    pub logs: Arc<Mutex<Vec<String>>>,
    /// What each label logged it listens on (an address, or a unix socket path).
    pub addrs: Vec<(String, String)>,
}

impl Proc {
    /// Starts `bin` and waits until it logged `listening on` for each of `labels`.
    pub fn start(bin: &str, args: &[String], labels: &[&str]) -> Proc {
        let mut child = Command::new(bin)
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                sink.lock().unwrap().push(line);
            }
        });
        let mut addrs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while addrs.len() < labels.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!("{bin} did not start; logs: {:?}", logs.lock().unwrap());
                }
            };
            for label in labels {
                let key = format!("{label}: listening on ");
                if let Some(pos) = line.find(&key) {
                    let addr = line[pos + key.len()..].trim().to_string();
                    addrs.push((label.to_string(), addr));
                }
            }
        }
        Proc { child, logs, addrs }
    }

    pub fn addr(&self, label: &str) -> SocketAddr {
        self.listen_text(label).parse().expect("a listen address")
    }

    /// What `label` listens on, as logged (an address or a unix socket path).
    pub fn listen_text(&self, label: &str) -> String {
        self.addrs
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, a)| a.clone())
            .expect("label")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether a log line containing `needle` arrives within 10 s. Logs are
    /// read from stderr by another thread, so a line the process has
    /// already written may not be in `logs` yet.
    pub fn wait_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.logs.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends a signal and waits for the exit status.
    pub fn signal_and_wait(&mut self, sig: &str) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait")
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nsqd on loopback with a fresh data dir.
pub struct Nsqd {
    pub proc: Proc,
    pub dir: tempfile::TempDir,
}

impl Nsqd {
    pub fn start(extra: &[&str]) -> Nsqd {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, extra)
    }

    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Nsqd {
        let mut args: Vec<String> = vec![
            "--tcp-address=127.0.0.1:0".into(),
            "--http-address=127.0.0.1:0".into(),
            // never the default fixed port, even when a test configures TLS
            "--https-address=127.0.0.1:0".into(),
            format!("--data-path={}", dir.path().display()),
            "--node-id=7".into(),
            "--broadcast-address=127.0.0.1".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let proc = Proc::start(env!("CARGO_BIN_EXE_nsqd"), &args, &["TCP", "HTTP"]);
        Nsqd { proc, dir }
    }

    pub fn tcp(&self) -> SocketAddr {
        self.proc.addr("TCP")
    }

    pub fn http(&self) -> SocketAddr {
        self.proc.addr("HTTP")
    }

    /// A keep-alive HTTP connection to the API.
    /// Where the API listens over TLS (nsqd logs it when a certificate is set).
    pub fn https(&self) -> SocketAddr {
        eventually(Duration::from_secs(10), || {
            self.proc.logs.lock().unwrap().iter().find_map(|l| {
                l.split_once("HTTPS: listening on ")
                    .and_then(|(_, a)| a.trim().parse().ok())
            })
        })
        .expect("nsqd logs its HTTPS address")
    }

    pub fn http_conn(&self) -> nsq_bins::http1::Conn {
        nsq_bins::http1::Conn::connect(self.http()).expect("connect to HTTP")
    }

    /// One request on a fresh connection.
    pub fn http_req(&self, method: &str, path: &str, body: &[u8]) -> nsq_bins::http1::Reply {
        self.http_conn()
            .request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `GET /stats?format=json&...` parsed.
    pub fn stats(&self, query: &str) -> serde_json::Value {
        let r = self.http_req("GET", &format!("/stats?format=json{query}"), b"");
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_slice(&r.body).expect("stats JSON")
    }

    /// A connection that has sent the magic.
    pub fn client(&self) -> Client {
        let mut c = Client::connect(self.tcp());
        c.send(b"  V2");
        c
    }
}

/// A raw protocol client with blocking reads and timeouts.
pub struct Client {
    pub stream: TcpStream,
    buf: BytesMut,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Frame(Frame),
    Closed,
    Timeout,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        Client {
            stream,
            buf: BytesMut::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    pub fn send_with(&mut self, f: impl FnOnce(&mut BytesMut)) {
        let mut b = BytesMut::new();
        f(&mut b);
        self.send(&b);
    }

    pub fn read(&mut self, timeout: Duration) -> Got {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = FrameDecoder::default()
                .decode(&mut self.buf)
                .expect("valid frames")
            {
                return Got::Frame(f);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Got::Timeout;
            }
            self.stream.set_read_timeout(Some(left)).ok();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Got::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Got::Timeout
                }
                Err(_) => return Got::Closed,
            }
        }
    }

    /// The next frame, skipping heartbeats; panics on close or timeout.
    pub fn frame(&mut self) -> Frame {
        loop {
            match self.read(Duration::from_secs(5)) {
                Got::Frame(Frame::Response(b)) if &b[..] == b"_heartbeat_" => continue,
                Got::Frame(f) => return f,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    pub fn response(&mut self) -> String {
        match self.frame() {
            Frame::Response(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("expected a response, got {other:?}"),
        }
    }

    pub fn error(&mut self) -> String {
        match self.frame() {
            Frame::Error(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// The first error frame, skipping responses (e.g. the OK of a SUB).
    pub fn first_error(&mut self) -> String {
        loop {
            match self.frame() {
                Frame::Error(b) => return String::from_utf8_lossy(&b).into_owned(),
                Frame::Response(_) => continue,
                other => panic!("expected an error, got {other:?}"),
            }
        }
    }

    /// The next heartbeat (nothing else may arrive first).
    pub fn heartbeat(&mut self) {
        match self.read(Duration::from_secs(5)) {
            Got::Frame(Frame::Response(b)) if &b[..] == b"_heartbeat_" => {}
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }

    pub fn message(&mut self) -> nsq_core::wire::Message {
        match self.frame() {
            Frame::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// True if the server closes the connection within `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read(deadline.saturating_duration_since(Instant::now())) {
                Got::Closed => return true,
                Got::Timeout => return false,
                Got::Frame(_) => continue,
            }
        }
    }

    /// Closes the write side (the server sees EOF).
    pub fn shutdown_write(&mut self) {
        self.stream.shutdown(std::net::Shutdown::Write).ok();
    }
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// nsqlookupd on loopback.
pub struct Nsqlookupd {
    pub proc: Proc,
}

impl Nsqlookupd {
    /// On fresh ports, broadcasting 127.0.0.1 (as the Go captures did).
    pub fn start(extra: &[&str]) -> Nsqlookupd {
        Self::start_on("127.0.0.1:0", "127.0.0.1:0", extra)
    }

    /// On the given addresses (to restart one where it was).
    pub fn start_on(tcp: &str, http: &str, extra: &[&str]) -> Nsqlookupd {
        let mut args: Vec<String> = vec![
            format!("--tcp-address={tcp}"),
            format!("--http-address={http}"),
            "--broadcast-address=127.0.0.1".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let proc = Proc::start(env!("CARGO_BIN_EXE_nsqlookupd"), &args, &["TCP", "HTTP"]);
        Nsqlookupd { proc }
    }

    pub fn tcp(&self) -> SocketAddr {
        self.proc.addr("TCP")
    }

    pub fn http(&self) -> SocketAddr {
        self.proc.addr("HTTP")
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http_request(self.http(), "GET", path)
    }

    pub fn post(&self, path: &str) -> HttpResponse {
        http_request(self.http(), "POST", path)
    }

    /// A lookup protocol connection that has sent the magic.
    pub fn client(&self) -> LookupClient {
        let mut c = LookupClient::connect(self.tcp());
        c.send(b"  V1");
        c
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Parses a raw answer (status line, headers, blank line, body; `\r\n`
    /// or `\n` line ends; a chunked body is de-chunked).
    pub fn parse(raw: &[u8]) -> HttpResponse {
        let (head, body) = match find(raw, b"\r\n\r\n") {
            Some(i) => (&raw[..i], &raw[i + 4..]),
            None => {
                let i = find(raw, b"\n\n").expect("end of headers");
                (&raw[..i], &raw[i + 2..])
            }
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut r = HttpResponse {
            status,
            headers,
            body: body.to_vec(),
        };
        if r.header("transfer-encoding") == Some("chunked") && raw.windows(2).any(|w| w == b"\r\n")
        {
            r.body = dechunk(body);
        }
        r
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = find(b, b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[i + 2 + size + 2..];
    }
    out
}

/// One HTTP/1.1 request on its own connection.
pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> HttpResponse {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    HttpResponse::parse(&raw)
}

/// What a lookup protocol read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum LookupGot {
    Response(Vec<u8>),
    Closed,
    Timeout,
}

/// A raw lookup protocol V1 client: answers are `[4-byte BE size][data]`.
pub struct LookupClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl LookupClient {
    pub fn connect(addr: SocketAddr) -> LookupClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        LookupClient {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    pub fn read(&mut self, timeout: Duration) -> LookupGot {
        let deadline = Instant::now() + timeout;
        loop {
            if self.buf.len() >= 4 {
                let n = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
                    as usize;
                if self.buf.len() >= 4 + n {
                    let data = self.buf[4..4 + n].to_vec();
                    self.buf.drain(..4 + n);
                    return LookupGot::Response(data);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return LookupGot::Timeout;
            }
            self.stream.set_read_timeout(Some(left)).ok();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return LookupGot::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return LookupGot::Timeout
                }
                Err(_) => return LookupGot::Closed,
            }
        }
    }

    /// The next answer as text; panics on close or timeout.
    pub fn response(&mut self) -> String {
        match self.read(Duration::from_secs(5)) {
            LookupGot::Response(d) => String::from_utf8_lossy(&d).into_owned(),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    /// IDENTIFY as a (fake) nsqd; returns the answer.
    pub fn identify(&mut self, body: &str) -> String {
        self.send(&identify_cmd(body.as_bytes()));
        self.response()
    }

    /// True if the server closes the connection within `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read(deadline.saturating_duration_since(Instant::now())) {
                LookupGot::Closed => return true,
                LookupGot::Timeout => return false,
                LookupGot::Response(_) => continue,
            }
        }
    }
}

/// `IDENTIFY\n[4-byte BE size][body]`.
pub fn identify_cmd(body: &[u8]) -> Vec<u8> {
    let mut v = b"IDENTIFY\n".to_vec();
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.1 request with headers and a body, on its own connection.
pub fn http_send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    s.write_all(body).expect("send body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    HttpResponse::parse(&raw)
}

/// nsqadmin on loopback.
pub struct Nsqadmin {
    pub proc: Proc,
}

impl Nsqadmin {
    /// On a fresh port; `extra` names the cluster (`--lookupd-http-address=...`).
    pub fn start(extra: &[&str]) -> Nsqadmin {
        let mut args: Vec<String> = vec!["--http-address=127.0.0.1:0".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let proc = Proc::start(env!("CARGO_BIN_EXE_nsqadmin"), &args, &["HTTP"]);
        Nsqadmin { proc }
    }

    pub fn http(&self) -> SocketAddr {
        self.proc.addr("HTTP")
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http_send(self.http(), "GET", path, &[], b"")
    }

    /// A request with a JSON body (and optional headers).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> HttpResponse {
        http_send(self.http(), method, path, headers, body.as_bytes())
    }
}
