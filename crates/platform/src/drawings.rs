//! Drawing rooms: a host opens a drawing (with an invitation code), family members join it, the
//! host starts the session, everyone appends strokes to the drawing's log (numbered, idempotent
//! on the client's stroke id), undoes their own last stroke, and the host submits it.
//!
//! The log is the truth: entries are numbered `seq` 1, 2, 3… per drawing, so a client that
//! missed live events asks for the entries after the last `seq` it saw and misses nothing.
//! Stroke validation lives in [`strokes`].

pub mod strokes;
pub mod submit;

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};
use utoipa::ToSchema;

pub use strokes::{Stroke, StrokeInput, StrokeLimits};

use crate::{
    accounts::{User, user_from_row},
    db::{Backend, Db, is_unique_violation, now_ms},
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

/// One entry of a drawing's log.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogEntry {
    /// Position in the log, from 1.
    pub seq: i64,
    /// `stroke` or `undo`.
    pub kind: String,
    /// Who made it.
    pub user_id: i64,
    /// The client's id for the stroke or undo (idempotency key, unique per user and drawing).
    pub client_id: String,
    /// The stroke (for `stroke` entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stroke: Option<Stroke>,
    /// The undone stroke's `seq` (for `undo` entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_seq: Option<i64>,
    /// Whether a later `undo` removed this stroke.
    pub undone: bool,
    /// When, Unix milliseconds.
    pub created_at: i64,
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

/// The canvas a stroke is drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Canvas {
    width: i64,
    height: i64,
}

/// Checks the caller may draw on drawing `id` (a participant of an unsubmitted drawing) in one
/// statement, as every stroke asks it. Strokes are accepted in the waiting room too
/// (LittleStudio's app has no server-side "start"). Who may not see the drawing gets "not found".
async fn ensure_can_draw(db: &Db, user: &User, id: i64) -> PlatformResult<Canvas> {
    let row = sqlx::query(
        "SELECT d.family_id, d.status, d.width, d.height, \
                (SELECT COUNT(*) FROM drawing_participants p \
                  WHERE p.drawing_id = d.id AND p.user_id = $2) AS joined \
         FROM drawings d WHERE d.id = $1",
    )
    .bind(id)
    .bind(user.id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(PlatformError::NotFound("drawing"))?;
    let family: Option<i64> = row.try_get("family_id")?;
    if row.try_get::<i64, _>("joined")? == 0 {
        return Err(if family.is_some() && family == user.family_id {
            PlatformError::Forbidden("join the drawing before drawing on it".into())
        } else {
            PlatformError::NotFound("drawing")
        });
    }
    if DrawingStatus::parse(&row.try_get::<String, _>("status")?)? == DrawingStatus::Submitted {
        return Err(PlatformError::Conflict(
            "this drawing is already submitted".into(),
        ));
    }
    Ok(Canvas {
        width: row.try_get("width")?,
        height: row.try_get("height")?,
    })
}

const LOG_COLUMNS: &str = "seq, kind, user_id, client_id, target_seq, body, undone, created_at";

fn entry_from_row(row: &sqlx::any::AnyRow) -> PlatformResult<LogEntry> {
    let kind: String = row.try_get("kind")?;
    let body: String = row.try_get("body")?;
    let stroke = if kind == "stroke" {
        Some(serde_json::from_str(&body).map_err(PlatformError::internal)?)
    } else {
        None
    };
    Ok(LogEntry {
        seq: row.try_get("seq")?,
        kind,
        user_id: row.try_get("user_id")?,
        client_id: row.try_get("client_id")?,
        stroke,
        target_seq: row.try_get("target_seq")?,
        undone: row.try_get::<i64, _>("undone")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

async fn entry_by_client_id(
    db: &Db,
    drawing_id: i64,
    user_id: i64,
    client_id: &str,
) -> PlatformResult<Option<LogEntry>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {LOG_COLUMNS} FROM drawing_log WHERE drawing_id = $1 AND user_id = $2 AND client_id = $3"
    )))
    .bind(drawing_id)
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(db.pool())
    .await?
    .map(|row| entry_from_row(&row))
    .transpose()
}

/// Appended or already there (a retried request with the same client id).
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The log entry.
    pub entry: LogEntry,
    /// False when the client id was already in the log (nothing new was appended).
    pub created: bool,
}

/// A log entry about to be appended.
struct NewEntry<'a> {
    drawing_id: i64,
    user_id: i64,
    kind: &'a str,
    client_id: &'a str,
    target_seq: Option<i64>,
    /// The entry's JSON.
    body: &'a str,
    /// What the entry costs to render, in square canvas pixels (0 for an undo).
    ink: i64,
}

