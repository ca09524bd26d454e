//! The `studio_import` job kind: a detector-studio media's upload (a video, an image or a zip
//! of images; how each is read: `studio::decoding`) decoded into one JPEG per frame in the object
//! store, each frame's number and timestamp recorded, a thumbnail made, and the media's empty
//! annotation journal created over its frames. Three stages overlap, joined by bounded
//! channels so memory stays flat whatever the clip's length: frames are decoded on a blocking
//! thread ([`decode`]), encoded as JPEGs on the thread pool ([`encode`]) and stored as they
//! come. Every frame of a media has one size: the annotation tool
//! draws a media's frames in one coordinate space (its width × height), so a zip whose images
//! differ is refused naming the first image that differs. Idempotent: an attempt first removes
//! what an earlier one stored, and a failed import removes what it stored; annotations an
//! earlier attempt's journal holds are kept.

mod decode;
mod encode;

use atelier_detector::{Frame, annotation::video_frame_name};
use atelier_imaging::{OutputFormat, fit_within};
use bytes::Bytes;
use futures::future::BoxFuture;
use image::DynamicImage;
use serde::{Deserialize, Serialize};

use self::decode::{Decoded, Message, Source};

use super::{Job, JobContext, JobFailure, JobKind, LEASE_LOST, queue};
use crate::{
    Platform, PlatformResult,
    accounts::User,
    storage::Storage,
    studio::{
        self,
        archive::ArchiveLimits,
        decoding,
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
    /// What read it: `image`, `zip`, `in-process` (atelier's demuxer + OpenH264) or `ffmpeg`.
    #[serde(default)]
    pub decoder: String,
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

/// Longest side of a thumbnail.
const THUMBNAIL_SIDE: u32 = 256;
/// Most files a zip media may hold.
const MAX_ZIP_ENTRIES: usize = 10_000;

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
            // Nothing half-written stays: the frames stored so far go — unless another attempt
            // holds the lease now (they are its frames) or this one will be retried.
            if let Err(failure) = &result
                && !failure.retryable
                && failure.code != LEASE_LOST
            {
                if let Err(err) = media::clear_frames(&ctx.platform, media_id).await {
                    tracing::warn!(media_id, error = %err, "frames of a failed import left");
                }
                let reason = if failure.code == "canceled" {
                    media::IMPORT_CANCELED
                } else {
                    &failure.message
                };
                let _ = media::mark_failed(ctx.platform.db(), media_id, reason).await;
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
    media::clear_frames(platform, params.media_id).await?;
    let kind = upload.media_kind()?;
    let studio_config = platform.config().studio.clone();
    let plan = if kind == atelier_imaging::MediaKind::Mp4 {
        decoding::plan(&studio_config, kind, Some(&bytes[..]))
    } else {
        decoding::plan(&studio_config, kind, None)
    }
    .map_err(|err| JobFailure::abort(err.code, err.message))?;
    let is_video = row.kind == "video";
    let source = Source {
        bytes,
        plan,
        limits: platform.config().uploads.decode,
        archive: ArchiveLimits {
            max_entries: MAX_ZIP_ENTRIES,
            max_total_bytes: platform.config().uploads.max_bytes,
        },
        studio: studio_config,
        tmp_dir: platform.config().tmp_dir(),
    };

    let (to_encoder, decoded) =
        std::sync::mpsc::sync_channel(encode::queue_depth(source.limits.max_pixels));
    let (to_store, mut receiver) = tokio::sync::mpsc::channel::<Message>(8);
    let progress = ctx.progress.clone();
    let slot = platform.decode_slot().await?;
    let decoder = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        decode::run(source, &progress, &to_encoder)
    });
    let encoder = tokio::task::spawn_blocking(move || encode::run(decoded, &to_store));

    let mut stored = Stored::default();
    while let Some(message) = receiver.recv().await {
        let frame = match message {
            Message::Frame(frame) => frame,
            Message::Restart => {
                media::clear_frames(platform, params.media_id).await?;
                stored = Stored::default();
                continue;
            }
        };
        stored.check_size(&frame)?;
        let number = frame.number;
        stored.keep(&frame, &row.name)?;
        platform
            .storage()
            .put_bytes(
                &media::frame_key(params.media_id, number),
                Bytes::from(frame.jpeg),
            )
            .await?;
        media::insert_frame(db, params.media_id, number, frame.timestamp_ms).await?;
        if stored.names.len() % 25 == 0 {
            ctx.ensure_leased().await?;
        }
    }
    let panicked = |err: tokio::task::JoinError| JobFailure::abort("panic", err.to_string());
    // An encoding failure stops the decoder too (as a cancel): the encoder's error is the cause.
    let encoded = encoder.await.map_err(panicked)?;
    let found = decoder.await.map_err(panicked)?;
    encoded?;
    let found = found?;
    let count = stored.names.len() as i64;
    if count == 0 {
        return Err(JobFailure::abort("empty_video", "the video has no frames"));
    }
    let size = stored.size;
    ctx.progress.report(95, "store");
    if let Some(thumbnail) = stored.thumbnail {
        platform
            .storage()
            .put_bytes(
                &media::thumbnail_key(params.media_id),
                Bytes::from(thumbnail),
            )
            .await?;
    }
    let frames: Vec<Frame> = stored
        .names
        .into_iter()
        .enumerate()
        .map(|(n, name)| Frame {
            name: name.unwrap_or_else(|| {
                if is_video {
                    video_frame_name(n as u32)
                } else {
                    row.name.clone()
                }
            }),
            width: size.0,
            height: size.1,
        })
        .collect();
    let labels = studio::labels_of(db, row.project_id).await?;
    studio::annotations::create_empty(db, params.media_id, &row.name, &labels, frames).await?;
    let imported = media::Imported {
        frame_count: count,
        width: size.0,
        height: size.1,
        fps: found.fps,
        duration_ms: (found.duration * 1000.0).round() as i64,
    };
    let attempt = (ctx.job.id.as_str(), ctx.worker_id());
    if !media::mark_ready(db, params.media_id, &imported, attempt).await? {
        ctx.ensure_leased().await?;
        return Err(JobFailure::abort(
            LEASE_LOST,
            "the media was not marked ready",
        ));
    }
    Ok(StudioImportOutput {
        media_id: params.media_id,
        frame_count: count,
        width: size.0,
        height: size.1,
        decoder: found.decoder.to_owned(),
    })
}

