//! The fault schedule: drawn from the seed, one fault at a time (each
//! undone before the next), for a given stretch of simulated time. Every
//! fault is logged; [`World::heal_all`] undoes whatever is left.

use crate::world::World;
use madsim::rand::{thread_rng, Rng};
use std::time::Duration;

/// Which kinds of fault a scenario allows.
#[derive(Debug, Clone, Default)]
pub struct Mix {
    /// kill -9 + power failure (unsynced bytes lost, last write maybe torn) + restart.
    pub crash_nsqd: bool,
    /// Graceful stop (writes everything to disk) + start.
    pub restart_nsqd: bool,
    pub crash_lookupd: bool,
    /// Consumer machines die (their connections close) and come back.
    pub crash_client: bool,
    /// Nodes stop running for a while.
    pub pause: bool,
    /// Links between two nodes, or whole nodes, cut for a while.
    pub partition: bool,
    /// Latency up to 50 ms and packet loss up to 5% for a while.
    pub network: bool,
    /// Disk latency (per operation) for a while.
    pub slow_disk: bool,
    /// Disk errors (EIO on a share of operations, or a full disk) for a while.
    pub disk_errors: bool,
}

fn ms(lo: u64, hi: u64) -> Duration {
    Duration::from_millis(thread_rng().gen_range(lo..=hi))
}

fn pick<T: Clone>(v: &[T]) -> T {
    v[thread_rng().gen_range(0..v.len())].clone()
}

/// Runs faults for `span`; returns the log of what it did.
pub async fn run(world: &World, mix: &Mix, span: Duration) -> Vec<String> {
    let start = madsim::time::Instant::now();
    let mut log = Vec::new();
    let mut kinds: Vec<&str> = Vec::new();
    for (on, k) in [
        (mix.crash_nsqd, "crash_nsqd"),
        (mix.restart_nsqd, "restart_nsqd"),
        (
            mix.crash_lookupd && !world.lookupds.is_empty(),
            "crash_lookupd",
        ),
        (mix.crash_client, "crash_client"),
        (mix.pause, "pause"),
        (mix.partition, "partition"),
        (mix.network, "network"),
        (mix.slow_disk, "slow_disk"),
        (mix.disk_errors, "disk_errors"),
    ] {
        if on {
            kinds.push(k);
        }
    }
    if kinds.is_empty() {
        madsim::time::sleep(span).await;
        return log;
    }
    while start.elapsed() < span {
        madsim::time::sleep(ms(100, 2000)).await;
        let at = world.ledger.now();
        let kind = pick(&kinds);
        let hold = ms(200, 4000);
        let what = match kind {
            "crash_nsqd" => {
                let n = pick(&world.nsqds);
                let tear = thread_rng().gen_bool(0.5);
                n.crash(tear);
                madsim::time::sleep(ms(0, 3000)).await;
                n.start();
                format!("crash {} (torn write: {tear})", n.name)
            }
            "restart_nsqd" => {
                let n = pick(&world.nsqds);
                n.stop();
                let t = madsim::time::Instant::now();
                while n.is_up() && t.elapsed() < Duration::from_secs(60) {
                    madsim::time::sleep(Duration::from_millis(50)).await;
                }
                n.start();
                format!("graceful restart {}", n.name)
            }
            "crash_lookupd" => {
                let l = pick(&world.lookupds);
                l.crash();
                madsim::time::sleep(hold).await;
                l.start();
                format!("crash {} for {hold:?}", l.name)
            }
            "crash_client" => {
                let c = thread_rng().gen_range(0..world.consumer_nodes.len());
                world.crash_consumer_node(c);
                madsim::time::sleep(hold).await;
                world.start_consumer_node(c);
                format!("crash {} for {hold:?}", world.consumer_nodes[c].name)
            }
            "pause" => {
                let (id, name) = pick(&world.node_ids());
                world.ledger.taint_node(id);
                madsim::runtime::Handle::current().pause(id);
                madsim::time::sleep(hold).await;
                madsim::runtime::Handle::current().resume(id);
                format!("pause {name} for {hold:?}")
            }
            "partition" => {
                let ids = world.node_ids();
                let (a, an) = pick(&ids);
                if thread_rng().gen_bool(0.3) {
                    world.ledger.taint_node(a);
                    world.cluster.isolate(a);
                    madsim::time::sleep(hold).await;
                    world.cluster.heal();
                    format!("isolate {an} for {hold:?}")
                } else {
                    let (b, bn) = pick(&ids);
                    if a == b {
                        continue;
                    }
                    world.ledger.taint_link(a, b);
                    world.cluster.partition(a, b);
                    madsim::time::sleep(hold).await;
                    world.cluster.heal();
                    format!("partition {an} | {bn} for {hold:?}")
                }
            }
            "network" => {
                let max = ms(2, 50);
                let loss = thread_rng().gen_range(0.0..0.05);
                world
                    .cluster
                    .set_network(Duration::from_millis(1)..max, loss);
                madsim::time::sleep(hold * 2).await;
                world.cluster.set_network(World::default_latency(), 0.0);
                format!("latency up to {max:?}, loss {loss:.3} for {:?}", hold * 2)
            }
            "slow_disk" => {
                let n = pick(&world.nsqds);
                let hi = thread_rng().gen_range(1..300) * 1_000_000;
                n.disk.set_faults(|f| f.latency = (0, hi));
                madsim::time::sleep(hold * 2).await;
                n.disk.set_faults(|f| f.latency = World::DISK_LATENCY);
                format!(
                    "{} disk ops take up to {} ms for {:?}",
                    n.name,
                    hi / 1_000_000,
                    hold * 2
                )
            }
            "disk_errors" => {
                let n = pick(&world.nsqds);
                let what = if thread_rng().gen_bool(0.5) {
                    let rate = thread_rng().gen_range(0.01..0.2);
                    n.disk.set_faults(|f| f.eio_rate = rate);
                    format!("EIO on {:.0}% of ops", rate * 100.0)
                } else {
                    let used = n.disk.with(|d| {
                        let names = nsq_core::io::Disk::list(d).unwrap_or_default();
                        names
                            .iter()
                            .map(|f| d.contents(f).map_or(0, |c| c.len() as u64))
                            .sum::<u64>()
                    });
                    n.disk.set_faults(|f| f.capacity = used + 1);
                    "disk full".to_string()
                };
                madsim::time::sleep(hold).await;
                n.disk.set_faults(|f| {
                    f.eio_rate = 0.0;
                    f.capacity = 0;
                });
                format!("{} {what} for {hold:?}", n.name)
            }
            _ => unreachable!("unknown fault kind {kind}"),
        };
        tracing::info!("NEMESIS at {at:?}: {what}");
        log.push(format!("{at:?} {what}"));
    }
    log
}
