//! The worker loop: claim a job, run it on its own task (so a panic stays inside it), heartbeat
//! while it runs, record the outcome. `spawn` starts N such loops in one process.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use super::{
    Job, JobContext, JobFailure, JobStatus, Progress,
    queue::{self, Heartbeat, WAKE_CHANNEL},
};
use crate::{Platform, db::Backend};

/// Starts `count` workers; they stop claiming when `shutdown` turns true and return once their
/// current job is done, or at once when `release` turns true: a running job is then handed back
/// to the queue ([`queue::release`]) for another worker to take without waiting for its lease
/// to expire (a process shutting down sets it when its grace period ends).
pub fn spawn(
    platform: &Platform,
    count: usize,
    shutdown: watch::Receiver<bool>,
    release: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    if count == 0 {
        return Vec::new();
    }
    let mut handles = Vec::with_capacity(count + 1);
    if platform.db().backend() == Backend::Postgres {
        handles.push(tokio::spawn(listen_for_wakeups(
            platform.clone(),
            shutdown.clone(),
        )));
    }
    let process = crate::secrets::random_token(6);
    for index in 0..count {
        let worker_id = format!("{}-{process}-{index}", hostname());
        handles.push(tokio::spawn(run_worker(
            platform.clone(),
            worker_id,
            shutdown.clone(),
            release.clone(),
        )));
    }
    handles
}

/// The pause between tries to record a job's outcome while the database is unavailable.
const RECORD_RETRY: Duration = Duration::from_millis(250);

/// How long released workers get to hand their jobs back before the process goes on without
/// them (their leases then expire as after a crash).
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Waits for `handles` (workers told to stop claiming) until `deadline`, then sets `release` so
/// they hand their running jobs back to the queue, and waits a little more for that.
pub async fn drain(
    handles: Vec<JoinHandle<()>>,
    deadline: impl Future<Output = ()>,
    release: &watch::Sender<bool>,
) {
    let mut all = futures::future::join_all(handles);
    tokio::select! {
        _ = &mut all => return,
        () = deadline => {}
    }
    tracing::warn!("jobs still running after the grace period: handing them back to the queue");
    release.send_replace(true);
    if tokio::time::timeout(RELEASE_WAIT, all).await.is_err() {
        tracing::warn!(
            "some jobs were not handed back; they will be retried after their leases expire"
        );
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned())
}

