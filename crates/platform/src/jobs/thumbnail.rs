//! The `thumbnail` job kind: an uploaded image scaled to fit a box, stored as a new upload.

use atelier_imaging::{OutputFormat, decode_image, encode, fit_within};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{JobContext, JobFailure, JobKind};
use crate::{Platform, PlatformError, PlatformResult, accounts::User, storage::Storage, uploads};

/// Scales an uploaded image down to fit `max_side × max_side`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Thumbnail;

/// The `thumbnail` job's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailParams {
    /// The source image (must be the job owner's upload).
    pub upload_id: String,
    /// The longest side of the result, 8–4096 (default 256).
    #[serde(default = "default_max_side")]
    pub max_side: u32,
    /// `png` (default) or `jpeg`.
    #[serde(default = "default_format")]
    pub format: String,
}

fn default_max_side() -> u32 {
    256
}

fn default_format() -> String {
    "png".to_owned()
}

/// The `thumbnail` job's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThumbnailOutput {
    /// The thumbnail's upload.
    pub upload_id: String,
    /// Its content hash.
    pub sha256: String,
    /// `png` or `jpeg`.
    pub kind: String,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

fn output_format(name: &str) -> PlatformResult<OutputFormat> {
    match name {
        "png" => Ok(OutputFormat::Png),
        "jpeg" | "jpg" => Ok(OutputFormat::Jpeg { quality: 85 }),
        other => Err(PlatformError::Invalid(format!(
            "unknown thumbnail format {other:?} (png or jpeg)"
        ))),
    }
}

impl JobKind for Thumbnail {
    const KIND: &'static str = "thumbnail";
    type Params = ThumbnailParams;
    type Output = ThumbnailOutput;

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: ThumbnailParams,
    ) -> BoxFuture<'a, PlatformResult<ThumbnailParams>> {
        Box::pin(async move {
            if !(8..=4096).contains(&params.max_side) {
                return Err(PlatformError::Invalid(
                    "max_side must be between 8 and 4096".into(),
                ));
            }
            output_format(&params.format)?;
            let upload = uploads::get_owned(platform, owner.id, &params.upload_id).await?;
            if !upload.media_kind()?.is_image() {
                return Err(PlatformError::Invalid(
                    "a thumbnail needs an image upload".into(),
                ));
            }
            Ok(params)
        })
    }

    fn run(
        &self,
        ctx: JobContext,
        params: ThumbnailParams,
    ) -> BoxFuture<'static, Result<ThumbnailOutput, JobFailure>> {
        Box::pin(async move {
            let format = output_format(&params.format)?;
            ctx.progress.report(5, "fetch");
            // Idempotence: whatever an interrupted attempt stored goes before this one stores.
            uploads::delete_job_outputs(&ctx.platform, ctx.job.owner_id, &ctx.job.id).await?;
            let source =
                uploads::get_owned(&ctx.platform, ctx.job.owner_id, &params.upload_id).await?;
            let bytes = ctx
                .platform
                .storage()
                .get_bytes(&Storage::blob_key(&source.sha256))
                .await?;
            let limits = ctx.platform.config().uploads.decode;
            let progress = ctx.progress.clone();
            let (encoded, width, height) = tokio::task::spawn_blocking(move || {
                progress.report(20, "decode");
                let image = decode_image(&bytes, &limits)
                    .map_err(|err| JobFailure::abort("bad-input", err.to_string()))?;
                progress.report(50, "resize");
                let small = fit_within(&image, params.max_side);
                progress.report(80, "encode");
                let encoded = encode(&small, format)
                    .map_err(|err| JobFailure::abort("encode", err.to_string()))?;
                Ok::<_, JobFailure>((encoded, small.width(), small.height()))
            })
            .await
            .map_err(|err| JobFailure::abort("panic", err.to_string()))??;
            ctx.progress.report(90, "store");
            let output = ctx.store_output(encoded, Some((width, height))).await?;
            Ok(ThumbnailOutput {
                upload_id: output.id,
                sha256: output.sha256,
                kind: output.kind,
                width,
                height,
            })
        })
    }
}
