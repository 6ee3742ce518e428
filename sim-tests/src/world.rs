//! A simulated NSQ cluster with its clients: lookupds, nsqd nodes (each
//! with its disk), consumer machines and a producer machine, all reporting
//! to one ledger.

use crate::consumer::{self, Behaviour};
use crate::ledger::{Ledger, Timing};
use crate::library;
use crate::producer;
use madsim::rand::Rng;
use madsim::task::NodeId;
use nsq_core::wire::command::encode;
use nsq_core::Options;
use nsq_runtime_sim::cluster::ClientNode;
use nsq_runtime_sim::{wire, Cluster, LookupdNode, NsqdNode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shape of a world.
#[derive(Debug, Clone)]
pub struct Setup {
    pub lookupds: usize,
    pub nsqds: usize,
    pub consumer_nodes: usize,
    pub topic: String,
    pub channels: Vec<String>,
    /// Consumers per channel per nsqd.
    pub consumers: usize,
    pub msg_timeout: Duration,
    /// Consumers may ignore messages (they time out).
    pub lossy: bool,
    /// Consumers are the client library's (discovering nsqd through the
    /// lookupds), `consumers` per channel in all; otherwise bare-protocol
    /// consumers, `consumers` per channel per nsqd.
    pub library: bool,
    /// Channels and topics are deleted and created again under load
    /// (`lifecycle.rs`).
    pub lifecycle: bool,
    /// nsqd's --max-bytes-per-file (small: segments roll, and held messages
    /// would pin them).
    pub max_bytes_per_file: Option<i64>,
    /// Consumers sometimes requeue a message for long (it is held deferred
    /// while everything else flows).
    pub long_requeues: bool,
    /// Some consumers stop reading for a while with a large RDY, and nsqd
    /// holds at most this much for a connection (its max_unwritten_bytes,
    /// small so that the bound is reached).
    pub stalls: Option<u64>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            lookupds: 1,
            nsqds: 2,
            consumer_nodes: 2,
            topic: "t".into(),
            channels: vec!["c0".into(), "c1".into()],
            consumers: 2,
            msg_timeout: Duration::from_secs(3),
            lossy: true,
            library: false,
            lifecycle: false,
            max_bytes_per_file: None,
            long_requeues: false,
            stalls: None,
        }
    }
}

/// A consumer to (re)start on a client machine.
#[derive(Clone)]
pub enum Kind {
    Raw(consumer::Spec),
    Library(library::Spec),
}

pub struct World {
    pub setup: Setup,
    pub cluster: Cluster,
    pub lookupds: Vec<LookupdNode>,
    pub nsqds: Vec<NsqdNode>,
    pub consumer_nodes: Vec<ClientNode>,
    pub producer_node: ClientNode,
    pub ledger: Arc<Ledger>,
    /// Consumers by machine (respawned when the machine comes back).
    consumers: Mutex<Vec<(usize, Kind)>>,
    stop_producers: Arc<AtomicBool>,
    producers: Mutex<Vec<madsim::task::JoinHandle<u64>>>,
}

impl World {
    /// Every disk operation takes 20 µs to 1 ms (an SSD, roughly), so an
    /// answer that does not wait for its write is visibly early.
    pub const DISK_LATENCY: (i64, i64) = (20_000, 1_000_000);

    pub fn default_latency() -> std::ops::Range<Duration> {
        Duration::from_millis(1)..Duration::from_millis(10)
    }

