//! nsqd's secure and compressed connections and AUTH, against the real
//! binary. The test client uses independent implementations (rustls'
//! blocking stream, `snap`'s and `flate2`'s blocking codecs), so both ends
//! do not share a bug.

#[path = "../../runtime-tokio/tests/support/certs.rs"]
mod certs;
mod common;
mod fake_http;

use bytes::BytesMut;
use common::{identify_cmd, Nsqd};
use fake_http::FakeHttp;
use nsq_core::wire::command::encode;
use nsq_core::wire::frame::{Frame, FrameDecoder};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One layer of the stream, shared by the reading and the writing side.
struct Shared<S>(Rc<RefCell<S>>);

impl<S: Read> Read for Shared<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

impl<S: Write> Write for Shared<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// A protocol V2 client whose stream can be upgraded like go-nsq's.
struct Secure {
    tcp: TcpStream,
    r: Box<dyn Read>,
    w: Box<dyn Write>,
    /// Decoded bytes read ahead (compressed layers only: a blocking
    /// inflater may hold output back until it is asked for a large read).
    ahead: Vec<u8>,
    compressed: bool,
}

impl Secure {
    fn connect(addr: SocketAddr) -> Secure {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let shared = Rc::new(RefCell::new(tcp.try_clone().unwrap()));
        let mut s = Secure {
            tcp,
            r: Box::new(Shared(Rc::clone(&shared))),
            w: Box::new(Shared(shared)),
            ahead: Vec::new(),
            compressed: false,
        };
        s.send(b"  V2");
        s
    }

    fn send(&mut self, b: &[u8]) {
        self.w.write_all(b).unwrap();
        self.w.flush().unwrap();
    }

    fn send_with(&mut self, f: impl FnOnce(&mut BytesMut)) {
        let mut b = BytesMut::new();
        f(&mut b);
        self.send(&b);
    }

    /// Exactly one frame (never reads past it: what follows may belong to
    /// an upgraded stream).
    fn read_exact(&mut self, out: &mut [u8]) -> std::io::Result<()> {
        if !self.compressed {
            return self.r.read_exact(out);
        }
        while self.ahead.len() < out.len() {
            let mut chunk = vec![0u8; 1 << 16];
            match self.r.read(&mut chunk)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => self.ahead.extend_from_slice(&chunk[..n]),
            }
        }
        out.copy_from_slice(&self.ahead[..out.len()]);
        self.ahead.drain(..out.len());
        Ok(())
    }

    fn try_frame(&mut self) -> std::io::Result<Frame> {
        loop {
            let mut size = [0u8; 4];
            self.read_exact(&mut size)?;
            let mut raw = size.to_vec();
            raw.resize(4 + u32::from_be_bytes(size) as usize, 0);
            self.read_exact(&mut raw[4..])?;
            let f = FrameDecoder::default()
                .decode(&mut BytesMut::from(&raw[..]))
                .unwrap()
                .unwrap();
            if !matches!(&f, Frame::Response(b) if &b[..] == b"_heartbeat_") {
                return Ok(f);
            }
        }
    }

    fn frame(&mut self) -> Frame {
        self.try_frame().expect("a frame")
    }

    fn response(&mut self) -> String {
        match self.frame() {
            Frame::Response(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("expected a response, got {other:?}"),
        }
    }

    fn error(&mut self) -> String {
        match self.frame() {
            Frame::Error(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn identify(&mut self, json: &str) -> serde_json::Value {
        self.send(&identify_cmd(json.as_bytes()));
        serde_json::from_str(&self.response()).unwrap()
    }

    fn upgrade_tls(&mut self, config: Arc<rustls::ClientConfig>) -> std::io::Result<()> {
        let conn = rustls::ClientConnection::new(config, "127.0.0.1".try_into().unwrap())
            .map_err(std::io::Error::other)?;
        let stream = rustls::StreamOwned::new(conn, self.tcp.try_clone()?);
        let shared = Rc::new(RefCell::new(stream));
        self.r = Box::new(Shared(Rc::clone(&shared)));
        self.w = Box::new(Shared(shared));
        self.expect_ok()
    }

    fn upgrade_snappy(&mut self) {
        let r = std::mem::replace(&mut self.r, Box::new(std::io::empty()));
        let w = std::mem::replace(&mut self.w, Box::new(std::io::sink()));
        self.r = Box::new(snap::read::FrameDecoder::new(r));
        self.w = Box::new(snap::write::FrameEncoder::new(w));
        self.compressed = true;
        self.expect_ok().unwrap();
    }

    fn upgrade_deflate(&mut self, level: u32) {
        let r = std::mem::replace(&mut self.r, Box::new(std::io::empty()));
        let w = std::mem::replace(&mut self.w, Box::new(std::io::sink()));
        self.r = Box::new(flate2::read::DeflateDecoder::new(r));
        self.w = Box::new(flate2::write::DeflateEncoder::new(
            w,
            flate2::Compression::new(level),
        ));
        self.compressed = true;
        self.expect_ok().unwrap();
    }

    fn expect_ok(&mut self) -> std::io::Result<()> {
        match self.try_frame()? {
            Frame::Response(b) if &b[..] == b"OK" => Ok(()),
            other => panic!("expected OK, got {other:?}"),
        }
    }

    /// True if nsqd closes the connection (reads on the raw socket).
    fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.tcp.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
                Err(_) => return true,
            }
        }
    }
}

