//! The `auto_annotate` job kind: a trained detector of the project runs over a media's frames
//! (by default only those on which no box is visible yet) and stores what it finds above
//! `min_score` as proposals ([`crate::studio::proposals`]) for the user to accept or reject;
//! a box like one the user rejected on that frame before is not proposed again.
//!
//! Refusals at creation: a media or detector the owner cannot see (404), a detector of another
//! project (422 `detector_of_another_project`), a media not imported yet (409
//! `media_not_ready`), a `min_score` outside (0, 1] (422), and a second run on a media while one
//! is queued or running (409 `auto_annotate_running`, atomic through the unique partial index
//! `jobs_one_auto_annotate_per_media`). Idempotent: each frame's pending proposals are replaced
//! in one transaction, so a retried attempt stores every frame once.

use atelier_detector::BBox;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{JobContext, JobFailure, JobKind, queue};
use crate::{
    Platform, PlatformError, PlatformResult,
    accounts::User,
    error::InputError,
    studio::{
        self,
        annotations::frames_with_boxes,
        detectors,
        media::{self, frame_key},
        proposals::{self, NewProposal},
    },
};

/// Proposes boxes on a media's frames with a trained detector.
#[derive(Debug, Clone, Copy, Default)]
pub struct AutoAnnotate;

/// The lowest score proposed unless the request says otherwise.
pub const DEFAULT_MIN_SCORE: f32 = 0.4;
/// The most boxes proposed on one frame.
const MAX_PER_FRAME: usize = 50;
/// How often (in frames) the job reads its own state back to stop when canceled elsewhere.
const CANCEL_CHECK_EVERY: usize = 10;

/// The `auto_annotate` job's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoAnnotateParams {
    /// The media (set from the path by the route).
    #[serde(default)]
    pub media_id: i64,
    /// A trained detector of the media's project.
    pub detector_id: i64,
    /// The lowest score proposed, in (0, 1] (default 0.4).
    #[serde(default)]
    pub min_score: Option<f32>,
    /// Run on every frame, also those that already carry boxes (default: only frames on which
    /// no box is visible).
    #[serde(default)]
    pub all_frames: bool,
}

/// The `auto_annotate` job's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoAnnotateOutput {
    /// The media.
    pub media_id: i64,
    /// Frames the detector ran on.
    pub frames: i64,
    /// Proposals stored.
    pub proposals: i64,
}

impl JobKind for AutoAnnotate {
    const KIND: &'static str = "auto_annotate";
    type Params = AutoAnnotateParams;
    type Output = AutoAnnotateOutput;

    fn prepare<'a>(
        &'a self,
        platform: &'a Platform,
        owner: &'a User,
        params: AutoAnnotateParams,
    ) -> BoxFuture<'a, PlatformResult<AutoAnnotateParams>> {
        Box::pin(async move {
            let db = platform.db();
            let media = media::get_visible(db, owner, params.media_id).await?;
            let detector = detectors::get(db, owner, params.detector_id).await?;
            if detector.project_id != media.project_id {
                return Err(InputError::unprocessable(
                    "detector_of_another_project",
                    format!(
                        "detector {} belongs to another project than media {}",
                        detector.id, media.id
                    ),
                )
                .into());
            }
            if media.status != "ready" {
                return Err(InputError::conflict(
                    "media_not_ready",
                    format!("the media is {}, not ready", media.status),
                )
                .into());
            }
            if params.min_score.is_some_and(|s| !(s > 0.0 && s <= 1.0)) {
                return Err(InputError::unprocessable(
                    "invalid_min_score",
                    "min_score must be in (0, 1]",
                )
                .into());
            }
            Ok(params)
        })
    }

    fn active_conflict(&self) -> PlatformError {
        InputError::conflict(
            "auto_annotate_running",
            "this media is already being auto-annotated; wait for it or cancel it",
        )
        .into()
    }

    fn run(
        &self,
        ctx: JobContext,
        params: AutoAnnotateParams,
    ) -> BoxFuture<'static, Result<AutoAnnotateOutput, JobFailure>> {
        Box::pin(async move { run(ctx, params).await })
    }
}

