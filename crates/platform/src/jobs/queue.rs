//! The durable queue: creating, reading, cancelling, claiming and finishing jobs, each a short
//! statement so no transaction is held while a job runs.

use std::time::Duration;

use serde_json::Value;
use sqlx::{AssertSqlSafe, Row};

use super::{Job, JobErrorRecord, JobStatus};
use crate::{
    JobsConfig, Platform, PlatformError, PlatformResult,
    accounts::User,
    db::{Backend, Db, is_unique_violation, now_ms},
    secrets::random_id,
};

/// The PostgreSQL channel that wakes workers on every node.
pub const WAKE_CHANNEL: &str = "atelier_jobs";

const COLUMNS: &str = "id, kind, owner_id, params, status, progress, stage, attempts, max_attempts, \
    run_at, error, output, created_at, updated_at, started_at, finished_at";

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

fn from_row(row: &sqlx::any::AnyRow) -> PlatformResult<Job> {
    let status: String = row.try_get("status")?;
    let parse_json = |text: Option<String>| -> PlatformResult<Option<Value>> {
        text.map(|t| serde_json::from_str(&t).map_err(PlatformError::internal))
            .transpose()
    };
    let error = row
        .try_get::<Option<String>, _>("error")?
        .map(|t| serde_json::from_str::<JobErrorRecord>(&t).map_err(PlatformError::internal))
        .transpose()?;
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        owner_id: row.try_get("owner_id")?,
        params: parse_json(Some(row.try_get("params")?))?.unwrap_or(Value::Null),
        status: JobStatus::parse(&status)
            .ok_or_else(|| PlatformError::Internal(format!("unknown job status {status:?}")))?,
        progress: row.try_get("progress")?,
        stage: row.try_get("stage")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        run_at: row.try_get("run_at")?,
        error,
        output: parse_json(row.try_get("output")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// Queues a job of kind `K` with typed parameters (what routes use): checked by the kind's
/// `prepare`, then queued for `owner` unless the owner already has `max_active_per_account`
/// queued or running jobs (or, for kinds with a cap of their own, that kind's cap of them).
pub async fn enqueue_kind<K: super::JobKind>(
    platform: &Platform,
    owner: &User,
    params: &K::Params,
) -> PlatformResult<Job> {
    let params = serde_json::to_value(params).map_err(PlatformError::internal)?;
    enqueue(platform, owner, K::KIND, params).await
}

/// Creates a job of the kind named `kind` (untyped parameters, as `POST /api/v1/jobs` takes
/// them): checked by its kind, then queued under the per-account caps.
pub async fn enqueue(
    platform: &Platform,
    owner: &User,
    kind: &str,
    params: Value,
) -> PlatformResult<Job> {
    let handler = platform.jobs().get(kind).ok_or_else(|| {
        PlatformError::Invalid(format!(
            "unknown job kind {kind:?}; known kinds: {}",
            platform.jobs().kinds().join(", ")
        ))
    })?;
    let params = handler.prepare(platform, owner, params).await?;
    let kind_cap = handler.max_active_per_account(platform);
    let caps = Caps {
        all: platform.config().jobs.max_active_per_account,
        kind: kind_cap,
    };
    let inserted = insert(
        platform.db(),
        &platform.config().jobs,
        owner.id,
        kind,
        &params,
        caps,
    )
    .await;
    let inserted = match inserted {
        // A kind's unique index ("one active job per …") refused the row.
        Err(PlatformError::Database(err)) if is_unique_violation(&err) => {
            return Err(handler.active_conflict());
        }
        other => other?,
    };
    if let Some(job) = inserted {
        platform.wake_workers();
        return Ok(job);
    }
    if let Some(limit) = kind_cap
        && active_of_kind(platform.db(), owner.id, kind).await? >= i64::from(limit)
    {
        return Err(PlatformError::TooManyActiveJobsOfKind {
            kind: handler.kind(),
            limit,
        });
    }
    Err(PlatformError::TooManyActiveJobs { limit: caps.all })
}

/// The caps an insert must respect.
#[derive(Debug, Clone, Copy)]
struct Caps {
    /// Active jobs of any kind.
    all: u32,
    /// Active jobs of the inserted kind, when it has a cap of its own.
    kind: Option<u32>,
}

/// How many queued or running jobs of `kind` the owner has.
async fn active_of_kind(db: &Db, owner_id: i64, kind: &str) -> PlatformResult<i64> {
    Ok(sqlx::query(
        "SELECT COUNT(*) AS n FROM jobs WHERE owner_id = $1 AND kind = $2 \
         AND status IN ('queued', 'running')",
    )
    .bind(owner_id)
    .bind(kind)
    .fetch_one(db.pool())
    .await?
    .try_get("n")?)
}

/// Inserts a queued job if the owner is under the caps; `None` when a cap is reached.
async fn insert(
    db: &Db,
    config: &JobsConfig,
    owner_id: i64,
    kind: &str,
    params: &Value,
    caps: Caps,
) -> PlatformResult<Option<Job>> {
    let id = random_id("job");
    // `run_at` is compared with the database's clock when workers claim.
    let now = db.now_ms().await?;
    let mut tx = db.pool().begin().await?;
    if db.backend() == Backend::Postgres {
        // Serialise this owner's inserts so two concurrent requests cannot both pass the cap.
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(owner_id)
            .execute(&mut *tx)
            .await?;
    }
    // A negative kind cap means "none".
    let kind_cap = caps.kind.map_or(-1, i64::from);
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, kind, owner_id, params, status, progress, attempts, max_attempts, \
                           run_at, created_at, updated_at) \
         SELECT $1, $2, $3, $4, 'queued', 0, 0, $5, $6, $6, $6 \
         WHERE (SELECT COUNT(*) FROM jobs WHERE owner_id = $3 AND status IN ('queued', 'running')) < $7 \
           AND ($8 < 0 OR (SELECT COUNT(*) FROM jobs WHERE owner_id = $3 AND kind = $2 \
                           AND status IN ('queued', 'running')) < $8)",
    )
    .bind(&id)
    .bind(kind)
    .bind(owner_id)
    .bind(params.to_string())
    .bind(i64::from(config.max_attempts.max(1)))
    .bind(now)
    .bind(i64::from(caps.all))
    .bind(kind_cap)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::broadcast::scoped_channel(db, WAKE_CHANNEL))
            .bind(kind)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    get_any(db, &id).await.map(Some)
}

