//! nsqadmin on tokio: the web UI and JSON API for a whole NSQ cluster.
//! The cluster rules (what to ask, how to merge) are `nsq_core::admin`'s;
//! this module asks (`cluster`, over `client`), serves (`http`, the embedded
//! `assets`) and sends notifications (`notify`). Production builds only.

mod assets;
mod client;
mod cluster;
mod http;
mod notify;

use crate::nsqd::LogLevelHook;
use client::Upstream;
use cluster::Cluster;
use notify::Notifier;
use nsq_core::admin::AdminOptions;
use nsq_core::api::config::LogLevel;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use tokio::task::JoinHandle;

pub use assets::ASSETS;

/// Why nsqadmin could not start.
#[derive(Debug)]
pub enum NsqadminError {
    Options(String),
    Listen(String, std::io::Error),
}

impl std::fmt::Display for NsqadminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NsqadminError::Options(e) => f.write_str(e),
            NsqadminError::Listen(addr, e) => write!(f, "listen ({addr}) failed - {e}"),
        }
    }
}

impl std::error::Error for NsqadminError {}

pub(crate) struct Shared {
    opts: RwLock<Arc<AdminOptions>>,
    pub cluster: Cluster,
    pub notifier: Notifier,
    log_hook: Mutex<Option<LogLevelHook>>,
    /// This machine's host name (a notification's `via`).
    pub via: String,
}

impl Shared {
    pub fn opts(&self) -> Arc<AdminOptions> {
        Arc::clone(&self.opts.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Swaps in changed options (`PUT /config`), applying a new log level.
    pub fn set_opts(&self, next: AdminOptions) -> Result<(), String> {
        let level_changed = self.opts().log_level != next.log_level;
        if level_changed {
            if let Some(hook) = self
                .log_hook
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                hook(next.log_level)?;
            }
        }
        *self.opts.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }
}

/// The HTTP client's TLS settings: a configuration when HTTPS can be
/// verified (a CA file, or verification switched off), else why not.
fn client_tls(o: &AdminOptions) -> Result<Result<Arc<crate::tls::ClientConfig>, String>, String> {
    let (ca, skip, cert, key) = (
        &o.http_client_tls_root_ca_file,
        o.http_client_tls_insecure_skip_verify,
        &o.http_client_tls_cert,
        &o.http_client_tls_key,
    );
    if !cert.is_empty() {
        // Fail at start on unreadable certificates, as NSQ does.
        crate::tls::client_config("", true, cert, key, "")
            .map_err(|e| format!("failed to LoadX509KeyPair {cert}, {key} - {e}"))?;
    }
    if ca.is_empty() && !skip {
        return Ok(Err(
            "https needs --http-client-tls-root-ca-file or --http-client-tls-insecure-skip-verify"
                .to_string(),
        ));
    }
    crate::tls::client_config(ca, skip, cert, key, "")
        .map(Ok)
        .map_err(|e| format!("failed to read TLS root CA file {ca} - {e}"))
}

/// A running nsqadmin.
pub struct Nsqadmin {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Nsqadmin {
    /// Checks the options as NSQ does, binds `--http-address` and serves.
    pub async fn start(mut opts: AdminOptions) -> Result<Nsqadmin, NsqadminError> {
        opts.validate().map_err(NsqadminError::Options)?;
        let tls = client_tls(&opts).map_err(NsqadminError::Options)?;
        let client = Upstream::new(
            opts.http_client_connect_timeout,
            opts.http_client_request_timeout,
            tls,
        );
        let listener = crate::listen::tcp(&opts.http_address)
            .await
            .map_err(|e| NsqadminError::Listen(opts.http_address.clone(), e))?;
        let http_addr = listener
            .local_addr()
            .map_err(|e| NsqadminError::Listen(opts.http_address.clone(), e))?;
        let shared = Arc::new(Shared {
            notifier: Notifier::start(opts.notification_http_endpoint.clone(), client.clone()),
            cluster: Cluster { client },
            opts: RwLock::new(Arc::new(opts)),
            log_hook: Mutex::new(None),
            via: crate::host::hostname(),
        });
        tracing::info!("HTTP: listening on {http_addr}");
        let task = http::serve(Arc::clone(&shared), listener);
        Ok(Nsqadmin {
            shared,
            http_addr,
            task,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The options in effect (including `PUT /config` changes).
    pub fn options(&self) -> Arc<AdminOptions> {
        self.shared.opts()
    }

    /// Lets `PUT /config/log_level` change the log level.
    pub fn set_log_level_hook(&self, hook: LogLevelHook) {
        *self
            .shared
            .log_hook
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// The level `PUT /config/log_level` last set (or the start-up one).
    pub fn log_level(&self) -> LogLevel {
        self.shared.opts().log_level
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
        tracing::info!("NSQ: bye");
    }
}
