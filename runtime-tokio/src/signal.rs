//! Waiting for SIGINT or SIGTERM (production builds only).

use std::future::Future;

/// Resolves on the first SIGINT or SIGTERM after this call: the handlers
/// are installed now (call it before starting a server, so a signal sent
/// as soon as it listens is not the default "terminate").
#[cfg(not(madsim))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!("cannot listen for SIGTERM/SIGINT: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// Under the simulator a node is stopped by the simulator itself.
#[cfg(madsim)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    std::future::pending::<()>()
}
