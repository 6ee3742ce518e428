//! nsqlookupd on tokio: the lookup protocol V1 over TCP and the HTTP API,
//! both over one registration DB. The rules are core's
//! (`nsq_core::lookup`); this module moves bytes and holds the lock.

#[cfg(not(madsim))]
mod http;
mod tcp;

use nsq_core::lookup::{LookupdOptions, RegistrationDb, ServerInfo};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Why nsqlookupd could not start.
#[derive(Debug)]
pub enum NsqlookupdError {
    Listen(String, std::io::Error),
}

impl std::fmt::Display for NsqlookupdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NsqlookupdError::Listen(addr, e) => write!(f, "listen ({addr}) failed - {e}"),
        }
    }
}

impl std::error::Error for NsqlookupdError {}

pub(crate) struct Shared {
    pub opts: LookupdOptions,
    pub info: ServerInfo,
    db: Mutex<RegistrationDb>,
    stop: Notify,
}

impl Shared {
    pub fn db(&self) -> MutexGuard<'_, RegistrationDb> {
        // Every DB change is complete before the lock is released.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// See [`Nsqlookupd::db_view`].
#[derive(Clone)]
pub struct DbView(Arc<Shared>);

impl DbView {
    /// Runs `f` on the registration DB (under its lock: keep it short).
    pub fn with<R>(&self, f: impl FnOnce(&RegistrationDb, &LookupdOptions) -> R) -> R {
        f(&self.0.db(), &self.0.opts)
    }
}

/// A running nsqlookupd.
pub struct Nsqlookupd {
    shared: Arc<Shared>,
    tcp_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    tcp_task: JoinHandle<()>,
    http_task: Option<JoinHandle<()>>,
}

async fn bind(addr: &str) -> Result<(TcpListener, SocketAddr), NsqlookupdError> {
    let err = |e| NsqlookupdError::Listen(addr.to_string(), e);
    let l = crate::listen::tcp(addr).await.map_err(err)?;
    let a = l.local_addr().map_err(err)?;
    Ok((l, a))
}

impl Nsqlookupd {
    /// Binds the TCP and HTTP listeners and starts serving.
    pub async fn start(opts: LookupdOptions) -> Result<Nsqlookupd, NsqlookupdError> {
        let (tcp, tcp_addr) = bind(&opts.tcp_address).await?;
        #[cfg(not(madsim))]
        let (http, http_addr) = {
            let (l, a) = bind(&opts.http_address).await?;
            (Some(l), Some(a))
        };
        #[cfg(madsim)]
        let (http, http_addr): (Option<TcpListener>, Option<SocketAddr>) = (None, None);
        let info = ServerInfo {
            broadcast_address: opts.broadcast_address.clone(),
            hostname: opts.hostname.clone(),
            http_port: http_addr.map(|a| a.port()).unwrap_or(0),
            tcp_port: tcp_addr.port(),
            version: nsq_core::NSQ_VERSION.to_string(),
        };
        let shared = Arc::new(Shared {
            opts,
            info,
            db: Mutex::new(RegistrationDb::new()),
            stop: Notify::new(),
        });
        tracing::info!("TCP: listening on {tcp_addr}");
        let tcp_task = tokio::spawn(tcp::accept_loop(Arc::clone(&shared), tcp));
        let http_task = http.map(|l| {
            #[cfg(not(madsim))]
            {
                tracing::info!("HTTP: listening on {}", http_addr.unwrap_or(tcp_addr));
                http::serve(Arc::clone(&shared), l)
            }
            #[cfg(madsim)]
            {
                drop(l);
                tokio::spawn(async {})
            }
        });
        Ok(Nsqlookupd {
            shared,
            tcp_addr,
            http_addr,
            tcp_task,
            http_task,
        })
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The HTTP listener's address (none under the simulator).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn options(&self) -> &LookupdOptions {
        &self.shared.opts
    }

    /// A read-only window on the registrations (tests and the simulator
    /// look at what this lookupd would answer without going through HTTP).
    pub fn db_view(&self) -> DbView {
        DbView(Arc::clone(&self.shared))
    }

    /// Stops listening; connected peers are dropped.
    pub async fn shutdown(self) {
        self.shared.stop.notify_one();
        let _ = self.tcp_task.await;
        if let Some(h) = self.http_task {
            h.abort();
            let _ = h.await;
        }
        tracing::info!("NSQ: bye");
    }
}
