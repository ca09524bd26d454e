//! Auto-annotation proposals: the boxes a trained detector proposed on a media's frames (the
//! `auto_annotate` job stores them), each `pending` until the user accepts it (it becomes a
//! shape of the annotation journal, `source: auto`, one undoable edit) or rejects it. A new
//! auto-annotation of a frame replaces that frame's pending proposals; decided ones are kept as
//! the record of what was decided, and a box like one the user rejected (same label, IoU ≥ 0.5)
//! is not proposed again. Reached through the media, so its project's access rules hold.

use serde::Serialize;
use sqlx::{Row, any::AnyRow};
use utoipa::ToSchema;

use super::{
    annotations::{self, BoxArray, ShapeView},
    media::get_visible,
};
use crate::{
    accounts::User,
    db::{Db, now_ms},
    error::{InputError, PlatformError, PlatformResult},
};

/// A box a detector proposed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Proposal {
    /// Numeric id.
    pub id: i64,
    /// The media.
    pub media_id: i64,
    /// The frame.
    pub frame: i64,
    /// The proposed label.
    pub label_id: i64,
    /// `[x1, y1, x2, y2]` in frame pixels.
    #[serde(rename = "box")]
    #[schema(value_type = Vec<f64>)]
    pub bbox: BoxArray,
    /// The detector's confidence in `[0, 1]`.
    pub score: f64,
    /// The detector that proposed it.
    pub detector_id: i64,
    /// The `auto_annotate` job that stored it.
    pub job_id: String,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
}

/// A box to propose on one frame (what a job found).
#[derive(Debug, Clone, PartialEq)]
pub struct NewProposal {
    /// The label.
    pub label_id: i64,
    /// `[x1, y1, x2, y2]`.
    pub bbox: BoxArray,
    /// Confidence.
    pub score: f64,
}

/// The user's decision on a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Add it to the annotations.
    Accept,
    /// Drop it.
    Reject,
}

/// What accepting or rejecting a proposal did.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Decided {
    /// The proposal, with its new status.
    pub proposal: Proposal,
    /// The annotation version after an accepted proposal was added (`null` when rejected).
    pub version: Option<u64>,
    /// The id of the shape an accepted proposal became.
    pub shape_id: Option<u64>,
}

const COLUMNS: &str =
    "id, media_id, frame, label_id, detector_id, job_id, score, x1, y1, x2, y2, status";

fn proposal_row(row: &AnyRow) -> PlatformResult<Proposal> {
    Ok(Proposal {
        id: row.try_get("id")?,
        media_id: row.try_get("media_id")?,
        frame: row.try_get("frame")?,
        label_id: row.try_get("label_id")?,
        bbox: [
            row.try_get("x1")?,
            row.try_get("y1")?,
            row.try_get("x2")?,
            row.try_get("y2")?,
        ],
        score: row.try_get("score")?,
        detector_id: row.try_get("detector_id")?,
        job_id: row.try_get("job_id")?,
        status: row.try_get("status")?,
    })
}

/// Replaces the pending proposals of one frame with `found` (one transaction: a retried job
/// stores each frame once).
pub async fn replace_on_frame(
    db: &Db,
    media_id: i64,
    frame: i64,
    detector_id: i64,
    job_id: &str,
    found: &[NewProposal],
) -> PlatformResult<()> {
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "DELETE FROM studio_proposals WHERE media_id = $1 AND frame = $2 AND status = 'pending'",
    )
    .bind(media_id)
    .bind(frame)
    .execute(&mut *tx)
    .await?;
    let now = now_ms();
    for p in found {
        sqlx::query(
            "INSERT INTO studio_proposals (media_id, frame, label_id, detector_id, job_id, score, \
             x1, y1, x2, y2, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11)",
        )
        .bind(media_id)
        .bind(frame)
        .bind(p.label_id)
        .bind(detector_id)
        .bind(job_id)
        .bind(p.score)
        .bind(p.bbox[0])
        .bind(p.bbox[1])
        .bind(p.bbox[2])
        .bind(p.bbox[3])
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The pending proposals of a media `viewer` may see, on one frame or on all, best first within
/// a frame.
pub async fn pending(
    db: &Db,
    viewer: &User,
    media_id: i64,
    frame: Option<i64>,
) -> PlatformResult<Vec<Proposal>> {
    get_visible(db, viewer, media_id).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM studio_proposals WHERE media_id = $1 AND status = 'pending' \
         AND ($2 < 0 OR frame = $2) ORDER BY frame, score DESC, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(media_id)
        .bind(frame.unwrap_or(-1))
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(proposal_row).collect()
}

/// The proposals of one frame the user rejected (a new run does not propose them again).
pub async fn rejected_on_frame(
    db: &Db,
    media_id: i64,
    frame: i64,
) -> PlatformResult<Vec<Proposal>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM studio_proposals WHERE media_id = $1 AND frame = $2 \
         AND status = 'rejected'"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(media_id)
        .bind(frame)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(proposal_row).collect()
}

async fn get(db: &Db, media_id: i64, id: i64) -> PlatformResult<Proposal> {
    let sql = format!("SELECT {COLUMNS} FROM studio_proposals WHERE id = $1 AND media_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(media_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(PlatformError::NotFound("proposal"))?;
    proposal_row(&row)
}

async fn set_status(db: &Db, id: i64, from: &str, to: &str) -> PlatformResult<bool> {
    let done = sqlx::query("UPDATE studio_proposals SET status = $1 WHERE id = $2 AND status = $3")
        .bind(to)
        .bind(id)
        .bind(from)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Accepts or rejects a pending proposal (409 `proposal_decided` when it was decided already,
/// by this request's twin too: the status moves first, atomically). An accepted proposal is
/// added to the annotations as a shape; when that is refused (its label was deleted since,
/// say), the proposal stays pending and the refusal is returned.
pub async fn decide(
    db: &Db,
    viewer: &User,
    media_id: i64,
    id: i64,
    decision: Decision,
) -> PlatformResult<Decided> {
    let media = get_visible(db, viewer, media_id).await?;
    let mut proposal = get(db, media_id, id).await?;
    let status = match decision {
        Decision::Accept => "accepted",
        Decision::Reject => "rejected",
    };
    if !set_status(db, id, "pending", status).await? {
        return Err(InputError::conflict(
            "proposal_decided",
            format!("the proposal was {} already", proposal.status),
        )
        .into());
    }
    proposal.status = status.into();
    if decision == Decision::Reject {
        return Ok(Decided {
            proposal,
            version: None,
            shape_id: None,
        });
    }
    let shape = ShapeView {
        id: None,
        frame: u32::try_from(proposal.frame).map_err(PlatformError::internal)?,
        label_id: proposal.label_id,
        bbox: proposal.bbox,
        occluded: false,
    };
    match annotations::add_shape(db, media_id, media.project_id, &shape, "auto").await {
        Ok((version, shape_id)) => Ok(Decided {
            proposal,
            version: Some(version),
            shape_id: Some(shape_id),
        }),
        Err(err) => {
            set_status(db, id, status, "pending").await?;
            Err(err)
        }
    }
}
