//! A simulated consumer on the bare protocol: one connection to one nsqd,
//! reconnecting whenever it is lost, reporting every frame to the ledger,
//! and finishing, requeueing or ignoring (letting time out) each message as
//! its seed-drawn behaviour says.

use crate::ledger::{ConnInfo, Ledger};
use madsim::rand::{thread_rng, Rng};
use madsim::task::NodeId;
use nsq_core::wire::command::encode;
use nsq_core::wire::frame::Frame;
use nsq_core::wire::MessageId;
use nsq_runtime_sim::wire;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How a consumer treats messages (drawn per consumer from the seed).
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub rdy: usize,
    /// Time spent "processing" a message before answering, in ms.
    pub work_ms: (u64, u64),
    /// Chance of REQ instead of FIN.
    pub requeue: f64,
    /// Chance of never answering (the message times out).
    pub ignore: f64,
    /// Chance of requeueing for 5 to 20 s (the message is held deferred).
    pub long_requeue: f64,
    /// Stops reading its socket for a while (its connection alive: it
    /// still sends NOPs), with a large RDY: nsqd must not hold more for it
    /// than its bound.
    pub stalls: bool,
}

impl Behaviour {
    /// A random behaviour; `lossy` allows ignoring messages, `long` long
    /// requeues, `stall` stalling.
    pub fn draw(lossy: bool, long: bool, stall: bool) -> Behaviour {
        let mut rng = thread_rng();
        let stalls = stall && rng.gen_bool(0.3);
        Behaviour {
            stalls,
            long_requeue: if long && rng.gen_bool(0.5) { 0.02 } else { 0.0 },
            rdy: if stalls { 500 } else { rng.gen_range(1..=4) },
            work_ms: (0, rng.gen_range(1..200)),
            requeue: if rng.gen_bool(0.5) { 0.05 } else { 0.0 },
            ignore: if lossy && rng.gen_bool(0.5) {
                0.03
            } else {
                0.0
            },
        }
    }

    /// Finishes everything quickly (used once faults stop, to drain).
    pub fn diligent(rdy: usize) -> Behaviour {
        Behaviour {
            rdy,
            work_ms: (0, 20),
            requeue: 0.0,
            ignore: 0.0,
            long_requeue: 0.0,
            stalls: false,
        }
    }
}

/// Where a consumer connects and what it subscribes to.
#[derive(Clone)]
pub struct Spec {
    pub nsqd: usize,
    pub addr: SocketAddr,
    pub nsqd_node: NodeId,
    pub client_node: NodeId,
    pub incarnation: Arc<dyn Fn() -> (u64, i64) + Send + Sync>,
    pub topic: String,
    pub channel: String,
    pub behaviour: Behaviour,
}

enum Cmd {
    Fin(MessageId),
    /// REQ with a delay in ms.
    Req(MessageId, u64),
    Nop,
}

/// Runs forever (until its machine is killed).
pub async fn run(spec: Spec, ledger: Arc<Ledger>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match session(&spec, &ledger).await {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(e) => {
                tracing::debug!("consumer {}/{}: {e}", spec.topic, spec.channel);
            }
        }
        madsim::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// One connection, until it ends.
async fn session(spec: &Spec, ledger: &Arc<Ledger>) -> std::io::Result<()> {
    let identify = br#"{"client_id":"sim","hostname":"sim","heartbeat_interval":1000,"feature_negotiation":true}"#;
    let (mut rd, mut wr, _) = wire::connect(spec.addr, identify).await?;
    wr.send(|o| encode::sub(o, &spec.topic, &spec.channel))
        .await?;
    rd.response().await?;
    let (incarnation, incarnation_start) = (spec.incarnation)();
    let conn = ledger.connected(ConnInfo {
        id: 0,
        nsqd: spec.nsqd,
        incarnation,
        incarnation_start,
        topic: spec.topic.clone(),
        channel: spec.channel.clone(),
        rdy: spec.behaviour.rdy,
        client_node: spec.client_node,
        nsqd_node: spec.nsqd_node,
        tainted: Arc::new(AtomicBool::new(false)),
    });
    let rdy = spec.behaviour.rdy as u64;
    wr.send(|o| encode::rdy(o, rdy)).await?;
    // The writer marks each answer in the ledger just before it goes out.
    let (tx, mut rx) = mpsc::unbounded_channel::<Cmd>();
    let wconn = conn.clone();
    let wledger = Arc::clone(ledger);
    let writer = madsim::task::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            let r = match cmd {
                Cmd::Fin(id) => {
                    wledger.finishing(&wconn, &id);
                    wr.send(|o| encode::fin(o, &id)).await
                }
                Cmd::Req(id, delay) => {
                    wledger.requeueing(&wconn, &id);
                    wr.send(|o| encode::req(o, &id, delay)).await
                }
                Cmd::Nop => wr.send(encode::nop).await,
            };
            if r.is_err() {
                return;
            }
        }
    });
    // When this connection stops reading, and for how long.
    let mut stall = spec.behaviour.stalls.then(|| {
        let mut rng = thread_rng();
        (
            madsim::time::Instant::now() + Duration::from_millis(rng.gen_range(500..8000)),
            Duration::from_millis(rng.gen_range(2000..8000)),
        )
    });
    let result = loop {
        if let Some((at, hold)) = stall {
            if madsim::time::Instant::now() >= at {
                stall = None;
                // What it reads after this may be arbitrarily late.
                conn.tainted
                    .store(true, std::sync::atomic::Ordering::Release);
                let keepalive = {
                    let tx = tx.clone();
                    madsim::task::spawn(async move {
                        loop {
                            madsim::time::sleep(Duration::from_millis(400)).await;
                            if tx.send(Cmd::Nop).is_err() {
                                return;
                            }
                        }
                    })
                };
                madsim::time::sleep(hold).await;
                keepalive.abort();
            }
        }
        let frame = match rd.next().await {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match frame {
            Frame::Response(r) if &r[..] == b"_heartbeat_" => {
                let _ = tx.send(Cmd::Nop);
            }
            Frame::Response(_) => {}
            Frame::Error(e) => {
                let text = String::from_utf8_lossy(&e).into_owned();
                if let Some(id) = fin_failed_id(&text) {
                    ledger.fin_failed(&conn, &id);
                } else {
                    tracing::info!("consumer conn {}: {text}", conn.id);
                }
            }
            Frame::Message(m) => {
                ledger.message(&conn, &m);
                let b = &spec.behaviour;
                let (ignore, requeue, work, delay) = {
                    let mut rng = thread_rng();
                    let long = rng.gen_bool(b.long_requeue);
                    (
                        rng.gen_bool(b.ignore),
                        long || rng.gen_bool(b.requeue),
                        rng.gen_range(b.work_ms.0..=b.work_ms.1),
                        if long {
                            rng.gen_range(5_000..20_000)
                        } else {
                            0
                        },
                    )
                };
                if ignore {
                    continue;
                }
                let tx = tx.clone();
                let id = m.id;
                madsim::task::spawn(async move {
                    madsim::time::sleep(Duration::from_millis(work)).await;
                    let _ = tx.send(if requeue {
                        Cmd::Req(id, delay)
                    } else {
                        Cmd::Fin(id)
                    });
                });
            }
        }
    };
    ledger.closed(conn.id);
    writer.abort();
    result
}

/// The id in `E_FIN_FAILED FIN <id> failed ...`.
fn fin_failed_id(text: &str) -> Option<MessageId> {
    let rest = text.strip_prefix("E_FIN_FAILED FIN ")?;
    MessageId::from_slice(rest.as_bytes().get(..16)?)
}
