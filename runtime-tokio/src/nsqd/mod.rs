//! nsqd on tokio: listeners, connections, topics and their timers, the
//! HTTP API and the statsd pusher.

// Only the HTTP API uses these so far (not built under the simulator).
#[cfg_attr(madsim, allow(dead_code))]
mod admin;
mod conn;
mod conns;
#[cfg(not(madsim))]
mod http;
mod memstats;
pub mod ops;
pub mod registry;
pub mod shared;
mod stats;
mod statsd;

use crate::clock;
use conns::Conns;
use nsq_core::api::config::LogLevel;
use nsq_core::broker::config::MemoryOnly;
use nsq_core::broker::{BrokerConfig, ClientConfig};
use nsq_core::io::Nanos;
use nsq_core::Options;
use registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// Why nsqd could not start.
#[derive(Debug)]
pub enum NsqdError {
    Options(String),
    Listen(String, std::io::Error),
}

impl std::fmt::Display for NsqdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NsqdError::Options(e) => f.write_str(e),
            NsqdError::Listen(addr, e) => write!(f, "listen ({addr}) failed - {e}"),
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
    pub conns: Conns,
    pub start_time: Nanos,
    pub tcp_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
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

    /// NSQ's health text: `OK` or `NOK - <error>`.
    pub fn health(&self) -> String {
        let h = self.health.read().unwrap_or_else(|e| e.into_inner());
        nsq_core::stats::health_text(h.as_deref())
    }

    #[cfg_attr(madsim, allow(dead_code))]
    pub fn is_healthy(&self) -> bool {
        self.health
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    #[cfg_attr(madsim, allow(dead_code))]
    pub fn lookupd_addresses(&self) -> Vec<String> {
        self.lookupd.borrow().clone()
    }

    /// Replaces the nsqlookupd addresses; whoever watches them reconnects.
    #[cfg_attr(madsim, allow(dead_code))]
    pub fn set_lookupd_addresses(&self, addrs: Vec<String>) {
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

/// A running nsqd.
pub struct Nsqd {
    inner: Arc<Inner>,
    accept: tokio::task::JoinHandle<()>,
    /// The HTTP server and the statsd pusher: stopped at shutdown.
    services: Vec<tokio::task::JoinHandle<()>>,
}

async fn bind(addr: &str) -> Result<(TcpListener, SocketAddr), NsqdError> {
    let err = |e| NsqdError::Listen(addr.to_string(), e);
    let l = TcpListener::bind(addr).await.map_err(err)?;
    let a = l.local_addr().map_err(err)?;
    Ok((l, a))
}

impl Nsqd {
    /// Binds the listeners and starts serving.
    pub async fn start(mut opts: Options) -> Result<Nsqd, NsqdError> {
        opts.validate().map_err(NsqdError::Options)?;
        let mut client_cfg = ClientConfig::from_options(&opts);
        // What this runtime can upgrade a connection to.
        client_cfg.tls_available = false;
        client_cfg.snappy_enabled = false;
        client_cfg.deflate_enabled = false;
        let broker_cfg = BrokerConfig::from_options(&opts, Arc::new(MemoryOnly));
        let (listener, tcp_addr) = bind(&opts.tcp_address).await?;
        tracing::info!("TCP: listening on {tcp_addr}");
        #[cfg(not(madsim))]
        let http = if opts.http_address.is_empty() {
            None
        } else {
            let (l, a) = bind(&opts.http_address).await?;
            tracing::info!("HTTP: listening on {a}");
            Some((l, a))
        };
        #[cfg(madsim)]
        let http: Option<((), SocketAddr)> = None;
        let http_addr = http.as_ref().map(|(_, a)| *a);
        // NSQ fills in the broadcast ports and the statsd prefix's host key.
        if opts.broadcast_http_port == 0 {
            opts.broadcast_http_port = http_addr.map_or(0, |a| a.port());
        }
        if opts.broadcast_tcp_port == 0 {
            opts.broadcast_tcp_port = tcp_addr.port();
        }
        opts.statsd_prefix = nsq_core::stats::statsd::resolve_prefix(
            &opts.statsd_prefix,
            &opts.broadcast_address,
            opts.broadcast_http_port,
        );
        let seed = opts.node_id as u64;
        let (lookupd, _) = watch::channel(opts.lookupd_tcp_addresses.clone());
        let inner = Arc::new(Inner {
            client_cfg: Arc::new(client_cfg),
            registry: Registry::new(broker_cfg, seed),
            conns: Conns::default(),
            start_time: clock::now(),
            tcp_addr,
            http_addr,
            hostname: crate::host::hostname(),
            next_client_id: AtomicU64::new(0),
            stop: Notify::new(),
            health: RwLock::new(None),
            lookupd,
            log: Mutex::new(LogControl {
                level: LogLevel::Info,
                hook: None,
            }),
            opts,
        });
        let accept = tokio::spawn(accept_loop(Arc::clone(&inner), listener));
        let mut services = Vec::new();
        #[cfg(not(madsim))]
        if let Some((l, _)) = http {
            services.push(http::start(Arc::clone(&inner), l));
        }
        if !inner.opts.statsd_address.is_empty() {
            services.push(tokio::spawn(statsd::run(Arc::clone(&inner))));
        }
        Ok(Nsqd {
            inner,
            accept,
            services,
        })
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.inner.tcp_addr
    }

    /// Where the HTTP API listens (`None` with `--http-address=""`).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.inner.http_addr
    }

    /// The options in effect (broadcast ports and statsd prefix resolved).
    pub fn options(&self) -> &Options {
        &self.inner.opts
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

    /// Stops accepting and shuts down.
    pub async fn shutdown(self) {
        for s in &self.services {
            s.abort();
        }
        self.inner.stop.notify_one();
        let _ = self.accept.await;
        for s in self.services {
            let _ = s.await;
        }
        tracing::info!("NSQ: bye");
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
