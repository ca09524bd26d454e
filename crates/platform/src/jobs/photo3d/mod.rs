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

use atelier_infer::{Registry, Runtime, RuntimeConfig};
use atelier_photo3d::{LearnedDepth, LearnedDepthSpec, Stage};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{JobContext, JobFailure, JobHandler};
use crate::{Platform, PlatformError, PlatformResult, accounts::User, storage::Storage, uploads};

pub use params::{Photo3dParams, Photo3dRequestError};
pub use pipeline::{Photo3dJobError, Produced, produce};

/// Makes a 3D photo.
#[derive(Debug, Clone, Copy, Default)]
pub struct Photo3d;

/// The model-manifest task a depth network is listed under.
pub const DEPTH_TASK: &str = "depth-estimation";

/// Progress percent at the start and end of each pipeline stage.
fn stage_span(stage: Stage) -> (u8, u8) {
    match stage {
        Stage::Depth => (5, 20),
        Stage::Layers => (20, 35),
        Stage::Inpaint => (35, 45),
        Stage::Render => (45, 75),
        Stage::Encode => (75, 92),
    }
}

/// The cached default depth model of the registry in `models_dir`, loaded on `runtime`;
/// `Ok(None)` when no depth model is listed or fetched (the job then uses the classical
/// estimate); an error when one is there but does not load.
pub fn learned_depth(
    models_dir: Option<&std::path::Path>,
    runtime: &RuntimeConfig,
) -> Result<Option<LearnedDepth>, String> {
    let Some(dir) = models_dir else {
        return Ok(None);
    };
    let Ok(registry) = Registry::open(dir) else {
        return Ok(None);
    };
    let Some(entry) = registry.default_for(DEPTH_TASK) else {
        return Ok(None);
    };
    let Ok(resolved) = registry.resolve(&entry.name) else {
        return Ok(None);
    };
    let runtime = Runtime::auto(runtime).map_err(|e| e.to_string())?;
    let model = runtime.load(&resolved.path).map_err(|e| e.to_string())?;
    let input = &resolved.entry.input;
    let spec = LearnedDepthSpec {
        input_width: input.width,
        input_height: input.height,
        mean: input.mean,
        std: input.std,
        ..LearnedDepthSpec::midas_v21_small(&resolved.entry.name)
    };
    LearnedDepth::new(model, spec)
        .map(Some)
        .map_err(|e| e.to_string())
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

impl JobHandler for Photo3d {
    fn kind(&self) -> &'static str {
        "photo3d"
    }

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: Value,
    ) -> BoxFuture<'a, PlatformResult<Value>> {
        Box::pin(async move {
            let mut params: Photo3dParams = serde_json::from_value(params).map_err(|err| {
                Photo3dRequestError::InvalidParams(format!("bad photo3d params: {err}"))
            })?;
            Self::check(platform, owner, &mut params).await?;
            serde_json::to_value(params).map_err(PlatformError::internal)
        })
    }

    fn max_active_per_account(&self, platform: &Platform) -> Option<u32> {
        Some(platform.config().photo3d.max_active_per_account)
    }

    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobFailure>> {
        Box::pin(async move {
            let params: Photo3dParams = serde_json::from_value(ctx.job.params.clone())
                .map_err(|err| JobFailure::abort("bad-params", err.to_string()))?;
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
            let models_dir = ctx.platform.config().photo3d.models_dir.clone();
            let runtime = ctx.platform.config().photo3d.depth_runtime.clone();
            let progress = ctx.progress.clone();
            let job_params = params.clone();
            let produced = tokio::task::spawn_blocking(move || {
                let mut model = if depth_bytes.is_none() {
                    learned_depth(models_dir.as_deref(), &runtime)
                        .map_err(|err| JobFailure::abort("depth-model-unavailable", err))?
                } else {
                    None
                };
                // Stages report out of order at their seams (layers closes after inpaint):
                // only forward moves are shown.
                let shown = std::sync::atomic::AtomicU8::new(0);
                let report = |stage: Stage, f: f32| {
                    let (a, b) = stage_span(stage);
                    let percent = (f32::from(a) + f32::from(b - a) * f.clamp(0.0, 1.0)) as u8;
                    if percent >= shown.fetch_max(percent, std::sync::atomic::Ordering::Relaxed) {
                        progress.report(percent, stage.as_str());
                    }
                };
                produce(
                    &photo_bytes,
                    depth_bytes.as_deref(),
                    &job_params,
                    &limits,
                    model.as_mut(),
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
            let mut outputs = serde_json::Map::new();
            for file in produced.files {
                let output = uploads::store_output(
                    &ctx.platform,
                    owner,
                    &ctx.job.id,
                    file.bytes,
                    file.dimensions,
                )
                .await?;
                let key = if file.name == "depth" {
                    "depth_preview"
                } else {
                    file.name
                };
                outputs.insert(
                    key.to_owned(),
                    json!({
                        "upload_id": output.id,
                        "kind": output.kind,
                        "content_type": output.content_type,
                        "size": output.size,
                    }),
                );
            }
            ctx.progress.report(99, "store");
            let source = &produced.depth_source;
            Ok(json!({
                "depth_source": source_kind(source),
                "depth": source,
                "depth_description": source.describe(),
                "path": params.path,
                "fps": params.fps,
                "duration": params.duration,
                "amplitude": params.amplitude,
                "frame_count": produced.frame_count,
                "width": produced.size.0,
                "height": produced.size.1,
                "edges": produced.edges,
                "triangles": produced.triangles,
                "outputs": outputs,
            }))
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
    let inputs = ["upload_id", "depth_upload_id"]
        .iter()
        .filter_map(|key| job.params.get(*key).and_then(Value::as_str));
    for id in inputs {
        match uploads::delete_owned(platform, owner.id, id).await {
            Ok(()) => upload_ids.push(id.to_owned()),
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
    fn stages_follow_each_other_without_going_back() {
        let order = [
            Stage::Depth,
            Stage::Layers,
            Stage::Inpaint,
            Stage::Render,
            Stage::Encode,
        ];
        for pair in order.windows(2) {
            assert_eq!(stage_span(pair[0]).1, stage_span(pair[1]).0);
        }
    }

    #[test]
    fn without_a_models_folder_or_a_cached_depth_model_depth_is_classical() {
        let runtime = RuntimeConfig::default();
        assert!(matches!(learned_depth(None, &runtime), Ok(None)));
        let dir = std::env::temp_dir().join(format!("atelier-p3d-{}", std::process::id()));
        assert!(matches!(
            learned_depth(Some(dir.as_path()), &runtime),
            Ok(None)
        ));
    }
}
