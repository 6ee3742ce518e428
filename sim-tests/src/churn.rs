//! The discovery scenario: clients keep creating topics and channels
//! (durable and ephemeral; ephemeral ones vanish with their last consumer)
//! on several nsqd nodes while lookupds crash and links break. Once the
//! churn stops and the network heals, every lookupd must list exactly what
//! the nsqd nodes have.

use crate::nemesis::{self, Mix};
use crate::scenarios::{converge, FAULT_SPAN};
use crate::world::{Setup, World};
use madsim::rand::{thread_rng, Rng};
use nsq_core::wire::command::encode;
use nsq_runtime_sim::wire;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TOPICS: [&str; 3] = ["t", "u", "v#ephemeral"];
const CHANNELS: [&str; 3] = ["a", "b#ephemeral", "c#ephemeral"];

/// Subscribes somewhere for a while, or publishes to create a topic; again and again.
async fn churn(addrs: Vec<SocketAddr>, stop: Arc<AtomicBool>) {
    let identify = br#"{"client_id":"churn","hostname":"churn","heartbeat_interval":1000}"#;
    while !stop.load(Ordering::Acquire) {
        let (addr, topic, channel, hold, publish) = {
            let mut rng = thread_rng();
            (
                addrs[rng.gen_range(0..addrs.len())],
                TOPICS[rng.gen_range(0..TOPICS.len())],
                CHANNELS[rng.gen_range(0..CHANNELS.len())],
                Duration::from_millis(rng.gen_range(100..4000)),
                rng.gen_bool(0.2),
            )
        };
        let r: std::io::Result<()> = async {
            let (mut rd, mut wr, _) = wire::connect(addr, identify).await?;
            if publish {
                wr.send(|o| encode::publish(o, topic, b"x")).await?;
                rd.response().await?;
                return Ok(());
            }
            wr.send(|o| encode::sub(o, topic, channel)).await?;
            rd.response().await?;
            // Hold the subscription (answering heartbeats) for a while.
            let _ = madsim::time::timeout(hold, async {
                while let Ok(Some(f)) = rd.next().await {
                    if matches!(f, nsq_core::wire::frame::Frame::Response(ref r) if &r[..] == b"_heartbeat_")
                        && wr.send(encode::nop).await.is_err()
                    {
                        break;
                    }
                }
            })
            .await;
            Ok(())
        }
        .await;
        if r.is_err() {
            madsim::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Runs churn clients on every client machine until `stop`, then waits for them.
async fn churn_for(
    w: &World,
    addrs: &[SocketAddr],
    until: impl std::future::Future<Output = Vec<String>>,
) -> Vec<String> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for node in &w.consumer_nodes {
        for _ in 0..3 {
            tasks.push(node.spawn(churn(addrs.to_vec(), Arc::clone(&stop))));
        }
    }
    let out = until.await;
    stop.store(true, Ordering::Release);
    for t in tasks {
        // A churn client ends within its longest hold (4 s) once told to stop.
        let _ = madsim::time::timeout(Duration::from_secs(30), t).await;
    }
    out
}

pub async fn discovery() -> Result<String, String> {
    let setup = Setup {
        lookupds: 2,
        nsqds: 3,
        consumer_nodes: 2,
        consumers: 0,
        ..Setup::default()
    };
    let w = World::build(setup);
    let r = discovery_in(&w).await;
    w.teardown().await;
    r
}

async fn discovery_in(w: &World) -> Result<String, String> {
    let addrs: Vec<SocketAddr> = w.nsqds.iter().map(|n| n.tcp_addr()).collect();
    let mix = Mix {
        crash_nsqd: true,
        restart_nsqd: true,
        crash_lookupd: true,
        pause: true,
        partition: true,
        ..Mix::default()
    };
    // Churn under faults; then heal: lookupds must catch up.
    let faults = churn_for(w, &addrs, nemesis::run(w, &mix, FAULT_SPAN)).await;
    w.heal_all().await;
    let fail = |e: String| format!("{e}\n  faults:\n    {}", faults.join("\n    "));
    let after_faults = converge(w).await.map_err(fail)?;
    // Churn on a whole network (no reconnects to paper over a missed
    // update); the lookupds must follow every change.
    churn_for(w, &addrs, async {
        madsim::time::sleep(Duration::from_secs(10)).await;
        Vec::new()
    })
    .await;
    let calm = converge(w)
        .await
        .map_err(|e| fail(format!("{e} (after churn on a healed network)")))?;
    Ok(format!(
        "{} faults; lookupds agreed {after_faults:?} after healing and {calm:?} after the last churn; catalog {}",
        faults.len(),
        crate::discovery::actual(&w.nsqds)
            .values()
            .map(|(t, c)| t.len() + c.len())
            .sum::<usize>()
    ))
}
