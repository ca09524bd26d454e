//! The detector studio's end checks of the cluster run (issue #18 §1), read from the database
//! and the object store once every job has finished and the housekeeping sweep has run: each
//! succeeded `studio_import` left its media ready with the clip's frames numbered once each,
//! every frame's object and the thumbnail stored; each canceled one left its media failed with
//! no frame and no object; each succeeded `train` stored exactly one detector (the one its
//! output names) and a canceled one none; and the store's studio objects are exactly the frames
//! and thumbnails those rows name.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use atelier_platform::studio::media::{frame_key, thumbnail_key};
use serde_json::Value;
use sqlx::Row;

use crate::{cluster::Cluster, cluster_load::CLIP_FRAMES};

/// One job row, as the checks read it.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// Job id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Final status.
    pub status: String,
    /// Attempts taken.
    pub attempts: i64,
    /// Parameters.
    pub params: Value,
    /// Output (`null` unless succeeded).
    pub output: Value,
}

/// Whether a job kind's results are studio rows and objects rather than output files.
pub fn is_studio(kind: &str) -> bool {
    matches!(kind, "studio_import" | "train")
}

/// Whether an object key is the studio's (under `studio/media/`); every other key is checked
/// as a blob.
pub fn is_studio_key(key: &str) -> bool {
    key.starts_with("studio/media/")
}

/// What the studio checks counted.
#[derive(Debug, Default)]
pub struct StudioFigures {
    /// Imports whose media ended ready.
    pub imports_ready: usize,
    /// Imports canceled (media failed, nothing stored).
    pub imports_canceled: usize,
    /// Trainings that succeeded.
    pub trainings: usize,
    /// Trainings canceled (no detector).
    pub trainings_canceled: usize,
    /// Detectors in the database.
    pub detectors: usize,
    /// Trainings that took more than one attempt (a fault met them).
    pub trainings_retried: usize,
    /// Studio objects in the store (frames and thumbnails).
    pub objects: usize,
}

/// Runs the checks over `jobs` against the database and the studio objects `stored`; panics
/// with everything that is wrong.
pub async fn check(
    pool: &sqlx::PgPool,
    jobs: &[JobRow],
    stored: &BTreeSet<String>,
) -> StudioFigures {
    let mut figures = StudioFigures::default();
    let mut wrong = Vec::new();
    for job in jobs.iter().filter(|job| job.kind == "studio_import") {
        let mid = job.params["media_id"].as_i64().expect("media_id");
        let media = sqlx::query("SELECT status, frame_count FROM studio_media WHERE id = $1")
            .bind(mid)
            .fetch_one(pool)
            .await
            .expect("the media of an import");
        let status: String = media.get("status");
        let frames = sqlx::query(
            "SELECT number, object_key FROM studio_frames WHERE media_id = $1 ORDER BY number",
        )
        .bind(mid)
        .fetch_all(pool)
        .await
        .expect("frames");
        let numbers: Vec<i64> = frames.iter().map(|f| f.get("number")).collect();
        let keys: Vec<String> = frames.iter().map(|f| f.get("object_key")).collect();
        let prefix = format!("studio/media/{mid}/");
        let objects = stored.iter().filter(|k| k.starts_with(&prefix)).count();
        match job.status.as_str() {
            "succeeded" => {
                figures.imports_ready += 1;
                let expected: Vec<i64> = (0..CLIP_FRAMES).collect();
                let named: Vec<String> = expected
                    .iter()
                    .map(|n| frame_key(mid, *n).to_string())
                    .collect();
                if status != "ready"
                    || media.get::<Option<i64>, _>("frame_count") != Some(CLIP_FRAMES)
                    || job.output["frame_count"] != CLIP_FRAMES
                {
                    wrong.push(format!(
                        "import {}: media {mid} {status}, {}",
                        job.id, job.output
                    ));
                }
                if numbers != expected || keys != named {
                    wrong.push(format!("import {}: frames {numbers:?}", job.id));
                }
                let thumbnail = thumbnail_key(mid).to_string();
                let missing: Vec<&String> = named
                    .iter()
                    .chain([&thumbnail])
                    .filter(|key| !stored.contains(*key))
                    .collect();
                if !missing.is_empty() {
                    wrong.push(format!("import {}: not stored {missing:?}", job.id));
                }
            }
            "canceled" => {
                figures.imports_canceled += 1;
                if status != "failed" || !numbers.is_empty() || objects != 0 {
                    wrong.push(format!(
                        "canceled import {}: media {mid} {status} with {} frame rows and {objects} objects",
                        job.id,
                        numbers.len()
                    ));
                }
            }
            other => wrong.push(format!("import {}: {other}", job.id)),
        }
    }
    for job in jobs.iter().filter(|job| job.kind == "train") {
        let detectors: Vec<i64> = sqlx::query("SELECT id FROM studio_detectors WHERE job_id = $1")
            .bind(&job.id)
            .fetch_all(pool)
            .await
            .expect("detectors")
            .iter()
            .map(|row| row.get("id"))
            .collect();
        figures.trainings_retried += usize::from(job.attempts > 1);
        match job.status.as_str() {
            "succeeded" => {
                figures.trainings += 1;
                if detectors.len() != 1 || job.output["detector_id"] != detectors[0] {
                    wrong.push(format!(
                        "training {}: detectors {detectors:?} for output {}",
                        job.id, job.output
                    ));
                }
            }
            "canceled" if detectors.is_empty() => figures.trainings_canceled += 1,
            _ if !detectors.is_empty() => wrong.push(format!(
                "training {} ({}): detectors {detectors:?}",
                job.id, job.status
            )),
            _ => {}
        }
    }
    let detectors: i64 = sqlx::query("SELECT COUNT(*) AS n FROM studio_detectors")
        .fetch_one(pool)
        .await
        .expect("count")
        .get("n");
    figures.detectors = usize::try_from(detectors).unwrap_or(0);
    if figures.detectors != figures.trainings {
        wrong.push(format!(
            "{} detectors for {} trainings",
            figures.detectors, figures.trainings
        ));
    }

    // The store: exactly the frames the rows name and the ready media's thumbnails.
    let wanted = wanted_objects(pool).await;
    let orphaned: Vec<_> = stored.difference(&wanted).collect();
    let missing: Vec<_> = wanted.difference(stored).collect();
    if !orphaned.is_empty() || !missing.is_empty() {
        wrong.push(format!(
            "studio objects: orphaned {orphaned:?}, missing {missing:?}"
        ));
    }
    figures.objects = stored.len();
    assert!(wrong.is_empty(), "studio: {wrong:#?}");
    figures
}