/// Appends the next `seq` to the drawing's log in one statement, or answers with the entry
/// already logged under the same client id (a retry). The statement reads the drawing's `next_seq` and inserts under it;
/// the `drawing_log_appended` trigger moves `next_seq` on, counts strokes and marks an undo's
/// target in the same transaction. On PostgreSQL `FOR UPDATE` serialises appends to one
/// drawing; on SQLite this process's write turn does.
async fn append(
    db: &Db,
    new: NewEntry<'_>,
    max_strokes: i64,
    max_ink: i64,
) -> PlatformResult<Appended> {
    let NewEntry {
        drawing_id,
        user_id,
        kind,
        client_id,
        target_seq,
        body,
        ink,
    } = new;
    let now = now_ms();
    let counted: i64 = if kind == "stroke" { 1 } else { 0 };
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let statement = format!(
        "INSERT INTO drawing_log (drawing_id, seq, kind, user_id, client_id, target_seq, body, undone, created_at, ink) \
         SELECT d.id, d.next_seq, $2, $3, $4, $5, $6, 0, $7, $10 FROM drawings d \
          WHERE d.id = $1 AND d.status <> 'submitted' AND d.stroke_count + $8 <= $9 \
            AND d.ink + $10 <= $11{lock} \
         ON CONFLICT (drawing_id, user_id, client_id) DO NOTHING RETURNING seq"
    );
    let inserted = {
        let _turn = db.write_turn().await;
        sqlx::query(AssertSqlSafe(statement))
            .bind(drawing_id)
            .bind(kind)
            .bind(user_id)
            .bind(client_id)
            .bind(target_seq)
            .bind(body)
            .bind(now)
            .bind(counted)
            .bind(max_strokes)
            .bind(ink)
            .bind(max_ink)
            .fetch_optional(db.pool())
            .await?
    };
    let Some(row) = inserted else {
        if let Some(entry) = entry_by_client_id(db, drawing_id, user_id, client_id).await? {
            return Ok(Appended {
                entry,
                created: false,
            });
        }
        return Err(PlatformError::Conflict(format!(
            "the drawing is not accepting strokes (submitted, at its limit of {max_strokes} strokes, \
             or out of ink: at most {max_ink} square pixels of line per drawing)"
        )));
    };
    let entry = LogEntry {
        seq: row.try_get("seq")?,
        kind: kind.to_owned(),
        user_id,
        client_id: client_id.to_owned(),
        stroke: if kind == "stroke" {
            Some(serde_json::from_str(body).map_err(PlatformError::internal)?)
        } else {
            None
        },
        target_seq,
        undone: false,
        created_at: now,
    };
    Ok(Appended {
        entry,
        created: true,
    })
}

/// Appends a validated stroke; idempotent on `(user, client_id)`.
pub async fn add_stroke(
    db: &Db,
    user: &User,
    id: i64,
    input: StrokeInput,
    limits: &StrokeLimits,
) -> PlatformResult<Appended> {
    let canvas = ensure_can_draw(db, user, id).await?;
    let (client_id, stroke) = strokes::validate(input, limits, canvas.width, canvas.height)?;
    // No look-up first: the log's unique (drawing, user, client id) index tells a retry apart
    // inside `append`, which then answers with the first entry.
    let body = serde_json::to_string(&stroke).map_err(PlatformError::internal)?;
    let max = i64::try_from(limits.max_strokes).unwrap_or(i64::MAX);
    let ink = strokes::ink(&stroke).ceil() as i64;
    append(
        db,
        NewEntry {
            drawing_id: id,
            user_id: user.id,
            kind: "stroke",
            client_id: &client_id,
            target_seq: None,
            body: &body,
            ink,
        },
        max,
        limits.max_ink_per_drawing,
    )
    .await
}

/// Undoes the caller's last stroke that is not undone yet, appending an `undo` entry;
/// idempotent on `(user, client_id)`. Nothing to undo is a conflict.
pub async fn undo(db: &Db, user: &User, id: i64, client_id: &str) -> PlatformResult<Appended> {
    ensure_can_draw(db, user, id).await?;
    let client_id = strokes::validate_client_id(client_id)?;
    if let Some(entry) = entry_by_client_id(db, id, user.id, &client_id).await? {
        return Ok(Appended {
            entry,
            created: false,
        });
    }
    let target = sqlx::query(
        "SELECT seq FROM drawing_log WHERE drawing_id = $1 AND user_id = $2 AND kind = 'stroke' \
         AND undone = 0 ORDER BY seq DESC LIMIT 1",
    )
    .bind(id)
    .bind(user.id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| PlatformError::Conflict("you have no stroke left to undo".into()))?
    .try_get::<i64, _>("seq")?;
    append(
        db,
        NewEntry {
            drawing_id: id,
            user_id: user.id,
            kind: "undo",
            client_id: &client_id,
            target_seq: Some(target),
            body: "{}",
            ink: 0,
        },
        i64::MAX,
        i64::MAX,
    )
    .await
}

/// Log entries after `since`, oldest first, at most `limit`.
pub async fn log_since(
    db: &Db,
    user: &User,
    id: i64,
    since: i64,
    limit: i64,
) -> PlatformResult<Vec<LogEntry>> {
    check_access(db, user, id).await?;
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {LOG_COLUMNS} FROM drawing_log WHERE drawing_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    )))
    .bind(id)
    .bind(since.max(0))
    .bind(limit.clamp(1, 5000))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(entry_from_row).collect()
}

/// The strokes that make the picture: every stroke not undone, in log order.
pub async fn visible_strokes(db: &Db, id: i64) -> PlatformResult<Vec<Stroke>> {
    let rows = sqlx::query(
        "SELECT body FROM drawing_log WHERE drawing_id = $1 AND kind = 'stroke' AND undone = 0 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            serde_json::from_str(&row.try_get::<String, _>("body")?)
                .map_err(PlatformError::internal)
        })
        .collect()
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
pub async fn submit(
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