/// A job by id, whoever owns it (for workers and internal use).
pub async fn get_any(db: &Db, id: &str) -> PlatformResult<Job> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM jobs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(PlatformError::NotFound("job"))?;
    from_row(&row)
}

/// A job by id if `owner_id` owns it; others' jobs are "not found".
pub async fn get_owned(db: &Db, owner_id: i64, id: &str) -> PlatformResult<Job> {
    let job = get_any(db, id).await?;
    if job.owner_id != owner_id {
        return Err(PlatformError::NotFound("job"));
    }
    Ok(job)
}

/// The owner's jobs, newest first, optionally of one status.
pub async fn list_owned(
    db: &Db,
    owner_id: i64,
    status: Option<JobStatus>,
    limit: i64,
) -> PlatformResult<Vec<Job>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM jobs WHERE owner_id = $1 AND ($2 = '' OR status = $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    )))
    .bind(owner_id)
    .bind(status.map(JobStatus::as_str).unwrap_or(""))
    .bind(limit.clamp(1, 500))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Cancels a queued or running job. A running job's worker notices at its next heartbeat.
pub async fn cancel(db: &Db, owner_id: i64, id: &str) -> PlatformResult<Job> {
    let now = db.node_now_ms();
    let updated = sqlx::query(
        "UPDATE jobs SET status = 'canceled', finished_at = $1, updated_at = $1 \
         WHERE id = $2 AND owner_id = $3 AND status IN ('queued', 'running')",
    )
    .bind(now)
    .bind(id)
    .bind(owner_id)
    .execute(db.pool())
    .await?;
    let job = get_owned(db, owner_id, id).await?;
    if updated.rows_affected() == 0 {
        return Err(PlatformError::Conflict(format!(
            "job {id} is already {} and cannot be canceled",
            job.status.as_str()
        )));
    }
    Ok(job)
}

/// Whether job `id` is still running (not canceled, finished or deleted): long jobs check it
/// between chunks of work to stop early.
pub async fn is_running(db: &Db, id: &str) -> PlatformResult<bool> {
    let row = sqlx::query("SELECT status FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    let status: Option<String> = row.map(|r| r.try_get("status")).transpose()?;
    Ok(status.as_deref() == Some(JobStatus::Running.as_str()))
}

/// Where a job's lease stands, seen from one worker's attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Running under this worker's lease.
    Held,
    /// Canceled or deleted: nothing it stored is wanted.
    Gone,
    /// Another attempt has it (running elsewhere, queued again, or already finished): only
    /// what this attempt stored is unwanted.
    Elsewhere,
}

