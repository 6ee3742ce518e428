//! nsqd and nsqlookupd in one process: nsqd follows live changes of its
//! lookupd addresses (what NSQ's `PUT /config/nsqlookupd_tcp_addresses` does).

use nsq_core::lookup::LookupdOptions;
use nsq_core::Options;
use nsq_runtime_tokio::{Nsqd, Nsqlookupd};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn lookupd() -> Nsqlookupd {
    Nsqlookupd::start(LookupdOptions {
        tcp_address: "127.0.0.1:0".into(),
        http_address: "127.0.0.1:0".into(),
        broadcast_address: "127.0.0.1".into(),
        hostname: "test-host".into(),
        ..LookupdOptions::default()
    })
    .await
    .expect("lookupd starts")
}

async fn http_get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// The number of producers of `topic` on lookupd `l`.
async fn producer_count(l: &Nsqlookupd, topic: &str) -> usize {
    let http = l.http_addr().expect("http");
    match http_get(http, &format!("/lookup?topic={topic}")).await {
        (200, v) => v["producers"].as_array().map(Vec::len).unwrap_or(0),
        _ => 0,
    }
}

async fn until(mut f: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..500 {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsqd_follows_live_lookupd_address_changes() {
    let l1 = lookupd().await;
    let l2 = lookupd().await;
    // Memory only: this test is about registration, not the disk.
    let n = Nsqd::start_with(
        Options {
            tcp_address: "127.0.0.1:0".into(),
            http_address: "127.0.0.1:0".into(),
            broadcast_address: "127.0.0.1".into(),
            broadcast_http_port: 4151,
            ..Options::default()
        },
        None,
    )
    .await
    .expect("nsqd starts");
    assert!(n.lookupd_tcp_addresses().is_empty());

    let mut c = TcpStream::connect(n.tcp_addr()).await.unwrap();
    c.write_all(b"  V2PUB t\n\x00\x00\x00\x01m").await.unwrap();
    let mut ok = [0u8; 10];
    c.read_exact(&mut ok).await.unwrap();
    assert_eq!(&ok[8..], b"OK");

    let a1 = l1.tcp_addr().to_string();
    n.set_lookupd_tcp_addresses(vec![a1.clone()]);
    assert_eq!(n.lookupd_tcp_addresses(), vec![a1.clone()]);
    assert!(
        until(async || producer_count(&l1, "t").await == 1).await,
        "registered with l1"
    );
    let l1_http = format!("127.0.0.1:{}", l1.http_addr().unwrap().port());
    assert!(until(async || n.lookupd_http_addresses() == vec![l1_http.clone()]).await);

    // Swap l1 for l2: l1 loses the nsqd, l2 gets everything.
    n.set_lookupd_tcp_addresses(vec![l2.tcp_addr().to_string()]);
    assert!(
        until(async || producer_count(&l2, "t").await == 1).await,
        "registered with l2"
    );
    assert!(
        until(async || producer_count(&l1, "t").await == 0).await,
        "gone from l1"
    );

    n.shutdown().await;
    assert!(
        until(async || producer_count(&l2, "t").await == 0).await,
        "gone after shutdown"
    );
    l1.shutdown().await;
    l2.shutdown().await;
}
