//! Waiting for the signal that asks a process to stop.

/// Resolves on the first SIGINT (Ctrl-C) or, on Unix, SIGTERM: what a provider or a
/// command waits for before it unregisters and stops.
///
/// ```no_run
/// # async fn run() {
/// zkdubbo::shutdown_signal().await;
/// // unregister, drain, stop
/// # }
/// ```
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; waiting for Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
