//! Sends admin-action notifications to `--notification-http-endpoint`, one
//! at a time in the order they happened, without ever holding up the
//! request that caused them.

use super::client::Upstream;
use nsq_core::admin::notify::AdminAction;
use tokio::sync::mpsc;

/// Notifications queued beyond this are dropped (and logged).
const QUEUE: usize = 1024;

#[derive(Clone)]
pub struct Notifier {
    tx: Option<mpsc::Sender<AdminAction>>,
}

impl Notifier {
    /// A notifier for `endpoint` (none if empty); the task ends when every
    /// `Notifier` clone is dropped.
    pub fn start(endpoint: String, client: Upstream) -> Notifier {
        if endpoint.is_empty() {
            return Notifier { tx: None };
        }
        let (tx, mut rx) = mpsc::channel::<AdminAction>(QUEUE);
        tokio::spawn(async move {
            while let Some(a) = rx.recv().await {
                let body = match serde_json::to_vec(&a) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!("failed to serialize admin action - {e}");
                        continue;
                    }
                };
                tracing::info!("POSTing notification to {endpoint}");
                if let Err(e) = client.post_json(&endpoint, body).await {
                    tracing::error!("failed to POST notification - {e}");
                }
            }
        });
        Notifier { tx: Some(tx) }
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    pub fn send(&self, a: AdminAction) {
        if let Some(tx) = &self.tx {
            if tx.try_send(a).is_err() {
                tracing::warn!("notification queue full, dropping a notification");
            }
        }
    }
}
