//! Drawing rooms: a host opens a drawing (with an invitation code), family members join it, the
//! host starts the session, everyone appends strokes to the drawing's log (numbered, idempotent
//! on the client's stroke id), undoes their own last stroke, and the host submits it.
//!
//! The log is the truth: entries are numbered `seq` 1, 2, 3… per drawing, so a client that
//! missed live events asks for the entries after the last `seq` it saw and misses nothing.
//! The log lives in [`log`], stroke validation in [`strokes`], submitting in [`submit`].

pub mod log;
pub mod strokes;
pub mod submit;

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};
use utoipa::ToSchema;

pub use log::{Appended, LogEntry, add_stroke, log_since, undo, visible_strokes};
pub use strokes::{Stroke, StrokeInput, StrokeLimits};
pub use submit::{Submission, animation_upload_id, ensure_can_submit, validate_submission_text};

use crate::{
    accounts::{User, user_from_row},
    db::{Db, is_unique_violation, now_ms},
    error::{PlatformError, PlatformResult},
    secrets::random_code,
};

/// Where a drawing is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DrawingStatus {
    /// The waiting room: participants join, nobody draws yet.
    Waiting,
    /// The host started the session: strokes are accepted.
    Drawing,
    /// Finished: the final image is stored, no more strokes.
    Submitted,
}

impl DrawingStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DrawingStatus::Waiting => "waiting",
            DrawingStatus::Drawing => "drawing",
            DrawingStatus::Submitted => "submitted",
        }
    }

    fn parse(text: &str) -> PlatformResult<Self> {
        match text {
            "waiting" => Ok(DrawingStatus::Waiting),
            "drawing" => Ok(DrawingStatus::Drawing),
            "submitted" => Ok(DrawingStatus::Submitted),
            other => Err(PlatformError::Internal(format!(
                "unknown drawing status {other:?}"
            ))),
        }
    }
}

/// A drawing as stored, with its participants.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Drawing {
    /// Numeric id.
    pub id: i64,
    /// Who opened it.
    pub host_id: i64,
    /// The host's family when it was opened (its members may join and see it).
    pub family_id: Option<i64>,
    /// The code others type to join.
    pub invitation_code: String,
    /// Waiting, drawing or submitted.
    pub status: DrawingStatus,
    /// Title (given at submit).
    pub title: String,
    /// Description (given at submit).
    pub description: String,
    /// LittleStudio's voice id, if any.
    pub voice_id: Option<i64>,
    /// Canvas width in pixels (stroke coordinates are in this space).
    pub width: i64,
    /// Canvas height in pixels.
    pub height: i64,
    /// Canvas background colour, `#rrggbb`.
    pub background: String,
    /// The last log entry's number (0 when empty).
    pub last_seq: i64,
    /// Strokes appended so far (undone ones included).
    pub stroke_count: i64,
    /// The final image, once submitted.
    pub image_upload_id: Option<String>,
    /// The `animate` job queued at submit, if the kind is available.
    pub animate_job_id: Option<String>,
    /// Everyone who joined, host first.
    pub participants: Vec<User>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
    /// When the host started the session.
    pub started_at: Option<i64>,
    /// When it was submitted.
    pub submitted_at: Option<i64>,
}

/// What opening a drawing takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewDrawing {
    /// Canvas width, 16–4096 [default 1024].
    #[serde(default = "default_side")]
    pub width: i64,
    /// Canvas height, 16–4096 [default 1024].
    #[serde(default = "default_side")]
    pub height: i64,
    /// Background colour `#rrggbb` [default white].
    #[serde(default = "default_background")]
    pub background: String,
}

fn default_side() -> i64 {
    1024
}

fn default_background() -> String {
    "#ffffff".into()
}

impl Default for NewDrawing {
    fn default() -> Self {
        Self {
            width: default_side(),
            height: default_side(),
            background: default_background(),
        }
    }
}

/// Invitation codes: 12 characters of a 31-letter alphabet, about 59 bits: with the join
/// throttle, out of reach of guessing.
const CODE_LEN: usize = 12;
const DRAWING_COLUMNS: &str = "id, host_id, family_id, invitation_code, status, title, description, \
    voice_id, width, height, background, next_seq, stroke_count, image_upload_id, animate_job_id, \
    created_at, updated_at, started_at, submitted_at";

async fn load(db: &Db, id: i64) -> PlatformResult<Drawing> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DRAWING_COLUMNS} FROM drawings WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(PlatformError::NotFound("drawing"))?;
    let participants = sqlx::query(
        "SELECT u.id, u.username, u.gender, u.role, u.family_id, u.created_at \
         FROM drawing_participants p JOIN users u ON u.id = p.user_id \
         WHERE p.drawing_id = $1 ORDER BY p.joined_at, u.id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    Ok(Drawing {
        id: row.try_get("id")?,
        host_id: row.try_get("host_id")?,
        family_id: row.try_get("family_id")?,
        invitation_code: row.try_get("invitation_code")?,
        status: DrawingStatus::parse(&row.try_get::<String, _>("status")?)?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        voice_id: row.try_get("voice_id")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        background: row.try_get("background")?,
        last_seq: row.try_get::<i64, _>("next_seq")? - 1,
        stroke_count: row.try_get("stroke_count")?,
        image_upload_id: row.try_get("image_upload_id")?,
        animate_job_id: row.try_get("animate_job_id")?,
        participants: participants
            .iter()
            .map(user_from_row)
            .collect::<PlatformResult<_>>()?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        submitted_at: row.try_get("submitted_at")?,
    })
}

