//! The HTTPS helpers nsqd's HTTP server wires in: a Router served over TLS,
//! and the plain listener's answer under `--tls-required=true`.

#[path = "support/certs.rs"]
mod certs;

use axum::routing::get;
use axum::Router;
use nsq_core::Options;
use nsq_runtime_tokio::tls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_over_tls_and_the_tls_required_answer() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca");
    let server = ca.server(dir.path());
    let opts = Options {
        tls_cert: server.cert_s(),
        tls_key: server.key_s(),
        ..Options::default()
    };
    let config = tls::server_config(&opts).unwrap().expect("configured");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/ping", get(|| async { "OK" }));
    let task = tls::serve_https(listener, config, router, "HTTPS");

    // a client that never finishes its handshake does not hold up others
    let _stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
    let client = tls::client_config(&ca.pem_s(), false, "", "", "").unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut s = tls::connect(client, "127.0.0.1", Box::new(tcp))
        .await
        .unwrap();
    s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("OK"), "{answer}");
    task.abort();

    // plain HTTP under --tls-required=true
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let paddr = plain.local_addr().unwrap();
    let task = nsq_runtime_tokio::http_api::serve(
        nsq_runtime_tokio::listen::Listener::Tcp(plain),
        tls::tls_required_router(4152),
        "HTTP",
    );
    let mut s = tokio::net::TcpStream::connect(paddr).await.unwrap();
    s.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains("x-nsq-content-type: nsq; version=1.0"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"message": "TLS_REQUIRED", "https_port": 4152}"#),
        "{answer}"
    );
    task.abort();
}

#[test]
fn bad_tls_settings_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca");
    let server = ca.server(dir.path());
    let base = Options {
        tls_cert: server.cert_s(),
        tls_key: server.key_s(),
        ..Options::default()
    };
    let o = Options {
        tls_client_auth_policy: "require-verify".into(),
        ..base.clone()
    };
    assert!(tls::server_config(&o)
        .unwrap_err()
        .contains("--tls-root-ca-file"));
    let o = Options {
        tls_root_ca_file: server.key_s(),
        ..base.clone()
    };
    assert!(tls::server_config(&o).is_err(), "a key is not a CA");
    let o = Options {
        tls_key: server.cert_s(),
        ..base.clone()
    };
    assert!(
        tls::server_config(&o).is_err(),
        "a certificate is not a key"
    );
    assert!(tls::server_config(&Options::default()).unwrap().is_none());
    let der = std::fs::read_to_string(&server.cert).unwrap();
    let der = rustls_pem_to_der(&der);
    assert_eq!(tls::common_name(&der).as_deref(), Some("nsqd"));
    assert_eq!(tls::common_name(b"garbage"), None);
}

fn rustls_pem_to_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}