    /// nsqd's options: durable (`--mem-queue-size=0 --sync-every=1`).
    pub fn nsqd_options(setup: &Setup, index: usize, lookupds: &[LookupdNode]) -> Options {
        let defaults = Options::default();
        Options {
            node_id: index as i64 + 1,
            mem_queue_size: 0,
            sync_every: 1,
            msg_timeout: setup.msg_timeout,
            max_bytes_per_file: setup
                .max_bytes_per_file
                .unwrap_or(defaults.max_bytes_per_file),
            max_unwritten_bytes: setup.stalls.unwrap_or(defaults.max_unwritten_bytes),
            // Bodies here are at most ~350 bytes: a small limit keeps the
            // bound on what a connection holds tight enough to be reached.
            max_msg_size: 4096,
            lookupd_tcp_addresses: lookupds.iter().map(|l| l.tcp_addr().to_string()).collect(),
            ..defaults
        }
    }

    /// Builds the cluster (servers start at once; clients are started by
    /// [`World::start_consumers`] and [`World::start_producers`]).
    pub fn build(setup: Setup) -> World {
        let mut cluster = Cluster::new();
        cluster.set_network(Self::default_latency(), 0.0);
        let lookupds: Vec<_> = (0..setup.lookupds)
            .map(|i| cluster.add_lookupd(&format!("lookupd{i}")))
            .collect();
        let nsqds: Vec<_> = (0..setup.nsqds)
            .map(|i| {
                let o = Self::nsqd_options(&setup, i, &lookupds);
                let n = cluster.add_nsqd(&format!("nsqd{i}"), o);
                n.disk.set_faults(|f| f.latency = Self::DISK_LATENCY);
                n
            })
            .collect();
        let consumer_nodes: Vec<_> = (0..setup.consumer_nodes)
            .map(|i| cluster.add_client(&format!("consumers{i}")))
            .collect();
        let producer_node = cluster.add_client("producers");
        let ledger = Ledger::new(Timing {
            msg_timeout: setup.msg_timeout,
            slack: Duration::from_millis(800),
        });
        let mut consumers = Vec::new();
        let mut k = 0;
        if setup.library {
            for ch in &setup.channels {
                for _ in 0..setup.consumers {
                    let node = k % consumer_nodes.len();
                    k += 1;
                    consumers.push((
                        node,
                        Kind::Library(library::Spec {
                            client: consumer_nodes[node].id(),
                            topic: setup.topic.clone(),
                            channel: ch.clone(),
                            lookupds: lookupds.clone(),
                            cuts: cluster.cuts(),
                            nsqds: nsqds.iter().map(|n| n.tcp_addr()).collect(),
                            max_in_flight: madsim::rand::thread_rng().gen_range(1..=8),
                            fail: if setup.lossy { 0.05 } else { 0.0 },
                        }),
                    ));
                }
            }
        }
        for (i, n) in nsqds.iter().enumerate() {
            if setup.library {
                break;
            }
            for ch in &setup.channels {
                for _ in 0..setup.consumers {
                    let node = k % consumer_nodes.len();
                    k += 1;
                    let inc = n.clone();
                    consumers.push((
                        node,
                        Kind::Raw(consumer::Spec {
                            nsqd: i,
                            addr: n.tcp_addr(),
                            nsqd_node: n.id(),
                            client_node: consumer_nodes[node].id(),
                            incarnation: Arc::new(move || inc.incarnation_since()),
                            topic: setup.topic.clone(),
                            channel: ch.clone(),
                            behaviour: Behaviour::draw(
                                setup.lossy,
                                setup.long_requeues,
                                setup.stalls.is_some(),
                            ),
                        }),
                    ));
                }
            }
        }
        World {
            setup,
            cluster,
            lookupds,
            nsqds,
            consumer_nodes,
            producer_node,
            ledger,
            consumers: Mutex::new(consumers),
            stop_producers: Arc::new(AtomicBool::new(false)),
            producers: Mutex::new(Vec::new()),
        }
    }

    fn spawn_consumers_on(&self, node: usize) {
        let specs = self.consumers.lock().unwrap_or_else(|e| e.into_inner());
        for (n, kind) in specs.iter() {
            if *n != node {
                continue;
            }
            let ledger = Arc::clone(&self.ledger);
            match kind.clone() {
                Kind::Raw(spec) => {
                    self.consumer_nodes[node].spawn(consumer::run(spec, ledger));
                }
                Kind::Library(spec) => {
                    self.consumer_nodes[node].spawn(library::run(spec, ledger));
                }
            }
        }
    }

