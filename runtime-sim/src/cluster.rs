//! Simulated nodes: nsqd (with its disk), nsqlookupd and client machines,
//! each with its own IP, and the faults the simulator can inflict on them:
//! crash (kill, power failure, restart), graceful restart, pause, and
//! network partitions of nodes and links.

use crate::disk::SimDisk;
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;
use nsq_core::lookup::LookupdOptions;
use nsq_core::Options;
use nsq_runtime_tokio::lookupd::DbView;
use nsq_runtime_tokio::nsqd::probe::Probe;
use nsq_runtime_tokio::{Nsqd, Nsqlookupd};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

/// nsqd's TCP port on every simulated node.
pub const NSQD_TCP_PORT: u16 = 4150;
/// nsqlookupd's TCP port on every simulated node.
pub const LOOKUPD_TCP_PORT: u16 = 4160;
/// The HTTP port nsqd announces to lookupds (nothing serves it in the simulator).
pub const NSQD_HTTP_PORT: u16 = 4151;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the supervisor knows of a server node's current life.
struct Life<P> {
    /// The running server's window (none while down or starting).
    view: Option<P>,
    /// Starts so far (a restart begins a new incarnation: state in memory is gone).
    incarnation: u64,
    /// When the current incarnation began (simulated wall clock, ns since the epoch).
    started_at: i64,
    /// Serving (bound, loaded).
    up: bool,
    /// Crashed or stopped, and not started since.
    down: bool,
}

impl<P> Life<P> {
    /// Bound and loaded: its window is `view`.
    fn serving(&mut self, view: P) {
        self.view = Some(view);
        self.up = true;
    }

    /// Crashed, or stopped gracefully: down until started again.
    fn ended(&mut self) {
        self.view = None;
        self.up = false;
        self.down = true;
    }
}

impl<P> Default for Life<P> {
    fn default() -> Self {
        Life {
            view: None,
            incarnation: 0,
            started_at: 0,
            up: false,
            down: false,
        }
    }
}

/// The set of simulated machines, and the network between them.
pub struct Cluster {
    handle: Handle,
    next_ip: u8,
    nodes: Vec<(String, NodeId)>,
    cuts: Arc<Cuts>,
}

/// The partitions in force: clogged links (directional) and nodes, so
/// [`Cluster::heal`] can undo them and simulated services that bypass the
/// network (lookupd's HTTP answers) can honour them.
#[derive(Debug, Default)]
pub struct Cuts {
    links: Mutex<BTreeSet<(NodeId, NodeId)>>,
    nodes: Mutex<BTreeSet<NodeId>>,
}

impl Cuts {
    /// Whether packets from `from` to `to` are dropped now.
    pub fn blocked(&self, from: NodeId, to: NodeId) -> bool {
        let nodes = lock(&self.nodes);
        nodes.contains(&from) || nodes.contains(&to) || lock(&self.links).contains(&(from, to))
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Cluster {
    /// A cluster in the current simulation (call inside the runtime).
    pub fn new() -> Self {
        Cluster {
            handle: Handle::current(),
            next_ip: 1,
            nodes: Vec::new(),
            cuts: Arc::default(),
        }
    }

    fn next_ip(&mut self) -> IpAddr {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, self.next_ip));
        self.next_ip = self.next_ip.checked_add(1).expect("at most 254 nodes");
        ip
    }

    /// An nsqlookupd on its own node, started now.
    pub fn add_lookupd(&mut self, name: &str) -> LookupdNode {
        let ip = self.next_ip();
        let life: Arc<Mutex<Life<DbView>>> = Arc::default();
        let opts = LookupdOptions {
            tcp_address: format!("0.0.0.0:{LOOKUPD_TCP_PORT}"),
            http_address: "0.0.0.0:4161".into(),
            broadcast_address: ip.to_string(),
            hostname: name.to_string(),
            ..LookupdOptions::default()
        };
        let l = Arc::clone(&life);
        let node = self
            .handle
            .create_node()
            .name(name)
            .ip(ip)
            .init(move || {
                let (opts, life) = (opts.clone(), Arc::clone(&l));
                async move {
                    lock(&life).incarnation += 1;
                    let d = match Nsqlookupd::start(opts).await {
                        Ok(d) => d,
                        Err(e) => panic!("nsqlookupd did not start: {e}"),
                    };
                    lock(&life).serving(d.db_view());
                    let _ = madsim::signal::ctrl_c().await;
                    lock(&life).view = None;
                    d.shutdown().await;
                    lock(&life).ended();
                }
            })
            .build();
        self.nodes.push((name.to_string(), node.id()));
        LookupdNode {
            name: name.to_string(),
            ip,
            node,
            life,
        }
    }

