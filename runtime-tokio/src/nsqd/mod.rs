//! nsqd on tokio: listeners, connections, topics with their timers and
//! disk I/O, lookupd registration, the HTTP API and the statsd pusher.

#[cfg_attr(madsim, allow(dead_code))]
mod admin;
mod authd;
mod conn;
mod conns;
pub mod disk_io;
#[cfg(not(madsim))]
mod http;
mod lifecycle;
mod lookup;
mod memstats;
pub mod ops;
mod precreate;
pub mod probe;
pub mod registry;
pub mod shared;
mod stats;
mod statsd;
mod transport;

use crate::clock;
use crate::listen::{Listener, Local};
use conns::Conns;
use disk_io::DiskFactory;
use lookup::LookupHandle;
use nsq_core::api::config::LogLevel;
use nsq_core::broker::{BrokerConfig, ClientConfig};
use nsq_core::io::Nanos;
use nsq_core::lookup::registrar::{NodeInfo, RegistrarConfig, Timing};
use nsq_core::lookup::Registrar;
use nsq_core::Options;
use registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{watch, Notify};

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

/// Applies a new log level (the binary installs one; see [`Nsqd::set_log_level_hook`]).
pub type LogLevelHook = Arc<dyn Fn(LogLevel) -> Result<(), String> + Send + Sync>;

struct LogControl {
    level: LogLevel,
    hook: Option<LogLevelHook>,
}

pub(crate) struct Inner {
    /// The options in effect: broadcast ports and the statsd prefix are
    /// resolved at start, as NSQ does.
    pub opts: Options,
    pub client_cfg: Arc<ClientConfig>,
    pub registry: Registry,
    /// TLS for IDENTIFY's `tls_v1` (and HTTPS), when a certificate is set.
    pub tls: Option<Arc<crate::tls::ServerConfig>>,
    pub authd: authd::Authd,
    /// Disk handles (none: everything stays in memory).
    pub disks: Option<DiskFactory>,
    lookup: LookupHandle,
    pub conns: Conns,
    pub start_time: Nanos,
    /// Where the protocol listens (TCP, or a unix socket).
    pub tcp: Local,
    /// Where the HTTP API listens (none with `--http-address=""`).
    pub http: Option<Local>,
    /// Where the API listens over TLS (`--https-address`, with a certificate).
    #[cfg_attr(madsim, allow(dead_code))]
    pub https_addr: Option<SocketAddr>,
    #[cfg_attr(madsim, allow(dead_code))]
    pub hostname: String,
    next_client_id: AtomicU64,
    stop: Notify,
    /// The error that makes nsqd unhealthy (set by the disk code), if any.
    health: RwLock<Option<String>>,
    lookupd: watch::Sender<Vec<String>>,
    log: Mutex<LogControl>,
}