    /// Creates the topic's channels on every nsqd with a SUB that leaves at
    /// once (durable channels stay): library consumers only find nsqd nodes
    /// that already have the topic.
    pub async fn precreate_channels(&self) {
        for n in &self.nsqds {
            for ch in &self.setup.channels {
                let (addr, topic, ch) = (n.tcp_addr(), self.setup.topic.clone(), ch.clone());
                let task = self.producer_node.spawn(async move {
                    loop {
                        let r: std::io::Result<()> = async {
                            let (mut rd, mut wr, _) = wire::connect(addr, b"{}").await?;
                            wr.send(|o| encode::sub(o, &topic, &ch)).await?;
                            rd.response().await?;
                            Ok(())
                        }
                        .await;
                        if r.is_ok() {
                            return;
                        }
                        madsim::time::sleep(Duration::from_millis(100)).await;
                    }
                });
                let _ = task.await;
            }
        }
    }

    pub fn start_consumers(&self) {
        for i in 0..self.consumer_nodes.len() {
            self.spawn_consumers_on(i);
        }
    }

    /// Makes every consumer finish promptly from now on (its machine restarts).
    pub fn make_consumers_diligent(&self) {
        {
            let mut specs = self.consumers.lock().unwrap_or_else(|e| e.into_inner());
            for (_, kind) in specs.iter_mut() {
                match kind {
                    Kind::Raw(s) => s.behaviour = Behaviour::diligent(s.behaviour.rdy),
                    Kind::Library(s) => s.fail = 0.0,
                }
            }
        }
        for i in 0..self.consumer_nodes.len() {
            self.crash_consumer_node(i);
            self.start_consumer_node(i);
        }
    }

    pub fn crash_consumer_node(&self, i: usize) {
        self.ledger.client_crashed(self.consumer_nodes[i].id());
        self.consumer_nodes[i].crash();
    }

    pub fn start_consumer_node(&self, i: usize) {
        self.consumer_nodes[i].start();
        self.spawn_consumers_on(i);
    }

    /// Kills every node and lets the simulator drop their tasks. madsim
    /// does not drop tasks still pending when a run ends (madsim-rs/madsim#242),
    /// so without this every run's nodes stay in memory and a long sweep
    /// grows by megabytes per seed.
    pub async fn teardown(&self) {
        let h = madsim::runtime::Handle::current();
        for (id, _) in self.node_ids() {
            h.kill(id);
        }
        madsim::time::sleep(Duration::from_millis(1)).await;
    }

    /// Every node, with its name.
    pub fn node_ids(&self) -> Vec<(NodeId, String)> {
        let mut v: Vec<(NodeId, String)> = Vec::new();
        v.extend(self.lookupds.iter().map(|n| (n.id(), n.name.clone())));
        v.extend(self.nsqds.iter().map(|n| (n.id(), n.name.clone())));
        v.extend(self.consumer_nodes.iter().map(|n| (n.id(), n.name.clone())));
        v.push((self.producer_node.id(), self.producer_node.name.clone()));
        v
    }

