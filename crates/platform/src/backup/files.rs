//! The file side of backups: empty folders, object copies checked against their hashes and
//! synced to disk, the manifest.

use std::{
    collections::HashSet,
    io::Write,
    path::{Path, PathBuf},
};

use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use super::{BackupError, BackupManifest, FORMAT, MANIFEST_FILE};
use crate::{error::PlatformError, storage::Storage};

/// Objects copied at once (an S3 store answers each request in its own time).
const COPIES_IN_FLIGHT: usize = 8;

pub(super) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io {
        action,
        path,
        source,
    }
}

/// Fails unless `name` is a lower-case hex sha256 (it becomes a file name).
pub(super) fn check_name(name: &str) -> Result<(), BackupError> {
    if name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(BackupError::BadName(name.to_owned()))
    }
}

/// The entries of a folder, at most a few of them named, or `None` when it is empty or absent.
pub(super) fn describe_contents(dir: &Path) -> Result<Option<String>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io_err("reading", dir)(err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        names.push(
            entry
                .map_err(io_err("reading", dir))?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    if names.is_empty() {
        return Ok(None);
    }
    names.sort();
    let shown = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    Ok(Some(if names.len() > 3 {
        format!("{} entries: {shown}, …", names.len())
    } else {
        format!("holds {shown}")
    }))
}

/// Creates `dir` (and its parents), refusing one that already holds anything.
pub(super) fn create_empty_dir(dir: &Path) -> Result<(), BackupError> {
    if let Some(what) = describe_contents(dir)? {
        return Err(BackupError::NotEmpty {
            path: dir.display().to_string(),
            what,
        });
    }
    std::fs::create_dir_all(dir).map_err(io_err("creating", dir))
}

pub(super) fn remove_if_exists(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(io_err("removing", path)(err))
        }
        _ => Ok(()),
    }
}

/// Syncs a file's data, then the folder that names it.
pub(super) fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io_err("syncing", path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir)
        .and_then(|file| file.sync_all())
        .map_err(io_err("syncing", dir))
}

/// Where the blob `sha256` lives under a local objects root.
pub(super) fn object_path(root: &Path, sha256: &str) -> PathBuf {
    root.join(Storage::blob_key(sha256).as_ref())
}

/// Copies every blob in `sha256s` from `store` under `root`, checking each against its hash;
/// blobs already there (from an earlier attempt, checked then) are kept. Returns the count and
/// total size, or `None` when an object is gone from the store (deleted after the snapshot).
pub(super) async fn copy_objects(
    store: &Storage,
    sha256s: &[String],
    root: &Path,
) -> Result<Option<(u64, u64)>, BackupError> {
    let copies = futures::stream::iter(
        sha256s
            .iter()
            .map(|sha256| copy_object(store, sha256, root)),
    )
    .buffer_unordered(COPIES_IN_FLIGHT)
    .try_collect::<Vec<_>>()
    .await?;
    let mut bytes = 0;
    for copy in &copies {
        match copy {
            Some(size) => bytes += size,
            None => return Ok(None),
        }
    }
    let shards: HashSet<PathBuf> = sha256s
        .iter()
        .filter_map(|sha256| object_path(root, sha256).parent().map(Path::to_owned))
        .collect();
    for shard in &shards {
        sync_dir(shard)?;
    }
    if !shards.is_empty() {
        sync_dir(&root.join("blobs"))?;
        sync_dir(root)?;
    }
    Ok(Some((copies.len() as u64, bytes)))
}