/// The frame numbers of a media, in order.
async fn frame_numbers(platform: &Platform, media_id: i64) -> PlatformResult<Vec<i64>> {
    let rows = sqlx::query("SELECT number FROM studio_frames WHERE media_id = $1 ORDER BY number")
        .bind(media_id)
        .fetch_all(platform.db().pool())
        .await?;
    rows.iter()
        .map(|r| sqlx::Row::try_get::<i64, _>(r, "number").map_err(PlatformError::from))
        .collect()
}

/// Overlap from which a found box counts as one the user rejected.
const REJECTED_IOU: f64 = 0.5;

/// Whether `found` is a box the user rejected on this frame (same label, IoU ≥ 0.5).
fn like_rejected(found: &detectors::Found, rejected: &[proposals::Proposal]) -> bool {
    rejected.iter().any(|r| {
        let [x1, y1, x2, y2] = r.bbox;
        r.label_id == found.label_id && found.bbox.iou(&BBox::new(x1, y1, x2, y2)) >= REJECTED_IOU
    })
}

async fn run(
    ctx: JobContext,
    params: AutoAnnotateParams,
) -> Result<AutoAnnotateOutput, JobFailure> {
    let platform = ctx.platform.clone();
    let db = platform.db();
    ctx.progress.report(2, "load");
    let media = media::get_any(db, params.media_id).await?;
    let detector = detectors::get_any(db, params.detector_id).await?;
    let loaded = detectors::load_head(&platform, &detector).await?;
    let backbone = platform
        .models()
        .studio_backbone()
        .await
        .map_err(|err| JobFailure::retry("model-unavailable", err.to_string()))?;
    let labels: std::collections::BTreeSet<i64> = studio::labels_of(db, media.project_id)
        .await?
        .iter()
        .map(|l| l.id)
        .collect();
    let mut frames = frame_numbers(&platform, media.id).await?;
    if !params.all_frames {
        let count = u32::try_from(media.frame_count).unwrap_or(u32::MAX);
        let busy = frames_with_boxes(db, media.id, media.project_id, count).await?;
        frames.retain(|&f| u32::try_from(f).is_ok_and(|f| !busy.contains(&f)));
    }
    let min_score = params.min_score.unwrap_or(DEFAULT_MIN_SCORE);
    let total = frames.len().max(1);
    let mut stored = 0i64;
    for (done, &frame) in frames.iter().enumerate() {
        if ctx.progress.is_canceled()
            || (done % CANCEL_CHECK_EVERY == 0 && !queue::is_running(db, &ctx.job.id).await?)
        {
            ctx.progress.cancel();
            return Err(JobFailure::abort("canceled", "the job was canceled"));
        }
        let jpeg = platform
            .storage()
            .get_bytes(&frame_key(media.id, frame))
            .await?;
        let (backbone, loaded) = (backbone.clone(), loaded.clone());
        let found = tokio::task::spawn_blocking(move || -> Result<_, JobFailure> {
            let image = image::load_from_memory(&jpeg)
                .map_err(|err| JobFailure::abort("bad-frame", err.to_string()))?
                .into_rgb8();
            Ok(detectors::detect_blocking(
                &backbone, &loaded, &image, min_score,
            )?)
        })
        .await
        .map_err(|err| JobFailure::abort("panic", err.to_string()))??;
        let rejected = proposals::rejected_on_frame(db, media.id, frame).await?;
        let found: Vec<NewProposal> = found
            .into_iter()
            .filter(|f| labels.contains(&f.label_id) && !like_rejected(f, &rejected))
            .take(MAX_PER_FRAME)
            .map(|f| NewProposal {
                label_id: f.label_id,
                bbox: [f.bbox.xtl, f.bbox.ytl, f.bbox.xbr, f.bbox.ybr],
                score: f64::from(f.score),
            })
            .collect();
        proposals::replace_on_frame(db, media.id, frame, detector.id, &ctx.job.id, &found).await?;
        stored += found.len() as i64;
        ctx.progress
            .report((5 + (done + 1) * 90 / total).min(95) as u8, "detect");
    }
    Ok(AutoAnnotateOutput {
        media_id: media.id,
        frames: frames.len() as i64,
        proposals: stored,
    })
}