    /// Waits until every nsqd has the topic with all its channels (and
    /// has had time to write them to its metadata).
    pub async fn wait_channels(&self) -> Result<(), String> {
        let t = madsim::time::Instant::now();
        loop {
            let ready = self.nsqds.iter().all(|n| {
                n.probe().is_some_and(|p| {
                    p.topics().iter().any(|t| {
                        t.name == self.setup.topic
                            && self
                                .setup
                                .channels
                                .iter()
                                .all(|c| t.channels.iter().any(|x| &x.name == c))
                    })
                })
            });
            if ready {
                madsim::time::sleep(Duration::from_secs(1)).await;
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(30) {
                return Err("setup: channels were not created within 30 s".into());
            }
            madsim::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the invariant monitor watches.
    pub fn monitored(&self) -> crate::monitor::Monitored {
        let opts = Self::nsqd_options(&self.setup, 0, &self.lookupds);
        crate::monitor::Monitored {
            nsqds: self.nsqds.clone(),
            ledger: Arc::clone(&self.ledger),
            output_bound: nsq_runtime_tokio::nsqd::connection_output_bound(&opts),
            message_bound: nsq_runtime_tokio::nsqd::connection_message_bound(&opts),
        }
    }

    /// One producer per nsqd, on the producer machine.
    pub fn start_producers(&self) {
        let mut handles = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        for (i, n) in self.nsqds.iter().enumerate() {
            let spec = producer::Spec {
                name: format!("p{i}"),
                nsqd: i,
                addr: n.tcp_addr().to_string(),
                topic: self.setup.topic.clone(),
                channels: self.setup.channels.clone(),
                gap_ms: (0, 60),
                answer_timeout: Duration::from_secs(5),
            };
            handles.push(self.producer_node.spawn(producer::run(
                spec,
                Arc::clone(&self.ledger),
                Arc::clone(&self.stop_producers),
            )));
        }
    }

    /// Stops publishing and waits for the producers to finish.
    pub async fn stop_producers(&self) -> u64 {
        self.stop_producers.store(true, Ordering::Release);
        let handles: Vec<_> =
            std::mem::take(&mut *self.producers.lock().unwrap_or_else(|e| e.into_inner()));
        let mut n = 0;
        for h in handles {
            n += h.await.unwrap_or(0);
        }
        n
    }

    /// Undoes every fault: network whole and quick, disks healthy, every
    /// server running.
    pub async fn heal_all(&self) {
        self.cluster.heal();
        self.cluster.set_network(Self::default_latency(), 0.0);
        for n in &self.nsqds {
            n.disk.set_faults(|f| {
                *f = Default::default();
                f.latency = Self::DISK_LATENCY;
            });
            if n.is_down() {
                n.start();
            }
        }
        for l in &self.lookupds {
            if l.is_down() {
                l.start();
            }
        }
        let t = madsim::time::Instant::now();
        while !self.nsqds.iter().all(|n| n.is_up()) && t.elapsed() < Duration::from_secs(30) {
            madsim::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every queue of every nsqd is empty (nothing queued, in
    /// flight or deferred); fails after `limit`.
    pub async fn drain(&self, limit: Duration) -> Result<Duration, String> {
        let t = madsim::time::Instant::now();
        loop {
            let mut left = Vec::new();
            for n in &self.nsqds {
                let Some(p) = n.probe() else {
                    left.push(format!("{} is down", n.name));
                    continue;
                };
                if let Some(h) = p.health() {
                    left.push(format!("{} unhealthy: {h}", n.name));
                }
                for tc in p.topics() {
                    if tc.depth > 0 {
                        left.push(format!("{} {} depth {}", n.name, tc.name, tc.depth));
                    }
                    for c in &tc.channels {
                        if c.depth + c.in_flight as u64 + c.deferred as u64 > 0 {
                            left.push(format!(
                                "{} {}/{}: depth {} in flight {} deferred {} consumers {}",
                                n.name,
                                tc.name,
                                c.name,
                                c.depth,
                                c.in_flight,
                                c.deferred,
                                c.consumers
                            ));
                        }
                    }
                }
            }
            if left.is_empty() {
                return Ok(t.elapsed());
            }
            if let Some(v) = self.ledger.violations().first() {
                return Err(format!("stopped draining at a broken invariant: {v}"));
            }
            if t.elapsed() > limit {
                return Err(format!(
                    "liveness: queues not drained {limit:?} after the faults stopped: {}",
                    left.join("; ")
                ));
            }
            madsim::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
