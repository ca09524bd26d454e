//! Media of a studio project: a video, an image or a zip of images (how each is read:
//! [`super::decoding`]), imported by the `studio_import` job into one JPEG per frame in the object store (`studio/media/{id}/frames/{n}.jpg`, with its
//! number and timestamp in `studio_frames`) plus a thumbnail, so any frame is one read away.

use object_store::path::Path as ObjectPath;
use serde::Serialize;
use sqlx::{Row, any::AnyRow};
use utoipa::ToSchema;

use super::visible_project;
use crate::{
    Platform,
    accounts::User,
    db::{Db, now_ms},
    error::{PlatformError, PlatformResult},
    storage::Storage,
    uploads,
};

/// A video or image set (one image, or a zip of them) of a project.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Media {
    /// Numeric id.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// The upload's file name (or `media-{id}`).
    pub name: String,
    /// `video`, or `images` (an image, or a zip of images).
    pub kind: String,
    /// `importing`, `ready` or `failed`.
    pub status: String,
    /// Why the import failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The `studio_import` job.
    pub job_id: Option<String>,
    /// Frames (0 until imported).
    pub frame_count: i64,
    /// Frame width, pixels.
    pub width: i64,
    /// Frame height, pixels.
    pub height: i64,
    /// Frames per second (0 for images).
    pub fps: f64,
    /// Duration, milliseconds (0 for images).
    pub duration_ms: i64,
    /// The upload it was imported from.
    #[serde(skip)]
    pub upload_id: String,
}

/// One frame of a media.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FrameInfo {
    /// Frame number from 0.
    pub number: i64,
    /// Presentation time, milliseconds.
    pub timestamp_ms: i64,
    /// Whether any box is on it (shapes, and tracks visible there).
    pub annotated: bool,
}

const MEDIA_COLUMNS: &str = "m.id, m.project_id, m.name, m.kind, m.status, m.error, m.job_id, \
     m.upload_id, m.frame_count, m.width, m.height, m.fps_milli, m.duration_ms";

fn media_row(row: &AnyRow) -> PlatformResult<Media> {
    Ok(Media {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        error: row.try_get("error")?,
        job_id: row.try_get("job_id")?,
        upload_id: row.try_get("upload_id")?,
        frame_count: row.try_get("frame_count")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        fps: row.try_get::<i64, _>("fps_milli")? as f64 / 1000.0,
        duration_ms: row.try_get("duration_ms")?,
    })
}

/// The object key of frame `number` of media `media_id`.
pub fn frame_key(media_id: i64, number: i64) -> ObjectPath {
    ObjectPath::from(format!("studio/media/{media_id}/frames/{number:06}.jpg"))
}

/// The object key of a media's thumbnail.
pub fn thumbnail_key(media_id: i64) -> ObjectPath {
    ObjectPath::from(format!("studio/media/{media_id}/thumbnail.jpg"))
}

fn media_prefix(media_id: i64) -> String {
    format!("studio/media/{media_id}/")
}

