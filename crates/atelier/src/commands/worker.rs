//! `atelier worker`: job workers only, no HTTP.

use anyhow::Context;
use atelier_platform::{Platform, jobs::worker};
use tokio::sync::watch;

use crate::settings::Settings;

/// Runs `settings.server.workers` workers until Ctrl-C or SIGTERM, then lets running jobs finish
/// within the grace period and hands the others back to the queue.
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
    let (release_tx, release_rx) = watch::channel(false);
    let mut handles = worker::spawn(&platform, count, stop_rx.clone(), release_rx);
    handles.push(atelier_platform::maintenance::spawn(&platform, stop_rx));
    super::shutdown_signal().await;
    let grace = settings.server.shutdown_grace;
    tracing::info!(
        grace_secs = grace.as_secs_f64(),
        "stopping: no new jobs are claimed; running jobs finish within the grace period or are handed back"
    );
    let _ = stop_tx.send(true);
    worker::drain(handles, tokio::time::sleep(grace), &release_tx).await;
    platform.db().close().await;
    Ok(())
}
