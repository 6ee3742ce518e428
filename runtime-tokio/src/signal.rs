//! Waiting for SIGINT or SIGTERM (production builds only).

/// Resolves on the first SIGINT or SIGTERM.
#[cfg(not(madsim))]
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Under the simulator a node is stopped by the simulator itself.
#[cfg(madsim)]
pub async fn shutdown_signal() {
    std::future::pending::<()>().await
}
