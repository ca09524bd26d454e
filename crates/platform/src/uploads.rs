//! Uploads: a byte stream is spooled to a temporary file while it is hashed, size-capped and
//! sniffed; images are then decoded under pixel limits; only a fully valid file reaches the object
//! store, under its content hash. A failure at any step stores nothing.

use std::io::Write;

use atelier_imaging::{DecodeLimits, MediaKind, decode_image, sniff, sniff_generated};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};
use utoipa::ToSchema;

use crate::{
    Platform, blobs,
    db::now_ms,
    error::{PlatformError, PlatformResult},
    secrets::random_id,
};

/// Limits on what an upload may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
    /// Pixel limits for images.
    pub decode: DecodeLimits,
    /// Images this process decodes at once (uploads, classify, detect, character analysis):
    /// each decode may hold hundreds of megabytes. Default 4.
    pub max_concurrent_decodes: usize,
    /// How long a request waits for a decode slot before it is answered 503 with
    /// `Retry-After`. Default 2 s.
    pub decode_wait: std::time::Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_bytes: 50 * 1024 * 1024,
            decode: DecodeLimits::default(),
            max_concurrent_decodes: 4,
            decode_wait: std::time::Duration::from_secs(2),
        }
    }
}

/// A stored file, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Upload {
    /// Opaque id (`upl_…`).
    pub id: String,
    /// Owner's user id.
    pub owner_id: i64,
    /// SHA-256 of the content (hex); also its key in the object store.
    pub sha256: String,
    /// The sniffed type: `jpeg`, `png`, `webp`, `gif`, `mp4`, `webm`, `mkv`, `avi` or `zip`.
    pub kind: String,
    /// The media type matching `kind`.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Width in pixels (images only).
    pub width: Option<i64>,
    /// Height in pixels (images only).
    pub height: Option<i64>,
    /// The client's file name, informational only.
    pub filename: Option<String>,
    /// The job that produced this file, for job outputs.
    pub job_id: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

impl Upload {
    /// The file's type.
    pub fn media_kind(&self) -> PlatformResult<MediaKind> {
        MediaKind::from_name(&self.kind)
            .ok_or_else(|| PlatformError::Internal(format!("unknown stored kind {:?}", self.kind)))
    }

    /// The name the signed download link carries: `<sha256>.<kind>`.
    pub fn object_name(&self) -> String {
        format!("{}.{}", self.sha256, self.kind)
    }
}

/// A file received completely into a temporary file, hashed and sniffed, not yet stored.
#[derive(Debug)]
pub struct Spooled {
    /// The temporary file; removed when dropped.
    pub file: tempfile::NamedTempFile,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The sniffed type.
    pub kind: MediaKind,
}

/// Receives `stream` into a temporary file in `tmp_dir`, refusing it as soon as it passes
/// `max_bytes` or its first bytes show a type atelier does not accept.
pub async fn spool<S, E>(
    mut stream: S,
    max_bytes: u64,
    tmp_dir: &std::path::Path,
) -> PlatformResult<Spooled>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    std::fs::create_dir_all(tmp_dir)?;
    let mut file = tempfile::NamedTempFile::new_in(tmp_dir)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(atelier_imaging::sniff::SNIFF_LEN);
    let mut kind = None;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|err| PlatformError::Invalid(format!("upload interrupted: {err}")))?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(PlatformError::PayloadTooLarge { limit: max_bytes });
        }
        if kind.is_none() {
            let need = atelier_imaging::sniff::SNIFF_LEN - head.len();
            head.extend_from_slice(&chunk[..need.min(chunk.len())]);
            if head.len() >= atelier_imaging::sniff::SNIFF_LEN {
                kind = Some(sniff_or_refuse(&head)?);
            }
        }
        hasher.update(&chunk);
        file.write_all(&chunk)?;
    }
    if size == 0 {
        return Err(PlatformError::Invalid("the file is empty".into()));
    }
    let kind = match kind {
        Some(kind) => kind,
        None => sniff_or_refuse(&head)?,
    };
    file.flush()?;
    Ok(Spooled {
        file,
        sha256: hex::encode(hasher.finalize()),
        size,
        kind,
    })
}

fn sniff_or_refuse(head: &[u8]) -> PlatformResult<MediaKind> {
    sniff(head).ok_or_else(|| {
        PlatformError::UnsupportedMediaType(
            "the file is not a JPEG, PNG, WebP, GIF, MP4, WebM, Matroska, AVI or zip (judged by \
             its content, not its name)"
                .into(),
        )
    })
}

/// Decodes a spooled image under `limits`, returning its dimensions.
async fn check_image(
    platform: &Platform,
    path: std::path::PathBuf,
    limits: DecodeLimits,
) -> PlatformResult<(u32, u32)> {
    let slot = platform.decode_slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let bytes = std::fs::read(&path)?;
        let image = decode_image(&bytes, &limits)
            .map_err(|err| PlatformError::BadImage(err.to_string()))?;
        Ok((image.width(), image.height()))
    })
    .await?
}

