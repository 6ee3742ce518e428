//! Waiting for SIGINT or SIGTERM (production builds only).

use std::future::Future;

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed
/// when this is called, not when it is first polled: call it before a
/// slow start-up so that a signal arriving meanwhile is not lost (it would
/// otherwise kill the process with the default action).
#[cfg(not(madsim))]
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
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
pub fn shutdown_signal() -> impl Future<Output = ()> {
    std::future::pending::<()>()
}
