//! Jobs: long work done outside requests. `queue` stores and moves them through their states,
//! `worker` runs them, `registry` knows the kinds, one module per built-in kind.

pub mod animate;
pub mod animate_limits;
pub mod auto_annotate;
pub mod observer;
pub mod photo3d;
pub mod queue;
pub mod registry;
pub mod studio_import;
pub mod thumbnail;
pub mod train;
pub mod worker;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use observer::JobObserver;
pub use registry::{
    JobContext, JobFailure, JobHandler, JobKind, JobRegistry, LEASE_LOST, Progress,
};

/// Cancels a queued or running job of `owner_id`'s (409 when it already finished) and settles
/// what it leaves at once: a studio import's media ends `failed`, without frames. (A settling
/// that fails here is left to the housekeeping sweep: the cancel itself stands.)
pub async fn cancel(
    platform: &crate::Platform,
    owner_id: i64,
    id: &str,
) -> crate::PlatformResult<Job> {
    let job = queue::cancel(platform.db(), owner_id, id).await?;
    if job.kind == <studio_import::StudioImport as JobKind>::KIND
        && let Err(err) = crate::studio::media::settle_imports(platform, Some(id)).await
    {
        tracing::warn!(job_id = %id, error = %err, "the canceled import's media is left to the sweep");
    }
    Ok(job)
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for a worker (or for its retry time).
    Queued,
    /// Leased by a worker.
    Running,
    /// Finished with an output.
    Succeeded,
    /// Finished with an error record.
    Failed,
    /// Stopped by its owner.
    Canceled,
}

impl JobStatus {
    /// Every status, in life order.
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Canceled => "canceled",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the job can still change.
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

/// A file a job stored, as listed under `outputs` in its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredOutput {
    /// The upload holding it.
    pub upload_id: String,
    /// `gif`, `mp4`, `png`, `glb`…
    pub kind: String,
    /// Its media type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Pixels, for images and videos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Pixels, for images and videos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

impl StoredOutput {
    /// The entry for `upload`, with its pixel size when it has one.
    pub fn of(upload: &crate::uploads::Upload, dimensions: Option<(u32, u32)>) -> Self {
        Self {
            upload_id: upload.id.clone(),
            kind: upload.kind.clone(),
            content_type: upload.content_type.clone(),
            size: upload.size,
            width: dimensions.map(|d| d.0),
            height: dimensions.map(|d| d.1),
        }
    }
}

/// The structured error of a failed attempt (the seed's `error.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobErrorRecord {
    /// Stable kebab-case code, e.g. `bad-input`, `worker-lost`, `panic`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Whether another attempt was (or would have been) made.
    pub retryable: bool,
    /// The attempt that failed (1-based).
    pub attempt: i64,
    /// When, Unix milliseconds.
    pub at: i64,
}

/// A job as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Job {
    /// Opaque id (`job_…`).
    pub id: String,
    /// The job kind, e.g. `thumbnail`.
    pub kind: String,
    /// Owner's user id.
    pub owner_id: i64,
    /// The kind's parameters, as validated at creation.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Where the job is in its life.
    pub status: JobStatus,
    /// 0–100.
    pub progress: i64,
    /// The stage the job is in, as named by its kind.
    pub stage: Option<String>,
    /// Attempts started so far.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Earliest time the next attempt may start, Unix milliseconds.
    pub run_at: i64,
    /// The last error (for a failed job, why it failed; for a queued retry, why the last run did).
    pub error: Option<JobErrorRecord>,
    /// The result, for a succeeded job.
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
    /// First start, Unix milliseconds.
    pub started_at: Option<i64>,
    /// End time, Unix milliseconds.
    pub finished_at: Option<i64>,
}

impl Job {
    /// The files a succeeded job stored, by role (`gif`, `mp4`, `depth_preview`…): the
    /// `outputs` of its result, each naming the upload that holds it. Every job kind that stores
    /// files records them there, so one function serves every route.
    pub fn output_uploads(&self) -> Vec<(String, String)> {
        let Some(outputs) = self
            .output
            .as_ref()
            .and_then(|o| o.get("outputs"))
            .and_then(serde_json::Value::as_object)
        else {
            return Vec::new();
        };
        outputs
            .iter()
            .filter_map(|(role, entry)| {
                let id = entry.get("upload_id")?.as_str()?;
                Some((role.clone(), id.to_owned()))
            })
            .collect()
    }
}
