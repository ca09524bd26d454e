//! Submitting a drawing: the final image (the uploaded file, or rendered from the log), then the
//! record (one conditional UPDATE, so of two concurrent submits one wins), then — only for the
//! winner — the `animate` job when that kind is registered. A missing or refused animate job
//! does not fail the submission: the outcome says what happened.

use atelier_imaging::{DynamicImage, OutputFormat, StrokePath, encode, render_strokes};
use serde::Serialize;
use utoipa::ToSchema;

use sqlx::Row;

use super::{Drawing, DrawingStatus, get_for, load, log::visible_strokes, strokes::parse_color};
use crate::{
    Platform, PlatformError, PlatformResult,
    accounts::User,
    db::{Db, now_ms},
    jobs::{
        JobKind,
        animate::{Animate, AnimateParams},
        queue,
    },
    uploads::{self, Upload},
};

/// The motion asked of the animate job.
pub const ANIMATE_MOTION: &str = "dance";

/// What to submit.
#[derive(Debug, Clone, Default)]
pub struct SubmitRequest {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// LittleStudio's voice id.
    pub voice_id: Option<i64>,
    /// The client's own final image (already ingested); `None` renders it from the log.
    pub image: Option<Upload>,
}

/// What became of the animation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AnimationOutcome {
    /// The animate job was queued.
    Queued {
        /// Its id.
        job_id: String,
    },
    /// This server has no `animate` job kind.
    Absent,
    /// The job could not be queued (e.g. the account's active-job cap); the drawing is kept.
    NotQueued {
        /// Why.
        reason: String,
    },
}

/// A submitted drawing and its animation outcome.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The drawing, now `submitted`.
    pub drawing: Drawing,
    /// The final image.
    pub image: Upload,
    /// The animation.
    pub animation: AnimationOutcome,
}

/// Renders the drawing's visible strokes to a PNG.
pub async fn render_png(
    platform: &Platform,
    drawing: &Drawing,
) -> PlatformResult<(Vec<u8>, u32, u32)> {
    let strokes = visible_strokes(platform.db(), drawing.id).await?;
    let background = parse_color(&drawing.background).unwrap_or([255, 255, 255, 255]);
    let width = u32::try_from(drawing.width).map_err(PlatformError::internal)?;
    let height = u32::try_from(drawing.height).map_err(PlatformError::internal)?;
    // Rendering is bounded by the drawing's ink limit; the slots bound how many run at once.
    let _slot = platform.render_slot().await?;
    tokio::task::spawn_blocking(move || {
        let paths: Vec<StrokePath<'_>> = strokes
            .iter()
            .map(|stroke| StrokePath {
                points: &stroke.points,
                width: stroke.width,
                color: if stroke.eraser {
                    background
                } else {
                    let mut rgba = parse_color(&stroke.color).unwrap_or([0, 0, 0, 255]);
                    if stroke.tool == super::strokes::Tool::Marker {
                        rgba[3] /= 2;
                    }
                    rgba
                },
            })
            .collect();
        let canvas =
            render_strokes(width, height, background, &paths).map_err(PlatformError::internal)?;
        let bytes = encode(&DynamicImage::ImageRgba8(canvas), OutputFormat::Png)
            .map_err(PlatformError::internal)?;
        Ok((bytes, width, height))
    })
    .await?
}

