//! The scenarios: each builds a world, runs its workload under a fault
//! schedule drawn from the seed, heals everything, and checks NSQ's
//! promises. Every scenario checks every invariant that applies to it:
//!
//! - at-least-once: a message acknowledged to a producer (with
//!   `--mem-queue-size=0 --sync-every=1`) reaches every channel that existed
//!   when it was published, whatever crashed;
//! - no invention or corruption: every delivered body was published, byte
//!   for byte, to that nsqd and topic;
//! - in-flight discipline: a message is never held by two consumers at once
//!   within its timeout, a finished message is not delivered again by the
//!   same nsqd, and no consumer gets more messages than its RDY;
//! - discovery: once the network heals, every lookupd lists exactly the
//!   live nsqd nodes' topics and channels within the re-registration interval;
//! - liveness: after the faults stop, every queue drains to zero;
//! - slow or failing disks: producers wait or get errors, never a false OK;
//! - bounded memory: no connection holds more bytes for its client than
//!   nsqd's stated bound, whatever the client does;
//! - disk bounded by live data: a queue's segments hold at most its live
//!   (unfinished) bytes plus a few segments, however long messages are held;
//! - deleted stays deleted (`lifecycle.rs`, where channels and topics are
//!   deleted and created again under load).
//!
//! (Consumers built from the client library are observed through their
//! handler only, so the in-flight checks apply to the bare-protocol ones.)

use crate::discovery;
use crate::nemesis::{self, Mix};
use crate::runner_glue::boxed;
use crate::world::{Setup, World};
use nsq_runtime_sim::runner::Scenario;
use std::time::Duration;

/// How long faults go on in each scenario.
pub const FAULT_SPAN: Duration = Duration::from_secs(30);
/// How long queues may take to drain once faults stop.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(120);
/// How long lookupds may take to list the truth once the network heals.
/// From nsqd's registrar timing (core/src/lookup/registrar.rs): at the
/// heal, a connection whose lookupd is gone or silent is given up within
/// 5 s (an overdue answer; bytes a cut link held arrive within the cut's
/// length after it heals, and the nemesis cuts for at most 4 s), the next
/// attempt comes within the longest back-off (15 s; its jitter only
/// shortens it), and a connection re-registers everything at once: 20 s
/// plus round trips, and the check polls every 500 ms.
pub const CONVERGE_LIMIT: Duration = Duration::from_secs(25);

/// Every scenario by name.
pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("crash_recovery", || boxed(crash_recovery())),
        ("partitions", || boxed(partitions())),
        ("slow_disk", || boxed(slow_disk())),
        ("discovery", || boxed(crate::churn::discovery())),
        ("client_library", || boxed(client_library())),
        ("chaos", || boxed(chaos())),
    ]
}

pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|(n, _)| *n == name).map(|(_, s)| s)
}

/// The common shape: consumers, then producers under faults, then heal,
/// drain and check.
async fn messaging(setup: Setup, mix: Mix) -> Result<String, String> {
    let w = World::build(setup);
    let r = messaging_in(&w, mix).await;
    w.teardown().await;
    r
}

async fn messaging_in(w: &World, mix: Mix) -> Result<String, String> {
    if w.setup.library {
        w.precreate_channels().await;
    }
    w.start_consumers();
    w.wait_channels().await?;
    w.start_producers();
    let monitor = madsim::task::spawn(crate::monitor::run(w.monitored()));
    // A broken invariant ends the run at once (the rest would only be noise).
    let work = async {
        let lifecycle = async {
            if w.setup.lifecycle {
                crate::lifecycle::run(w, FAULT_SPAN).await
            } else {
                Vec::new()
            }
        };
        let (mut faults, cycles) = tokio::join!(nemesis::run(w, &mix, FAULT_SPAN), lifecycle);
        faults.extend(cycles);
        faults
    };
    let faults = tokio::select! {
        biased; // a fixed order, so simulated runs repeat (README: Simulation)
        f = work => f,
        v = w.ledger.first_violation() => {
            monitor.abort();
            return Err(v);
        }
    };
    let sent = w.stop_producers().await;
    w.heal_all().await;
    if w.setup.lifecycle {
        crate::lifecycle::clean_up(w).await?;
    }
    w.make_consumers_diligent();
    let drained = w.drain(DRAIN_LIMIT).await;
    monitor.abort();
    let mut broken = w.ledger.violations();
    let missing = w.ledger.undelivered();
    if !missing.is_empty() {
        broken.push(format!(
            "at-least-once: {} acknowledged messages never delivered, e.g. {}",
            missing.len(),
            missing[..missing.len().min(5)].join(", ")
        ));
    }
    if let Err(e) = &drained {
        broken.push(e.clone());
    }
    if !w.lookupds.is_empty() {
        if let Err(e) = converge(w).await {
            broken.push(e);
        }
    }
    let summary = format!(
        "{} faults; {sent} sent; {}; drained in {:?}",
        faults.len(),
        w.ledger.summary(),
        drained.unwrap_or_default()
    );
    if broken.is_empty() {
        Ok(summary)
    } else {
        Err(format!(
            "{}\n  run: {summary}\n  faults:\n    {}",
            broken.join("\n"),
            faults.join("\n    ")
        ))
    }
}