/// Checks that a spooled MP4 is a movie by its box structure, not only by `ftyp` at bytes 4–8
/// (the detector studio decodes these files).
async fn check_video(path: std::path::PathBuf) -> PlatformResult<()> {
    tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&path)?;
        atelier_imaging::animation::check_mp4(&bytes).map_err(|err| {
            PlatformError::UnsupportedMediaType(format!(
                "the file starts like an MP4 but is not a well-formed movie: {err}"
            ))
        })
    })
    .await?
}

/// Checks that a spooled zip has a readable central directory (the detector studio reads these
/// archives; their entries are judged when imported).
async fn check_zip(path: std::path::PathBuf) -> PlatformResult<()> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)?;
        zip::ZipArchive::new(std::io::BufReader::new(file))
            .map(drop)
            .map_err(|err| {
                PlatformError::UnsupportedMediaType(format!(
                    "the file starts like a zip archive but is not a readable one: {err}"
                ))
            })
    })
    .await?
}

/// Receives, validates and stores a client's upload for `owner_id`.
pub async fn ingest<S, E>(
    platform: &Platform,
    owner_id: i64,
    stream: S,
    filename: Option<String>,
) -> PlatformResult<Upload>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let limits = platform.config().uploads;
    let spooled = spool(stream, limits.max_bytes, &platform.config().tmp_dir()).await?;
    let (width, height) = if spooled.kind.is_image() {
        let (w, h) = check_image(platform, spooled.file.path().to_owned(), limits.decode).await?;
        (Some(i64::from(w)), Some(i64::from(h)))
    } else {
        if spooled.kind == MediaKind::Mp4 {
            check_video(spooled.file.path().to_owned()).await?;
        }
        if spooled.kind == MediaKind::Zip {
            check_zip(spooled.file.path().to_owned()).await?;
        }
        (None, None)
    };
    let filename =
        filename.map(|name| name.chars().filter(|c| !c.is_control()).take(255).collect());
    let source = spooled.file.path();
    insert_with_blob(
        platform,
        |platform, sha256| async move { blobs::store_file(platform, &sha256, source).await },
        NewUploadRow {
            owner_id,
            sha256: spooled.sha256,
            kind: spooled.kind,
            size: spooled.size,
            width,
            height,
            filename,
            job_id: None,
        },
    )
    .await
}

/// Stores bytes a job produced, as an upload of the job's owner.
pub async fn store_output(
    platform: &Platform,
    owner_id: i64,
    job_id: &str,
    bytes: Vec<u8>,
    dimensions: Option<(u32, u32)>,
) -> PlatformResult<Upload> {
    store_generated(platform, owner_id, Some(job_id), bytes, dimensions).await
}

/// Stores bytes atelier itself produced (a job's output, a rendered drawing) as an upload of
/// `owner_id`.
pub async fn store_generated(
    platform: &Platform,
    owner_id: i64,
    job_id: Option<&str>,
    bytes: Vec<u8>,
    dimensions: Option<(u32, u32)>,
) -> PlatformResult<Upload> {
    let kind = sniff_generated(&bytes)
        .ok_or_else(|| PlatformError::Internal("generated an unknown file type".into()))?;
    let sha256 = crate::secrets::sha256_hex(&bytes);
    let size = bytes.len() as u64;
    let bytes = Bytes::from(bytes);
    insert_with_blob(
        platform,
        |platform, sha256| async move { blobs::store_bytes(platform, &sha256, bytes).await },
        NewUploadRow {
            owner_id,
            sha256,
            kind,
            size,
            width: dimensions.map(|(w, _)| i64::from(w)),
            height: dimensions.map(|(_, h)| i64::from(h)),
            filename: None,
            job_id: job_id.map(str::to_owned),
        },
    )
    .await
}

struct NewUploadRow {
    owner_id: i64,
    sha256: String,
    kind: MediaKind,
    size: u64,
    width: Option<i64>,
    height: Option<i64>,
    filename: Option<String>,
    job_id: Option<String>,
}

