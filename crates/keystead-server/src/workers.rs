//! Background workers: automatic key rotation and deletion at the end of the pending window.
//! Each pass is idempotent (the service re-checks each key under its writer lock), so a pass
//! interrupted by a crash is simply run again at the next start.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::App;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pass {
    pub(crate) rotated: usize,
    pub(crate) deleted: usize,
}

/// Runs one pass of every worker. Errors are logged; the next pass retries.
pub(crate) async fn run_once(app: &App) -> Pass {
    let mut pass = Pass::default();
    match app.keys.rotate_due_keys().await {
        Ok(rotated) => pass.rotated = rotated.len(),
        Err(e) => tracing::error!(error = %e, "key rotation worker failed; will retry"),
    }
    match app.keys.delete_due_keys().await {
        Ok(deleted) => pass.deleted = deleted.len(),
        Err(e) => tracing::error!(error = %e, "key deletion worker failed; will retry"),
    }
    pass
}

/// Runs the workers every `interval`, or sooner when woken, until `shutdown` changes.
pub(crate) async fn run(app: Arc<App>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        run_once(&app).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = app.workers_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}