/// Polls until every lookupd lists what the nsqd nodes have.
pub async fn converge(w: &World) -> Result<Duration, String> {
    let t = madsim::time::Instant::now();
    loop {
        let diff = discovery::differences(&w.nsqds, &w.lookupds);
        if diff.is_empty() {
            return Ok(t.elapsed());
        }
        if t.elapsed() > CONVERGE_LIMIT {
            return Err(format!(
                "discovery: lookupds disagree with the nsqd nodes {CONVERGE_LIMIT:?} after healing: {}",
                diff.join("; ")
            ));
        }
        madsim::time::sleep(Duration::from_millis(500)).await;
    }
}

/// nsqd crashes (with power failure and torn writes), graceful restarts,
/// lookupd and consumer crashes.
async fn crash_recovery() -> Result<String, String> {
    let mix = Mix {
        crash_nsqd: true,
        restart_nsqd: true,
        crash_lookupd: true,
        crash_client: true,
        ..Mix::default()
    };
    let setup = Setup {
        lifecycle: true,
        max_bytes_per_file: Some(16 * 1024),
        long_requeues: true,
        stalls: Some(16 * 1024),
        ..Setup::default()
    };
    messaging(setup, mix).await
}

/// Partitions, isolated and paused nodes, latency and loss, consumer crashes.
async fn partitions() -> Result<String, String> {
    let mix = Mix {
        crash_client: true,
        pause: true,
        partition: true,
        network: true,
        ..Mix::default()
    };
    let setup = Setup {
        stalls: Some(16 * 1024),
        ..Setup::default()
    };
    messaging(setup, mix).await
}

/// Slow disks, EIO and full disks, and crashes on top.
async fn slow_disk() -> Result<String, String> {
    let mix = Mix {
        crash_nsqd: true,
        slow_disk: true,
        disk_errors: true,
        ..Mix::default()
    };
    let setup = Setup {
        lossy: false,
        max_bytes_per_file: Some(16 * 1024),
        long_requeues: true,
        stalls: Some(16 * 1024),
        ..Setup::default()
    };
    messaging(setup, mix).await
}

/// The client library's consumers (lookupd discovery, RDY spreading,
/// backoff, reconnects) under crashes, partitions and pauses.
async fn client_library() -> Result<String, String> {
    let mix = Mix {
        crash_nsqd: true,
        crash_lookupd: true,
        crash_client: true,
        pause: true,
        partition: true,
        network: true,
        ..Mix::default()
    };
    let setup = Setup {
        library: true,
        consumers: 3,
        lookupds: 2,
        ..Setup::default()
    };
    messaging(setup, mix).await
}

/// Everything at once.
async fn chaos() -> Result<String, String> {
    let mix = Mix {
        crash_nsqd: true,
        restart_nsqd: true,
        crash_lookupd: true,
        crash_client: true,
        pause: true,
        partition: true,
        network: true,
        slow_disk: true,
        disk_errors: true,
    };
    let setup = Setup {
        lookupds: 2,
        nsqds: 3,
        lifecycle: true,
        max_bytes_per_file: Some(32 * 1024),
        long_requeues: true,
        stalls: Some(16 * 1024),
        ..Setup::default()
    };
    messaging(setup, mix).await
}
