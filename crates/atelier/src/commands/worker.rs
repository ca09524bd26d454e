//! `atelier worker`: job workers only, no HTTP.

use anyhow::Context;
use atelier_platform::{Platform, jobs::worker};
use tokio::sync::watch;

use crate::settings::Settings;

/// Runs `settings.server.workers` workers until Ctrl-C or SIGTERM, then lets running jobs finish.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let count = settings.server.workers.max(1);
    let platform = Platform::open(settings.platform)
        .await
        .context("cannot open the platform")?;
    tracing::info!(
        workers = count,
        database = ?platform.db().backend(),
        storage = platform.storage().description(),
        kinds = ?platform.jobs().kinds(),
        "atelier worker started"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut handles = worker::spawn(&platform, count, stop_rx.clone());
    handles.push(atelier_platform::maintenance::spawn(&platform, stop_rx));
    super::shutdown_signal().await;
    tracing::info!("stopping: running jobs finish, no new jobs are claimed");
    let _ = stop_tx.send(true);
    let grace = settings.server.shutdown_grace;
    if tokio::time::timeout(grace, futures::future::join_all(handles))
        .await
        .is_err()
    {
        tracing::warn!("jobs still running after the grace period; they will be retried elsewhere");
    }
    platform.db().close().await;
    Ok(())
}