/// A media row by id, whoever may see it (for jobs).
pub async fn get_any(db: &Db, media_id: i64) -> PlatformResult<Media> {
    let sql = format!("SELECT {MEDIA_COLUMNS} FROM studio_media m WHERE m.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(media_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(PlatformError::NotFound("media"))?;
    media_row(&row)
}

/// A media `viewer` may see (its project is theirs or shared with their family).
pub async fn get_visible(db: &Db, viewer: &User, media_id: i64) -> PlatformResult<Media> {
    let media = get_any(db, media_id).await?;
    visible_project(db, viewer, media.project_id)
        .await
        .map_err(|err| match err {
            PlatformError::NotFound(_) => PlatformError::NotFound("media"),
            other => other,
        })?;
    Ok(media)
}

/// The media of a project, oldest first.
pub async fn list(db: &Db, viewer: &User, project_id: i64) -> PlatformResult<Vec<Media>> {
    visible_project(db, viewer, project_id).await?;
    let sql =
        format!("SELECT {MEDIA_COLUMNS} FROM studio_media m WHERE m.project_id = $1 ORDER BY m.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(project_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(media_row).collect()
}

/// Adds an upload of `viewer`'s (a video, an image or a zip of images) to a project as a media
/// that is `importing` until its `studio_import` job (which
/// `crate::jobs::studio_import::queue_import` queues and attaches with [`attach_job`]) ends. 415
/// when the upload is no media, or a video only ffmpeg reads and the server has none
/// ([`super::decoding::plan`]).
pub async fn create(
    platform: &Platform,
    viewer: &User,
    project_id: i64,
    upload_id: &str,
) -> PlatformResult<Media> {
    let db = platform.db();
    visible_project(db, viewer, project_id).await?;
    let upload = uploads::get_owned(platform, viewer.id, upload_id).await?;
    let kind = upload.media_kind()?;
    let mp4 = if kind == atelier_imaging::MediaKind::Mp4 {
        Some(
            platform
                .storage()
                .get_bytes(&Storage::blob_key(&upload.sha256))
                .await?,
        )
    } else {
        None
    };
    let config = platform.config().studio.clone();
    let kind = tokio::task::spawn_blocking(move || {
        super::decoding::plan(&config, kind, mp4.as_deref()).map(|plan| plan.media_kind())
    })
    .await??;
    let name = upload
        .filename
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("upload.{}", upload.kind));
    let row = sqlx::query(
        "INSERT INTO studio_media (project_id, name, kind, status, upload_id, created_at) \
         VALUES ($1, $2, $3, 'importing', $4, $5) RETURNING id",
    )
    .bind(project_id)
    .bind(&name)
    .bind(kind)
    .bind(&upload.id)
    .bind(now_ms())
    .fetch_one(db.pool())
    .await?;
    get_any(db, row.try_get("id")?).await
}

/// Records the `studio_import` job of a just-created media.
pub async fn attach_job(db: &Db, media_id: i64, job_id: &str) -> PlatformResult<Media> {
    sqlx::query("UPDATE studio_media SET job_id = $1 WHERE id = $2")
        .bind(job_id)
        .bind(media_id)
        .execute(db.pool())
        .await?;
    get_any(db, media_id).await
}

/// Forgets a just-created media whose import could not be queued (it stored nothing yet).
pub async fn discard(db: &Db, media_id: i64) -> PlatformResult<()> {
    sqlx::query("DELETE FROM studio_media WHERE id = $1")
        .bind(media_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes a media: its frames, thumbnail, annotations and row.
pub async fn delete(platform: &Platform, viewer: &User, media_id: i64) -> PlatformResult<()> {
    let media = get_visible(platform.db(), viewer, media_id).await?;
    if let Some(job_id) = &media.job_id {
        sqlx::query(
            "UPDATE jobs SET status = 'canceled', finished_at = $1, updated_at = $1 \
             WHERE id = $2 AND status IN ('queued', 'running')",
        )
        .bind(now_ms())
        .bind(job_id)
        .execute(platform.db().pool())
        .await?;
    }
    delete_media_row(platform, media_id).await
}

/// Removes a media's stored objects and rows (no access check).
pub(crate) async fn delete_media_row(platform: &Platform, media_id: i64) -> PlatformResult<()> {
    delete_objects(platform, media_id).await?;
    let mut tx = platform.db().pool().begin().await?;
    for sql in [
        "DELETE FROM studio_frames WHERE media_id = $1",
        "DELETE FROM studio_annotations WHERE media_id = $1",
        "DELETE FROM studio_proposals WHERE media_id = $1",
        "DELETE FROM studio_media WHERE id = $1",
    ] {
        sqlx::query(sql).bind(media_id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes every stored frame of a media, objects and rows, and its thumbnail: what an import
/// stored before it failed or was retried.
pub(crate) async fn clear_frames(platform: &Platform, media_id: i64) -> PlatformResult<()> {
    delete_objects(platform, media_id).await?;
    sqlx::query("DELETE FROM studio_frames WHERE media_id = $1")
        .bind(media_id)
        .execute(platform.db().pool())
        .await?;
    Ok(())
}

/// Deletes every stored object of a media (frames, thumbnail).
pub(crate) async fn delete_objects(platform: &Platform, media_id: i64) -> PlatformResult<()> {
    let storage = platform.storage();
    for key in storage.list_keys(&media_prefix(media_id)).await? {
        storage.delete(&ObjectPath::from(key)).await?;
    }
    Ok(())
}

/// The frames of a media with their timestamps and whether they carry boxes.
pub async fn frames(db: &Db, viewer: &User, media_id: i64) -> PlatformResult<Vec<FrameInfo>> {
    get_visible(db, viewer, media_id).await?;
    let rows = sqlx::query(
        "SELECT number, timestamp_ms FROM studio_frames WHERE media_id = $1 ORDER BY number",
    )
    .bind(media_id)
    .fetch_all(db.pool())
    .await?;
    let annotated = annotated_frame_set(db, media_id).await?;
    rows.iter()
        .map(|r| {
            let number: i64 = r.try_get("number")?;
            Ok(FrameInfo {
                number,
                timestamp_ms: r.try_get("timestamp_ms")?,
                annotated: annotated.contains(&number),
            })
        })
        .collect()
}

/// The JPEG of frame `number` (404 past the last frame).
pub async fn frame_jpeg(
    platform: &Platform,
    viewer: &User,
    media_id: i64,
    number: i64,
) -> PlatformResult<bytes::Bytes> {
    get_visible(platform.db(), viewer, media_id).await?;
    let row =
        sqlx::query("SELECT object_key FROM studio_frames WHERE media_id = $1 AND number = $2")
            .bind(media_id)
            .bind(number)
            .fetch_optional(platform.db().pool())
            .await?
            .ok_or(PlatformError::NotFound("frame"))?;
    let key: String = row.try_get("object_key")?;
    platform.storage().get_bytes(&ObjectPath::from(key)).await
}

/// The thumbnail JPEG of a media (404 until imported).
pub async fn thumbnail_jpeg(
    platform: &Platform,
    viewer: &User,
    media_id: i64,
) -> PlatformResult<bytes::Bytes> {
    get_visible(platform.db(), viewer, media_id).await?;
    platform.storage().get_bytes(&thumbnail_key(media_id)).await
}

/// What an import found, recorded when it ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Imported {
    /// Frames stored.
    pub frame_count: i64,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// Duration, milliseconds.
    pub duration_ms: i64,
}

/// Marks a media ready with what its import found.
pub(crate) async fn mark_ready(
    db: &Db,
    media_id: i64,
    found: &Imported,
    attempt: (&str, &str),
) -> PlatformResult<bool> {
    let (job_id, worker_id) = attempt;
    // One statement with the lease test, so a cancel is either seen here (nothing marked) or
    // lands after (and `settle_imports` then undoes the import).
    let marked = sqlx::query(
        "UPDATE studio_media SET status = 'ready', error = NULL, frame_count = $1, width = $2, \
         height = $3, fps_milli = $4, duration_ms = $5 WHERE id = $6 AND EXISTS (SELECT 1 \
         FROM jobs j WHERE j.id = $7 AND j.status = 'running' AND j.lease_owner = $8)",
    )
    .bind(found.frame_count)
    .bind(i64::from(found.width))
    .bind(i64::from(found.height))
    .bind((found.fps * 1000.0).round() as i64)
    .bind(found.duration_ms)
    .bind(media_id)
    .bind(job_id)
    .bind(worker_id)
    .execute(db.pool())
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// The error of a media whose import was canceled.
pub const IMPORT_CANCELED: &str = "the import was canceled";

/// Most media one [`settle_imports`] pass settles (the next pass takes the rest).
const SETTLE_BATCH: i64 = 500;

/// Settles the media whose `studio_import` job ended without them: a canceled import (queued
/// or running when canceled, or canceled just as it finished) and an import that failed for
/// good without cleaning up (its worker died on the last attempt) lose their stored frames
/// and end `failed`, with the reason. `job_id` limits the pass to one job (a cancel settles
/// its media at once); `None` is the housekeeping pass. Returns how many media were settled.
pub async fn settle_imports(platform: &Platform, job_id: Option<&str>) -> PlatformResult<u64> {
    let unsettled = "SELECT m.id, j.status, j.error FROM studio_media m \
         JOIN jobs j ON j.id = m.job_id WHERE ((j.status = 'canceled' AND m.status <> 'failed') \
         OR (j.status = 'failed' AND m.status = 'importing'))";
    let rows = match job_id {
        Some(job_id) => {
            sqlx::query(sqlx::AssertSqlSafe(format!("{unsettled} AND j.id = $1")))
                .bind(job_id)
                .fetch_all(platform.db().pool())
                .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{unsettled} ORDER BY m.id LIMIT $1"
            )))
            .bind(SETTLE_BATCH)
            .fetch_all(platform.db().pool())
            .await?
        }
    };
    let mut settled = 0;
    for row in &rows {
        let media_id: i64 = row.try_get("id")?;
        let status: String = row.try_get("status")?;
        let error: Option<String> = row.try_get("error")?;
        clear_frames(platform, media_id).await?;
        let reason = if status == "canceled" {
            IMPORT_CANCELED.to_owned()
        } else {
            error
                // The job's error record (`jobs::JobErrorRecord`): its message.
                .and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok())
                .and_then(|e| e["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "the import failed".to_owned())
        };
        mark_failed(platform.db(), media_id, &reason).await?;
        settled += 1;
    }
    Ok(settled)
}

/// Marks a media failed with the reason.
pub(crate) async fn mark_failed(db: &Db, media_id: i64, error: &str) -> PlatformResult<()> {
    sqlx::query("UPDATE studio_media SET status = 'failed', error = $1 WHERE id = $2")
        .bind(error)
        .bind(media_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Records one stored frame (replacing a row an earlier attempt left).
pub(crate) async fn insert_frame(
    db: &Db,
    media_id: i64,
    number: i64,
    timestamp_ms: i64,
) -> PlatformResult<()> {
    sqlx::query(
        "INSERT INTO studio_frames (media_id, number, timestamp_ms, object_key) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (media_id, number) DO UPDATE \
         SET timestamp_ms = excluded.timestamp_ms, object_key = excluded.object_key",
    )
    .bind(media_id)
    .bind(number)
    .bind(timestamp_ms)
    .bind(frame_key(media_id, number).to_string())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Frames of a media that carry a key frame or a shape (empty before import).
async fn annotated_frame_set(
    db: &Db,
    media_id: i64,
) -> PlatformResult<std::collections::BTreeSet<i64>> {
    let row = sqlx::query("SELECT journal FROM studio_annotations WHERE media_id = $1")
        .bind(media_id)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else {
        return Ok(std::collections::BTreeSet::new());
    };
    let text: String = row.try_get("journal")?;
    let journal: atelier_detector::annotation::ops::Journal =
        serde_json::from_str(&text).map_err(PlatformError::internal)?;
    Ok(journal
        .doc()
        .annotated_frames()
        .into_iter()
        .map(i64::from)
        .collect())
}
