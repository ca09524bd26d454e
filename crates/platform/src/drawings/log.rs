//! A drawing's log: strokes and undos numbered `seq` 1, 2, 3… per drawing, appended
//! idempotently on the client's stroke id, read back after any `seq` (how a client that missed
//! live events catches up) and folded into the strokes still visible.

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use utoipa::ToSchema;

use super::{
    DrawingStatus, check_access,
    strokes::{self, Stroke, StrokeInput, StrokeLimits},
};
use crate::{
    accounts::User,
    db::{Backend, Db, now_ms},
    error::{PlatformError, PlatformResult},
};

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
