//! nsqd on tokio: listeners, connections, topics, their timers and disk I/O.

mod backends;
mod conn;
pub mod disk_io;
mod lifecycle;
mod lookup;
pub mod ops;
mod precreate;
pub mod probe;
pub mod registry;
pub mod shared;

use disk_io::DiskFactory;
use lookup::LookupHandle;
use nsq_core::broker::config::MemoryOnly;
use nsq_core::broker::{BrokerConfig, ClientConfig};
use nsq_core::lookup::registrar::{NodeInfo, RegistrarConfig, Timing};
use nsq_core::lookup::Registrar;
use nsq_core::Options;
use registry::Registry;
use shared::Handle;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Why nsqd could not start.
#[derive(Debug)]
pub enum NsqdError {
    Options(String),
    Listen(String, std::io::Error),
    DataPath(String),
}

impl std::fmt::Display for NsqdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NsqdError::Options(e) => f.write_str(e),
            NsqdError::Listen(addr, e) => write!(f, "listen ({addr}) failed - {e}"),
            NsqdError::DataPath(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for NsqdError {}

pub(crate) struct Inner {
    pub opts: Options,
    pub client_cfg: Arc<ClientConfig>,
    pub registry: Registry,
    /// Disk handles (none: everything stays in memory).
    pub disks: Option<DiskFactory>,
    lookup: LookupHandle,
    next_client_id: AtomicU64,
    /// Live connections, to close them at shutdown.
    conns: Mutex<BTreeMap<u64, Handle>>,
    conns_changed: Notify,
    stop: Notify,
}

impl Inner {
    fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn conns(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Handle>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add_conn(&self, h: &Handle) {
        self.conns().insert(h.id, Arc::clone(h));
    }

    pub(crate) fn remove_conn(&self, id: u64) {
        self.conns().remove(&id);
        self.conns_changed.notify_waiters();
    }
}

/// A running nsqd.
pub struct Nsqd {
    inner: Arc<Inner>,
    tcp_addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
    persister: Option<tokio::task::JoinHandle<()>>,
    lock: Option<lifecycle::DirLock>,
}

impl Nsqd {
    /// Locks `--data-path`, loads what it holds, binds and starts serving.
    #[cfg(not(madsim))]
    pub async fn start(opts: Options) -> Result<Nsqd, NsqdError> {
        let dir = lifecycle::data_dir(&opts);
        let lock = lifecycle::DirLock::acquire(&dir).map_err(NsqdError::DataPath)?;
        let factory_dir = dir.clone();
        let disks: DiskFactory =
            Arc::new(move || Box::new(crate::disk::RealDisk::new(factory_dir.clone())));
        let mut n = Self::start_with(opts, Some(disks)).await?;
        n.lock = Some(lock);
        Ok(n)
    }

    /// Starts with the given disk (or memory only), without a directory lock.
    pub async fn start_with(opts: Options, disks: Option<DiskFactory>) -> Result<Nsqd, NsqdError> {
        opts.validate().map_err(NsqdError::Options)?;
        let mut client_cfg = ClientConfig::from_options(&opts);
        // What this runtime can upgrade a connection to.
        client_cfg.tls_available = false;
        client_cfg.snappy_enabled = false;
        client_cfg.deflate_enabled = false;
        let backends: Arc<dyn nsq_core::broker::BackendFactory> = match &disks {
            Some(d) => Arc::new(backends::DiskBackends::new(opts.clone(), Arc::clone(d))),
            None => Arc::new(MemoryOnly),
        };
        let broker_cfg = BrokerConfig::from_options(&opts, backends);
        let seed = opts.node_id as u64;
        let listener = TcpListener::bind(&opts.tcp_address)
            .await
            .map_err(|e| NsqdError::Listen(opts.tcp_address.clone(), e))?;
        let tcp_addr = listener
            .local_addr()
            .map_err(|e| NsqdError::Listen(opts.tcp_address.clone(), e))?;
        tracing::info!("TCP: listening on {tcp_addr}");
        // nsqd serves no HTTP yet: once it does, pass its listener's address here.
        let node = node_info(&opts, tcp_addr, None, &crate::host::hostname());
        if node.http_port == 0 && !opts.lookupd_tcp_addresses.is_empty() {
            tracing::warn!(
                "LOOKUP: broadcast HTTP port is 0, lookupds will refuse this nsqd; set --broadcast-http-port"
            );
        }
        let registrar = Registrar::new(RegistrarConfig {
            node,
            max_response_size: opts.max_body_size,
            timing: Timing::default(),
            seed: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(tcp_addr.port()),
        });
        let inner = Arc::new_cyclic(|weak| {
            let addrs = opts.lookupd_tcp_addresses.clone();
            let (lookup, catalog) = LookupHandle::start(registrar, addrs, weak.clone());
            Inner {
                client_cfg: Arc::new(client_cfg),
                registry: Registry::new(broker_cfg, seed, disks.clone()).with_catalog(catalog),
                disks,
                lookup,
                next_client_id: AtomicU64::new(0),
                conns: Mutex::new(BTreeMap::new()),
                conns_changed: Notify::new(),
                stop: Notify::new(),
                opts,
            }
        });
        let persister = match &inner.disks {
            Some(_) => {
                lifecycle::load(&inner).await.map_err(NsqdError::DataPath)?;
                Some(tokio::spawn(lifecycle::persist_metadata_loop(Arc::clone(
                    &inner,
                ))))
            }
            None => None,
        };
        let accept = tokio::spawn(accept_loop(Arc::clone(&inner), listener));
        Ok(Nsqd {
            inner,
            tcp_addr,
            accept,
            persister,
            lock: None,
        })
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// The first disk error of any queue, while there is one (NSQ's health).
    pub fn health(&self) -> Option<String> {
        self.inner
            .registry
            .all()
            .iter()
            .find_map(|cell| cell.lock().topic.health())
    }

    /// Stops accepting, closes every connection, writes every message held
    /// in memory (in flight and deferred too) to disk, syncs, and writes
    /// the metadata.
    pub async fn shutdown(self) {
        self.inner.stop.notify_one();
        let _ = self.accept.await;
        if let Some(p) = self.persister {
            p.abort();
        }
        lifecycle::close_connections(&self.inner).await;
        if self.inner.disks.is_some() {
            lifecycle::persist_all(&self.inner).await;
        }
        self.inner.lookup.stop().await;
        drop(self.lock);
        tracing::info!("NSQ: bye");
    }

    /// Replaces the lookupds this nsqd registers with (NSQ's
    /// `PUT /config/nsqlookupd_tcp_addresses`): dropped ones are closed,
    /// new ones connected and told everything.
    pub fn set_lookupd_tcp_addresses(&self, addrs: Vec<String>) {
        self.inner.lookup.set_tcp_addresses(addrs);
    }

    /// The lookupd TCP addresses currently configured.
    pub fn lookupd_tcp_addresses(&self) -> Vec<String> {
        self.inner.lookup.tcp_addresses()
    }

    /// The lookupds' HTTP addresses learned from their IDENTIFY answers.
    pub fn lookupd_http_addresses(&self) -> Vec<String> {
        self.inner.lookup.http_addresses()
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    loop {
        tokio::select! {
            _ = inner.stop.notified() => break,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    tokio::spawn(conn::serve(Arc::clone(&inner), stream, peer));
                }
                Err(e) => {
                    tracing::warn!("temporary Accept() failure - {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            },
        }
    }
    tracing::info!("TCP: closing {}", inner.opts.tcp_address);
}

/// What this nsqd tells lookupds in IDENTIFY. Ports are the broadcast
/// ports, or else the ports it really listens on (`http` is the HTTP
/// listener's address when there is one; without it, the port of
/// --http-address).
fn node_info(
    opts: &Options,
    tcp: SocketAddr,
    http: Option<SocketAddr>,
    hostname: &str,
) -> NodeInfo {
    let http_port = match (opts.broadcast_http_port, http) {
        (p, _) if p != 0 => p,
        (_, Some(a)) => a.port(),
        (_, None) => opts
            .http_address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(0),
    };
    let tcp_port = match opts.broadcast_tcp_port {
        0 => tcp.port(),
        p => p,
    };
    NodeInfo {
        broadcast_address: opts.broadcast_address.clone(),
        hostname: hostname.to_string(),
        http_port,
        tcp_port,
        version: nsq_core::NSQ_VERSION.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_ports_default_to_the_listening_ports() {
        let tcp: SocketAddr = "127.0.0.1:5150".parse().unwrap();
        let http: SocketAddr = "127.0.0.1:5151".parse().unwrap();
        let mut o = Options {
            broadcast_address: "b".into(),
            http_address: "0.0.0.0:4151".into(),
            ..Options::default()
        };
        let n = node_info(&o, tcp, Some(http), "h");
        assert_eq!(
            (n.tcp_port, n.http_port, n.hostname.as_str()),
            (5150, 5151, "h")
        );
        assert_eq!(node_info(&o, tcp, None, "h").http_port, 4151);
        o.broadcast_tcp_port = 1;
        o.broadcast_http_port = 2;
        let n = node_info(&o, tcp, Some(http), "h");
        assert_eq!(
            (n.tcp_port, n.http_port, n.version.as_str()),
            (1, 2, "1.3.0")
        );
    }
}
