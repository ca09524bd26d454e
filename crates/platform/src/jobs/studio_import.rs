//! The `studio_import` job kind: a detector-studio media's upload (an H.264 MP4 or an image)
//! decoded into one JPEG per frame in the object store, each frame's number and timestamp
//! recorded, a thumbnail made, and the media's empty annotation journal created over its frames.
//! Frames are decoded on a blocking thread, JPEG-encoded in batches on rayon's threads and stored
//! as they come (a bounded channel between the two), so memory stays flat whatever the clip's
//! length. Idempotent: an attempt first removes what an earlier one stored; annotations an
//! earlier attempt's journal holds are kept.

use atelier_detector::{Frame, annotation::video_frame_name, video};
use atelier_imaging::{OutputFormat, decode_image, encode, fit_within};
use bytes::Bytes;
use futures::future::BoxFuture;
use image::{DynamicImage, RgbImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Job, JobContext, JobFailure, JobKind, queue};
use crate::{
    Platform, PlatformError, PlatformResult,
    accounts::User,
    storage::Storage,
    studio::{
        self,
        media::{self, Media},
    },
    uploads,
};

/// Imports one studio media.
#[derive(Debug, Clone, Copy, Default)]
pub struct StudioImport;

/// The `studio_import` job's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudioImportParams {
    /// The media row to fill.
    pub media_id: i64,
    /// The upload it comes from (the job owner's).
    pub upload_id: String,
}

/// The `studio_import` job's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioImportOutput {
    /// The media.
    pub media_id: i64,
    /// Frames stored.
    pub frame_count: i64,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
}

/// Adds an upload of `viewer`'s to a project ([`media::create`]) and queues its import; the
/// media is `importing` until the job ends (and is forgotten when the job cannot be queued).
pub async fn queue_import(
    platform: &Platform,
    viewer: &User,
    project_id: i64,
    upload_id: &str,
) -> PlatformResult<(Media, Job)> {
    let created = media::create(platform, viewer, project_id, upload_id).await?;
    let params = StudioImportParams {
        media_id: created.id,
        upload_id: created.upload_id.clone(),
    };
    let job = match queue::enqueue_kind::<StudioImport>(platform, viewer, &params).await {
        Ok(job) => job,
        Err(err) => {
            media::discard(platform.db(), created.id).await?;
            return Err(err);
        }
    };
    let media = media::attach_job(platform.db(), created.id, &job.id).await?;
    Ok((media, job))
}

/// JPEG quality of stored frames.
const FRAME_QUALITY: u8 = 90;
/// Frames JPEG-encoded at once, in parallel.
const ENCODE_BATCH: usize = 8;
/// Longest side of a thumbnail.
const THUMBNAIL_SIDE: u32 = 256;

/// A decoded frame on its way to the store.
struct Decoded {
    number: i64,
    timestamp_ms: i64,
    jpeg: Vec<u8>,
    image: Option<RgbImage>,
}

fn jpeg(image: &RgbImage) -> Result<Vec<u8>, JobFailure> {
    encode(
        &DynamicImage::ImageRgb8(image.clone()),
        OutputFormat::Jpeg {
            quality: FRAME_QUALITY,
        },
    )
    .map_err(|err| JobFailure::abort("encode", err.to_string()))
}

fn video_failure(err: video::VideoError) -> JobFailure {
    let code = match err {
        video::VideoError::NotAVideo(_) => "not_a_video",
        video::VideoError::Truncated(_) => "truncated_video",
        video::VideoError::UnsupportedCodec(_) => "unsupported_codec",
        video::VideoError::Canceled => "canceled",
        _ => "bad_video",
    };
    JobFailure::abort(code, err.to_string())
}

impl JobKind for StudioImport {
    const KIND: &'static str = "studio_import";
    type Params = StudioImportParams;
    type Output = StudioImportOutput;

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: StudioImportParams,
    ) -> BoxFuture<'a, PlatformResult<StudioImportParams>> {
        Box::pin(async move {
            media::get_visible(platform.db(), owner, params.media_id).await?;
            uploads::get_owned(platform, owner.id, &params.upload_id).await?;
            Ok(params)
        })
    }

    fn run(
        &self,
        ctx: JobContext,
        params: StudioImportParams,
    ) -> BoxFuture<'static, Result<StudioImportOutput, JobFailure>> {
        Box::pin(async move {
            let media_id = params.media_id;
            let result = import(&ctx, &params).await;
            if let Err(failure) = &result
                && !failure.retryable
                && failure.code != "canceled"
            {
                let _ = media::mark_failed(ctx.platform.db(), media_id, &failure.message).await;
            }
            result
        })
    }
}