fn tls_client(ca: Option<&certs::Ca>, cert: Option<&certs::Pair>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = ca {
        for c in CertificateDer::pem_file_iter(&ca.pem).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match cert {
        Some(p) => b
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(&p.cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(&p.key).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    })
}

struct Pki {
    dir: tempfile::TempDir,
    ca: certs::Ca,
    server: certs::Pair,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca");
    let server = ca.server(dir.path());
    Pki { dir, ca, server }
}

fn tls_nsqd(pki: &Pki, extra: &[&str]) -> Nsqd {
    let mut args = vec![
        format!("--tls-cert={}", pki.server.cert_s()),
        format!("--tls-key={}", pki.server.key_s()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Nsqd::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

const FEATURES: &str = r#""feature_negotiation":true,"client_id":"test","hostname":"test.host""#;

#[test]
fn tls_then_snappy_then_deflate_publish_and_consume() {
    let pki = pki();
    let nsqd = tls_nsqd(&pki, &[]);
    let tls = tls_client(Some(&pki.ca), None);

    // a consumer over TLS + deflate
    let mut sub = Secure::connect(nsqd.tcp());
    let ans = sub.identify(&format!(
        r#"{{{FEATURES},"tls_v1":true,"deflate":true,"deflate_level":3}}"#
    ));
    assert_eq!(ans["tls_v1"], true);
    assert_eq!(ans["deflate"], true);
    assert_eq!(ans["deflate_level"], 3);
    assert_eq!(ans["snappy"], false);
    sub.upgrade_tls(Arc::clone(&tls)).unwrap();
    sub.upgrade_deflate(3);
    sub.send_with(|b| encode::sub(b, "secure", "ch"));
    assert_eq!(sub.response(), "OK");
    sub.send_with(|b| encode::rdy(b, 100));

    // a publisher over TLS + snappy
    let mut p = Secure::connect(nsqd.tcp());
    let ans = p.identify(&format!(r#"{{{FEATURES},"tls_v1":true,"snappy":true}}"#));
    assert_eq!(
        (ans["tls_v1"].as_bool(), ans["snappy"].as_bool()),
        (Some(true), Some(true))
    );
    p.upgrade_tls(Arc::clone(&tls)).unwrap();
    p.upgrade_snappy();
    let big = "snappy ".repeat(20_000);
    p.send_with(|b| encode::publish(b, "secure", big.as_bytes()));
    assert_eq!(p.response(), "OK");
    p.send_with(|b| encode::mpub(b, "secure", &[&b"one"[..], &b"two"[..]]));
    assert_eq!(p.response(), "OK");

    // plain snappy and plain deflate publishers
    let mut s = Secure::connect(nsqd.tcp());
    assert_eq!(
        s.identify(&format!(r#"{{{FEATURES},"snappy":true}}"#))["tls_v1"],
        false
    );
    s.upgrade_snappy();
    s.send_with(|b| encode::publish(b, "secure", b"from snappy"));
    assert_eq!(s.response(), "OK");
    let mut d = Secure::connect(nsqd.tcp());
    d.identify(&format!(r#"{{{FEATURES},"deflate":true}}"#));
    d.upgrade_deflate(6);
    d.send_with(|b| encode::publish(b, "secure", b"from deflate"));
    assert_eq!(d.response(), "OK");

    let mut got = Vec::new();
    for _ in 0..5 {
        match sub.frame() {
            Frame::Message(m) => {
                sub.send_with(|b| encode::fin(b, &m.id));
                got.push(String::from_utf8_lossy(&m.body).into_owned());
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
    got.sort();
    let mut want = vec![
        big.clone(),
        "one".into(),
        "two".into(),
        "from snappy".into(),
        "from deflate".into(),
    ];
    want.sort();
    assert_eq!(got, want);
    // heartbeats and everything else keep flowing compressed
    sub.send_with(encode::nop);
    p.send_with(|b| encode::publish(b, "secure", b"after"));
    assert_eq!(p.response(), "OK");
    assert!(matches!(sub.frame(), Frame::Message(m) if &m.body[..] == b"after"));
}

#[test]
fn snappy_and_deflate_together_are_refused() {
    let nsqd = Nsqd::start(&[]);
    let mut c = Secure::connect(nsqd.tcp());
    c.send(&identify_cmd(
        format!(r#"{{{FEATURES},"snappy":true,"deflate":true}}"#).as_bytes(),
    ));
    assert_eq!(
        c.error(),
        "E_IDENTIFY_FAILED cannot enable both deflate and snappy compression"
    );
    assert!(c.closed());
}

#[test]
fn disabled_compression_is_not_negotiated() {
    let nsqd = Nsqd::start(&["--snappy=false", "--deflate=false"]);
    let mut c = Secure::connect(nsqd.tcp());
    let ans = c.identify(&format!(r#"{{{FEATURES},"snappy":true,"tls_v1":true}}"#));
    assert_eq!(
        (ans["snappy"].as_bool(), ans["tls_v1"].as_bool()),
        (Some(false), Some(false))
    );
    // the stream stays plain
    c.send_with(|b| encode::publish(b, "t", b"x"));
    assert_eq!(c.response(), "OK");
}

#[test]
fn tls_required_refuses_commands_before_the_upgrade() {
    let pki = pki();
    let nsqd = tls_nsqd(&pki, &["--tls-required"]);
    let mut c = Secure::connect(nsqd.tcp());
    c.send_with(|b| encode::publish(b, "t", b"x"));
    assert_eq!(
        c.error(),
        "E_INVALID cannot PUB in current state (TLS required)"
    );
    assert!(c.closed());

    // IDENTIFY is allowed, and after the upgrade so is everything else
    let mut c = Secure::connect(nsqd.tcp());
    c.identify(&format!(r#"{{{FEATURES},"tls_v1":true}}"#));
    c.upgrade_tls(tls_client(Some(&pki.ca), None)).unwrap();
    c.send_with(|b| encode::publish(b, "t", b"x"));
    assert_eq!(c.response(), "OK");
}

#[test]
fn require_verify_rejects_wrong_and_missing_client_certificates() {
    let pki = pki();
    let other = certs::Ca::new(pki.dir.path(), "other");
    let good = pki.ca.client(pki.dir.path(), "good");
    let stranger = other.client(pki.dir.path(), "stranger");
    let nsqd = tls_nsqd(
        &pki,
        &[
            "--tls-client-auth-policy=require-verify",
            &format!("--tls-root-ca-file={}", pki.ca.pem_s()),
        ],
    );
    let attempt = |cert: Option<&certs::Pair>| {
        let mut c = Secure::connect(nsqd.tcp());
        let ans = c.identify(&format!(r#"{{{FEATURES},"tls_v1":true}}"#));
        assert_eq!(ans["tls_v1"], true);
        let ok = c
            .upgrade_tls(tls_client(Some(&pki.ca), cert))
            .and_then(|_| {
                c.send_with(|b| encode::publish(b, "t", b"x"));
                c.try_frame()
            });
        matches!(ok, Ok(Frame::Response(b)) if &b[..] == b"OK")
    };
    assert!(!attempt(None), "no client certificate");
    assert!(!attempt(Some(&stranger)), "a certificate of another CA");
    assert!(attempt(Some(&good)));
    // the policy implies --tls-required
    let mut c = Secure::connect(nsqd.tcp());
    c.send_with(|b| encode::publish(b, "t", b"x"));
    assert_eq!(
        c.error(),
        "E_INVALID cannot PUB in current state (TLS required)"
    );
}

#[test]
fn a_server_certificate_from_another_ca_fails_the_client() {
    let pki = pki();
    let other = certs::Ca::new(pki.dir.path(), "other");
    let nsqd = tls_nsqd(&pki, &[]);
    let mut c = Secure::connect(nsqd.tcp());
    c.identify(&format!(r#"{{{FEATURES},"tls_v1":true}}"#));
    assert!(c.upgrade_tls(tls_client(Some(&other), None)).is_err());
    // nsqd is fine
    let mut c = Secure::connect(nsqd.tcp());
    c.send_with(|b| encode::publish(b, "t", b"x"));
    assert_eq!(c.response(), "OK");
}

/// A client that presents `cert` whatever it is (rustls' own
/// `with_client_auth_cert` refuses X.509 v1 certificates).
fn tls_client_presenting(ca: &certs::Ca, cert: &certs::Pair) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::sign::CertifiedKey;
    #[derive(Debug)]
    struct Always(Arc<CertifiedKey>);
    impl rustls::client::ResolvesClientCert for Always {
        fn resolve(&self, _: &[&[u8]], _: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
            Some(Arc::clone(&self.0))
        }
        fn has_certs(&self) -> bool {
            true
        }
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert.cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = rustls::crypto::ring::sign::any_supported_type(
        &PrivateKeyDer::from_pem_file(&cert.key).unwrap(),
    )
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&ca.pem).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_cert_resolver(Arc::new(Always(Arc::new(CertifiedKey::new(chain, key))))),
    )
}

/// Go serves an X.509 version 1 server certificate (rustls' usual key
/// check refuses it: nsqd failed to start with UnsupportedCertVersion).
#[test]
fn an_x509_v1_server_certificate_is_served() {
    let pki = pki();
    let v1 = pki.ca.v1(pki.dir.path(), "nsqd");
    let nsqd = Nsqd::start(&[
        &format!("--tls-cert={}", v1.cert_s()),
        &format!("--tls-key={}", v1.key_s()),
    ]);
    // go-nsq's tls_insecure_skip_verify (a v1 certificate has no names to check)
    let tls = nsq_runtime_tokio::tls::client_config("", true, "", "", "").unwrap();
    let mut c = Secure::connect(nsqd.tcp());
    c.identify(&format!(r#"{{{FEATURES},"tls_v1":true}}"#));
    c.upgrade_tls(tls).unwrap();
    c.send_with(|b| encode::publish(b, "t", b"x"));
    assert_eq!(c.response(), "OK");
    // a key that is not the certificate's is still refused
    let other = pki.ca.v1(pki.dir.path(), "other");
    nsqd_fails_with(
        &[
            &format!("--tls-cert={}", v1.cert_s()),
            &format!("--tls-key={}", other.key_s()),
        ],
        "private key does not match public key",
    );
}

/// Go verifies X.509 version 1 client certificates under require-verify
/// (a v1 leaf under a trusted root), and takes any under require.
#[test]
fn x509_v1_client_certificates_as_go_takes_them() {
    let pki = pki();
    let other = certs::Ca::new(pki.dir.path(), "other");
    let good = pki.ca.v1(pki.dir.path(), "good");
    let stranger = other.v1(pki.dir.path(), "stranger");
    let attempt = |nsqd: &Nsqd, cert: &certs::Pair| {
        let mut c = Secure::connect(nsqd.tcp());
        c.identify(&format!(r#"{{{FEATURES},"tls_v1":true}}"#));
        let ok = c
            .upgrade_tls(tls_client_presenting(&pki.ca, cert))
            .and_then(|_| {
                c.send_with(|b| encode::publish(b, "t", b"x"));
                c.try_frame()
            });
        matches!(ok, Ok(Frame::Response(b)) if &b[..] == b"OK")
    };
    let verify = tls_nsqd(
        &pki,
        &[
            "--tls-client-auth-policy=require-verify",
            &format!("--tls-root-ca-file={}", pki.ca.pem_s()),
        ],
    );
    assert!(attempt(&verify, &good));
    assert!(
        !attempt(&verify, &stranger),
        "a v1 certificate of another CA"
    );
    let any = tls_nsqd(&pki, &["--tls-client-auth-policy=require"]);
    assert!(attempt(&any, &stranger));
}

fn nsqd_fails_with(args: &[&str], want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nsqd"))
        .args([
            "--tcp-address=127.0.0.1:0",
            "--http-address=127.0.0.1:0",
            &format!("--data-path={}", dir.path().display()),
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(want), "{err}");
}

#[test]
fn startup_checks() {
    nsqd_fails_with(
        &["--tls-required"],
        "cannot require TLS client connections without TLS key and cert",
    );
    nsqd_fails_with(
        &["--tls-client-auth-policy=require"],
        "cannot require TLS client connections without TLS key and cert",
    );
    nsqd_fails_with(
        &["--tls-cert=/nonexistent.pem", "--tls-key=/nonexistent.key"],
        "failed to build TLS config",
    );
    nsqd_fails_with(
        &["--auth-http-request-method=put"],
        "--auth-http-request-method must be post or get",
    );
}

/// An auth server that records what it was asked and grants SUB on
/// `allowed` of topic `t` only.
fn auth_server(grant: &'static str) -> (FakeHttp, Arc<Mutex<Vec<fake_http::Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = FakeHttp::start(move |req| {
        log.lock().unwrap().push(req.clone());
        (200, vec![], grant.as_bytes().to_vec())
    });
    (server, seen)
}

const SUB_ONE_CHANNEL: &str = r#"{"ttl":3600,"identity":"alice","identity_url":"http://auth/alice","authorizations":[{"topic":"^t$","channels":["^allowed$"],"permissions":["subscribe"]}]}"#;

#[test]
fn an_auth_server_grants_sub_on_one_channel_only() {
    let (authd, seen) = auth_server(SUB_ONE_CHANNEL);
    let nsqd = Nsqd::start(&[&format!("--auth-http-address={}", authd.addr)]);

    let mut c = Secure::connect(nsqd.tcp());
    let ans = c.identify(&format!("{{{FEATURES}}}"));
    assert_eq!(ans["auth_required"], true);
    c.send_with(|b| encode::sub(b, "t", "allowed"));
    assert_eq!(c.error(), "E_AUTH_FIRST AUTH required before SUB");
    assert!(c.closed());

    let authed = || {
        let mut c = Secure::connect(nsqd.tcp());
        c.identify(&format!("{{{FEATURES}}}"));
        c.send_with(|b| encode::auth(b, b"open sesame"));
        let ans: serde_json::Value = serde_json::from_str(&c.response()).unwrap();
        assert_eq!(
            ans,
            serde_json::json!({"identity":"alice","identity_url":"http://auth/alice","permission_count":1})
        );
        c
    };
    let mut c = authed();
    c.send_with(|b| encode::sub(b, "t", "other"));
    assert_eq!(
        c.error(),
        r#"E_UNAUTHORIZED AUTH failed for SUB on "t" "other""#
    );
    assert!(c.closed());
    let mut c = authed();
    c.send_with(|b| encode::publish(b, "t", b"x"));
    assert_eq!(c.error(), r#"E_UNAUTHORIZED AUTH failed for PUB on "t" """#);
    let mut c = authed();
    c.send(b"MPUB t\n");
    assert_eq!(
        c.error(),
        r#"E_UNAUTHORIZED AUTH failed for MPUB on "t" """#,
        "before the body"
    );
    let mut c = authed();
    c.send_with(|b| encode::auth(b, b"again"));
    assert_eq!(c.error(), "E_INVALID AUTH already set");
    let mut c = authed();
    c.send_with(|b| encode::sub(b, "t", "allowed"));
    assert_eq!(c.response(), "OK");

    let seen = seen.lock().unwrap();
    let q = &seen[0];
    assert_eq!(q.method, "GET");
    assert_eq!(
        q.target,
        "/auth?common_name=&remote_ip=127.0.0.1&secret=open+sesame&tls=false"
    );
    assert_eq!(q.header("accept"), Some("application/vnd.nsq; version=1.0"));
}

#[test]
fn auth_by_post_over_tls_tells_the_client_certificate_cn() {
    let (authd, seen) = auth_server(SUB_ONE_CHANNEL);
    let pki = pki();
    let client = pki.ca.client(pki.dir.path(), "worker one");
    let nsqd = tls_nsqd(
        &pki,
        &[
            &format!("--auth-http-address=http://{}/v1/check", authd.addr),
            "--auth-http-request-method=post",
            "--tls-client-auth-policy=require",
        ],
    );
    let mut c = Secure::connect(nsqd.tcp());
    c.identify(&format!(r#"{{{FEATURES},"tls_v1":true}}"#));
    c.upgrade_tls(tls_client(Some(&pki.ca), Some(&client)))
        .unwrap();
    c.send_with(|b| encode::auth(b, b"s"));
    assert!(c.response().contains("alice"));
    let seen = seen.lock().unwrap();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/v1/check")
    );
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"common_name":["worker one"],"remote_ip":["127.0.0.1"],"secret":["s"],"tls":["true"]})
    );
}

#[test]
fn auth_server_down_fails_auth_and_nothing_crashes() {
    // a port nothing listens on
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let (authd, _) = auth_server(SUB_ONE_CHANNEL);
    let nsqd = Nsqd::start(&[
        &format!("--auth-http-address={addr}"),
        "--http-client-connect-timeout=1s",
    ]);
    for _ in 0..3 {
        let mut c = Secure::connect(nsqd.tcp());
        c.identify(&format!("{{{FEATURES}}}"));
        c.send_with(|b| encode::auth(b, b"s"));
        // NSQ does not tell the client why: the reason may name servers
        assert_eq!(c.error(), "E_AUTH_FAILED AUTH failed");
        assert!(c.closed());
    }
    assert!(
        nsqd.proc
            .wait_log(&format!("failed to auth against {addr}")),
        "{}",
        nsqd.proc.logs.lock().unwrap().join("\n")
    );
    // still serving
    let mut c = Secure::connect(nsqd.tcp());
    c.send_with(|b| encode::publish(b, "t", b"x"));
    assert_eq!(c.error(), "E_AUTH_FIRST AUTH required before PUB");

    // with a second server that works, every AUTH succeeds
    let nsqd = Nsqd::start(&[
        &format!("--auth-http-address={addr}"),
        &format!("--auth-http-address={}", authd.addr),
    ]);
    for _ in 0..4 {
        let mut c = Secure::connect(nsqd.tcp());
        c.identify(&format!("{{{FEATURES}}}"));
        c.send_with(|b| encode::auth(b, b"s"));
        assert!(c.response().contains("alice"));
    }
}

#[test]
fn garbage_inside_a_compressed_stream_closes_only_that_connection() {
    let nsqd = Nsqd::start(&[]);
    let mut consumer = Secure::connect(nsqd.tcp());
    consumer.identify(&format!("{{{FEATURES}}}"));
    consumer.send_with(|b| encode::sub(b, "g", "ch"));
    assert_eq!(consumer.response(), "OK");
    consumer.send_with(|b| encode::rdy(b, 10));

    for (feature, garbage) in [
        ("snappy", &b"\x00\x08\x00\x00\xde\xad\xbe\xefjunk"[..]),
        ("snappy", &b"not a snappy stream at all"[..]),
        ("deflate", &[0xffu8; 32][..]),
    ] {
        let mut c = Secure::connect(nsqd.tcp());
        c.identify(&format!(r#"{{{FEATURES},"{feature}":true}}"#));
        if feature == "snappy" {
            c.upgrade_snappy();
        } else {
            c.upgrade_deflate(6);
        }
        // a valid command first, then bytes the decoder cannot take
        c.send_with(|b| encode::publish(b, "g", feature.as_bytes()));
        assert_eq!(c.response(), "OK");
        c.tcp.write_all(garbage).unwrap();
        assert!(c.closed(), "{feature}: connection closed");
        match consumer.frame() {
            Frame::Message(m) => {
                assert_eq!(&m.body[..], feature.as_bytes());
                consumer.send_with(|b| encode::fin(b, &m.id));
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
    let mut p = Secure::connect(nsqd.tcp());
    p.send_with(|b| encode::publish(b, "g", b"still here"));
    assert_eq!(p.response(), "OK");
    assert!(matches!(consumer.frame(), Frame::Message(m) if &m.body[..] == b"still here"));
}

/// One HTTP/1.1 GET over TLS; (status, body).
fn https_get(addr: std::net::SocketAddr, ca: &certs::Ca, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let conn =
        rustls::ClientConnection::new(tls_client(Some(ca), None), "localhost".try_into().unwrap())
            .unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_http_api_is_served_over_https_and_plain_http_points_there() {
    let pki = pki();
    let nsqd = tls_nsqd(&pki, &["--tls-required=true"]);
    let https = nsqd.https();
    assert_eq!(https_get(https, &pki.ca, "/ping"), (200, "OK".to_string()));
    let (status, stats) = https_get(https, &pki.ca, "/stats?format=json");
    assert_eq!(status, 200);
    assert!(stats.contains(r#""version":"1.3.0""#), "{stats}");
    // plain HTTP is refused with NSQ's answer naming the HTTPS port
    let r = nsqd.http_req("GET", "/ping", b"");
    assert_eq!(r.status, 403);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!(
            r#"{{"message": "TLS_REQUIRED", "https_port": {}}}"#,
            https.port()
        )
    );
}
