//! Deletes that stay deleted, under load and faults: on every nsqd, a
//! channel `d` of the main topic (which its producers keep publishing to)
//! and a whole topic `x` are created, consumed from, deleted and created
//! again, over and over, while the nemesis crashes and restarts nodes.
//!
//! Invariants:
//! - deleted stays deleted: once a delete is committed (its answer came),
//!   the queue is not there again, whatever restarts, until it is created
//!   again (nobody does meanwhile);
//! - nothing of the old queue reaches the new one: no message acknowledged
//!   before a delete began is delivered on a queue created after it.

use crate::ledger::{Ledger, PubStatus, Published};
use crate::world::World;
use madsim::rand::{thread_rng, Rng};
use nsq_core::wire::command::encode;
use nsq_core::wire::frame::Frame;
use nsq_runtime_sim::{wire, NsqdNode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The extra channel of the main topic, and the topic deleted whole.
pub const CHANNEL: &str = "d";
pub const TOPIC: &str = "x";
const TOPIC_CHANNEL: &str = "xc";

/// What one cycle deletes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Channel,
    Topic,
}

/// Runs create/consume/delete cycles on every nsqd until `span` is over;
/// returns a log line per nsqd.
pub async fn run(w: &World, span: Duration) -> Vec<String> {
    let mut tasks = Vec::new();
    for (i, n) in w.nsqds.iter().enumerate() {
        let (n, ledger, topic) = (n.clone(), Arc::clone(&w.ledger), w.setup.topic.clone());
        let client = w.producer_node.clone();
        tasks.push(madsim::task::spawn(async move {
            cycles(i, n, client, ledger, topic, span).await
        }));
    }
    let mut log = Vec::new();
    for t in tasks {
        if let Ok(l) = t.await {
            log.push(l);
        }
    }
    log
}

