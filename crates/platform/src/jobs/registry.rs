//! The job kinds a process can run, and the contract between a kind and the worker.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
};

use futures::future::BoxFuture;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::Job;
use crate::{Platform, PlatformError, PlatformResult, accounts::User, error::InputError};

/// A job kind, typed: its name, its parameters as built by routes and checked at creation, and
/// its result. Implement this (not [`JobHandler`]) for a new kind and register it in
/// [`JobRegistry::standard`]; the JSON the queue stores is derived from these types.
pub trait JobKind: Send + Sync + std::fmt::Debug + 'static {
    /// The stable snake_case name stored in `jobs.kind`.
    const KIND: &'static str;
    /// The parameters: what a route builds and `run` receives.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// The result of a succeeded job; kinds that store files list them in an `outputs` map of
    /// role → [`super::StoredOutput`].
    type Output: Serialize + Send + 'static;

    /// Validates and normalises `params` for `owner` at creation time (including ownership of
    /// any inputs), refusing bad input with a coded [`crate::error::InputError`].
    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: Self::Params,
    ) -> BoxFuture<'a, PlatformResult<Self::Params>>;

    /// The error for stored or posted parameters that do not parse as [`Self::Params`].
    fn params_error(err: serde_json::Error) -> PlatformError {
        PlatformError::Invalid(format!("bad {} params: {err}", Self::KIND))
    }

    /// The most queued + running jobs of this kind one account may have, on top of the
    /// general cap (`None`: only the general cap applies).
    fn max_active_per_account(&self, _platform: &Platform) -> Option<u32> {
        None
    }

    /// The refusal when the database refuses the job's insert through a unique index of this
    /// kind's (an "at most one active job per …" rule that a check in `prepare` cannot make
    /// atomic): 409 `job_conflict` unless the kind names its own.
    fn active_conflict(&self) -> PlatformError {
        conflict(Self::KIND)
    }

    /// Runs one attempt. Must be idempotent: a retried attempt starts again from the inputs.
    fn run(
        &self,
        ctx: JobContext,
        params: Self::Params,
    ) -> BoxFuture<'static, Result<Self::Output, JobFailure>>;
}

fn conflict(kind: &str) -> PlatformError {
    InputError::conflict(
        "job_conflict",
        format!("a {kind} job for the same input is already queued or running"),
    )
    .into()
}

impl<K: JobKind> JobHandler for K {
    fn kind(&self) -> &'static str {
        K::KIND
    }

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: Value,
    ) -> BoxFuture<'a, PlatformResult<Value>> {
        Box::pin(async move {
            let params: K::Params = serde_json::from_value(params).map_err(K::params_error)?;
            let params = JobKind::prepare(self, platform, owner, params).await?;
            serde_json::to_value(params).map_err(PlatformError::internal)
        })
    }

    fn max_active_per_account(&self, platform: &Platform) -> Option<u32> {
        JobKind::max_active_per_account(self, platform)
    }

    fn active_conflict(&self) -> PlatformError {
        JobKind::active_conflict(self)
    }

    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobFailure>> {
        let params = serde_json::from_value::<K::Params>(ctx.job.params.clone());
        let run = params.map(|params| JobKind::run(self, ctx, params));
        Box::pin(async move {
            let output = run
                .map_err(|err| JobFailure::abort("bad-params", err.to_string()))?
                .await?;
            serde_json::to_value(output)
                .map_err(|err| JobFailure::abort("internal", err.to_string()))
        })
    }
}

/// One kind of job as the queue and the worker see it (untyped JSON); every [`JobKind`] is one.
pub trait JobHandler: Send + Sync + std::fmt::Debug + 'static {
    /// The stable snake_case name stored in `jobs.kind`.
    fn kind(&self) -> &'static str;

    /// Validates and normalises `params` for `owner` at creation time (including ownership of
    /// any inputs); the returned value is what `run` will see.
    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: Value,
    ) -> BoxFuture<'a, PlatformResult<Value>>;

    /// The most queued + running jobs of this kind one account may have, on top of the
    /// general cap (`None`: only the general cap applies).
    fn max_active_per_account(&self, _platform: &Platform) -> Option<u32> {
        None
    }

    /// The refusal when the database refuses the job's insert through a unique index of this
    /// kind's (see [`JobKind::active_conflict`]).
    fn active_conflict(&self) -> PlatformError {
        conflict(self.kind())
    }

    /// Runs one attempt. Must be idempotent: a retried attempt starts again from the inputs.
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobFailure>>;
}