/// Copies one blob; `None` when the store no longer has it.
async fn copy_object(
    store: &Storage,
    sha256: &str,
    root: &Path,
) -> Result<Option<u64>, BackupError> {
    let dest = object_path(root, sha256);
    if let Ok(meta) = tokio::fs::metadata(&dest).await {
        return Ok(Some(meta.len()));
    }
    let (_, mut stream) = match store.get_stream(&Storage::blob_key(sha256)).await {
        Ok(found) => found,
        Err(PlatformError::NotFound(_)) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let Some(dir) = dest.parent() else {
        return Err(BackupError::BadName(sha256.to_owned()));
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(io_err("creating", dir))?;
    let tmp = dest.with_extension("part");
    let result = async {
        let mut file = std::fs::File::create(&tmp).map_err(io_err("creating", &tmp))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(io_err("reading the object for", &dest))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).map_err(io_err("writing", &tmp))?;
        }
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            return Err(BackupError::Corrupt {
                sha256: sha256.to_owned(),
                actual,
            });
        }
        file.sync_all().map_err(io_err("syncing", &tmp))?;
        std::fs::rename(&tmp, &dest).map_err(io_err("renaming into", &dest))?;
        Ok(size)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(Some)
}

/// Removes objects under `root` that `keep` does not name (copied by an attempt whose snapshot
/// was replaced).
pub(super) fn prune_objects(root: &Path, keep: &[String]) -> Result<(), BackupError> {
    let keep: HashSet<&str> = keep.iter().map(String::as_str).collect();
    for path in list_objects(root)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !keep.contains(name) {
            std::fs::remove_file(&path).map_err(io_err("removing", &path))?;
        }
    }
    Ok(())
}

/// Every object file under a local objects root (`blobs/xx/…`).
pub(super) fn list_objects(root: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let blobs = root.join("blobs");
    let mut found = Vec::new();
    let shards = match std::fs::read_dir(&blobs) {
        Ok(shards) => shards,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(err) => return Err(io_err("reading", &blobs)(err)),
    };
    for shard in shards {
        let shard = shard.map_err(io_err("reading", &blobs))?.path();
        if !shard.is_dir() {
            continue;
        }
        for object in std::fs::read_dir(&shard).map_err(io_err("reading", &shard))? {
            let path = object.map_err(io_err("reading", &shard))?.path();
            if path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Writes `backup.json` last, synced: its presence marks a finished backup.
pub(super) fn write_manifest(dest: &Path, manifest: &BackupManifest) -> Result<(), BackupError> {
    let path = dest.join(MANIFEST_FILE);
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|err| BackupError::Platform(PlatformError::Internal(err.to_string())))?;
    std::fs::write(&path, text).map_err(io_err("writing", &path))?;
    sync_file(&path)
}

/// Reads the manifest of the backup in `src`.
pub(super) fn read_manifest(src: &Path) -> Result<BackupManifest, BackupError> {
    let path = src.join(MANIFEST_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|_| BackupError::NotABackup(src.to_owned()))?;
    let manifest: BackupManifest =
        serde_json::from_str(&text).map_err(|_| BackupError::NotABackup(src.to_owned()))?;
    if manifest.format > FORMAT {
        return Err(BackupError::UnknownFormat(manifest.format));
    }
    Ok(manifest)
}

/// The sha256 of a file, as lower-case hex.
pub(super) fn sha256_file(path: &Path) -> Result<String, BackupError> {
    let mut file = std::fs::File::open(path).map_err(io_err("opening", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).map_err(io_err("reading", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_sha256_names_are_object_names() {
        assert!(check_name(&"ab".repeat(32)).is_ok());
        assert!(check_name("../../etc/passwd").is_err());
        assert!(check_name(&"AB".repeat(32)).is_err());
        assert!(check_name("abc").is_err());
    }

    #[test]
    fn a_folder_with_anything_in_it_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(create_empty_dir(&dir.path().join("new/deeper")).is_ok());
        assert!(create_empty_dir(dir.path().join("new/deeper").as_path()).is_ok());
        std::fs::write(dir.path().join("new/deeper/x"), b"x").expect("write");
        let err = create_empty_dir(&dir.path().join("new/deeper")).expect_err("refused");
        assert!(err.to_string().contains("not empty"), "{err}");
    }
}