async fn cycles(
    i: usize,
    n: NsqdNode,
    client: nsq_runtime_sim::cluster::ClientNode,
    ledger: Arc<Ledger>,
    main_topic: String,
    span: Duration,
) -> String {
    let start = madsim::time::Instant::now();
    let mut deletes = 0u64;
    // Publishes to x are numbered across cycles (a key is never reused).
    let seq = Arc::new(AtomicU64::new(0));
    // When the last committed delete of each target began.
    let mut deleted_at = [Duration::ZERO; 2];
    while start.elapsed() < span {
        let target = if thread_rng().gen_bool(0.5) {
            Target::Channel
        } else {
            Target::Topic
        };
        let (topic, channel) = match target {
            Target::Channel => (main_topic.as_str(), CHANNEL),
            Target::Topic => (TOPIC, TOPIC_CHANNEL),
        };
        let Some(p) = n.probe() else {
            madsim::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        // On the node: a topic's tasks must die with its nsqd.
        let (t, c) = (topic.to_string(), channel.to_string());
        let _ = n.spawn(async move { p.create_channel(&t, &c) }).await;
        // Consume for a while (publishing to x ourselves: the main topic
        // has its producers).
        let since = deleted_at[target as usize];
        let consumer = consume(i, &n, &client, &ledger, topic, channel, since);
        let hold = Duration::from_millis(thread_rng().gen_range(500..3000));
        let publisher =
            (target == Target::Topic).then(|| publish_x(i, &n, &client, &ledger, Arc::clone(&seq)));
        madsim::time::sleep(hold).await;
        // Nobody publishes to x or consumes now: nothing creates either again.
        if let Some(p) = publisher {
            p.abort();
        }
        madsim::time::sleep(hold / 2).await;
        consumer.abort();
        // A frame of theirs still on its way (a slow or cut link) would
        // create the queue again, as it should: wait until nsqd has seen
        // both connections close before judging what comes back.
        let mine = format!("lifecycle-{i}");
        let t = madsim::time::Instant::now();
        let quiet = loop {
            match n.probe() {
                Some(p) if p.client_ids().iter().any(|c| c == &mine) => {}
                _ => break true,
            }
            if t.elapsed() > Duration::from_secs(10) {
                break false;
            }
            madsim::time::sleep(Duration::from_millis(100)).await;
        };
        // Delete; the delete is known committed only when its answer came.
        let Some(p) = n.probe() else { continue };
        let begun = ledger.now();
        let (t, c) = (topic.to_string(), channel.to_string());
        let delete = n.spawn(async move {
            match target {
                Target::Channel => p.delete_channel(&t, &c).await,
                Target::Topic => p.delete_topic(&t).await,
            }
        });
        let committed = matches!(
            madsim::time::timeout(Duration::from_secs(10), delete).await,
            Ok(Ok(true))
        );
        if !committed {
            continue;
        }
        deletes += 1;
        deleted_at[target as usize] = begun;
        if !quiet {
            continue;
        }
        // Nobody creates it now: it must stay away, restarts or not.
        let away = Duration::from_millis(thread_rng().gen_range(200..4000));
        let t = madsim::time::Instant::now();
        while t.elapsed() < away {
            if let Some(p) = n.probe() {
                let back = p.topics().iter().any(|tc| {
                    tc.name == topic
                        && (target == Target::Topic
                            || tc.channels.iter().any(|c| c.name == channel))
                });
                if back {
                    ledger.note_violation(format!(
                        "deleted stays deleted: nsqd{i} {topic}/{channel} is back {:?} after its delete was committed",
                        t.elapsed()
                    ));
                }
            }
            madsim::time::sleep(Duration::from_millis(100)).await;
        }
    }
    format!("nsqd{i}: {deletes} committed deletes")
}

/// Subscribes to `channel` from the client machine and finishes everything
/// it gets; a message acknowledged before `since` (the last delete's
/// beginning) must not come. Runs until aborted or disconnected.
fn consume(
    i: usize,
    n: &NsqdNode,
    client: &nsq_runtime_sim::cluster::ClientNode,
    ledger: &Arc<Ledger>,
    topic: &str,
    channel: &str,
    since: Duration,
) -> madsim::task::JoinHandle<()> {
    let (addr, ledger) = (n.tcp_addr(), Arc::clone(ledger));
    let (topic, channel) = (topic.to_string(), channel.to_string());
    client.spawn(async move {
        let identify =
            format!(r#"{{"client_id":"lifecycle-{i}","heartbeat_interval":1000}}"#).into_bytes();
        let Ok((mut rd, mut wr, _)) = wire::connect(addr, &identify).await else {
            return;
        };
        if wr.send(|o| encode::sub(o, &topic, &channel)).await.is_err() {
            return;
        }
        let _ = wr.send(|o| encode::rdy(o, 50)).await;
        while let Ok(Some(f)) = rd.next().await {
            match f {
                Frame::Message(m) => {
                    ledger.delivered(i, &topic, &channel, &m.body);
                    if since > Duration::ZERO {
                        if let Some(acked) = ledger.acked_at(&m.body) {
                            if acked < since {
                                ledger.note_violation(format!(
                                    "deleted stays deleted: nsqd{i} {topic}/{channel} created again delivered a message acknowledged at {acked:?}, before the delete of {since:?}"
                                ));
                            }
                        }
                    }
                    if wr.send(|o| encode::fin(o, &m.id)).await.is_err() {
                        return;
                    }
                }
                Frame::Response(r) if &r[..] == b"_heartbeat_" => {
                    let _ = wr.send(encode::nop).await;
                }
                _ => {}
            }
        }
    })
}

/// Publishes messages to topic x over the protocol until aborted (none of
/// them is owed to any channel: x is deleted under them).
fn publish_x(
    i: usize,
    n: &NsqdNode,
    client: &nsq_runtime_sim::cluster::ClientNode,
    ledger: &Arc<Ledger>,
    seq: Arc<AtomicU64>,
) -> madsim::task::JoinHandle<()> {
    let (addr, ledger2) = (n.tcp_addr(), Arc::clone(ledger));
    client.spawn(async move {
        let identify = format!(r#"{{"client_id":"lifecycle-{i}"}}"#).into_bytes();
        let Ok((mut rd, mut wr, _)) = wire::connect(addr, &identify).await else {
            return;
        };
        loop {
            let key = format!("x{i}:{}", seq.fetch_add(1, Ordering::Relaxed) + 1);
            let body = format!("{key}:body").into_bytes();
            ledger2.sent(
                &key,
                Published {
                    nsqd: i,
                    topic: TOPIC.into(),
                    body: body.clone(),
                    status: PubStatus::Sent,
                    channels: Vec::new(),
                },
            );
            if wr.send(|o| encode::publish(o, TOPIC, &body)).await.is_err() {
                return;
            }
            match rd.response().await {
                Ok(r) if r == b"OK" => ledger2.answered(&key, PubStatus::Acked),
                _ => return,
            }
            madsim::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// Once the faults are over (and producers stopped): deletes what the
/// cycles left on every nsqd, so that the queues can drain.
pub async fn clean_up(w: &World) -> Result<(), String> {
    for (i, n) in w.nsqds.iter().enumerate() {
        for target in [Target::Channel, Target::Topic] {
            let t = madsim::time::Instant::now();
            loop {
                let done = match n.probe() {
                    Some(p) => {
                        let topic = w.setup.topic.clone();
                        let delete = n.spawn(async move {
                            match target {
                                Target::Channel => {
                                    p.delete_channel(&topic, CHANNEL).await;
                                }
                                Target::Topic => {
                                    p.delete_topic(TOPIC).await;
                                }
                            }
                        });
                        matches!(
                            madsim::time::timeout(Duration::from_secs(10), delete).await,
                            Ok(Ok(()))
                        )
                    }
                    None => false,
                };
                if done {
                    break;
                }
                if t.elapsed() > Duration::from_secs(60) {
                    return Err(format!("lifecycle: could not clean up nsqd{i} in 60 s"));
                }
                madsim::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Ok(())
}