/// The studio objects the rows reference: every frame row's object and the thumbnail of every
/// ready media.
pub async fn wanted_objects(pool: &sqlx::PgPool) -> BTreeSet<String> {
    let mut wanted: BTreeSet<String> = sqlx::query("SELECT object_key FROM studio_frames")
        .fetch_all(pool)
        .await
        .expect("frames")
        .iter()
        .map(|row| row.get("object_key"))
        .collect();
    for row in sqlx::query("SELECT id FROM studio_media WHERE status = 'ready'")
        .fetch_all(pool)
        .await
        .expect("media")
    {
        wanted.insert(thumbnail_key(row.get("id")).to_string());
    }
    wanted
}

/// Waits up to `limit` for an attempt of a training seen running for `past` (longer than the
/// workers' stall after a claim: it is computing features or training); the label of the
/// worker process running it (from its "job started" log line) and the job id.
pub async fn running_training(
    cluster: &Cluster,
    past: Duration,
    limit: Duration,
) -> Option<(String, String)> {
    let pool = sqlx::PgPool::connect(&cluster.sandbox.database_url)
        .await
        .expect("connect");
    let started = Instant::now();
    let mut seen: HashMap<(String, i64), Instant> = HashMap::new();
    let found = loop {
        let running = sqlx::query(
            "SELECT id, attempts FROM jobs WHERE kind = 'train' AND status = 'running'",
        )
        .fetch_all(&pool)
        .await
        .expect("running trainings");
        let long_enough = running.iter().find_map(|row| {
            let attempt = (row.get::<String, _>("id"), row.get::<i64, _>("attempts"));
            let since = *seen.entry(attempt.clone()).or_insert_with(Instant::now);
            (since.elapsed() >= past).then_some(attempt)
        });
        if let Some((job, attempt)) = long_enough {
            let label = cluster.log_lines().into_iter().find_map(|(label, line)| {
                (line["job_id"] == job.as_str()
                    && line["message"] == "job started"
                    && line["attempt"] == attempt)
                    .then_some(label)
            });
            if let Some(label) = label {
                break Some((label, job));
            }
        }
        if started.elapsed() > limit {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    pool.close().await;
    found
}