/// Takes a reference to the row's blob, stores the blob with `store` unless it is there, and
/// inserts the row; a failure after the reference was taken gives it back.
async fn insert_with_blob<'a, F, Fut>(
    platform: &'a Platform,
    store: F,
    row: NewUploadRow,
) -> PlatformResult<Upload>
where
    F: FnOnce(&'a Platform, String) -> Fut,
    Fut: std::future::Future<Output = PlatformResult<()>>,
{
    let sha256 = row.sha256.clone();
    blobs::acquire(platform, &sha256).await?;
    let result = async {
        store(platform, sha256.clone()).await?;
        platform
            .pause_points()
            .pass(crate::pause::PausePoint::BlobStoredBeforeRow)
            .await;
        insert(platform, row).await
    }
    .await;
    if result.is_err()
        && let Err(err) = blobs::release(platform, &sha256).await
    {
        tracing::warn!(sha256, error = %err, "blob reference left for the collector");
    }
    result
}

async fn insert(platform: &Platform, row: NewUploadRow) -> PlatformResult<Upload> {
    let upload = Upload {
        id: random_id("upl"),
        owner_id: row.owner_id,
        sha256: row.sha256,
        kind: row.kind.name().to_owned(),
        content_type: row.kind.mime().to_owned(),
        size: i64::try_from(row.size).map_err(PlatformError::internal)?,
        width: row.width,
        height: row.height,
        filename: row.filename,
        job_id: row.job_id,
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO uploads (id, owner_id, sha256, kind, size, width, height, filename, job_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&upload.id)
    .bind(upload.owner_id)
    .bind(&upload.sha256)
    .bind(&upload.kind)
    .bind(upload.size)
    .bind(upload.width)
    .bind(upload.height)
    .bind(&upload.filename)
    .bind(&upload.job_id)
    .bind(upload.created_at)
    .execute(platform.db().pool())
    .await?;
    Ok(upload)
}

const COLUMNS: &str =
    "id, owner_id, sha256, kind, size, width, height, filename, job_id, created_at";

fn from_row(row: &sqlx::any::AnyRow) -> PlatformResult<Upload> {
    let kind: String = row.try_get("kind")?;
    let content_type = MediaKind::from_name(&kind)
        .map(|k| k.mime().to_owned())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    Ok(Upload {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        sha256: row.try_get("sha256")?,
        kind,
        content_type,
        size: row.try_get("size")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        filename: row.try_get("filename")?,
        job_id: row.try_get("job_id")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The upload `id` if `owner_id` owns it; others' uploads are "not found".
pub async fn get_owned(platform: &Platform, owner_id: i64, id: &str) -> PlatformResult<Upload> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM uploads WHERE id = $1 AND owner_id = $2"
    )))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(platform.db().pool())
    .await?
    .ok_or(PlatformError::NotFound("upload"))?;
    from_row(&row)
}

/// The owner's uploads, newest first.
pub async fn list_owned(
    platform: &Platform,
    owner_id: i64,
    limit: i64,
) -> PlatformResult<Vec<Upload>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM uploads WHERE owner_id = $1 ORDER BY created_at DESC, id LIMIT $2"
    )))
    .bind(owner_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(platform.db().pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes an upload; its blob goes too when no other upload shares the content (see
/// [`crate::blobs`] for why no concurrent upload of the same bytes can lose it).
pub async fn delete_owned(platform: &Platform, owner_id: i64, id: &str) -> PlatformResult<()> {
    blobs::delete_upload(platform, owner_id, id).await
}

/// The files job `job_id` of `owner_id` stored, oldest first.
pub async fn list_job_outputs(
    platform: &Platform,
    owner_id: i64,
    job_id: &str,
) -> PlatformResult<Vec<Upload>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM uploads WHERE owner_id = $1 AND job_id = $2 ORDER BY created_at, id"
    )))
    .bind(owner_id)
    .bind(job_id)
    .fetch_all(platform.db().pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes every file job `job_id` of `owner_id` stored (a retried attempt clears what an
/// interrupted one left, so outputs are never duplicated); returns how many went.
pub async fn delete_job_outputs(
    platform: &Platform,
    owner_id: i64,
    job_id: &str,
) -> PlatformResult<usize> {
    let outputs = list_job_outputs(platform, owner_id, job_id).await?;
    for upload in &outputs {
        delete_owned(platform, owner_id, &upload.id).await?;
    }
    Ok(outputs.len())
}

/// Whether any upload holds the blob `sha256` with kind `kind` (so a signed link may serve it).
pub async fn blob_kind_known(
    platform: &Platform,
    sha256: &str,
    kind: &str,
) -> PlatformResult<bool> {
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM uploads WHERE sha256 = $1 AND kind = $2")
        .bind(sha256)
        .bind(kind)
        .fetch_one(platform.db().pool())
        .await?
        .try_get("n")?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn a_png_split_across_chunks_is_sniffed_and_hashed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let png: &'static [u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let spooled = spool(chunks(&[&png[..3], &png[3..]]), 1000, dir.path())
            .await
            .expect("spool");
        assert_eq!(spooled.kind, MediaKind::Png);
        assert_eq!(spooled.size, png.len() as u64);
        assert_eq!(spooled.sha256, crate::secrets::sha256_hex(png));
    }

    #[tokio::test]
    async fn text_is_refused_as_unsupported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = spool(
            chunks(&[b"hello, I am definitely a png file"]),
            1000,
            dir.path(),
        )
        .await
        .expect_err("refused");
        assert!(
            matches!(err, PlatformError::UnsupportedMediaType(_)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_stream_past_the_cap_is_refused_and_leaves_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big: &'static [u8] = &[0xFF; 600];
        let err = spool(chunks(&[b"\xFF\xD8\xFF\xE0", big, big]), 1000, dir.path())
            .await
            .expect_err("too large");
        assert!(
            matches!(err, PlatformError::PayloadTooLarge { limit: 1000 }),
            "{err:?}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[tokio::test]
    async fn an_empty_stream_is_invalid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = spool(chunks(&[]), 1000, dir.path())
            .await
            .expect_err("empty");
        assert!(matches!(err, PlatformError::Invalid(_)), "{err:?}");
    }
}