/// Forwards PostgreSQL `NOTIFY atelier_jobs_…` (this schema's wake-ups) to this process's idle
/// workers.
async fn listen_for_wakeups(platform: Platform, mut shutdown: watch::Receiver<bool>) {
    loop {
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect(platform.db().url()).await?;
            listener
                .listen(&crate::broadcast::scoped_channel(
                    platform.db(),
                    WAKE_CHANNEL,
                ))
                .await?;
            loop {
                listener.recv().await?;
                platform.wake_workers();
            }
            #[expect(unreachable_code, reason = "the loop only ends with an error")]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            result = listener => {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "job wake-up listener failed; retrying (workers keep polling)");
                }
            }
            _ = shutdown.changed() => return,
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn run_worker(
    platform: Platform,
    worker_id: String,
    mut shutdown: watch::Receiver<bool>,
    release: watch::Receiver<bool>,
) {
    let kinds = platform.jobs().kinds();
    tracing::info!(%worker_id, ?kinds, "worker started");
    while !*shutdown.borrow() {
        let claimed = async {
            if queue::reap_expired(platform.db()).await? > 0 {
                // An import whose last attempt's worker died has failed for good: its media
                // is settled now rather than at the next housekeeping pass.
                crate::studio::media::settle_imports(&platform, None).await?;
            }
            queue::claim(platform.db(), &platform.config().jobs, &worker_id, &kinds).await
        }
        .await;
        match claimed {
            Ok(Some(job)) => run_job(&platform, &worker_id, job, release.clone()).await,
            Ok(None) => {
                let poll = platform.config().jobs.poll_interval;
                tokio::select! {
                    _ = platform.woken() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(err) => {
                tracing::warn!(%worker_id, error = %err, "could not claim a job; retrying");
                tokio::time::sleep(platform.config().jobs.poll_interval).await;
            }
        }
    }
    tracing::info!(%worker_id, "worker stopped");
}

/// Runs one claimed job to its end (or until its lease is lost or it is released), then records
/// the outcome.
async fn run_job(platform: &Platform, worker_id: &str, job: Job, release: watch::Receiver<bool>) {
    let config = platform.config().jobs;
    let started = std::time::Instant::now();
    metrics::gauge!("atelier_workers_busy").increment(1.0);
    tracing::info!(job_id = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
    platform
        .job_observer()
        .changed(&job, JobStatus::Running, 0, Some("started"));
    let progress = Progress::default();
    let outcome = match platform.jobs().get(&job.kind) {
        None => Some(Err(JobFailure::abort(
            "unknown-kind",
            format!("no handler for job kind {:?}", job.kind),
        ))),
        Some(handler) => {
            let ctx = JobContext::new(job.clone(), platform.clone(), progress.clone(), worker_id);
            let stall = config.stall_after_claim;
            let task = tokio::spawn(async move {
                if !stall.is_zero() {
                    tokio::time::sleep(stall).await;
                }
                handler.run(ctx).await
            });
            supervise(platform, worker_id, &job, &progress, task, release).await
        }
    };
    metrics::gauge!("atelier_workers_busy").decrement(1.0);
    let Some(outcome) = outcome else {
        tracing::info!(job_id = %job.id, "job canceled or its lease lost; result dropped");
        discard_if_canceled(platform, &job).await;
        return;
    };
    if let Err(failure) = &outcome {
        tracing::warn!(job_id = %job.id, code = %failure.code, message = %failure.message, "job attempt failed");
    }
    // While the database is away, keep trying to record the outcome for as long as the lease
    // lasts, rather than leave the job to be run again after its lease expires.
    let give_up = std::time::Instant::now() + config.lease;
    let recorded = loop {
        let attempt = match &outcome {
            Ok(output) => queue::complete(platform.db(), &job.id, worker_id, output)
                .await
                .map(|done| done.then_some(JobStatus::Succeeded)),
            Err(failure) => {
                queue::fail(
                    platform.db(),
                    &config,
                    &job,
                    worker_id,
                    &failure.code,
                    &failure.message,
                    failure.retryable,
                )
                .await
            }
        };
        match attempt {
            Err(err) if err.is_database_unavailable() && std::time::Instant::now() < give_up => {
                tracing::warn!(job_id = %job.id, error = %err, "the database is unavailable; retrying to record the job's outcome");
                tokio::time::sleep(RECORD_RETRY).await;
            }
            other => break other,
        }
    };
    match recorded {
        Ok(Some(status)) => {
            let (percent, stage) = if status == JobStatus::Succeeded {
                (100, Some(queue::DONE_STAGE.to_owned()))
            } else {
                progress.snapshot()
            };
            platform
                .job_observer()
                .changed(&job, status, percent, stage.as_deref());
            metrics::counter!("atelier_job_attempts_total", "kind" => job.kind.clone(), "outcome" => status.as_str())
                .increment(1);
            metrics::histogram!("atelier_job_duration_seconds", "kind" => job.kind.clone())
                .record(started.elapsed().as_secs_f64());
            tracing::info!(job_id = %job.id, status = status.as_str(), elapsed_ms = started.elapsed().as_millis() as u64, "job attempt finished");
        }
        Ok(None) => {
            tracing::info!(job_id = %job.id, "lease lost before the outcome was saved");
            discard_if_canceled(platform, &job).await;
        }
        // The lease will expire and the job will be retried: nothing is lost.
        Err(err) => tracing::error!(job_id = %job.id, error = %err, "could not record job outcome"),
    }
}

/// Resolves once `release` is true (never, if its sender is gone).
async fn released(release: &mut watch::Receiver<bool>) {
    if release.wait_for(|release| *release).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Deletes the outputs a job stored when it turns out canceled (or deleted) by the time its
/// attempt ended; a job leased elsewhere keeps them (its new attempt clears them itself).
async fn discard_if_canceled(platform: &Platform, job: &Job) {
    let canceled = match queue::get_any(platform.db(), &job.id).await {
        Ok(current) => current.status == JobStatus::Canceled,
        Err(crate::PlatformError::NotFound(_)) => true,
        Err(err) => {
            tracing::warn!(job_id = %job.id, error = %err, "job state unknown; the sweep will tidy up");
            return;
        }
    };
    if canceled
        && let Err(err) = crate::uploads::delete_job_outputs(platform, job.owner_id, &job.id).await
    {
        tracing::warn!(job_id = %job.id, error = %err, "outputs of a canceled job left for the sweep");
    }
}

/// The message of a panic payload (`panic!("literal")` and `panic!("{x}")` alike).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the job panicked".to_owned())
}

/// Waits for the job's task while heartbeating; `None` when the lease was lost or the job canceled.
async fn supervise(
    platform: &Platform,
    worker_id: &str,
    job: &Job,
    progress: &Progress,
    mut task: JoinHandle<Result<serde_json::Value, JobFailure>>,
    mut release: watch::Receiver<bool>,
) -> Option<Result<serde_json::Value, JobFailure>> {
    let config = platform.config().jobs;
    let mut beat = tokio::time::interval((config.lease / 3).max(Duration::from_millis(50)));
    beat.tick().await;
    // Progress reaches the observer faster than heartbeats reach the database.
    let mut report = tokio::time::interval(Duration::from_millis(250));
    let mut reported = (0u8, None::<String>);
    loop {
        tokio::select! {
            joined = &mut task => {
                return Some(match joined {
                    Ok(result) => result,
                    Err(err) if err.is_panic() => {
                        Err(JobFailure::abort("panic", panic_message(err.into_panic().as_ref())))
                    }
                    Err(err) => Err(JobFailure::retry("aborted", err.to_string())),
                });
            }
            () = released(&mut release) => {
                // The process is going away: hand the job back now rather than let its lease
                // run out. The blocking part, if any, ends with the process.
                progress.cancel();
                task.abort();
                match queue::release(platform.db(), &job.id, worker_id).await {
                    Ok(true) => {
                        tracing::info!(job_id = %job.id, "job handed back to the queue on shutdown");
                        let (percent, stage) = progress.snapshot();
                        platform.job_observer().changed(job, JobStatus::Queued, percent, stage.as_deref());
                    }
                    Ok(false) => {}
                    Err(err) => tracing::warn!(job_id = %job.id, error = %err, "could not hand the job back; its lease will expire"),
                }
                return None;
            }
            _ = report.tick() => {
                let now = progress.snapshot();
                if now != reported {
                    platform.job_observer().changed(job, JobStatus::Running, now.0, now.1.as_deref());
                    reported = now;
                }
            }
            _ = beat.tick() => {
                let (percent, stage) = progress.snapshot();
                match queue::heartbeat(platform.db(), &config, &job.id, worker_id, percent, stage.as_deref()).await {
                    Ok(Heartbeat::Extended) => {}
                    Ok(Heartbeat::Lost) => {
                        // Canceled, deleted or leased elsewhere: the job sees the flag between
                        // stages and frames and returns; the worker keeps its slot until the
                        // work, blocking part included, has stopped.
                        progress.cancel();
                        let waited = std::time::Instant::now();
                        let _ = (&mut task).await;
                        tracing::info!(job_id = %job.id, stopped_ms = waited.elapsed().as_millis() as u64, "canceled job stopped");
                        return None;
                    }
                    Err(err) => tracing::warn!(job_id = %job.id, error = %err, "heartbeat failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn formatted_and_literal_panic_messages_are_kept() {
        let x = 7;
        let formatted = std::panic::catch_unwind(|| panic!("bad frame {x}")).expect_err("panics");
        assert_eq!(panic_message(formatted.as_ref()), "bad frame 7");
        let literal = std::panic::catch_unwind(|| panic!("plain")).expect_err("panics");
        assert_eq!(panic_message(literal.as_ref()), "plain");
    }
}
