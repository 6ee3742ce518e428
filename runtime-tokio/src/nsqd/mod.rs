//! nsqd on tokio: listeners, connections, topics and their timers.

mod conn;
pub mod ops;
pub mod registry;
pub mod shared;

use nsq_core::broker::config::MemoryOnly;
use nsq_core::broker::{BrokerConfig, ClientConfig};
use nsq_core::Options;
use registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Notify;

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

pub(crate) struct Inner {
    pub opts: Options,
    pub client_cfg: Arc<ClientConfig>,
    pub registry: Registry,
    next_client_id: AtomicU64,
    stop: Notify,
}

impl Inner {
    fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A running nsqd.
pub struct Nsqd {
    inner: Arc<Inner>,
    tcp_addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Nsqd {
    /// Binds the listeners and starts serving.
    pub async fn start(opts: Options) -> Result<Nsqd, NsqdError> {
        opts.validate().map_err(NsqdError::Options)?;
        let mut client_cfg = ClientConfig::from_options(&opts);
        // What this runtime can upgrade a connection to.
        client_cfg.tls_available = false;
        client_cfg.snappy_enabled = false;
        client_cfg.deflate_enabled = false;
        let broker_cfg = BrokerConfig::from_options(&opts, Arc::new(MemoryOnly));
        let listener = TcpListener::bind(&opts.tcp_address)
            .await
            .map_err(|e| NsqdError::Listen(opts.tcp_address.clone(), e))?;
        let tcp_addr = listener
            .local_addr()
            .map_err(|e| NsqdError::Listen(opts.tcp_address.clone(), e))?;
        tracing::info!("TCP: listening on {tcp_addr}");
        let seed = opts.node_id as u64;
        let inner = Arc::new(Inner {
            client_cfg: Arc::new(client_cfg),
            registry: Registry::new(broker_cfg, seed),
            next_client_id: AtomicU64::new(0),
            stop: Notify::new(),
            opts,
        });
        let accept = tokio::spawn(accept_loop(Arc::clone(&inner), listener));
        Ok(Nsqd {
            inner,
            tcp_addr,
            accept,
        })
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// Stops accepting and shuts down.
    pub async fn shutdown(self) {
        self.inner.stop.notify_one();
        let _ = self.accept.await;
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
