//! A simulated producer: the client library's `Producer` (the code users
//! run) publishing unique bodies to one nsqd, every attempt and answer in
//! the ledger.

use crate::ledger::{Ledger, PubStatus, Published};
use madsim::rand::{thread_rng, Rng};
use nsq_runtime_tokio::client::{Config, Producer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Spec {
    pub name: String,
    pub nsqd: usize,
    pub addr: String,
    pub topic: String,
    /// The channels the topic has (all created before publishing starts).
    pub channels: Vec<String>,
    /// Pause between publishes, in ms.
    pub gap_ms: (u64, u64),
    /// How long to wait for an answer before counting it unknown.
    pub answer_timeout: Duration,
}

/// A unique body: `name:seq:` then seed-drawn bytes (any value, any length).
fn body(name: &str, seq: u64) -> (String, Vec<u8>) {
    let key = format!("{name}:{seq}");
    let mut rng = thread_rng();
    let len = rng.gen_range(0..300);
    let mut b = format!("{key}:").into_bytes();
    b.extend((0..len).map(|_| rng.gen::<u8>()));
    (key, b)
}

/// Publishes until `stop` is set; returns how many publishes it sent.
pub async fn run(spec: Spec, ledger: Arc<Ledger>, stop: Arc<AtomicBool>) -> u64 {
    let mut cfg = Config::new("sim-producer");
    cfg.dial_timeout = Duration::from_secs(1);
    let producer = match Producer::new(&spec.addr, cfg) {
        Ok(p) => p,
        Err(e) => panic!("producer config: {e}"),
    };
    let mut seq = 0u64;
    while !stop.load(Ordering::Acquire) {
        let batch = if thread_rng().gen_bool(0.2) {
            thread_rng().gen_range(2..=5)
        } else {
            1
        };
        let mut keys = Vec::new();
        let mut bodies = Vec::new();
        for _ in 0..batch {
            seq += 1;
            let (key, b) = body(&spec.name, seq);
            ledger.sent(
                &key,
                Published {
                    nsqd: spec.nsqd,
                    topic: spec.topic.clone(),
                    body: b.clone(),
                    status: PubStatus::Sent,
                    channels: spec.channels.clone(),
                },
            );
            keys.push(key);
            bodies.push(b);
        }
        let publish = async {
            if bodies.len() == 1 {
                producer.publish(&spec.topic, &bodies[0]).await
            } else {
                producer.multi_publish(&spec.topic, &bodies).await
            }
        };
        let status = match madsim::time::timeout(spec.answer_timeout, publish).await {
            Ok(Ok(())) => PubStatus::Acked,
            Ok(Err(e)) => PubStatus::Failed(e.to_string()),
            Err(_) => PubStatus::Failed("no answer in time".into()),
        };
        for k in &keys {
            ledger.answered(k, status.clone());
        }
        if status != PubStatus::Acked {
            madsim::time::sleep(Duration::from_millis(100)).await;
        }
        let gap = thread_rng().gen_range(spec.gap_ms.0..=spec.gap_ms.1);
        madsim::time::sleep(Duration::from_millis(gap)).await;
    }
    producer.stop().await;
    seq
}
