//! The `photo3d` job kind: one photo (and optionally its depth map) in, a parallax "3D photo"
//! out — an H.264 MP4, a GIF and/or a glTF binary scene, plus a depth preview PNG — with the
//! depth source used (`learned`, `supplied` or `classical`) in the result. Progress names the
//! stages `fetch`, `depth`, `layers`, `inpaint`, `render`, `encode`, `store`.
//!
//! Each account may have [`crate::Photo3dConfig::max_active_per_account`] queued + running
//! `photo3d` jobs (the heaviest kind). An attempt starts by deleting what an interrupted
//! attempt of the same job stored, so retries never duplicate outputs.

pub mod params;
pub mod pipeline;

use atelier_photo3d::Stage;
use std::collections::BTreeMap;

use futures::future::BoxFuture;
use serde::Serialize;

use super::{JobContext, JobFailure, JobKind, StoredOutput};
use crate::{Platform, PlatformError, PlatformResult, accounts::User, storage::Storage, uploads};

pub use atelier_photo3d::Produced;
pub use params::{Photo3dParams, Photo3dRequestError};
pub use pipeline::{Photo3dJobError, produce};

/// Makes a 3D photo.
#[derive(Debug, Clone, Copy, Default)]
pub struct Photo3d;

/// The job's percent at `done` of `stage`: the pipeline's own weights
/// ([`atelier_photo3d::produce::stage_span`]) fitted between fetching (0–5 %) and storing
/// (92–100 %).
pub fn job_percent(stage: Stage, done: f32) -> u8 {
    (5.0 + 87.0 * atelier_photo3d::produce::overall(stage, done)).round() as u8
}

fn request_failure(err: &Photo3dJobError) -> JobFailure {
    JobFailure::abort(err.code(), err.to_string())
}

impl Photo3d {
    /// Validates `params` against the owner's uploads: the photo is an image within the source
    /// limits; a depth map is a PNG of the photo's size with some depth in it.
    async fn check(
        platform: &Platform,
        owner: &User,
        params: &mut Photo3dParams,
    ) -> PlatformResult<()> {
        params.validate()?;
        let photo = uploads::get_owned(platform, owner.id, &params.upload_id).await?;
        if !photo.media_kind()?.is_image() {
            return Err(Photo3dRequestError::NotAnImage { kind: photo.kind }.into());
        }
        let side = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        let (width, height) = (side(photo.width), side(photo.height));
        params::SOURCE_LIMITS
            .check(width, height)
            .map_err(Photo3dRequestError::from)?;
        let Some(depth_id) = params.depth_upload_id.clone() else {
            return Ok(());
        };
        let depth = uploads::get_owned(platform, owner.id, &depth_id).await?;
        if depth.kind != "png" {
            return Err(Photo3dRequestError::DepthNotPng { kind: depth.kind }.into());
        }
        if (side(depth.width), side(depth.height)) != (width, height) {
            return Err(Photo3dRequestError::from(
                atelier_photo3d::Photo3dError::DepthSizeMismatch {
                    width,
                    height,
                    got_width: side(depth.width),
                    got_height: side(depth.height),
                },
            )
            .into());
        }
        let bytes = platform
            .storage()
            .get_bytes(&Storage::blob_key(&depth.sha256))
            .await?;
        let checked = params.clone();
        tokio::task::spawn_blocking(move || {
            pipeline::read_supplied_depth(&bytes, width, height, &checked).map(drop)
        })
        .await??;
        Ok(())
    }
}

/// The `photo3d` job's result.
#[derive(Debug, Clone, Serialize)]
pub struct Photo3dOutput {
    /// `learned`, `supplied` or `classical`.
    pub depth_source: &'static str,
    /// The depth source in full (the model's name for `learned`).
    pub depth: atelier_photo3d::DepthSource,
    /// The depth source for people.
    pub depth_description: String,
    /// The camera path.
    pub path: String,
    /// Frames per second.
    pub fps: u32,
    /// Seconds.
    pub duration: f32,
    /// Largest displacement as a fraction of the longer side.
    pub amplitude: f32,
    /// Frames rendered.
    pub frame_count: usize,
    /// Working width, pixels.
    pub width: u32,
    /// Working height, pixels.
    pub height: u32,
    /// Depth discontinuities the scene was cut along.
    pub edges: usize,
    /// Triangles in the layered mesh.
    pub triangles: usize,
    /// The stored files by role: `mp4`, `gif`, `glb`, `depth_preview`.
    pub outputs: BTreeMap<String, StoredOutput>,
}