/// What the storing half has kept of the frames so far.
#[derive(Default)]
struct Stored {
    /// Each frame's name in the annotation document (`None`: the default for its kind).
    names: Vec<Option<String>>,
    /// Frame 0's size.
    size: (u32, u32),
    /// Frame 0's name, for refusals.
    first: String,
    /// The thumbnail JPEG.
    thumbnail: Option<Vec<u8>>,
}

impl Stored {
    /// Refuses a frame whose size is not frame 0's, naming both.
    fn check_size(&self, frame: &Decoded) -> Result<(), JobFailure> {
        if frame.number == 0 || (frame.width, frame.height) == self.size {
            return Ok(());
        }
        let name = frame
            .name
            .clone()
            .unwrap_or_else(|| format!("frame {}", frame.number));
        Err(JobFailure::abort(
            "mixed_image_sizes",
            format!(
                "{name} is {}x{} but {} is {}x{}: every image of one media has one size (the \
                 annotation tool draws a media's frames in one coordinate space); put images of \
                 other sizes in a media of their own",
                frame.width, frame.height, self.first, self.size.0, self.size.1
            ),
        ))
    }

    /// Records a frame (and, for frame 0, the size and thumbnail).
    fn keep(&mut self, frame: &Decoded, media_name: &str) -> Result<(), JobFailure> {
        if frame.number as usize != self.names.len() {
            return Err(JobFailure::abort(
                "bad_video",
                format!("frame {} arrived out of order", frame.number),
            ));
        }
        if let Some(image) = &frame.image {
            self.size = image.dimensions();
            self.first = frame
                .name
                .clone()
                .unwrap_or_else(|| format!("{media_name} frame 0"));
            let small = fit_within(&DynamicImage::ImageRgb8(image.clone()), THUMBNAIL_SIDE);
            self.thumbnail = Some(
                atelier_imaging::encode(&small, OutputFormat::Jpeg { quality: 85 })
                    .map_err(|err| JobFailure::abort("encode", err.to_string()))?,
            );
        }
        self.names.push(frame.name.clone());
        Ok(())
    }
}