/// Why an attempt failed, and whether another attempt could succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// Stable kebab-case code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Whether a retry may help (a flaky store) or not (a corrupt input).
    pub retryable: bool,
}

impl JobFailure {
    /// A failure no retry can fix.
    pub fn abort(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure a later attempt may not meet.
    pub fn retry(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            retryable: true,
        }
    }
}

impl From<PlatformError> for JobFailure {
    fn from(err: PlatformError) -> Self {
        match err {
            PlatformError::Database(_) | PlatformError::Storage(_) | PlatformError::Internal(_) => {
                JobFailure::retry("infrastructure", err.to_string())
            }
            PlatformError::NotFound(_) => JobFailure::abort("input-missing", err.to_string()),
            other => JobFailure::abort("bad-input", other.to_string()),
        }
    }
}

/// Progress and cancellation shared between a running job and its worker's heartbeat.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<ProgressState>);

#[derive(Debug, Default)]
struct ProgressState {
    percent: AtomicU8,
    stage: Mutex<Option<String>>,
    canceled: AtomicBool,
}

impl Progress {
    /// Records `percent` (clamped to 0–100) and the stage name; cheap, callable from any thread.
    pub fn report(&self, percent: u8, stage: &str) {
        self.0.percent.store(percent.min(100), Ordering::Relaxed);
        if let Ok(mut current) = self.0.stage.lock()
            && current.as_deref() != Some(stage)
        {
            *current = Some(stage.to_owned());
        }
    }

    /// The last reported percent and stage.
    pub fn snapshot(&self) -> (u8, Option<String>) {
        let stage = self.0.stage.lock().ok().and_then(|s| s.clone());
        (self.0.percent.load(Ordering::Relaxed), stage)
    }

    /// Whether the job was canceled or its lease lost: the job should stop soon.
    pub fn is_canceled(&self) -> bool {
        self.0.canceled.load(Ordering::Relaxed)
    }

    /// Marks the job as canceled.
    pub fn cancel(&self) {
        self.0.canceled.store(true, Ordering::Relaxed);
    }
}

/// What a running job gets.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job row as claimed.
    pub job: Job,
    /// The platform (database, store).
    pub platform: Platform,
    /// Where to report progress and see cancellation.
    pub progress: Progress,
    /// The worker whose lease this attempt runs under.
    worker_id: String,
    /// The uploads this attempt stored (what it takes back when its lease went elsewhere).
    stored: Arc<Mutex<Vec<String>>>,
}

impl JobContext {
    /// The context of one attempt of `job`, run by `worker_id` (the lease's owner).
    pub fn new(job: Job, platform: Platform, progress: Progress, worker_id: &str) -> Self {
        Self {
            job,
            platform,
            progress,
            worker_id: worker_id.to_owned(),
            stored: Arc::default(),
        }
    }

    /// Stores one output file of this job, as an upload of its owner. The job's lease is read
    /// again before the store (a cancel, a delete or a lease lost since the last heartbeat stops
    /// it here) and after it (a cancel or a takeover that raced the store takes back what was
    /// stored). A job no longer running (canceled, deleted) deletes every output it stored and
    /// ends with `canceled`; an attempt whose lease went to another worker (it stalled past its
    /// lease, or the database was away) deletes only what this attempt stored — the outputs of
    /// the attempt that took over, or already finished, are not its to touch. What still slips
    /// through (a cancel between this check and the job's completion) is removed by the
    /// housekeeping sweep of canceled jobs' outputs.
    pub async fn store_output(
        &self,
        bytes: Vec<u8>,
        dimensions: Option<(u32, u32)>,
    ) -> Result<crate::uploads::Upload, JobFailure> {
        self.platform
            .pause_points()
            .pass(crate::pause::PausePoint::JobBeforeStore)
            .await;
        self.ensure_leased().await?;
        let upload = crate::uploads::store_output(
            &self.platform,
            self.job.owner_id,
            &self.job.id,
            bytes,
            dimensions,
        )
        .await?;
        if let Ok(mut stored) = self.stored.lock() {
            stored.push(upload.id.clone());
        }
        self.ensure_leased().await?;
        Ok(upload)
    }

