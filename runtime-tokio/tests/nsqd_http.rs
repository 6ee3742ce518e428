//! What nsqd's embedder controls through `Nsqd`: health (seen on `/ping`),
//! the nsqlookupd address watch and the log-level hook (driven by
//! `PUT /config/...`).

use nsq_core::api::config::LogLevel;
use nsq_core::Options;
use nsq_runtime_tokio::Nsqd;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn opts() -> Options {
    Options {
        tcp_address: "127.0.0.1:0".into(),
        http_address: "127.0.0.1:0".into(),
        broadcast_address: "127.0.0.1".into(),
        ..Options::default()
    }
}

/// A loopback address whose port was free a moment ago.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// One request on its own connection: (status, body).
async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

#[tokio::test]
async fn health_shows_on_ping_and_stats() {
    let nsqd = Nsqd::start_with(opts(), None).await.unwrap();
    let http = nsqd.http_addr().expect("HTTP is on");
    assert_eq!(call(http, "GET", "/ping", "").await, (200, "OK".into()));
    nsqd.set_health(Some("failed to write to disk".into()));
    assert_eq!(
        call(http, "GET", "/ping", "").await,
        (500, "NOK - failed to write to disk".into())
    );
    let (_, stats) = call(http, "GET", "/stats?format=json", "").await;
    assert!(
        stats.contains(r#""health":"NOK - failed to write to disk""#),
        "{stats}"
    );
    nsqd.set_health(None);
    assert_eq!(call(http, "GET", "/ping", "").await, (200, "OK".into()));
    nsqd.shutdown().await;
}

#[tokio::test]
async fn config_puts_reach_the_embedder() {
    let mut o = opts();
    // A port nothing listens on (a lookupd running on this machine is not ours to register with).
    let lookupd = closed_port();
    o.lookupd_tcp_addresses = vec![lookupd.clone()];
    let nsqd = Nsqd::start_with(o, None).await.unwrap();
    let http = nsqd.http_addr().unwrap();
    let mut watch = nsqd.lookupd_addresses_watch();
    assert_eq!(*watch.borrow_and_update(), vec![lookupd]);
    let (status, _) = call(
        http,
        "PUT",
        "/config/nsqlookupd_tcp_addresses",
        r#"["127.0.0.1:1"]"#,
    )
    .await;
    assert_eq!(status, 200);
    watch.changed().await.unwrap();
    assert_eq!(*watch.borrow(), vec!["127.0.0.1:1".to_string()]);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    nsqd.set_log_level_hook(
        LogLevel::Warn,
        Arc::new(move |l| {
            sink.lock().unwrap().push(l);
            if l == LogLevel::Fatal {
                Err("refused".into())
            } else {
                Ok(())
            }
        }),
    );
    assert_eq!(call(http, "GET", "/config/log_level", "").await.1, "3");
    assert_eq!(
        call(http, "PUT", "/config/log_level", "debug").await,
        (200, "1".into())
    );
    assert_eq!(
        call(http, "PUT", "/config/log_level", "fatal").await,
        (500, r#"{"message":"INTERNAL_ERROR"}"#.into())
    );
    assert_eq!(call(http, "GET", "/config/log_level", "").await.1, "1");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![LogLevel::Debug, LogLevel::Fatal]
    );
    nsqd.shutdown().await;
}

#[tokio::test]
async fn no_http_address_means_no_http() {
    let mut o = opts();
    o.http_address = String::new();
    let nsqd = Nsqd::start_with(o, None).await.unwrap();
    assert_eq!(nsqd.http_addr(), None);
    assert_eq!(nsqd.options().broadcast_http_port, 0);
    nsqd.shutdown().await;
}
