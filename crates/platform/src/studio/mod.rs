//! The detector studio's records (issue #13), no HTTP: projects (owned by a user, optionally
//! shared with their family) with labels, media and their frames ([`media`]), each media's
//! annotation journal ([`annotations`]), trained detectors ([`detectors`]) and the boxes they
//! proposed for review ([`proposals`]). The `studio_import`
//! and `train` job kinds (`crate::jobs`) fill them and depend on this module, never the reverse;
//! the server's studio routes map onto both.
//!
//! Access: a project is visible to its owner and, when `shared_with_family`, to the members of
//! the owner's family, who may annotate, import and train in it; only the owner renames,
//! re-shares or deletes it. Everything else answers "not found", as if it did not exist.

pub mod annotations;
pub mod archive;
pub mod decoding;
pub mod detectors;
pub mod export;
pub mod image_zip;
pub mod import;
pub mod media;
pub mod proposals;

use serde::{Deserialize, Serialize};
use sqlx::{Row, any::AnyRow};
use utoipa::ToSchema;

use crate::{
    Platform,
    accounts::User,
    db::{Db, is_unique_violation, now_ms},
    error::{InputError, PlatformError, PlatformResult},
};

/// A label of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Label {
    /// Numeric id.
    pub id: i64,
    /// Display name, unique in the project.
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
}

/// The training running (or queued) in a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrainingRef {
    /// The `train` job.
    pub job_id: String,
    /// `queued` or `running`.
    pub state: String,
}

/// A detector project as shown.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Project {
    /// Numeric id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The owner's user id.
    pub owner_id: i64,
    /// Whether the owner's family sees and works in it.
    pub shared_with_family: bool,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Its labels, oldest first.
    pub labels: Vec<Label>,
    /// Videos and image sets.
    pub media_count: i64,
    /// Frames with at least one box, over every media.
    pub annotated_frames: i64,
    /// Trained detectors.
    pub detector_count: i64,
    /// The training in progress, if any.
    pub training: Option<TrainingRef>,
}

/// What creating a project takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// 1–100 characters.
    pub name: String,
    /// Share with your family (default false).
    #[serde(default)]
    pub shared_with_family: bool,
}

/// A change to a project.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    /// A new name.
    pub name: Option<String>,
    /// Share with your family or stop sharing.
    pub shared_with_family: Option<bool>,
}

/// What creating a label takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLabel {
    /// 1–100 characters, unique in the project.
    pub name: String,
    /// `#rrggbb` (default: one of CVAT's palette).
    pub color: Option<String>,
}

/// A change to a label.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new `#rrggbb` colour.
    pub color: Option<String>,
}

/// The project row: who owns it and whether it is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    /// Numeric id.
    pub id: i64,
    /// The owner.
    pub owner_id: i64,
    /// Display name.
    pub name: String,
    /// Shared with the owner's family.
    pub shared_with_family: bool,
    /// Creation time.
    pub created_at: i64,
}

