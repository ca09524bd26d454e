//! Periodic housekeeping every `serve` and `worker` process runs: the blob collector (crash
//! leftovers, see [`crate::blobs::collect`]), the purge of expired and revoked sessions, and
//! the sweep of what canceled jobs stored — files, detectors, a studio import's frames (a job
//! checks its state around each store, but a cancel can still land between its last check and
//! its end). Every pass is safe to run on many nodes at once.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    Platform, PlatformError, PlatformResult, accounts, blobs, jobs::queue, studio, uploads,
};

/// Housekeeping settings (`[maintenance]` in the settings file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceConfig {
    /// Time between passes. Default 10 minutes.
    pub interval: Duration,
    /// How old an unreferenced object or an unexplained reference count must be before the
    /// collector acts on it: longer than any upload takes between taking its blob reference and
    /// inserting its row. Default 1 hour.
    pub blob_grace: Duration,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(600),
            blob_grace: Duration::from_secs(3600),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// The blob collector's work.
    pub blobs: blobs::Collected,
    /// Sessions removed.
    pub sessions: u64,
    /// Outputs of canceled jobs deleted.
    pub canceled_outputs: u64,
}

/// Runs one pass now.
pub async fn run_once(platform: &Platform) -> PlatformResult<Swept> {
    let config = platform.config().maintenance;
    let blobs = blobs::collect(platform, config.blob_grace, blobs::DELETION_LEASE).await?;
    let sessions = accounts::purge_sessions(platform.db()).await?;
    let canceled_outputs = sweep_canceled_outputs(platform).await?;
    Ok(Swept {
        blobs,
        sessions,
        canceled_outputs,
    })
}

/// Most outputs of canceled jobs one pass deletes (the next pass takes the rest).
const SWEEP_BATCH: i64 = 1000;

/// Deletes what canceled jobs stored — their output files, the detectors of canceled
/// trainings — and settles the studio media whose import was canceled or failed for good
/// (`studio::media::settle_imports`: frames deleted, media `failed`); returns how many of
/// these went.
pub async fn sweep_canceled_outputs(platform: &Platform) -> PlatformResult<u64> {
    let mut deleted = studio::detectors::delete_of_canceled_jobs(platform.db()).await?;
    deleted += studio::media::settle_imports(platform, None).await?;
    for (owner, id) in queue::canceled_outputs(platform.db(), SWEEP_BATCH).await? {
        match uploads::delete_owned(platform, owner, &id).await {
            // Another node's pass (or the owner) was first.
            Ok(()) | Err(PlatformError::NotFound(_)) => deleted += 1,
            Err(err) => return Err(err),
        }
    }
    Ok(deleted)
}

/// Starts the periodic passes; the task ends when `shutdown` turns true.
pub fn spawn(platform: &Platform, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let platform = platform.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(platform.config().maintenance.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            match run_once(&platform).await {
                Ok(swept) if swept != Swept::default() => {
                    tracing::info!(?swept, "maintenance pass");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "maintenance pass failed"),
            }
        }
    })
}
