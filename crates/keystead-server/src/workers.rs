//! Background workers: automatic key rotation and deletion at the end of the pending window.
//! Each pass is idempotent (the service re-checks each key under its writer lock), so a pass
//! interrupted by a crash is simply run again at the next start.

use std::sync::Arc;
use std::time::Duration;

use keystead_types::Clock;
use tokio::sync::watch;

use crate::App;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pass {
    pub(crate) rotated: usize,
    pub(crate) deleted: usize,
}

/// Runs one pass of every worker. Errors are logged; the next pass retries. Each key rotated
/// or deleted is recorded as an `AwsServiceEvent` (`RotateKey`, `DeleteKey`), as CloudTrail
/// records KMS's own work.
pub(crate) async fn run_once(app: &App) -> Pass {
    let mut pass = Pass::default();
    match app.keys.rotate_due_keys().await {
        Ok(rotated) => {
            pass.rotated = rotated.len();
            app.metrics.worker_run("rotation", Ok(rotated.len()));
            record(app, "RotateKey", &rotated).await;
        }
        Err(e) => {
            app.metrics.worker_run("rotation", Err(()));
            tracing::error!(error = %e, "key rotation worker failed; will retry");
        }
    }
    match app.keys.delete_due_keys().await {
        Ok(deleted) => {
            pass.deleted = deleted.len();
            app.metrics.worker_run("deletion", Ok(deleted.len()));
            record(app, "DeleteKey", &deleted).await;
        }
        Err(e) => {
            app.metrics.worker_run("deletion", Err(()));
            tracing::error!(error = %e, "key deletion worker failed; will retry");
        }
    }
    crate::secrets::run_workers(app).await;
    pass
}

/// Records what a worker did to each of the keys `key_arns` names. The change is already
/// durable, so a failed record can only be logged (loudly): the trail then misses a service
/// event.
async fn record(app: &App, event_name: &str, key_arns: &[String]) {
    for key in key_arns {
        if let Err(e) = app
            .audit
            .record_key_service_event(event_name, key, app.clock.now())
            .await
        {
            tracing::error!(error = %e, key, event_name, "could not record a service event");
        }
    }
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