fn project_row(row: &AnyRow) -> PlatformResult<ProjectRow> {
    Ok(ProjectRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        shared_with_family: row.try_get::<i64, _>("shared_with_family")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// The condition (on `p`, joined with its owner `o`) that `viewer` sees project `p`; binds the
/// viewer's id as `$2` and family as `$3`.
const VISIBLE: &str = "(p.owner_id = $2 OR (p.shared_with_family = 1 AND o.family_id IS NOT NULL \
                       AND o.family_id = $3))";

/// The project `id` if `viewer` may see it (404 otherwise).
pub async fn visible_project(db: &Db, viewer: &User, id: i64) -> PlatformResult<ProjectRow> {
    let sql = format!(
        "SELECT p.id, p.owner_id, p.name, p.shared_with_family, p.created_at \
         FROM studio_projects p JOIN users o ON o.id = p.owner_id WHERE p.id = $1 AND {VISIBLE}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(viewer.id)
        .bind(viewer.family_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(PlatformError::NotFound("project"))?;
    project_row(&row)
}

/// The project `id` if `viewer` owns it: renaming, sharing and deleting are the owner's (others
/// who see it get 403, others 404).
async fn owned_project(db: &Db, viewer: &User, id: i64) -> PlatformResult<ProjectRow> {
    let project = visible_project(db, viewer, id).await?;
    if project.owner_id != viewer.id {
        return Err(PlatformError::Forbidden(
            "only the project's owner may change or delete it".into(),
        ));
    }
    Ok(project)
}

fn check_name(what: &str, name: &str) -> PlatformResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(PlatformError::Invalid(format!(
            "{what} name must be 1–100 printable characters"
        )));
    }
    Ok(name.to_owned())
}

fn check_color(color: &str) -> PlatformResult<String> {
    if atelier_detector::annotation::parse_color(color).is_none() {
        return Err(InputError::unprocessable(
            "bad_color",
            format!("colour {color:?} is not #rrggbb"),
        )
        .into());
    }
    Ok(color.to_ascii_lowercase())
}

/// Creates a project owned by `owner`.
pub async fn create_project(db: &Db, owner: &User, new: &NewProject) -> PlatformResult<Project> {
    let name = check_name("project", &new.name)?;
    let row = sqlx::query(
        "INSERT INTO studio_projects (owner_id, name, shared_with_family, created_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(owner.id)
    .bind(&name)
    .bind(i64::from(new.shared_with_family))
    .bind(now_ms())
    .fetch_one(db.pool())
    .await?;
    let id: i64 = row.try_get("id")?;
    get_project(db, owner, id).await
}

/// The projects `viewer` sees (own and family-shared), newest first.
pub async fn list_projects(db: &Db, viewer: &User) -> PlatformResult<Vec<Project>> {
    let sql = format!(
        "SELECT p.id, p.owner_id, p.name, p.shared_with_family, p.created_at \
         FROM studio_projects p JOIN users o ON o.id = p.owner_id WHERE $1 = $1 AND {VISIBLE} \
         ORDER BY p.id DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(0i64)
        .bind(viewer.id)
        .bind(viewer.family_id)
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(describe(db, project_row(row)?).await?);
    }
    Ok(out)
}

/// One project `viewer` sees, with its labels and counts.
pub async fn get_project(db: &Db, viewer: &User, id: i64) -> PlatformResult<Project> {
    let row = visible_project(db, viewer, id).await?;
    describe(db, row).await
}

async fn count(db: &Db, sql: &'static str, id: i64) -> PlatformResult<i64> {
    let row = sqlx::query(sql).bind(id).fetch_one(db.pool()).await?;
    Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
}

async fn describe(db: &Db, row: ProjectRow) -> PlatformResult<Project> {
    let labels = labels_of(db, row.id).await?;
    let media_count = count(
        db,
        "SELECT COUNT(*) FROM studio_media WHERE project_id = $1",
        row.id,
    )
    .await?;
    let annotated_frames = count(
        db,
        "SELECT CAST(SUM(a.annotated_frames) AS BIGINT) FROM studio_annotations a \
         JOIN studio_media m ON m.id = a.media_id WHERE m.project_id = $1",
        row.id,
    )
    .await?;
    let detector_count = count(
        db,
        "SELECT COUNT(*) FROM studio_detectors WHERE project_id = $1",
        row.id,
    )
    .await?;
    let training = active_training(db, row.id).await?;
    Ok(Project {
        id: row.id,
        name: row.name,
        owner_id: row.owner_id,
        shared_with_family: row.shared_with_family,
        created_at: row.created_at,
        labels,
        media_count,
        annotated_frames,
        detector_count,
        training,
    })
}

/// The queued or running `train` job of project `project_id`, if any. `train` parameters are
/// stored as JSON with sorted keys, so the project id is found by its exact text.
pub async fn active_training(db: &Db, project_id: i64) -> PlatformResult<Option<TrainingRef>> {
    let row = sqlx::query(
        "SELECT id, status FROM jobs WHERE kind = 'train' AND status IN ('queued', 'running') \
         AND (params LIKE $1 OR params LIKE $2) ORDER BY created_at LIMIT 1",
    )
    .bind(format!("%\"project_id\":{project_id},%"))
    .bind(format!("%\"project_id\":{project_id}}}%"))
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| {
        Ok(TrainingRef {
            job_id: row.try_get("id")?,
            state: row.try_get("status")?,
        })
    })
    .transpose()
}

/// Renames or re-shares a project (its owner only).
pub async fn update_project(
    db: &Db,
    viewer: &User,
    id: i64,
    patch: &ProjectPatch,
) -> PlatformResult<Project> {
    let project = owned_project(db, viewer, id).await?;
    let name = match &patch.name {
        Some(name) => check_name("project", name)?,
        None => project.name,
    };
    let shared = patch
        .shared_with_family
        .unwrap_or(project.shared_with_family);
    sqlx::query("UPDATE studio_projects SET name = $1, shared_with_family = $2 WHERE id = $3")
        .bind(&name)
        .bind(i64::from(shared))
        .bind(id)
        .execute(db.pool())
        .await?;
    get_project(db, viewer, id).await
}

/// Deletes a project (its owner only): its media with their frames, annotations, detectors and
/// labels. A training in progress is canceled first.
pub async fn delete_project(platform: &Platform, viewer: &User, id: i64) -> PlatformResult<()> {
    let db = platform.db();
    owned_project(db, viewer, id).await?;
    if let Some(training) = active_training(db, id).await? {
        let _ = sqlx::query(
            "UPDATE jobs SET status = 'canceled', finished_at = $1, updated_at = $1 \
             WHERE id = $2 AND status IN ('queued', 'running')",
        )
        .bind(now_ms())
        .bind(&training.job_id)
        .execute(db.pool())
        .await?;
    }
    let media: Vec<i64> = sqlx::query("SELECT id FROM studio_media WHERE project_id = $1")
        .bind(id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    for mid in media {
        media::delete_media_row(platform, mid).await?;
    }
    let mut tx = db.pool().begin().await?;
    for sql in [
        "DELETE FROM studio_detectors WHERE project_id = $1",
        "DELETE FROM studio_labels WHERE project_id = $1",
        "DELETE FROM studio_projects WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The labels of a project, oldest first (their order is the class order of a training).
pub async fn labels_of(db: &Db, project_id: i64) -> PlatformResult<Vec<Label>> {
    let rows =
        sqlx::query("SELECT id, name, color FROM studio_labels WHERE project_id = $1 ORDER BY id")
            .bind(project_id)
            .fetch_all(db.pool())
            .await?;
    rows.iter()
        .map(|r| {
            Ok(Label {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                color: r.try_get("color")?,
            })
        })
        .collect()
}

fn label_conflict(err: sqlx::Error) -> PlatformError {
    if is_unique_violation(&err) {
        InputError::conflict(
            "label_exists",
            "the project already has a label of that name",
        )
        .into()
    } else {
        err.into()
    }
}

/// Adds a label to a project.
pub async fn create_label(
    db: &Db,
    viewer: &User,
    project_id: i64,
    new: &NewLabel,
) -> PlatformResult<Label> {
    visible_project(db, viewer, project_id).await?;
    let name = check_name("label", &new.name)?;
    let existing = labels_of(db, project_id).await?.len();
    let color = match &new.color {
        Some(color) => check_color(color)?,
        None => atelier_detector::annotation::default_color(existing),
    };
    let row = sqlx::query(
        "INSERT INTO studio_labels (project_id, name, color, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(project_id)
    .bind(&name)
    .bind(&color)
    .bind(now_ms())
    .fetch_one(db.pool())
    .await
    .map_err(label_conflict)?;
    Ok(Label {
        id: row.try_get("id")?,
        name,
        color,
    })
}

async fn label_in(db: &Db, project_id: i64, label_id: i64) -> PlatformResult<Label> {
    labels_of(db, project_id)
        .await?
        .into_iter()
        .find(|l| l.id == label_id)
        .ok_or(PlatformError::NotFound("label"))
}

/// Renames or recolours a label (annotations refer to it by id and follow).
pub async fn update_label(
    db: &Db,
    viewer: &User,
    project_id: i64,
    label_id: i64,
    patch: &LabelPatch,
) -> PlatformResult<Label> {
    visible_project(db, viewer, project_id).await?;
    let label = label_in(db, project_id, label_id).await?;
    let name = match &patch.name {
        Some(name) => check_name("label", name)?,
        None => label.name,
    };
    let color = match &patch.color {
        Some(color) => check_color(color)?,
        None => label.color,
    };
    sqlx::query("UPDATE studio_labels SET name = $1, color = $2 WHERE id = $3")
        .bind(&name)
        .bind(&color)
        .bind(label_id)
        .execute(db.pool())
        .await
        .map_err(label_conflict)?;
    Ok(Label {
        id: label_id,
        name,
        color,
    })
}

/// Deletes a label no annotation uses (409 `label_in_use` otherwise).
pub async fn delete_label(
    db: &Db,
    viewer: &User,
    project_id: i64,
    label_id: i64,
) -> PlatformResult<()> {
    visible_project(db, viewer, project_id).await?;
    label_in(db, project_id, label_id).await?;
    if annotations::label_in_use(db, project_id, label_id).await? {
        return Err(InputError::conflict(
            "label_in_use",
            "annotations use this label; delete them first",
        )
        .into());
    }
    sqlx::query("DELETE FROM studio_labels WHERE id = $1")
        .bind(label_id)
        .execute(db.pool())
        .await?;
    Ok(())
}