impl JobKind for Photo3d {
    const KIND: &'static str = "photo3d";
    type Params = Photo3dParams;
    type Output = Photo3dOutput;

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        mut params: Photo3dParams,
    ) -> BoxFuture<'a, PlatformResult<Photo3dParams>> {
        Box::pin(async move {
            Self::check(platform, owner, &mut params).await?;
            Ok(params)
        })
    }

    fn params_error(err: serde_json::Error) -> PlatformError {
        Photo3dRequestError::InvalidParams(format!("bad photo3d params: {err}")).into()
    }

    fn max_active_per_account(&self, platform: &Platform) -> Option<u32> {
        Some(platform.config().photo3d.max_active_per_account)
    }

    fn run(
        &self,
        ctx: JobContext,
        params: Photo3dParams,
    ) -> BoxFuture<'static, Result<Photo3dOutput, JobFailure>> {
        Box::pin(async move {
            let owner = ctx.job.owner_id;
            ctx.progress.report(1, "fetch");
            // Idempotence: whatever an interrupted attempt stored goes before this one stores.
            uploads::delete_job_outputs(&ctx.platform, owner, &ctx.job.id).await?;
            let photo = uploads::get_owned(&ctx.platform, owner, &params.upload_id).await?;
            let store = ctx.platform.storage();
            let photo_bytes = store.get_bytes(&Storage::blob_key(&photo.sha256)).await?;
            let depth_bytes = match &params.depth_upload_id {
                Some(id) => {
                    let depth = uploads::get_owned(&ctx.platform, owner, id).await?;
                    Some(store.get_bytes(&Storage::blob_key(&depth.sha256)).await?)
                }
                None => None,
            };
            ctx.progress.report(4, "fetch");
            let limits = ctx.platform.config().uploads.decode;
            // A supplied depth map needs no model; otherwise the cached depth model, if any.
            let model =
                match depth_bytes {
                    Some(_) => None,
                    None => ctx.platform.models().depth().await.map_err(|err| {
                        JobFailure::abort("depth-model-unavailable", err.to_string())
                    })?,
                };
            let progress = ctx.progress.clone();
            let job_params = params.clone();
            let produced = tokio::task::spawn_blocking(move || {
                // Stages report out of order at their seams (layers closes after inpaint):
                // only forward moves are shown.
                let shown = std::sync::atomic::AtomicU8::new(0);
                let report = |stage: Stage, f: f32| {
                    let percent = job_percent(stage, f);
                    if percent >= shown.fetch_max(percent, std::sync::atomic::Ordering::Relaxed) {
                        progress.report(percent, stage.as_str());
                    }
                    // A canceled or lease-lost job stops at the pipeline's next check.
                    !progress.is_canceled()
                };
                produce(
                    &photo_bytes,
                    depth_bytes.as_deref(),
                    &job_params,
                    &limits,
                    model.as_deref(),
                    &report,
                )
                .map_err(|err| request_failure(&err))
            })
            .await
            .map_err(|err| JobFailure::abort("panic", err.to_string()))??;
            if ctx.progress.is_canceled() {
                // Canceled (or deleted) while rendering: store nothing.
                return Err(JobFailure::abort("canceled", "the job was canceled"));
            }
            ctx.progress.report(93, "store");
            let mut outputs = BTreeMap::new();
            for file in produced.files {
                let output = ctx.store_output(file.bytes, file.dimensions).await?;
                let key = if file.name == "depth" {
                    "depth_preview"
                } else {
                    file.name
                };
                outputs.insert(key.to_owned(), StoredOutput::of(&output, file.dimensions));
            }
            ctx.progress.report(99, "store");
            let source = &produced.depth_source;
            Ok(Photo3dOutput {
                depth_source: source_kind(source),
                depth: source.clone(),
                depth_description: source.describe(),
                path: params.path,
                fps: params.fps,
                duration: params.duration,
                amplitude: params.amplitude,
                frame_count: produced.frame_count,
                width: produced.size.0,
                height: produced.size.1,
                edges: produced.edges,
                triangles: produced.triangles,
                outputs,
            })
        })
    }
}

/// What [`delete`] removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// The job, canceled if it was still queued or running.
    pub job_id: String,
    /// Whether this call canceled it.
    pub canceled: bool,
    /// The uploads removed: the job's outputs and its inputs (photo, depth map).
    pub upload_ids: Vec<String>,
}

/// Deletes the owner's 3D photo `job_id`: cancels it if it is still queued or running, then
/// removes its outputs and its inputs. The job record stays (canceled, failed or succeeded),
/// its links dead. Someone else's job is "not found".
pub async fn delete(platform: &Platform, owner: &User, job_id: &str) -> PlatformResult<Deleted> {
    let job = super::queue::get_owned(platform.db(), owner.id, job_id).await?;
    if job.kind != "photo3d" {
        return Err(PlatformError::NotFound("3D photo"));
    }
    let canceled = if job.status.is_active() {
        match super::queue::cancel(platform.db(), owner.id, job_id).await {
            Ok(_) => true,
            // It finished between the read and the cancel: delete what it made.
            Err(PlatformError::Conflict(_)) => false,
            Err(err) => return Err(err),
        }
    } else {
        false
    };
    let mut upload_ids = Vec::new();
    for output in uploads::list_job_outputs(platform, owner.id, job_id).await? {
        uploads::delete_owned(platform, owner.id, &output.id).await?;
        upload_ids.push(output.id);
    }
    let params: Photo3dParams =
        serde_json::from_value(job.params.clone()).map_err(PlatformError::internal)?;
    let inputs = std::iter::once(params.upload_id).chain(params.depth_upload_id);
    for id in inputs {
        match uploads::delete_owned(platform, owner.id, &id).await {
            Ok(()) => upload_ids.push(id),
            Err(PlatformError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Deleted {
        job_id: job.id,
        canceled,
        upload_ids,
    })
}

/// `learned`, `supplied` or `classical`.
fn source_kind(source: &atelier_photo3d::DepthSource) -> &'static str {
    match source {
        atelier_photo3d::DepthSource::Learned { .. } => "learned",
        atelier_photo3d::DepthSource::Supplied { .. } => "supplied",
        atelier_photo3d::DepthSource::Classical => "classical",
    }
}

#[cfg(test)]
mod learned_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_percent_runs_from_fetch_to_store() {
        assert_eq!(job_percent(Stage::Depth, 0.0), 5);
        assert_eq!(job_percent(Stage::Encode, 1.0), 92);
        assert!(job_percent(Stage::Render, 0.0) < job_percent(Stage::Render, 1.0));
    }

    #[tokio::test]
    async fn without_a_cached_depth_model_depth_is_classical() {
        let dir = std::env::temp_dir().join(format!("atelier-p3d-{}", std::process::id()));
        let models = crate::models::Models::new(crate::models::ModelsConfig::under(&dir));
        assert!(matches!(models.depth().await, Ok(None)));
    }
}
