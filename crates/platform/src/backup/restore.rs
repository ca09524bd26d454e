//! Restore: a backup folder put back as the database and the object store of an empty data
//! folder.

use std::path::Path;

use sqlx::Row;

use super::{BackupError, BackupManifest, DATABASE_FILE, OBJECTS_DIR, files};
use crate::{
    PlatformConfig,
    db::{self, Backend, Db},
    storage::{Storage, StorageLocation},
};

/// Restores the backup in `src` into the deployment `config` describes, which must be embedded
/// (SQLite) and empty: no data folder contents, no database file, no objects. Every object is
/// checked against its hash, and every upload of the restored database against the store.
/// Returns the backup's manifest with the restored row counts.
pub async fn restore(src: &Path, config: &PlatformConfig) -> Result<BackupManifest, BackupError> {
    let mut manifest = files::read_manifest(src)?;
    if Backend::of_url(&config.database_url)? != Backend::Sqlite {
        return Err(BackupError::NotEmbedded);
    }
    let db_path = db::sqlite_path(&config.database_url).ok_or(BackupError::NotEmbedded)?;
    refuse_unless_empty(config, &db_path).await?;

    let snapshot = src.join(DATABASE_FILE);
    if let Some(dir) = db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(files::io_err("creating", dir))?;
    }
    let tmp = db_path.with_extension("db.restoring");
    std::fs::copy(&snapshot, &tmp).map_err(files::io_err("copying", &snapshot))?;
    files::sync_file(&tmp)?;
    std::fs::rename(&tmp, &db_path).map_err(files::io_err("renaming into", &db_path))?;
    files::sync_file(&db_path)?;

    let storage = Storage::open(&config.storage)?;
    for path in files::list_objects(&src.join(OBJECTS_DIR))? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        files::check_name(&name)?;
        let actual = files::sha256_file(&path)?;
        if actual != name {
            return Err(BackupError::Corrupt {
                sha256: name,
                actual,
            });
        }
        storage.put_file(&Storage::blob_key(&name), &path).await?;
    }

    // Opening migrates a backup taken by an older atelier.
    let db = Db::connect_with(&config.database_url, 1, config.sqlite_synchronous).await?;
    let checked = check_objects(&db, &storage).await;
    db.close().await;
    checked?;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&db_path);
    let mut conn =
        <sqlx::sqlite::SqliteConnection as sqlx::Connection>::connect_with(&options).await?;
    manifest.rows = super::count_rows(&mut conn).await?;
    sqlx::Connection::close(conn).await?;
    Ok(manifest)
}

/// Refuses a target that holds anything: the data folder, the database file, the objects.
async fn refuse_unless_empty(config: &PlatformConfig, db_path: &Path) -> Result<(), BackupError> {
    if let Some(what) = files::describe_contents(&config.data_dir)? {
        return Err(BackupError::NotEmpty {
            path: format!("the data folder {}", config.data_dir.display()),
            what,
        });
    }
    if db_path.exists() {
        return Err(BackupError::NotEmpty {
            path: format!("the database {}", db_path.display()),
            what: "the file exists".to_owned(),
        });
    }
    match &config.storage {
        StorageLocation::Local { root } => {
            if let Some(what) = files::describe_contents(root)? {
                return Err(BackupError::NotEmpty {
                    path: format!("the object folder {}", root.display()),
                    what,
                });
            }
        }
        StorageLocation::S3 { .. } => {
            let keys = Storage::open(&config.storage)?.list_keys("blobs").await?;
            if !keys.is_empty() {
                return Err(BackupError::NotEmpty {
                    path: "the object store".to_owned(),
                    what: format!("{} objects under blobs/", keys.len()),
                });
            }
        }
    }
    Ok(())
}

/// Fails unless every object the uploads point to is in the store.
async fn check_objects(db: &Db, storage: &Storage) -> Result<(), BackupError> {
    for row in sqlx::query("SELECT DISTINCT sha256 FROM uploads")
        .fetch_all(db.pool())
        .await?
    {
        let sha256: String = row.try_get("sha256")?;
        if !storage.exists(&Storage::blob_key(&sha256)).await? {
            return Err(BackupError::MissingObject(sha256));
        }
    }
    Ok(())
}