    /// An nsqd on its own node with its own disk, started now. `opts` are
    /// used as given, except for the addresses (the node's IP, port 4150)
    /// and the broadcast HTTP port.
    pub fn add_nsqd(&mut self, name: &str, mut opts: Options) -> NsqdNode {
        let ip = self.next_ip();
        opts.tcp_address = format!("0.0.0.0:{NSQD_TCP_PORT}");
        opts.http_address = format!("0.0.0.0:{NSQD_HTTP_PORT}");
        opts.broadcast_address = ip.to_string();
        opts.broadcast_http_port = NSQD_HTTP_PORT;
        let disk = SimDisk::new(madsim::rand::random());
        let life: Arc<Mutex<Life<Probe>>> = Arc::default();
        let (l, d) = (Arc::clone(&life), disk.clone());
        let node = self
            .handle
            .create_node()
            .name(name)
            .ip(ip)
            .init(move || {
                let (opts, life, factory) = (opts.clone(), Arc::clone(&l), d.factory());
                async move {
                    {
                        let mut life = lock(&life);
                        life.incarnation += 1;
                        life.started_at = wall_nanos();
                    }
                    let n = match Nsqd::start_with(opts, Some(factory)).await {
                        Ok(n) => n,
                        Err(e) => panic!("nsqd did not start: {e}"),
                    };
                    lock(&life).serving(n.probe());
                    let _ = madsim::signal::ctrl_c().await;
                    lock(&life).view = None;
                    n.shutdown().await;
                    lock(&life).ended();
                }
            })
            .build();
        self.nodes.push((name.to_string(), node.id()));
        NsqdNode {
            name: name.to_string(),
            ip,
            node,
            disk,
            life,
        }
    }

    /// A machine for clients (producers, consumers): spawn tasks on it.
    pub fn add_client(&mut self, name: &str) -> ClientNode {
        let ip = self.next_ip();
        let node = self.handle.create_node().name(name).ip(ip).build();
        self.nodes.push((name.to_string(), node.id()));
        ClientNode {
            name: name.to_string(),
            ip,
            node,
        }
    }

    /// Cuts every packet from `a` to `b` and back (open connections stall
    /// until healed; new ones are refused).
    pub fn partition(&self, a: NodeId, b: NodeId) {
        let net = NetSim::current();
        let mut links = lock(&self.cuts.links);
        for (s, d) in [(a, b), (b, a)] {
            net.clog_link(s, d);
            links.insert((s, d));
        }
    }

    /// Cuts one direction only.
    pub fn clog_link(&self, from: NodeId, to: NodeId) {
        NetSim::current().clog_link(from, to);
        lock(&self.cuts.links).insert((from, to));
    }

    /// Cuts a node off from everyone.
    pub fn isolate(&self, node: NodeId) {
        NetSim::current().clog_node(node);
        lock(&self.cuts.nodes).insert(node);
    }

    /// Undoes every partition and isolation.
    pub fn heal(&self) {
        let net = NetSim::current();
        for (s, d) in std::mem::take(&mut *lock(&self.cuts.links)) {
            net.unclog_link(s, d);
        }
        for n in std::mem::take(&mut *lock(&self.cuts.nodes)) {
            net.unclog_node(n);
        }
    }

    /// Sets the network's latency range and packet loss rate (lost packets
    /// of a stream are sent again after a back-off, as TCP would).
    pub fn set_network(&self, latency: std::ops::Range<std::time::Duration>, loss: f64) {
        NetSim::current().update_config(|c| {
            c.send_latency = latency;
            c.packet_loss_rate = loss;
        });
    }

    /// The partitions in force (shared, live).
    pub fn cuts(&self) -> Arc<Cuts> {
        Arc::clone(&self.cuts)
    }

    /// Node names by id (for fault logs).
    pub fn node_name(&self, id: NodeId) -> &str {
        self.nodes
            .iter()
            .find(|(_, n)| *n == id)
            .map(|(s, _)| s.as_str())
            .unwrap_or("?")
    }
}

fn wall_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(nsq_core::io::nanos)
        .unwrap_or(0)
}

/// Faults common to server nodes.
fn crash(node: &NodeHandle) {
    Handle::current().kill(node.id());
}

/// (Re)starts a node's init task. Killed first: a restart alone would
/// leave a still-running life's sockets bound.
fn start(node: &NodeHandle) {
    let h = Handle::current();
    h.kill(node.id());
    h.restart(node.id());
}