impl Inner {
    fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Marks nsqd unhealthy with `error`, or healthy again with `None`.
    pub fn set_health(&self, error: Option<String>) {
        *self.health.write().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// What makes nsqd unhealthy: an error set explicitly, or else the
    /// first disk error of any queue (it clears when the disk recovers).
    fn health_error(&self) -> Option<String> {
        let set = self
            .health
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        set.or_else(|| {
            self.registry
                .all()
                .iter()
                .find_map(|cell| cell.lock().topic.health())
        })
    }

    /// NSQ's health text: `OK` or `NOK - <error>`.
    pub fn health(&self) -> String {
        nsq_core::stats::health_text(self.health_error().as_deref())
    }

    #[cfg_attr(madsim, allow(dead_code))]
    pub fn is_healthy(&self) -> bool {
        self.health_error().is_none()
    }

    #[cfg_attr(madsim, allow(dead_code))]
    pub fn lookupd_addresses(&self) -> Vec<String> {
        self.lookupd.borrow().clone()
    }

    /// Replaces the nsqlookupd addresses: dropped lookupds are closed, new
    /// ones connected and told everything.
    #[cfg_attr(madsim, allow(dead_code))]
    pub fn set_lookupd_addresses(&self, addrs: Vec<String>) {
        self.lookup.set_tcp_addresses(addrs.clone());
        self.lookupd.send_replace(addrs);
    }

    fn log(&self) -> std::sync::MutexGuard<'_, LogControl> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg_attr(madsim, allow(dead_code))]
    pub fn log_level(&self) -> LogLevel {
        self.log().level
    }

    /// Applies a new log level through the installed hook (if any).
    #[cfg_attr(madsim, allow(dead_code))]
    pub fn set_log_level(&self, level: LogLevel) -> Result<(), String> {
        let mut log = self.log();
        if let Some(hook) = &log.hook {
            hook(level)?;
        }
        log.level = level;
        tracing::info!("log level set to {level:?}");
        Ok(())
    }
}

/// The most bytes one connection holds for its client, however it
/// behaves (README: Limits): message frames until 1 MiB waits unwritten
/// (plus the one that crossed the line), and answers until 256 KiB wait
/// (plus what the commands of the read in hand answer: an error is at most
/// four times its command's size).
pub fn connection_output_bound(opts: &Options) -> u64 {
    connection_message_bound(opts)
        + nsq_core::protocol::session::MAX_PENDING_RESPONSES as u64
        + 4 * conn::READ_CHUNK as u64
}

/// The part of [`connection_output_bound`] that message frames may take.
pub fn connection_message_bound(opts: &Options) -> u64 {
    let max_frame = opts.max_msg_size.max(0) as u64 + 8 + 26;
    opts.max_unwritten_bytes + max_frame
}

/// A running nsqd.
pub struct Nsqd {
    inner: Arc<Inner>,
    accept: tokio::task::JoinHandle<()>,
    /// The HTTP server, the statsd pusher and the metadata writer: stopped at shutdown.
    services: Vec<tokio::task::JoinHandle<()>>,
    lock: Option<lifecycle::DirLock>,
}

/// Binds `addr`: TCP, or a unix socket path (as NSQ takes `--tcp-address`
/// and `--http-address`).
async fn bind(addr: &str) -> Result<(Listener, Local), NsqdError> {
    let err = |e| NsqdError::Listen(addr.to_string(), e);
    let l = Listener::bind(addr).await.map_err(err)?;
    let a = l.local().map_err(err)?;
    Ok((l, a))
}

/// Binds `--https-address` (TCP only, as in NSQ).
#[cfg(not(madsim))]
async fn bind_tcp(addr: &str) -> Result<(tokio::net::TcpListener, SocketAddr), NsqdError> {
    let err = |e| NsqdError::Listen(addr.to_string(), e);
    let l = crate::listen::tcp(addr).await.map_err(err)?;
    let a = l.local_addr().map_err(err)?;
    Ok((l, a))
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
    pub async fn start_with(
        mut opts: Options,
        disks: Option<DiskFactory>,
    ) -> Result<Nsqd, NsqdError> {
        opts.validate().map_err(NsqdError::Options)?;
        opts.apply_tls_rules().map_err(NsqdError::Options)?;
        let tls = crate::tls::server_config(&opts)
            .map_err(|e| NsqdError::Options(format!("failed to build TLS config - {e}")))?;
        let mut client_cfg = ClientConfig::from_options(&opts);
        client_cfg.tls_available = tls.is_some();
        let broker_cfg = BrokerConfig::from_options(&opts, disks.is_some());
        let authd = authd::Authd::new(&opts, opts.node_id as u64).map_err(NsqdError::Options)?;
        let (listener, tcp) = bind(&opts.tcp_address).await?;
        tracing::info!("TCP: listening on {tcp}");
        #[cfg(not(madsim))]
        let http = if opts.http_address.is_empty() {
            None
        } else {
            let (l, a) = bind(&opts.http_address).await?;
            tracing::info!("HTTP: listening on {a}");
            Some((l, a))
        };
        #[cfg(madsim)]
        let http: Option<((), Local)> = None;
        let http_local = http.as_ref().map(|(_, a)| a.clone());
        #[cfg(not(madsim))]
        let https = match (&tls, opts.https_address.is_empty()) {
            (Some(_), false) => {
                let (l, a) = bind_tcp(&opts.https_address).await?;
                tracing::info!("HTTPS: listening on {a}");
                Some((l, a))
            }
            _ => None,
        };
        #[cfg(madsim)]
        let https: Option<((), SocketAddr)> = None;
        let https_addr = https.as_ref().map(|(_, a)| *a);
        // NSQ fills in the broadcast ports (left 0 for unix sockets) and
        // the statsd prefix's host key.
        if opts.broadcast_http_port == 0 {
            opts.broadcast_http_port = http_local.as_ref().and_then(Local::port).unwrap_or(0);
        }
        if opts.broadcast_tcp_port == 0 {
            opts.broadcast_tcp_port = tcp.port().unwrap_or(0);
        }
        opts.statsd_prefix = nsq_core::stats::statsd::resolve_prefix(
            &opts.statsd_prefix,
            &opts.broadcast_address,
            opts.broadcast_http_port,
        );
        let seed = opts.node_id as u64;
        let hostname = crate::host::hostname();
        let node = node_info(&opts, &tcp, http_local.as_ref(), &hostname);
        if node.http_port == 0 && !opts.lookupd_tcp_addresses.is_empty() {
            tracing::warn!(
                "LOOKUP: broadcast HTTP port is 0, lookupds will refuse this nsqd; set --broadcast-http-port"
            );
        }
        let registrar = Registrar::new(RegistrarConfig {
            node,
            max_response_size: opts.max_body_size,
            timing: Timing::default(),
            seed: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(tcp.port().unwrap_or(0)),
        });
        let (lookupd, _) = watch::channel(opts.lookupd_tcp_addresses.clone());
        let inner = Arc::new_cyclic(|weak| {
            let addrs = opts.lookupd_tcp_addresses.clone();
            let (lookup, catalog) = LookupHandle::start(registrar, addrs, weak.clone());
            Inner {
                client_cfg: Arc::new(client_cfg),
                registry: Registry::new(broker_cfg, seed, disks.clone()).with_catalog(catalog),
                tls,
                authd,
                disks,
                lookup,
                conns: Conns::default(),
                start_time: clock::now(),
                tcp,
                http: http_local,
                https_addr,
                hostname,
                next_client_id: AtomicU64::new(0),
                stop: Notify::new(),
                health: RwLock::new(None),
                lookupd,
                log: Mutex::new(LogControl {
                    level: LogLevel::Info,
                    hook: None,
                }),
                opts,
            }
        });
        let mut services = Vec::new();
        if inner.disks.is_some() {
            lifecycle::load(&inner).await.map_err(NsqdError::DataPath)?;
            services.push(tokio::spawn(lifecycle::persist_metadata_loop(Arc::clone(
                &inner,
            ))));
        }
        let accept = tokio::spawn(accept_loop(Arc::clone(&inner), listener));
        #[cfg(not(madsim))]
        if let Some((l, _)) = http {
            services.push(http::start(Arc::clone(&inner), l));
        }
        #[cfg(not(madsim))]
        if let (Some((l, _)), Some(config)) = (https, inner.tls.clone()) {
            services.push(http::start_https(Arc::clone(&inner), l, config));
        }
        if !inner.opts.statsd_address.is_empty() {
            services.push(tokio::spawn(statsd::run(Arc::clone(&inner))));
        }
        Ok(Nsqd {
            inner,
            accept,
            services,
            lock: None,
        })
    }

    /// Where the protocol listens over TCP (the unspecified address when
    /// it listens on a unix socket; see [`Nsqd::tcp_local`]).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.inner.tcp.tcp_or_unspecified()
    }