async fn import(
    ctx: &JobContext,
    params: &StudioImportParams,
) -> Result<StudioImportOutput, JobFailure> {
    let platform = &ctx.platform;
    let db = platform.db();
    ctx.progress.report(2, "fetch");
    let row = media::get_any(db, params.media_id).await?;
    let upload = uploads::get_owned(platform, ctx.job.owner_id, &params.upload_id).await?;
    let bytes = platform
        .storage()
        .get_bytes(&Storage::blob_key(&upload.sha256))
        .await?;
    // Idempotence: whatever an interrupted attempt stored goes first.
    media::delete_objects(platform, params.media_id).await?;
    sqlx::query("DELETE FROM studio_frames WHERE media_id = $1")
        .bind(params.media_id)
        .execute(db.pool())
        .await
        .map_err(PlatformError::from)?;

    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Decoded>(8);
    let progress = ctx.progress.clone();
    let is_video = row.kind == "video";
    let limits = platform.config().uploads.decode;
    let slot = platform.decode_slot().await?;
    let decoder = tokio::task::spawn_blocking(move || -> Result<(f64, f64), JobFailure> {
        let _slot = slot;
        if !is_video {
            let image = decode_image(&bytes, &limits)
                .map_err(|err| JobFailure::abort("bad_image", err.to_string()))?
                .into_rgb8();
            let jpeg = jpeg(&image)?;
            let _ = sender.blocking_send(Decoded {
                number: 0,
                timestamp_ms: 0,
                jpeg,
                image: Some(image),
            });
            return Ok((0.0, 0.0));
        }
        let info = video::probe(&bytes).map_err(video_failure)?;
        let total = info.frame_count.max(1);
        let mut report = |_: &str, _: f64| !progress.is_canceled();
        // Frames are decoded in order on this thread and JPEG-encoded in batches on rayon's
        // threads (the encoder costs more than the decoder), then sent on in order.
        let send_batch = |batch: &mut Vec<video::VideoFrame>| -> Result<(), video::VideoError> {
            let encoded = batch
                .par_iter()
                .map(|frame| {
                    jpeg(&frame.image).map_err(|f| video::VideoError::Decode {
                        frame: frame.number,
                        reason: f.message,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            for (frame, jpeg) in batch.drain(..).zip(encoded) {
                let first = frame.number == 0;
                sender
                    .blocking_send(Decoded {
                        number: frame.number as i64,
                        timestamp_ms: (frame.timestamp * 1000.0).round() as i64,
                        jpeg,
                        image: first.then_some(frame.image),
                    })
                    .map_err(|_| video::VideoError::Canceled)?;
            }
            Ok(())
        };
        let mut batch = Vec::with_capacity(ENCODE_BATCH);
        video::for_each_frame(&bytes, &mut report, |frame| {
            progress.report((5 + frame.number * 85 / total).min(90) as u8, "decode");
            batch.push(frame);
            if batch.len() == ENCODE_BATCH {
                send_batch(&mut batch)?;
            }
            Ok(())
        })
        .map_err(video_failure)?;
        send_batch(&mut batch).map_err(video_failure)?;
        let fps = if info.duration > 0.0 {
            info.frame_count as f64 / info.duration
        } else {
            0.0
        };
        Ok((fps, info.duration))
    });

    let mut count = 0i64;
    let mut size = (0u32, 0u32);
    let mut thumbnail = None;
    while let Some(frame) = receiver.recv().await {
        if let Some(image) = frame.image {
            size = image.dimensions();
            let small = fit_within(&DynamicImage::ImageRgb8(image), THUMBNAIL_SIDE);
            thumbnail = Some(
                encode(&small, OutputFormat::Jpeg { quality: 85 })
                    .map_err(|err| JobFailure::abort("encode", err.to_string()))?,
            );
        }
        platform
            .storage()
            .put_bytes(
                &media::frame_key(params.media_id, frame.number),
                Bytes::from(frame.jpeg),
            )
            .await?;
        media::insert_frame(db, params.media_id, frame.number, frame.timestamp_ms).await?;
        count += 1;
        if count % 25 == 0 && !super::queue::is_running(db, &ctx.job.id).await? {
            ctx.progress.cancel();
            return Err(JobFailure::abort("canceled", "the job was canceled"));
        }
    }
    let (fps, duration) = decoder
        .await
        .map_err(|err| JobFailure::abort("panic", err.to_string()))??;
    if count == 0 {
        return Err(JobFailure::abort("empty_video", "the video has no frames"));
    }
    ctx.progress.report(95, "store");
    if let Some(thumbnail) = thumbnail {
        platform
            .storage()
            .put_bytes(
                &media::thumbnail_key(params.media_id),
                Bytes::from(thumbnail),
            )
            .await?;
    }
    let frames: Vec<Frame> = (0..count)
        .map(|n| Frame {
            name: if is_video {
                video_frame_name(n as u32)
            } else {
                row.name.clone()
            },
            width: size.0,
            height: size.1,
        })
        .collect();
    let labels = studio::labels_of(db, row.project_id).await?;
    studio::annotations::create_empty(db, params.media_id, &row.name, &labels, frames).await?;
    media::mark_ready(
        db,
        params.media_id,
        &media::Imported {
            frame_count: count,
            width: size.0,
            height: size.1,
            fps,
            duration_ms: (duration * 1000.0).round() as i64,
        },
    )
    .await?;
    Ok(StudioImportOutput {
        media_id: params.media_id,
        frame_count: count,
        width: size.0,
        height: size.1,
    })
}