/// Where job `id`'s lease stands for `worker_id`: an attempt checks it before and after each
/// output it stores.
pub async fn lease_state(db: &Db, id: &str, worker_id: &str) -> PlatformResult<LeaseState> {
    let row = sqlx::query("SELECT status, lease_owner FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else {
        return Ok(LeaseState::Gone);
    };
    let status: String = row.try_get("status")?;
    let owner: Option<String> = row.try_get("lease_owner")?;
    Ok(if status == JobStatus::Canceled.as_str() {
        LeaseState::Gone
    } else if status == JobStatus::Running.as_str() && owner.as_deref() == Some(worker_id) {
        LeaseState::Held
    } else {
        LeaseState::Elsewhere
    })
}

/// The outputs (uploads) of canceled jobs, as `(owner_id, upload_id)`: what a job stored
/// while or after it was canceled, for the housekeeping sweep.
pub async fn canceled_outputs(db: &Db, limit: i64) -> PlatformResult<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT u.owner_id, u.id FROM uploads u JOIN jobs j ON j.id = u.job_id \
         WHERE j.status = 'canceled' ORDER BY u.created_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("owner_id")?, r.try_get("id")?)))
        .collect()
}

/// Claims the oldest due queued job of one of `kinds` for `worker_id`, with a lease.
pub async fn claim(
    db: &Db,
    config: &JobsConfig,
    worker_id: &str,
    kinds: &[&str],
) -> PlatformResult<Option<Job>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    // Lease times come from the database's clock, never this node's: nodes whose clocks
    // disagree must still agree on when a lease ends.
    let now = db.now_ms().await?;
    let kind_list = (0..kinds.len())
        .map(|i| format!("${}", i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        // SQLite runs one writer at a time: the UPDATE below is atomic on its own.
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, \
                lease_expires_at = $2, started_at = COALESCE(started_at, $3), updated_at = $3, \
                progress = 0, stage = NULL \
         WHERE status = 'queued' AND id = ( \
             SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 AND kind IN ({kind_list}) \
             ORDER BY run_at, created_at LIMIT 1 {lock}) \
         RETURNING {COLUMNS}"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(worker_id)
        .bind(now + ms(config.lease))
        .bind(now);
    for kind in kinds {
        query = query.bind(*kind);
    }
    let row = query.fetch_optional(db.pool()).await?;
    row.as_ref().map(from_row).transpose()
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The lease was extended: carry on.
    Extended,
    /// The job was canceled or its lease was taken by another worker: stop.
    Lost,
}

/// Extends the lease and saves progress.
pub async fn heartbeat(
    db: &Db,
    config: &JobsConfig,
    id: &str,
    worker_id: &str,
    progress: u8,
    stage: Option<&str>,
) -> PlatformResult<Heartbeat> {
    // Lease times come from the database's clock, never this node's: nodes whose clocks
    // disagree must still agree on when a lease ends.
    let now = db.now_ms().await?;
    let updated = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1, progress = $2, stage = $3, updated_at = $4 \
         WHERE id = $5 AND lease_owner = $6 AND status = 'running'",
    )
    .bind(now + ms(config.lease))
    .bind(i64::from(progress))
    .bind(stage)
    .bind(now)
    .bind(id)
    .bind(worker_id)
    .execute(db.pool())
    .await?;
    Ok(if updated.rows_affected() == 1 {
        Heartbeat::Extended
    } else {
        Heartbeat::Lost
    })
}

/// Records success; `false` when the lease was lost meanwhile (the result is dropped).
pub async fn complete(db: &Db, id: &str, worker_id: &str, output: &Value) -> PlatformResult<bool> {
    let now = now_ms();
    let updated = sqlx::query(
        "UPDATE jobs SET status = 'succeeded', progress = 100, stage = 'done', output = $1, error = NULL, \
                finished_at = $2, updated_at = $2, lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
    )
    .bind(output.to_string())
    .bind(now)
    .bind(id)
    .bind(worker_id)
    .execute(db.pool())
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Hands a running job back to the queue at once (its worker is shutting down): queued again,
/// due now, lease cleared, and the attempt given back, since it neither failed nor finished.
/// Other workers are woken so one takes it without waiting for the lease to expire. Returns
/// whether this worker still held the lease.
pub async fn release(db: &Db, id: &str, worker_id: &str) -> PlatformResult<bool> {
    let now = db.now_ms().await?;
    let mut tx = db.pool().begin().await?;
    let updated = sqlx::query(
        "UPDATE jobs SET status = 'queued', run_at = $1, updated_at = $1, \
                attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
    )
    .bind(now)
    .bind(id)
    .bind(worker_id)
    .execute(&mut *tx)
    .await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::broadcast::scoped_channel(db, WAKE_CHANNEL))
            .bind("released")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(updated.rows_affected() == 1)
}

