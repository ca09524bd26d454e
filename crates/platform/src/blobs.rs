//! Reference-counted blobs: uploads share one object per content hash, and the `blobs` table
//! counts who points to it. No interleaving of uploads and deletes can remove an object a
//! surviving upload points to:
//!
//! - an upload takes its reference ([`acquire`]) *before* it looks for the object or stores
//!   it, so from then on no delete can bring the count to zero;
//! - a delete removes the upload row and drops its reference in one transaction; the one that
//!   takes the count to zero also marks the blob `deleting_since`, deletes the object, and only
//!   then removes the blob's row;
//! - an upload that meets a blob being deleted waits for that row to go (and stores the bytes
//!   anew) instead of counting on an object that is about to disappear.
//!
//! A crash leaves at worst a blob marked for deletion, a reference taken by an upload that
//! never inserted its row, or (from before this table) an object no row knows: [`collect`]
//! finishes the first after [`DELETION_LEASE`] and the others after a grace period.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};

use crate::{
    Platform,
    error::{PlatformError, PlatformResult},
    storage::Storage,
};

/// How long a blob may stay marked for deletion before another process finishes the deletion
/// itself: longer than any single object-store request, so a live deleter is never overtaken.
pub const DELETION_LEASE: Duration = Duration::from_secs(300);

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Takes a reference to the blob `sha256` for an upload about to point to it, creating its row
/// when it is new. Waits while another request is deleting the blob.
pub(crate) async fn acquire(platform: &Platform, sha256: &str) -> PlatformResult<()> {
    let now = platform.db().backend().now_ms_sql();
    let upsert = format!(
        "INSERT INTO blobs (sha256, refs, updated_at) VALUES ($1, 1, {now}) \
         ON CONFLICT (sha256) DO UPDATE SET refs = blobs.refs + 1, updated_at = {now} \
         WHERE blobs.deleting_since IS NULL RETURNING refs"
    );
    let mut pause = Duration::from_millis(2);
    let deadline = tokio::time::Instant::now() + DELETION_LEASE * 2;
    loop {
        let taken = sqlx::query(AssertSqlSafe(upsert.as_str()))
            .bind(sha256)
            .fetch_optional(platform.db().pool())
            .await?;
        if taken.is_some() {
            return Ok(());
        }
        // Someone is deleting this blob: let them finish (or finish for them if they died).
        take_over_stale_deletion(platform, sha256, DELETION_LEASE).await?;
        if tokio::time::Instant::now() > deadline {
            return Err(PlatformError::Internal(format!(
                "blob {sha256} stayed marked for deletion"
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Stores `source` as the blob `sha256` unless the object is already there. Call it only while
/// holding a reference from [`acquire`].
pub(crate) async fn store_file(
    platform: &Platform,
    sha256: &str,
    source: &std::path::Path,
) -> PlatformResult<()> {
    let key = Storage::blob_key(sha256);
    if !platform.storage().exists(&key).await? {
        platform.storage().put_file(&key, source).await?;
    }
    Ok(())
}

/// Stores `bytes` as the blob `sha256` unless the object is already there. Call it only while
/// holding a reference from [`acquire`].
pub(crate) async fn store_bytes(
    platform: &Platform,
    sha256: &str,
    bytes: bytes::Bytes,
) -> PlatformResult<()> {
    let key = Storage::blob_key(sha256);
    if !platform.storage().exists(&key).await? {
        platform.storage().put_bytes(&key, bytes).await?;
    }
    Ok(())
}

/// The SQL that drops one reference; the statement that takes the count to zero marks the
/// blob for deletion in the same step.
fn release_sql(platform: &Platform) -> String {
    let now = platform.db().backend().now_ms_sql();
    format!(
        "UPDATE blobs SET refs = refs - 1, updated_at = {now}, \
         deleting_since = CASE WHEN refs = 1 THEN {now} ELSE NULL END \
         WHERE sha256 = $1 AND refs > 0 AND deleting_since IS NULL \
         RETURNING refs, deleting_since"
    )
}

/// The deletion a dropped reference started, if it took the count to zero.
fn started_deletion(row: Option<sqlx::any::AnyRow>) -> PlatformResult<Option<i64>> {
    let Some(row) = row else {
        return Ok(None);
    };
    let refs: i64 = row.try_get("refs")?;
    let since: Option<i64> = row.try_get("deleting_since")?;
    Ok(since.filter(|_| refs == 0))
}

/// Takes one more reference on each of `sha256s` whose blob is live (counted and not being
/// deleted), in one transaction, and returns the ones taken. A backup holds them while it copies
/// the objects, so no delete can remove an object its snapshot points to; [`release`] gives
/// each back. A holder that dies leaks its references until [`collect`] corrects the counts.
pub(crate) async fn hold(platform: &Platform, sha256s: &[String]) -> PlatformResult<Vec<String>> {
    let db = platform.db();
    let now = db.backend().now_ms_sql();
    let sql = format!(
        "UPDATE blobs SET refs = refs + 1, updated_at = {now} \
         WHERE sha256 = $1 AND refs > 0 AND deleting_since IS NULL RETURNING refs"
    );
    let _turn = db.write_turn().await;
    let mut tx = db.pool().begin().await?;
    let mut held = Vec::with_capacity(sha256s.len());
    for sha256 in sha256s {
        if sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(sha256)
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            held.push(sha256.clone());
        }
    }
    tx.commit().await?;
    Ok(held)
}

/// Drops a reference taken by [`acquire`] whose upload row was never inserted (the upload
/// failed after taking it).
pub(crate) async fn release(platform: &Platform, sha256: &str) -> PlatformResult<()> {
    let row = sqlx::query(AssertSqlSafe(release_sql(platform)))
        .bind(sha256)
        .fetch_optional(platform.db().pool())
        .await?;
    if let Some(since) = started_deletion(row)? {
        finish_deletion(platform, sha256, since).await;
    }
    Ok(())
}

/// Deletes the upload `id` of `owner_id` and drops its reference in one transaction; the last
/// reference takes the object with it. Others' uploads are "not found".
pub(crate) async fn delete_upload(
    platform: &Platform,
    owner_id: i64,
    id: &str,
) -> PlatformResult<()> {
    let db = platform.db();
    let deletion = {
        let _turn = db.write_turn().await;
        let mut tx = db.pool().begin().await?;
        let sha256: String =
            sqlx::query("DELETE FROM uploads WHERE id = $1 AND owner_id = $2 RETURNING sha256")
                .bind(id)
                .bind(owner_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(PlatformError::NotFound("upload"))?
                .try_get("sha256")?;
        let row = sqlx::query(AssertSqlSafe(release_sql(platform)))
            .bind(&sha256)
            .fetch_optional(&mut *tx)
            .await?;
        let since = started_deletion(row)?;
        tx.commit().await?;
        since.map(|since| (sha256, since))
    };
    if let Some((sha256, since)) = deletion {
        finish_deletion(platform, &sha256, since).await;
    }
    Ok(())
}

/// Removes the object of a blob this process marked for deletion at `since`, then its row.
/// A failure is logged and left to [`collect`]: the upload is gone either way.
async fn finish_deletion(platform: &Platform, sha256: &str, since: i64) {
    let result = async {
        platform
            .storage()
            .delete(&Storage::blob_key(sha256))
            .await?;
        sqlx::query("DELETE FROM blobs WHERE sha256 = $1 AND refs = 0 AND deleting_since = $2")
            .bind(sha256)
            .bind(since)
            .execute(platform.db().pool())
            .await?;
        PlatformResult::Ok(())
    }
    .await;
    if let Err(err) = result {
        tracing::warn!(sha256, error = %err, "blob deletion left for the collector");
    }
}

/// Takes over the deletion of `sha256` when it has been marked for longer than `lease` (its
/// deleter died), and finishes it.
async fn take_over_stale_deletion(
    platform: &Platform,
    sha256: &str,
    lease: Duration,
) -> PlatformResult<bool> {
    let now = platform.db().backend().now_ms_sql();
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE blobs SET deleting_since = {now} \
         WHERE sha256 = $1 AND deleting_since IS NOT NULL AND deleting_since <= {now} - $2 \
         RETURNING deleting_since"
    )))
    .bind(sha256)
    .bind(ms(lease))
    .fetch_optional(platform.db().pool())
    .await?;
    match row {
        Some(row) => {
            finish_deletion(platform, sha256, row.try_get("deleting_since")?).await;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// What one [`collect`] pass cleaned up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Deletions a dead process had started, finished.
    pub finished: usize,
    /// Blobs whose count was corrected from the upload rows (references leaked by crashed
    /// uploads), and deleted when nothing points to them.
    pub corrected: usize,
    /// Objects no blob row knew, older than the grace period, deleted.
    pub orphans: usize,
}

/// Cleans up after crashes: finishes deletions marked longer ago than `deletion_lease`,
/// corrects reference counts not touched for `grace` from the upload rows (deleting blobs no
/// row points to), and deletes objects older than `grace` that no blob row knows. Safe to run
/// on every node at once.
pub async fn collect(
    platform: &Platform,
    grace: Duration,
    deletion_lease: Duration,
) -> PlatformResult<Collected> {
    let db = platform.db();
    let now = db.backend().now_ms_sql();
    let mut collected = Collected::default();

    let stale = sqlx::query(AssertSqlSafe(format!(
        "SELECT sha256 FROM blobs WHERE deleting_since IS NOT NULL AND deleting_since <= {now} - $1"
    )))
    .bind(ms(deletion_lease))
    .fetch_all(db.pool())
    .await?;
    for row in stale {
        let sha256: String = row.try_get("sha256")?;
        if take_over_stale_deletion(platform, &sha256, deletion_lease).await? {
            collected.finished += 1;
        }
    }

    // A count not touched for the grace period has no upload in flight: the rows are the truth.
    let count = "(SELECT COUNT(*) FROM uploads u WHERE u.sha256 = blobs.sha256)";
    let corrected = sqlx::query(AssertSqlSafe(format!(
        "UPDATE blobs SET refs = {count}, updated_at = {now}, \
         deleting_since = CASE WHEN {count} = 0 THEN {now} ELSE NULL END \
         WHERE deleting_since IS NULL AND updated_at <= {now} - $1 AND refs <> {count} \
         RETURNING sha256, refs, deleting_since"
    )))
    .bind(ms(grace))
    .fetch_all(db.pool())
    .await?;
    for row in corrected {
        collected.corrected += 1;
        let sha256: String = row.try_get("sha256")?;
        if let Some(since) = started_deletion(Some(row))? {
            finish_deletion(platform, &sha256, since).await;
        }
    }

    let db_now = db.now_ms().await?;
    for (key, modified_ms) in platform.storage().list_objects("blobs").await? {
        let Some(sha256) = key.rsplit('/').next().filter(|s| !s.is_empty()) else {
            continue;
        };
        if modified_ms > db_now - ms(grace) {
            continue;
        }
        // Claim the object for deletion; an upload of these bytes now waits for the claim.
        let claimed = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO blobs (sha256, refs, deleting_since, updated_at) \
             VALUES ($1, 0, {now}, {now}) ON CONFLICT (sha256) DO NOTHING RETURNING deleting_since"
        )))
        .bind(sha256)
        .fetch_optional(db.pool())
        .await?;
        let Some(claimed) = claimed else { continue };
        let since: i64 = claimed.try_get("deleting_since")?;
        let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM uploads WHERE sha256 = $1")
            .bind(sha256)
            .fetch_one(db.pool())
            .await?
            .try_get("n")?;
        if rows > 0 {
            // Rows without a count (they predate it): adopt them instead.
            sqlx::query(
                "UPDATE blobs SET refs = $2, deleting_since = NULL \
                 WHERE sha256 = $1 AND deleting_since = $3",
            )
            .bind(sha256)
            .bind(rows)
            .bind(since)
            .execute(db.pool())
            .await?;
            continue;
        }
        finish_deletion(platform, sha256, since).await;
        collected.orphans += 1;
    }
    Ok(collected)
}