    /// The worker whose lease this attempt runs under.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Where this attempt's lease stands now (for jobs that write rows or objects of their
    /// own, outside [`JobContext::store_output`]).
    pub async fn lease(&self) -> PlatformResult<super::queue::LeaseState> {
        super::queue::lease_state(self.platform.db(), &self.job.id, &self.worker_id).await
    }

    /// Whether this attempt still holds the job's lease; if not, what it must not leave behind
    /// is deleted, the progress is marked canceled, and the attempt ends: `canceled` when the
    /// job was canceled or deleted, [`LEASE_LOST`] when another attempt holds the lease (what
    /// that attempt stored is its own). Jobs that write rows or objects of their own check it
    /// between chunks of work.
    pub async fn ensure_leased(&self) -> Result<(), JobFailure> {
        let db = self.platform.db();
        let lease = super::queue::lease_state(db, &self.job.id, &self.worker_id).await?;
        if lease == super::queue::LeaseState::Held {
            return Ok(());
        }
        self.progress.cancel();
        let owner = self.job.owner_id;
        if lease == super::queue::LeaseState::Gone {
            let removed = crate::uploads::delete_job_outputs(&self.platform, owner, &self.job.id)
                .await
                .map_err(JobFailure::from)?;
            tracing::info!(job_id = %self.job.id, removed, "job no longer running: its outputs are deleted");
            return Err(JobFailure::abort("canceled", "the job was canceled"));
        }
        let mine = self
            .stored
            .lock()
            .map(|mut stored| std::mem::take(&mut *stored))
            .unwrap_or_default();
        for id in &mine {
            match crate::uploads::delete_owned(&self.platform, owner, id).await {
                Ok(()) | Err(PlatformError::NotFound(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        tracing::info!(job_id = %self.job.id, removed = mine.len(), "the lease went to another attempt: this attempt's outputs are deleted");
        Err(JobFailure::abort(
            LEASE_LOST,
            "another attempt of the job holds its lease",
        ))
    }
}

/// The failure code of an attempt whose lease went to another attempt of the same job.
pub const LEASE_LOST: &str = "lease-lost";

/// The job kinds this process knows, by name.
#[derive(Debug, Default)]
pub struct JobRegistry {
    handlers: BTreeMap<&'static str, Arc<dyn JobHandler>>,
}

impl JobRegistry {
    /// Every built-in kind: the one place job kinds are registered.
    pub fn standard() -> Self {
        let mut registry = Self::default();
        registry.register(super::thumbnail::Thumbnail);
        registry.register(super::animate::Animate);
        registry.register(super::photo3d::Photo3d);
        registry.register(super::studio_import::StudioImport);
        registry.register(super::train::Train);
        registry.register(super::auto_annotate::AutoAnnotate);
        registry
    }

    /// Adds a kind (replacing one of the same name).
    pub fn register(&mut self, handler: impl JobHandler) {
        self.handlers.insert(handler.kind(), Arc::new(handler));
    }

    /// The handler for `kind`.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }

    /// The names of every kind, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_clamped_and_keeps_the_stage() {
        let progress = Progress::default();
        progress.report(150, "encode");
        assert_eq!(progress.snapshot(), (100, Some("encode".to_owned())));
        assert!(!progress.is_canceled());
        progress.cancel();
        assert!(progress.is_canceled());
    }

    #[test]
    fn infrastructure_errors_are_retried_and_input_errors_are_not() {
        assert!(JobFailure::from(PlatformError::Internal("disk".into())).retryable);
        assert!(!JobFailure::from(PlatformError::BadImage("truncated".into())).retryable);
        assert_eq!(
            JobFailure::from(PlatformError::NotFound("upload")).code,
            "input-missing"
        );
    }

    #[test]
    fn the_standard_registry_has_every_built_in_kind() {
        assert_eq!(
            JobRegistry::standard().kinds(),
            vec![
                "animate",
                "auto_annotate",
                "photo3d",
                "studio_import",
                "thumbnail",
                "train"
            ]
        );
    }
}