/// The stage a succeeded job reads.
pub const DONE_STAGE: &str = "done";

/// Records a failed attempt: queued again after a backoff when retryable and attempts remain,
/// failed for good otherwise. Returns the resulting status, or `None` if the lease was lost.
pub async fn fail(
    db: &Db,
    config: &JobsConfig,
    job: &Job,
    worker_id: &str,
    code: &str,
    message: &str,
    retryable: bool,
) -> PlatformResult<Option<JobStatus>> {
    // Lease times come from the database's clock, never this node's: nodes whose clocks
    // disagree must still agree on when a lease ends.
    let now = db.now_ms().await?;
    let will_retry = retryable && job.attempts < job.max_attempts;
    let record = JobErrorRecord {
        code: code.to_owned(),
        message: message.to_owned(),
        retryable: will_retry,
        attempt: job.attempts,
        at: now,
    };
    let record = serde_json::to_string(&record).map_err(PlatformError::internal)?;
    let (status, run_at, finished_at) = if will_retry {
        let attempt = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        (JobStatus::Queued, now + ms(config.backoff(attempt)), None)
    } else {
        (JobStatus::Failed, job.run_at, Some(now))
    };
    let updated = sqlx::query(
        "UPDATE jobs SET status = $1, error = $2, run_at = $3, finished_at = $4, updated_at = $5, \
                lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $6 AND lease_owner = $7 AND status = 'running'",
    )
    .bind(status.as_str())
    .bind(record)
    .bind(run_at)
    .bind(finished_at)
    .bind(now)
    .bind(&job.id)
    .bind(worker_id)
    .execute(db.pool())
    .await?;
    Ok((updated.rows_affected() == 1).then_some(status))
}

/// Frees jobs whose worker stopped heartbeating: queued again while attempts remain, failed
/// (`worker-lost`) otherwise. Returns how many jobs were freed. Each update is guarded by the
/// expired lease it saw, so a job whose worker just renewed it is left alone.
pub async fn reap_expired(db: &Db) -> PlatformResult<u64> {
    // Lease times come from the database's clock, never this node's: nodes whose clocks
    // disagree must still agree on when a lease ends.
    let now = db.now_ms().await?;
    let expired = sqlx::query(
        "SELECT id, attempts, max_attempts, lease_owner FROM jobs \
         WHERE status = 'running' AND lease_expires_at < $1",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut freed = 0;
    for row in expired {
        let id: String = row.try_get("id")?;
        let attempts: i64 = row.try_get("attempts")?;
        let max_attempts: i64 = row.try_get("max_attempts")?;
        let lease_owner: Option<String> = row.try_get("lease_owner")?;
        let retry = attempts < max_attempts;
        let record = JobErrorRecord {
            code: "worker-lost".to_owned(),
            message: "the worker running this job stopped responding (crashed, killed or cut off)"
                .to_owned(),
            retryable: retry,
            attempt: attempts,
            at: now,
        };
        let record = serde_json::to_string(&record).map_err(PlatformError::internal)?;
        let (status, finished_at) = if retry {
            (JobStatus::Queued, None)
        } else {
            (JobStatus::Failed, Some(now))
        };
        let updated = sqlx::query(
            "UPDATE jobs SET status = $1, error = $2, run_at = $3, finished_at = $4, updated_at = $3, \
                    lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $5 AND status = 'running' AND lease_expires_at < $3 AND lease_owner = $6",
        )
        .bind(status.as_str())
        .bind(record)
        .bind(now)
        .bind(finished_at)
        .bind(&id)
        .bind(lease_owner)
        .execute(db.pool())
        .await?;
        if updated.rows_affected() == 1 {
            tracing::warn!(job_id = %id, attempt = attempts, retry, "job lease expired; worker presumed lost");
            freed += 1;
        }
    }
    Ok(freed)
}

/// Job counts by kind and status, for metrics.
pub async fn counts(db: &Db) -> PlatformResult<Vec<(String, JobStatus, i64)>> {
    let rows = sqlx::query("SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .filter_map(|row| {
            let status: String = match row.try_get("status") {
                Ok(s) => s,
                Err(err) => return Some(Err(err.into())),
            };
            let status = JobStatus::parse(&status)?;
            Some((|| Ok((row.try_get("kind")?, status, row.try_get("n")?)))())
        })
        .collect()
}