/// Checks that `user` may see drawing `drawing_id`: a participant, or a member of the drawing's
/// family. Others get "not found" (drawing ids are not to be probed).
pub async fn check_access(db: &Db, user: &User, drawing_id: i64) -> PlatformResult<()> {
    let row = sqlx::query(
        "SELECT d.family_id, \
                (SELECT COUNT(*) FROM drawing_participants p \
                  WHERE p.drawing_id = d.id AND p.user_id = $2) AS joined \
         FROM drawings d WHERE d.id = $1",
    )
    .bind(drawing_id)
    .bind(user.id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(PlatformError::NotFound("drawing"))?;
    let family: Option<i64> = row.try_get("family_id")?;
    let joined: i64 = row.try_get("joined")?;
    if joined > 0 || (family.is_some() && family == user.family_id) {
        Ok(())
    } else {
        Err(PlatformError::NotFound("drawing"))
    }
}

/// The drawing, if `user` may see it.
pub async fn get_for(db: &Db, user: &User, id: i64) -> PlatformResult<Drawing> {
    check_access(db, user, id).await?;
    load(db, id).await
}

/// Opens a drawing in the waiting room with `host` as its first participant.
pub async fn create(db: &Db, host: &User, new: &NewDrawing) -> PlatformResult<Drawing> {
    if !(16..=4096).contains(&new.width) || !(16..=4096).contains(&new.height) {
        return Err(PlatformError::Invalid(
            "canvas width and height must be 16–4096 pixels".into(),
        ));
    }
    strokes::parse_color(&new.background)
        .filter(|c| c[3] == 255)
        .ok_or_else(|| PlatformError::Invalid("background must be #rrggbb".into()))?;
    let _turn = db.write_turn().await;
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    let mut attempt = 0;
    let id: i64 = loop {
        attempt += 1;
        let inserted = sqlx::query(
            "INSERT INTO drawings (host_id, family_id, invitation_code, status, width, height, \
                                   background, created_at, updated_at) \
             VALUES ($1, $2, $3, 'waiting', $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(host.id)
        .bind(host.family_id)
        .bind(random_code(CODE_LEN))
        .bind(new.width)
        .bind(new.height)
        .bind(new.background.to_ascii_lowercase())
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        match inserted {
            Ok(row) => break row.try_get("id")?,
            Err(err) if is_unique_violation(&err) && attempt < 5 => continue,
            Err(err) => return Err(err.into()),
        }
    };
    sqlx::query(
        "INSERT INTO drawing_participants (drawing_id, user_id, joined_at) VALUES ($1, $2, $3)",
    )
    .bind(id)
    .bind(host.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    load(db, id).await
}

/// The drawings `user` may see (its family's and those it joined), newest first.
pub async fn list_for(db: &Db, user: &User, limit: i64) -> PlatformResult<Vec<Drawing>> {
    let rows = sqlx::query(
        "SELECT id FROM drawings d \
         WHERE (d.family_id IS NOT NULL AND d.family_id = $1) \
            OR EXISTS (SELECT 1 FROM drawing_participants p WHERE p.drawing_id = d.id AND p.user_id = $2) \
         ORDER BY d.created_at DESC, d.id DESC LIMIT $3",
    )
    .bind(user.family_id)
    .bind(user.id)
    .bind(limit.clamp(1, 500))
    .fetch_all(db.pool())
    .await?;
    let mut drawings = Vec::with_capacity(rows.len());
    for row in rows {
        drawings.push(load(db, row.try_get("id")?).await?);
    }
    Ok(drawings)
}

/// Joins drawing `id` with its invitation code. A drawing opened inside a family takes only that
/// family's members; joining twice is harmless.
pub async fn join(db: &Db, user: &User, id: i64, code: &str) -> PlatformResult<Drawing> {
    let drawing = load(db, id).await?;
    if !drawing.invitation_code.eq_ignore_ascii_case(code.trim()) {
        // Same answer as a missing drawing: codes are not to be guessed per id.
        return Err(PlatformError::NotFound("drawing with this invitation code"));
    }
    if drawing.family_id.is_some() && drawing.family_id != user.family_id {
        return Err(PlatformError::Forbidden(
            "this drawing belongs to another family".into(),
        ));
    }
    if drawing.status == DrawingStatus::Submitted {
        return Err(PlatformError::Conflict(
            "this drawing is already submitted".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO drawing_participants (drawing_id, user_id, joined_at) VALUES ($1, $2, $3) \
         ON CONFLICT (drawing_id, user_id) DO NOTHING",
    )
    .bind(id)
    .bind(user.id)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    load(db, id).await
}

/// The host starts the session: the waiting room closes and strokes are accepted.
pub async fn start(db: &Db, user: &User, id: i64) -> PlatformResult<Drawing> {
    let drawing = get_for(db, user, id).await?;
    if drawing.host_id != user.id {
        return Err(PlatformError::Forbidden(
            "only the host starts the session".into(),
        ));
    }
    match drawing.status {
        DrawingStatus::Drawing => return Ok(drawing),
        DrawingStatus::Submitted => {
            return Err(PlatformError::Conflict(
                "this drawing is already submitted".into(),
            ));
        }
        DrawingStatus::Waiting => {}
    }
    let now = now_ms();
    sqlx::query(
        "UPDATE drawings SET status = 'drawing', started_at = $1, updated_at = $1 \
         WHERE id = $2 AND status = 'waiting'",
    )
    .bind(now)
    .bind(id)
    .execute(db.pool())
    .await?;
    load(db, id).await
}
