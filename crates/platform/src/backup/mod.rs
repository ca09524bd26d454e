//! Backups of the embedded deployment (SQLite + an object store), taken while it runs, and
//! their restore into an empty data folder.
//!
//! A backup is a folder that is itself a data folder:
//! ```text
//! DEST/atelier.db                 a consistent snapshot of the database (`VACUUM INTO`)
//! DEST/objects/blobs/ab/abcd…     every object the snapshot's uploads point to
//! DEST/backup.json                written last: what was copied ([`BackupManifest`])
//! ```
//!
//! The snapshot is one read transaction, so it is consistent whatever writers do meanwhile.
//! Objects are copied after it, and a delete that lands in between could take an object the
//! snapshot still points to: so before copying, the backup takes a reference on every blob the
//! snapshot names ([`crate::blobs`]); a blob already gone (or being deleted) by then means the
//! snapshot is stale, and another is taken. Each object is checked against its content hash as
//! it is copied. PostgreSQL + S3 deployments use their own tools (`pg_dump` or point-in-time
//! recovery, bucket versioning): see the README.

mod files;
mod restore;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use sqlx::Row;

pub use restore::restore;

use crate::{Platform, blobs, db::Backend, error::PlatformError};

/// The database file in a backup folder.
pub const DATABASE_FILE: &str = "atelier.db";
/// The objects folder in a backup folder (a local object store's root).
pub const OBJECTS_DIR: &str = "objects";
/// The file that describes a finished backup.
pub const MANIFEST_FILE: &str = "backup.json";
/// The backup format this build writes and reads.
pub const FORMAT: u32 = 1;
/// Snapshots tried before giving up when deletes keep overtaking the copy.
const ATTEMPTS: u32 = 5;

/// What a backup holds (`backup.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// The backup format ([`FORMAT`]).
    pub format: u32,
    /// When the snapshot was taken, Unix milliseconds.
    pub created_at_ms: i64,
    /// The atelier version that wrote it.
    pub atelier_version: String,
    /// Rows per table in the snapshot.
    pub rows: BTreeMap<String, i64>,
    /// Objects copied.
    pub objects: u64,
    /// Their total size in bytes.
    pub object_bytes: u64,
}

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The deployment is not the embedded one.
    #[error(
        "atelier backup and restore handle the embedded deployment (SQLite); for PostgreSQL use \
         pg_dump or point-in-time recovery, and the object store's versioning (see the README)"
    )]
    NotEmbedded,
    /// The destination is not empty.
    #[error("{path} is not empty ({what}): use a new or empty folder")]
    NotEmpty {
        /// The folder or store.
        path: String,
        /// What is in it.
        what: String,
    },
    /// The source is not a finished backup.
    #[error("{0} is not a finished atelier backup (no readable {MANIFEST_FILE})")]
    NotABackup(PathBuf),
    /// The backup was written by a newer format.
    #[error("backup format {0} is newer than this atelier reads ({FORMAT})")]
    UnknownFormat(u32),
    /// An object's bytes do not hash to its name.
    #[error("object {sha256} is corrupt: its content hashes to {actual}")]
    Corrupt {
        /// The name (the expected hash).
        sha256: String,
        /// The hash of what was read.
        actual: String,
    },
    /// An object the database refers to is missing.
    #[error("object {0}, which the database refers to, is missing")]
    MissingObject(String),
    /// A name in the database is not a content hash.
    #[error("{0:?} is not a sha256 object name")]
    BadName(String),
    /// Deletes kept taking objects between the snapshot and the copy.
    #[error("objects kept being deleted under {0} snapshots in a row; try again")]
    Unsettled(u32),
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database or the store failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

impl From<sqlx::Error> for BackupError {
    fn from(err: sqlx::Error) -> Self {
        BackupError::Platform(err.into())
    }
}

/// What a snapshot refers to.
struct SnapshotContents {
    rows: BTreeMap<String, i64>,
    blobs: Vec<String>,
}

/// Backs the running embedded deployment of `platform` up into `dest` (created; it must be
/// empty or absent), and returns what it copied.
pub async fn backup(platform: &Platform, dest: &Path) -> Result<BackupManifest, BackupError> {
    if platform.db().backend() != Backend::Sqlite {
        return Err(BackupError::NotEmbedded);
    }
    files::create_empty_dir(dest)?;
    let snapshot = dest.join(DATABASE_FILE);
    let objects = dest.join(OBJECTS_DIR);
    for attempt in 1..=ATTEMPTS {
        files::remove_if_exists(&snapshot)?;
        let created_at_ms = platform.db().now_ms().await?;
        vacuum_into(platform, &snapshot).await?;
        let contents = read_snapshot(&snapshot).await?;
        let held = blobs::hold(platform, &contents.blobs).await?;
        let copied = if held.len() == contents.blobs.len() {
            files::copy_objects(platform.storage(), &contents.blobs, &objects).await
        } else {
            Ok(None)
        };
        for sha256 in &held {
            if let Err(err) = blobs::release(platform, sha256).await {
                tracing::warn!(sha256, error = %err, "backup reference left for the collector");
            }
        }
        let Some((count, bytes)) = copied? else {
            tracing::info!(
                attempt,
                "objects were deleted after the snapshot; taking another"
            );
            continue;
        };
        files::prune_objects(&objects, &contents.blobs)?;
        files::sync_file(&snapshot)?;
        let manifest = BackupManifest {
            format: FORMAT,
            created_at_ms,
            atelier_version: env!("CARGO_PKG_VERSION").to_owned(),
            rows: contents.rows,
            objects: count,
            object_bytes: bytes,
        };
        files::write_manifest(dest, &manifest)?;
        return Ok(manifest);
    }
    Err(BackupError::Unsettled(ATTEMPTS))
}

/// Writes a consistent copy of the live database to `path` (one read transaction: writers go on).
async fn vacuum_into(platform: &Platform, path: &Path) -> Result<(), BackupError> {
    let text = path.to_str().ok_or_else(|| BackupError::Io {
        action: "naming",
        path: path.to_owned(),
        source: std::io::Error::other("the path is not UTF-8"),
    })?;
    let sql = format!("VACUUM INTO '{}'", text.replace('\'', "''"));
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(platform.db().pool())
        .await?;
    Ok(())
}

/// Counts the rows of every table of the SQLite file at `path` and lists the blobs its uploads
/// point to.
async fn read_snapshot(path: &Path) -> Result<SnapshotContents, BackupError> {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(&options).await?;
    let rows = count_rows(&mut conn).await?;
    let mut blobs = Vec::new();
    for row in sqlx::query("SELECT DISTINCT sha256 FROM uploads ORDER BY sha256")
        .fetch_all(&mut conn)
        .await?
    {
        let sha256: String = row.try_get("sha256")?;
        files::check_name(&sha256)?;
        blobs.push(sha256);
    }
    conn.close().await?;
    Ok(SnapshotContents { rows, blobs })
}

/// Rows per table of a SQLite database (SQLite's own tables aside).
pub(crate) async fn count_rows(
    conn: &mut sqlx::sqlite::SqliteConnection,
) -> Result<BTreeMap<String, i64>, BackupError> {
    let tables = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = BTreeMap::new();
    for table in tables {
        let name: String = table.try_get("name")?;
        let sql = format!(
            "SELECT COUNT(*) AS n FROM \"{}\"",
            name.replace('"', "\"\"")
        );
        let count: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await?
            .try_get("n")?;
        rows.insert(name, count);
    }
    Ok(rows)
}