    /// Where the protocol listens: TCP or a unix socket.
    pub fn tcp_local(&self) -> &Local {
        &self.inner.tcp
    }

    /// Where the HTTP API listens over TCP (`None` with `--http-address=""`
    /// or a unix socket).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        match &self.inner.http {
            Some(Local::Tcp(a)) => Some(*a),
            _ => None,
        }
    }

    /// The options in effect (broadcast ports and statsd prefix resolved).
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// What each live connection negotiated and who it is, by client id.
    pub fn conn_infos(&self) -> Vec<(u64, nsq_core::stats::ClientIdentity)> {
        self.inner
            .conns
            .all()
            .iter()
            .map(|h| (h.id, h.info().identity.clone()))
            .collect()
    }

    /// Marks nsqd unhealthy (`/ping` answers 500 with the error) or healthy again.
    pub fn set_health(&self, error: Option<String>) {
        self.inner.set_health(error);
    }

    /// The nsqlookupd TCP addresses, updated by `PUT /config/nsqlookupd_tcp_addresses`.
    pub fn lookupd_addresses_watch(&self) -> watch::Receiver<Vec<String>> {
        self.inner.lookupd.subscribe()
    }

    /// Lets `PUT /config/log_level` change the log level: `current` is the
    /// level in effect, `hook` applies a new one.
    pub fn set_log_level_hook(&self, current: LogLevel, hook: LogLevelHook) {
        let mut log = self.inner.log();
        log.level = current;
        log.hook = Some(hook);
    }

    /// The first disk error of any queue, or an error set explicitly.
    pub fn health(&self) -> Option<String> {
        self.inner.health_error()
    }

    /// Replaces the lookupds this nsqd registers with (NSQ's
    /// `PUT /config/nsqlookupd_tcp_addresses`): dropped ones are closed,
    /// new ones connected and told everything.
    pub fn set_lookupd_tcp_addresses(&self, addrs: Vec<String>) {
        self.inner.set_lookupd_addresses(addrs);
    }

    /// The lookupd TCP addresses currently configured.
    pub fn lookupd_tcp_addresses(&self) -> Vec<String> {
        self.inner.lookup.tcp_addresses()
    }

    /// The lookupds' HTTP addresses learned from their IDENTIFY answers.
    pub fn lookupd_http_addresses(&self) -> Vec<String> {
        self.inner.lookup.http_addresses()
    }

    /// Stops accepting, closes every connection, writes every message held
    /// in memory (in flight and deferred too) to disk, syncs, writes the
    /// metadata and leaves the lookupds.
    pub async fn shutdown(self) {
        for s in &self.services {
            s.abort();
        }
        self.inner.stop.notify_one();
        let _ = self.accept.await;
        for s in self.services {
            let _ = s.await;
        }
        lifecycle::close_connections(&self.inner).await;
        if self.inner.disks.is_some() {
            lifecycle::persist_all(&self.inner).await;
        }
        self.inner.lookup.stop().await;
        drop(self.lock);
        tracing::info!("NSQ: bye");
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: Listener) {
    loop {
        tokio::select! {
            biased; // a fixed order, so simulated runs repeat (README: Simulation)
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
    tracing::info!("TCP: closing {}", inner.tcp);
}

/// What this nsqd tells lookupds in IDENTIFY. Ports are the broadcast
/// ports, or else the ports it really listens on (`http` is the HTTP
/// listener's address when there is one; without it, the port of
/// --http-address). A unix socket has no port: 0 is announced, as by NSQ
/// (lookupds refuse it; set --broadcast-tcp-port / --broadcast-http-port).
fn node_info(opts: &Options, tcp: &Local, http: Option<&Local>, hostname: &str) -> NodeInfo {
    let http_port = match (opts.broadcast_http_port, http) {
        (p, _) if p != 0 => p,
        (_, Some(a)) => a.port().unwrap_or(0),
        (_, None) => opts
            .http_address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(0),
    };
    let tcp_port = match opts.broadcast_tcp_port {
        0 => tcp.port().unwrap_or(0),
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
        let tcp = Local::Tcp("127.0.0.1:5150".parse().unwrap());
        let http = Local::Tcp("127.0.0.1:5151".parse().unwrap());
        let mut o = Options {
            broadcast_address: "b".into(),
            http_address: "0.0.0.0:4151".into(),
            ..Options::default()
        };
        let n = node_info(&o, &tcp, Some(&http), "h");
        assert_eq!(
            (n.tcp_port, n.http_port, n.hostname.as_str()),
            (5150, 5151, "h")
        );
        assert_eq!(node_info(&o, &tcp, None, "h").http_port, 4151);
        // unix sockets have no port: NSQ announces 0
        let unix = Local::Unix("/tmp/nsqd.sock".into());
        let n = node_info(&o, &unix, Some(&unix), "h");
        assert_eq!((n.tcp_port, n.http_port), (0, 0));
        o.broadcast_tcp_port = 1;
        o.broadcast_http_port = 2;
        let n = node_info(&o, &tcp, Some(&http), "h");
        assert_eq!(
            (n.tcp_port, n.http_port, n.version.as_str()),
            (1, 2, "1.3.0")
        );
    }
}
