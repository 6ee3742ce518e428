//! The client library over TLS, snappy and deflate against an in-process
//! nsqd (the same stream wrappers on both ends; bins/tests/tls_auth.rs
//! checks nsqd against independent implementations).

#[path = "support/certs.rs"]
mod certs;

use nsq_core::Options;
use nsq_runtime_tokio::client::{Config, Consumer, Error, Producer};
use nsq_runtime_tokio::Nsqd;
use std::collections::BTreeSet;
use std::time::Duration;

async fn nsqd(server: &certs::Pair, extra: impl FnOnce(&mut Options)) -> Nsqd {
    let mut opts = Options {
        tcp_address: "127.0.0.1:0".into(),
        http_address: "127.0.0.1:0".into(),
        https_address: "127.0.0.1:0".into(),
        tls_cert: server.cert_s(),
        tls_key: server.key_s(),
        ..Options::default()
    };
    extra(&mut opts);
    Nsqd::start_with(opts, None).await.expect("nsqd starts")
}

fn cfg(flags: &[&str]) -> Config {
    let mut c = Config::new("test-host");
    c.max_in_flight = 100;
    for f in flags {
        c.set_flag(f).unwrap();
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_snappy_and_with_deflate_carry_messages() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca");
    let server = ca.server(dir.path());
    let n = nsqd(&server, |_| {}).await;
    let addr = n.tcp_addr().to_string();
    let root = format!("tls_root_ca_file,{}", ca.pem_s());
    let p = Producer::new(&addr, cfg(&["tls_v1", &root, "snappy"])).unwrap();
    let bodies: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("message {i} ").repeat(1 + i % 50).into_bytes())
        .collect();
    for b in &bodies {
        p.publish("secure", b).await.unwrap();
    }
    p.multi_publish("secure", &[&b"last-a"[..], &b"last-b"[..]])
        .await
        .unwrap();
    let infos = n.conn_infos();
    assert_eq!(infos.len(), 1);
    let info = &infos[0].1;
    let tls = info.tls.as_ref().expect("the connection is TLS");
    assert!(info.snappy && !info.deflate, "{info:?}");
    assert_eq!(tls.version, "TLS1.3");
    // NSQ v1.3.0's table has no TLS 1.3 suite names
    assert!(tls.cipher_suite.starts_with("Unknown 48"), "{info:?}");

    let c = Consumer::new(
        "secure",
        "ch",
        cfg(&["tls_v1", &root, "deflate", "deflate_level,5"]),
    )
    .unwrap();
    let mut msgs = c.messages().unwrap();
    c.connect_to_nsqd(&addr).await.unwrap();
    let mut got = BTreeSet::new();
    while got.len() < bodies.len() + 2 {
        let m = tokio::time::timeout(Duration::from_secs(10), msgs.recv())
            .await
            .expect("message in time")
            .expect("stream open");
        got.insert(m.body().to_vec());
        m.finish();
    }
    let mut want: BTreeSet<Vec<u8>> = bodies.into_iter().collect();
    want.insert(b"last-a".to_vec());
    want.insert(b"last-b".to_vec());
    assert_eq!(got, want);
    c.stop().await;
    p.stop().await;
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_certificate_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca");
    let other = certs::Ca::new(dir.path(), "other");
    let server = ca.server(dir.path());
    let n = nsqd(&server, |_| {}).await;
    let addr = n.tcp_addr().to_string();
    let wrong = format!("tls_root_ca_file,{}", other.pem_s());
    let p = Producer::new(&addr, cfg(&["tls_v1", &wrong])).unwrap();
    let e = p.publish("t", b"x").await.unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    // go-nsq's tls_insecure_skip_verify accepts any certificate
    let p = Producer::new(&addr, cfg(&["tls_v1", "tls_insecure_skip_verify"])).unwrap();
    p.publish("t", b"x").await.unwrap();
    p.stop().await;
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_under_require_verify() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca");
    let server = ca.server(dir.path());
    let client = ca.client(dir.path(), "worker");
    let n = nsqd(&server, |o| {
        o.tls_client_auth_policy = "require-verify".into();
        o.tls_root_ca_file = ca.pem_s();
    })
    .await;
    let addr = n.tcp_addr().to_string();
    let root = format!("tls_root_ca_file,{}", ca.pem_s());
    let with_cert = [
        "tls_v1",
        &root,
        &format!("tls_cert,{}", client.cert_s()),
        &format!("tls_key,{}", client.key_s()),
    ]
    .map(String::from);
    let p = Producer::new(
        &addr,
        cfg(&with_cert.iter().map(String::as_str).collect::<Vec<_>>()),
    )
    .unwrap();
    p.publish("t", b"x").await.unwrap();
    p.stop().await;
    let p = Producer::new(&addr, cfg(&["tls_v1", &root])).unwrap();
    assert!(p.publish("t", b"x").await.is_err(), "no client certificate");
    p.stop().await;
    n.shutdown().await;
}