/// Submits drawing `id` as `user` (its host).
pub async fn submit_drawing(
    platform: &Platform,
    user: &User,
    id: i64,
    request: SubmitRequest,
) -> PlatformResult<Submitted> {
    let drawing = ensure_can_submit(platform.db(), user, id).await?;
    validate_submission_text(&request.title, &request.description)?;
    let rendered = request.image.is_none();
    let image = match request.image {
        Some(upload) => {
            if upload.owner_id != user.id || !upload.media_kind()?.is_image() {
                return Err(PlatformError::Invalid(
                    "the submitted file must be an image".into(),
                ));
            }
            upload
        }
        None => {
            let (bytes, width, height) = render_png(platform, &drawing).await?;
            uploads::store_generated(platform, user.id, None, bytes, Some((width, height))).await?
        }
    };
    // Recorded first, by one conditional UPDATE: of two concurrent submits only one gets past
    // this line, so only one queues an animate job.
    platform
        .pause_points()
        .pass(crate::pause::PausePoint::SubmitBeforeRecord)
        .await;
    let recorded = record_submission(
        platform.db(),
        user,
        id,
        Submission {
            title: request.title,
            description: request.description,
            voice_id: request.voice_id,
            image_upload_id: image.id.clone(),
            animate_job_id: None,
        },
    )
    .await;
    let drawing = match recorded {
        Ok(drawing) => drawing,
        Err(err) => {
            if rendered {
                // The loser of a race rendered an image nobody will point to.
                if let Err(cleanup) = uploads::delete_owned(platform, user.id, &image.id).await {
                    tracing::warn!(upload = %image.id, error = %cleanup, "rendered image left");
                }
            }
            return Err(err);
        }
    };
    let animation = if platform.jobs().get(Animate::KIND).is_none() {
        AnimationOutcome::Absent
    } else {
        let params = AnimateParams {
            motion: ANIMATE_MOTION.to_owned(),
            ..AnimateParams::for_upload(image.id.clone())
        };
        match queue::enqueue_kind::<Animate>(platform, user, &params).await {
            Ok(job) => AnimationOutcome::Queued { job_id: job.id },
            Err(err @ (PlatformError::TooManyActiveJobs { .. } | PlatformError::Invalid(_))) => {
                AnimationOutcome::NotQueued {
                    reason: err.to_string(),
                }
            }
            Err(err) => {
                tracing::warn!(drawing = id, error = %err, "submitted, but the animate job was not queued");
                AnimationOutcome::NotQueued {
                    reason: "the animation could not be queued; try again later".into(),
                }
            }
        }
    };
    let drawing = match &animation {
        AnimationOutcome::Queued { job_id } => set_animate_job(platform.db(), id, job_id).await?,
        _ => drawing,
    };
    Ok(Submitted {
        drawing,
        image,
        animation,
    })
}

/// Links the animate job queued for a just-submitted drawing.
async fn set_animate_job(db: &Db, id: i64, job_id: &str) -> PlatformResult<Drawing> {
    sqlx::query("UPDATE drawings SET animate_job_id = $1 WHERE id = $2")
        .bind(job_id)
        .bind(id)
        .execute(db.pool())
        .await?;
    load(db, id).await
}

/// What submitting records.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// Title, up to 200 characters.
    pub title: String,
    /// Description, up to 5000 characters.
    pub description: String,
    /// LittleStudio's voice id.
    pub voice_id: Option<i64>,
    /// The stored final image.
    pub image_upload_id: String,
    /// The queued animate job, when the kind exists.
    pub animate_job_id: Option<String>,
}

/// Checks the caller may submit (the host, before submission); returns the drawing.
pub async fn ensure_can_submit(db: &Db, user: &User, id: i64) -> PlatformResult<Drawing> {
    let drawing = get_for(db, user, id).await?;
    if drawing.host_id != user.id {
        return Err(PlatformError::Forbidden(
            "only the host submits the drawing".into(),
        ));
    }
    if drawing.status == DrawingStatus::Submitted {
        return Err(PlatformError::Conflict(
            "this drawing is already submitted".into(),
        ));
    }
    Ok(drawing)
}

/// Validates a title and description before anything is stored.
pub fn validate_submission_text(title: &str, description: &str) -> PlatformResult<()> {
    if title.chars().count() > 200 || description.chars().count() > 5000 {
        return Err(PlatformError::Invalid(
            "title is at most 200 characters and description at most 5000".into(),
        ));
    }
    Ok(())
}

/// Records the submission; the drawing takes no more strokes.
async fn record_submission(
    db: &Db,
    user: &User,
    id: i64,
    submission: Submission,
) -> PlatformResult<Drawing> {
    ensure_can_submit(db, user, id).await?;
    validate_submission_text(&submission.title, &submission.description)?;
    let now = now_ms();
    let updated = sqlx::query(
        "UPDATE drawings SET status = 'submitted', title = $1, description = $2, voice_id = $3, \
         image_upload_id = $4, animate_job_id = $5, submitted_at = $6, updated_at = $6 \
         WHERE id = $7 AND status <> 'submitted'",
    )
    .bind(&submission.title)
    .bind(&submission.description)
    .bind(submission.voice_id)
    .bind(&submission.image_upload_id)
    .bind(&submission.animate_job_id)
    .bind(now)
    .bind(id)
    .execute(db.pool())
    .await?;
    if updated.rows_affected() != 1 {
        return Err(PlatformError::Conflict(
            "this drawing is already submitted".into(),
        ));
    }
    load(db, id).await
}

/// The GIF an animate job produced (an output upload of kind `gif`), if any.
pub async fn animation_upload_id(db: &Db, job_id: &str) -> PlatformResult<Option<String>> {
    let row = sqlx::query(
        "SELECT id FROM uploads WHERE job_id = $1 AND kind = 'gif' ORDER BY created_at DESC LIMIT 1",
    )
    .bind(job_id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| r.try_get("id").map_err(PlatformError::from))
        .transpose()
}