/// A simulated nsqd with its disk.
#[derive(Clone)]
pub struct NsqdNode {
    pub name: String,
    pub ip: IpAddr,
    pub node: NodeHandle,
    pub disk: SimDisk,
    life: Arc<Mutex<Life<Probe>>>,
}

impl NsqdNode {
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, NSQD_TCP_PORT)
    }

    /// The running nsqd's topics and channels (none while it is down).
    pub fn probe(&self) -> Option<Probe> {
        lock(&self.life).view.clone()
    }

    /// How many times this nsqd has started (incremented before it binds).
    pub fn incarnation(&self) -> u64 {
        lock(&self.life).incarnation
    }

    /// The current incarnation and when it began (ns since the epoch, on
    /// the clock nsqd stamps messages with).
    pub fn incarnation_since(&self) -> (u64, i64) {
        let life = lock(&self.life);
        (life.incarnation, life.started_at)
    }

    pub fn is_up(&self) -> bool {
        lock(&self.life).up
    }

    /// A crash: the node dies at once, and its disk keeps only what was
    /// synced (`tear`: the last unsynced write may survive in part). It
    /// stays down until [`NsqdNode::start`].
    pub fn crash(&self, tear: bool) {
        lock(&self.life).ended();
        crash(&self.node);
        self.disk.power_fail(tear);
    }

    /// Starts the node again (after a crash or a graceful stop).
    pub fn start(&self) {
        {
            let mut life = lock(&self.life);
            life.view = None;
            life.up = false;
            life.down = false;
        }
        start(&self.node);
    }

    /// Crashed or stopped, and not started since.
    pub fn is_down(&self) -> bool {
        lock(&self.life).down
    }

    /// Asks nsqd to shut down gracefully (it writes everything to disk);
    /// [`NsqdNode::is_up`] turns false once it has.
    pub fn stop(&self) {
        Handle::current().send_ctrl_c(self.node.id());
    }

    pub fn pause(&self) {
        Handle::current().pause(self.node.id());
    }

    pub fn resume(&self) {
        Handle::current().resume(self.node.id());
    }

    /// Runs `fut` on this node, in its current life (what it spawns dies
    /// with the node, as everything of a crashed process does): the way to
    /// act through its [`Probe`] without leaving tasks behind a crash.
    pub fn spawn<F>(&self, fut: F) -> madsim::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match Handle::current().get_node(self.node.id()) {
            Some(n) => n.spawn(fut),
            None => panic!("node {} vanished", self.name),
        }
    }
}

/// A simulated nsqlookupd.
#[derive(Clone)]
pub struct LookupdNode {
    pub name: String,
    pub ip: IpAddr,
    pub node: NodeHandle,
    life: Arc<Mutex<Life<DbView>>>,
}

impl LookupdNode {
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, LOOKUPD_TCP_PORT)
    }

    /// The running lookupd's registrations (none while it is down).
    pub fn db(&self) -> Option<DbView> {
        lock(&self.life).view.clone()
    }

    pub fn incarnation(&self) -> u64 {
        lock(&self.life).incarnation
    }

    /// Kills it (its registrations are lost: lookupd keeps nothing on disk).
    pub fn crash(&self) {
        lock(&self.life).ended();
        crash(&self.node);
    }

    pub fn start(&self) {
        lock(&self.life).down = false;
        start(&self.node);
    }

    /// Crashed or stopped, and not started since.
    pub fn is_down(&self) -> bool {
        lock(&self.life).down
    }

    pub fn pause(&self) {
        Handle::current().pause(self.node.id());
    }

    pub fn resume(&self) {
        Handle::current().resume(self.node.id());
    }
}

/// A machine that runs clients.
#[derive(Clone)]
pub struct ClientNode {
    pub name: String,
    pub ip: IpAddr,
    pub node: NodeHandle,
}

impl ClientNode {
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// Runs `fut` on this machine (in its current life: a handle taken
    /// before a restart would spawn into the dead one).
    pub fn spawn<F>(&self, fut: F) -> madsim::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match Handle::current().get_node(self.node.id()) {
            Some(n) => n.spawn(fut),
            None => panic!("node {} vanished", self.name),
        }
    }

    /// Kills every task of the machine (its connections close).
    pub fn crash(&self) {
        Handle::current().kill(self.node.id());
    }

    /// Brings the machine back (with nothing running: spawn again).
    pub fn start(&self) {
        Handle::current().restart(self.node.id());
    }

    pub fn pause(&self) {
        Handle::current().pause(self.node.id());
    }

    pub fn resume(&self) {
        Handle::current().resume(self.node.id());
    }
}
