//! The client library against an in-process nsqd on loopback.

use nsq_core::Options;
use nsq_runtime_tokio::client::{
    handler_fn, Config, Consumer, Error, HandlerError, Message, Producer,
};
use nsq_runtime_tokio::Nsqd;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn nsqd() -> Nsqd {
    let opts = Options {
        tcp_address: "127.0.0.1:0".into(),
        http_address: "127.0.0.1:0".into(),
        ..Options::default()
    };
    // Memory only: these tests are about the client, not the disk.
    Nsqd::start_with(opts, None).await.expect("nsqd starts")
}

fn cfg(max_in_flight: i64) -> Config {
    let mut c = Config::new("test-host");
    c.max_in_flight = max_in_flight;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_publishes_all_arrive_on_a_stream() {
    let n = nsqd().await;
    let addr = n.tcp_addr().to_string();
    let p = Producer::new(&addr, cfg(1)).unwrap();
    let mut acks = Vec::new();
    for i in 0..2000 {
        acks.push(
            p.publish_async("t", format!("m{i}").as_bytes())
                .await
                .unwrap(),
        );
    }
    for a in acks {
        a.await.unwrap();
    }
    p.multi_publish("t", &[&b"x"[..], &b"y"[..]]).await.unwrap();
    let c = Consumer::new("t", "ch", cfg(50)).unwrap();
    let mut msgs = c.messages().unwrap();
    c.connect_to_nsqd(&addr).await.unwrap();
    assert!(matches!(
        c.connect_to_nsqd(&addr).await,
        Err(Error::AlreadyConnected)
    ));
    let mut got = BTreeSet::new();
    while got.len() < 2002 {
        let m = tokio::time::timeout(Duration::from_secs(10), msgs.recv())
            .await
            .expect("message in time")
            .expect("stream open");
        assert_eq!(m.attempts(), 1);
        got.insert(m.body().clone());
        m.finish();
    }
    assert_eq!(c.stats().messages_finished, 2002);
    c.stop().await;
    assert!(msgs.recv().await.is_none(), "stream ends after stop");
    p.stop().await;
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_requeue_and_the_message_comes_back() {
    let n = nsqd().await;
    let addr = n.tcp_addr().to_string();
    let p = Producer::new(&addr, cfg(1)).unwrap();
    for i in 0..20 {
        p.publish("h", format!("{i}").as_bytes()).await.unwrap();
    }
    let mut c = cfg(5);
    c.backoff_multiplier = Duration::from_millis(10);
    c.default_requeue_delay = Duration::ZERO;
    let consumer = Consumer::new("h", "ch", c).unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let failures = Arc::new(AtomicUsize::new(0));
    let (s2, f2) = (Arc::clone(&seen), Arc::clone(&failures));
    consumer
        .add_concurrent_handlers(
            handler_fn(move |m: Message| {
                let (seen, failures) = (Arc::clone(&s2), Arc::clone(&f2));
                async move {
                    // every third first attempt fails
                    let v: u32 = std::str::from_utf8(m.body()).unwrap().parse().unwrap();
                    if m.attempts() == 1 && v.is_multiple_of(3) {
                        failures.fetch_add(1, Ordering::Relaxed);
                        return Err::<(), HandlerError>("flaky".into());
                    }
                    seen.lock().unwrap().push(v);
                    Ok(())
                }
            }),
            3,
        )
        .unwrap();
    consumer.connect_to_nsqd(&addr).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "got {:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut all = seen.lock().unwrap().clone();
    all.sort();
    assert_eq!(all, (0..20).collect::<Vec<_>>());
    assert_eq!(failures.load(Ordering::Relaxed), 7);
    assert_eq!(consumer.stats().messages_requeued, 7);
    consumer.stop().await;
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_message_is_requeued_and_bad_input_is_refused() {
    let n = nsqd().await;
    let addr = n.tcp_addr().to_string();
    let p = Producer::new(&addr, cfg(1)).unwrap();
    p.publish("d", b"once").await.unwrap();
    assert!(matches!(
        p.publish("bad topic!", b"x").await,
        Err(Error::Config(_))
    ));
    assert!(matches!(p.publish("d", b"").await, Err(Error::Config(_))));
    let mut c = cfg(1);
    c.default_requeue_delay = Duration::ZERO;
    let consumer = Consumer::new("d", "ch", c).unwrap();
    let mut msgs = consumer.messages().unwrap();
    consumer.connect_to_nsqd(&addr).await.unwrap();
    let m = msgs.recv().await.unwrap();
    assert_eq!(m.attempts(), 1);
    drop(m);
    let m = tokio::time::timeout(Duration::from_secs(10), msgs.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.attempts(), &m.body()[..]), (2, &b"once"[..]));
    m.finish();
    m.requeue(None); // already answered: ignored
    consumer.stop().await;
    assert!(Consumer::new("bad topic", "c", cfg(1)).is_err());
    let mut tls = cfg(1);
    tls.tls_v1 = true;
    assert!(Producer::new(&addr, tls).is_err());
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_an_error_and_a_stopped_producer_refuses() {
    let n = nsqd().await;
    let addr = n.tcp_addr().to_string();
    let consumer = Consumer::new("r", "ch", cfg(1)).unwrap();
    let _msgs = consumer.messages().unwrap();
    assert!(consumer.connect_to_nsqd("127.0.0.1:1").await.is_err());
    let p = Producer::new(&addr, cfg(1)).unwrap();
    p.publish("r", b"1").await.unwrap();
    n.shutdown().await;
    let n2 = nsqd().await;
    let p2 = Producer::new(&n2.tcp_addr().to_string(), cfg(1)).unwrap();
    p2.ping().await.unwrap();
    p2.publish("r", b"2").await.unwrap();
    p2.stop().await;
    assert!(matches!(p2.publish("r", b"3").await, Err(Error::Stopped)));
    n2.shutdown().await;
}

/// nsqlookupd through the `Fetch` seam: answers with the given nsqd.
struct FakeLookupd(String, AtomicUsize);

impl nsq_runtime_tokio::client::http::Fetch for FakeLookupd {
    fn get_v1<'a>(
        &'a self,
        url: &'a str,
    ) -> nsq_runtime_tokio::client::http::BoxFuture<
        'a,
        Result<nsq_runtime_tokio::client::http::HttpResponse, Error>,
    > {
        Box::pin(async move {
            assert_eq!(url, "http://lookupd:4161/lookup?topic=disc");
            self.1.fetch_add(1, Ordering::SeqCst);
            let (host, port) = self.0.rsplit_once(':').unwrap();
            let body = format!(
                r#"{{"channels":[],"producers":[{{"broadcast_address":"{host}","tcp_port":{port}}}]}}"#
            );
            Ok(nsq_runtime_tokio::client::http::HttpResponse {
                status: 200,
                nsq_v1: true,
                body: body.into(),
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_through_lookupd_and_heartbeats_keep_the_connection() {
    let n = nsqd().await;
    let addr = n.tcp_addr().to_string();
    let mut c = cfg(4);
    c.heartbeat_interval = Some(Duration::from_secs(1));
    let lookupd = Arc::new(FakeLookupd(addr.clone(), AtomicUsize::new(0)));
    let consumer = Consumer::with_fetch("disc", "ch", c, Some(lookupd.clone())).unwrap();
    let mut msgs = consumer.messages().unwrap();
    consumer.connect_to_lookupd("lookupd:4161").unwrap();
    let p = Producer::new(&addr, cfg(1)).unwrap();
    p.publish("disc", b"first").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(10), msgs.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.body()[..], b"first");
    assert_eq!(m.nsqd_address(), addr);
    m.finish();
    // idle for more than two heartbeats: nsqd closes clients that do not
    // answer them, and without lookupd polls (60 s) no new one would come
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(consumer.stats().connections, 1);
    // a lost connection would have made the consumer ask lookupd again
    assert_eq!(
        lookupd.1.load(Ordering::SeqCst),
        1,
        "the connection was lost"
    );
    p.publish("disc", b"second").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), msgs.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.body()[..], b"second");
    m.finish();
    consumer.stop().await;
    p.stop().await;
    n.shutdown().await;
}
