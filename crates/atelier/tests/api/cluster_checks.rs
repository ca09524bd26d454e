//! The end checks of the cluster run (issue #18 §1), read from the database, the object store
//! and the processes' logs: every job not canceled succeeded and ran to completion at most once
//! per attempt recorded, every canceled job ends canceled without outputs, every output a job
//! records exists in the store, and the store holds exactly the blobs the upload rows reference
//! (no orphan), with exact reference counts; the studio's imports and trainings are checked by
//! [`crate::cluster_studio`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use atelier_platform::{
    Platform, blobs, maintenance,
    storage::{Storage, StorageLocation},
};
use sqlx::Row;

use crate::{
    cluster::Cluster,
    cluster_load::{Cancel, ServerError, Submitted},
    cluster_studio::{self, JobRow, StudioFigures},
};

/// What the checks counted.
#[derive(Debug, Default)]
pub struct JobFigures {
    /// Job rows in the database.
    pub jobs: usize,
    /// Succeeded.
    pub succeeded: usize,
    /// Canceled.
    pub canceled: usize,
    /// Jobs that took more than one attempt.
    pub retried: usize,
    /// Attempts handed back by the worker stopped with SIGTERM.
    pub handed_back: usize,
    /// Attempts whose result was dropped because the lease had gone elsewhere.
    pub superseded: usize,
    /// Output files (upload rows of jobs).
    pub outputs: usize,
    /// Objects in the store.
    pub objects: usize,
    /// What the final collector pass found to clean (crash leftovers: a reference taken or an
    /// object stored by a process killed before it inserted its row).
    pub collected: blobs::Collected,
    /// Outputs of canceled jobs the sweep deleted.
    pub swept: u64,
    /// Objects no upload row referenced before the collector ran.
    pub pending_orphans: usize,
    /// Blob rows whose count was off before the collector ran.
    pub pending_miscounts: usize,
    /// The studio's imports, trainings and objects.
    pub studio: StudioFigures,
}

/// The store's blobs and the rows about them.
struct StoreState {
    /// sha256 → upload rows pointing to it.
    referenced: BTreeMap<String, i64>,
    /// sha256 of every blob object in the store.
    stored: BTreeSet<String>,
    /// Keys of the studio's objects (frames, thumbnails).
    studio: BTreeSet<String>,
    /// sha256 → `refs` of the blob rows not being deleted.
    counted: BTreeMap<String, i64>,
}

impl StoreState {
    async fn read(pool: &sqlx::PgPool, storage: &Storage) -> StoreState {
        let mut referenced = BTreeMap::new();
        for row in sqlx::query("SELECT sha256 FROM uploads")
            .fetch_all(pool)
            .await
            .expect("uploads")
        {
            *referenced
                .entry(row.get::<String, _>("sha256"))
                .or_default() += 1;
        }
        let keys = storage.list_keys("").await.expect("list the store");
        let (studio, keys): (Vec<String>, Vec<String>) = keys
            .into_iter()
            .partition(|key| cluster_studio::is_studio_key(key));
        let stored = keys
            .iter()
            .map(|key| {
                key.strip_prefix("blobs/")
                    .and_then(|rest| rest.split_once('/'))
                    .filter(|(shard, sha)| sha.starts_with(shard))
                    .map(|(_, sha)| sha.to_owned())
                    .unwrap_or_else(|| panic!("an object outside blobs/: {key}"))
            })
            .collect();
        let counted = sqlx::query("SELECT sha256, refs FROM blobs WHERE deleting_since IS NULL")
            .fetch_all(pool)
            .await
            .expect("blobs")
            .iter()
            .map(|row| (row.get("sha256"), row.get("refs")))
            .collect();
        StoreState {
            referenced,
            stored,
            studio: studio.into_iter().collect(),
            counted,
        }
    }

    fn wanted(&self) -> BTreeSet<String> {
        self.referenced.keys().cloned().collect()
    }
}

/// Per job, from every process's log: attempts started, handed back, and recorded successes.
#[derive(Debug, Default)]
struct Runs {
    started: i64,
    handed_back: i64,
    succeeded: i64,
    superseded: i64,
}

fn runs_from_logs(cluster: &Cluster) -> HashMap<String, Runs> {
    let mut runs: HashMap<String, Runs> = HashMap::new();
    for (_, line) in cluster.log_lines() {
        let Some(job) = line["job_id"].as_str() else {
            continue;
        };
        let entry = runs.entry(job.to_owned()).or_default();
        match line["message"].as_str().unwrap_or_default() {
            "job started" => entry.started += 1,
            "job handed back to the queue on shutdown" => entry.handed_back += 1,
            "job attempt finished" if line["status"] == "succeeded" => entry.succeeded += 1,
            "lease lost before the outcome was saved" => entry.superseded += 1,
            _ => {}
        }
    }
    runs
}

/// Runs every check; panics on the first that fails, with what it found.
pub async fn check(cluster: &Cluster, submitted: &[Submitted]) -> JobFigures {
    let mut figures = JobFigures::default();
    let pool = sqlx::PgPool::connect(&cluster.sandbox.database_url)
        .await
        .expect("connect");

    // The jobs: every one succeeded but those canceled, which are exactly the ones canceled.
    let json = |text: Option<String>| -> serde_json::Value {
        serde_json::from_str(text.as_deref().unwrap_or("null")).expect("json")
    };
    let rows: Vec<JobRow> =
        sqlx::query("SELECT id, kind, status, attempts, params, output FROM jobs ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("jobs")
            .iter()
            .map(|row| JobRow {
                id: row.get("id"),
                kind: row.get("kind"),
                status: row.get("status"),
                attempts: row.get("attempts"),
                params: json(row.get("params")),
                output: json(row.get("output")),
            })
            .collect();
    let canceled: BTreeSet<&str> = submitted
        .iter()
        .filter(|s| s.cancel == Cancel::Done)
        .map(|s| s.id.as_str())
        .collect();
    let runs = runs_from_logs(cluster);
    let mut outputs_of: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut wrong = Vec::new();
    for row in &rows {
        let (id, status, attempts) = (row.id.clone(), row.status.as_str(), row.attempts);
        let expected = if canceled.contains(id.as_str()) {
            "canceled"
        } else {
            "succeeded"
        };
        if status != expected {
            wrong.push(format!("{id}: {status}, expected {expected}"));
        }
        let run = runs.get(&id);
        let started = run.map_or(0, |r| r.started);
        let handed_back = run.map_or(0, |r| r.handed_back);
        // Each start took an attempt; a hand-back gave its attempt back.
        if started > attempts + handed_back {
            wrong.push(format!(
                "{id}: started {started} times for {attempts} attempts and {handed_back} hand-backs"
            ));
        }
        if run.map_or(0, |r| r.succeeded) > 1 {
            wrong.push(format!("{id}: recorded a success more than once"));
        }
        figures.handed_back += usize::try_from(handed_back).unwrap_or(0);
        figures.superseded += run.map_or(0, |r| usize::try_from(r.superseded).unwrap_or(0));
        figures.retried += usize::from(attempts > 1);
        if status == "succeeded" {
            figures.succeeded += 1;
            if cluster_studio::is_studio(&row.kind) {
                continue;
            }
            let output = &row.output;
            // Files by role under `outputs` (animate, photo3d), or the one file (thumbnail).
            let mut ids: BTreeSet<String> = output["outputs"]
                .as_object()
                .map(|outputs| {
                    outputs
                        .values()
                        .filter_map(|o| o["upload_id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            ids.extend(output["upload_id"].as_str().map(str::to_owned));
            if ids.is_empty() {
                wrong.push(format!("{id}: succeeded without outputs"));
            }
            outputs_of.insert(id.clone(), ids);
        } else if status == "canceled" {
            figures.canceled += 1;
        }
    }
    figures.jobs = rows.len();
    assert!(wrong.is_empty(), "jobs: {wrong:#?}");
    for job in submitted {
        assert!(
            rows.iter().any(|r| r.id == job.id),
            "job {} is in the database",
            job.id
        );
    }

    // What crashes left for the collector (a reference taken or an object stored by a process
    // killed before it inserted its row, a reference not given back while the database was
    // away), counted before the system's own housekeeping runs once everything is quiet: the
    // sweep of canceled jobs' outputs and the blob collector (with no grace: nothing is in
    // flight any more).
    let storage = Storage::open(&StorageLocation::parse(&cluster.sandbox.storage).expect("spec"))
        .expect("store");
    let before = StoreState::read(&pool, &storage).await;
    figures.pending_orphans = before.stored.difference(&before.wanted()).count()
        + before
            .studio
            .difference(&cluster_studio::wanted_objects(&pool).await)
            .count();
    figures.pending_miscounts = before
        .counted
        .iter()
        .filter(|(sha, refs)| before.referenced.get(*sha) != Some(refs))
        .count();
    let mut config = cluster.sandbox.platform_config();
    config.db_max_connections = 2;
    let platform = Platform::open(config).await.expect("platform");
    figures.swept = maintenance::sweep_canceled_outputs(&platform)
        .await
        .expect("sweep");
    figures.collected = blobs::collect(
        &platform,
        std::time::Duration::ZERO,
        std::time::Duration::ZERO,
    )
    .await
    .expect("collect");
    platform.db().close().await;

    // Outputs: the upload rows of jobs are exactly the outputs succeeded jobs record.
    let uploads = sqlx::query("SELECT id, job_id, sha256 FROM uploads")
        .fetch_all(&pool)
        .await
        .expect("uploads");
    let mut of_jobs: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut referenced: BTreeMap<String, i64> = BTreeMap::new();
    for row in &uploads {
        let id: String = row.get("id");
        let job: Option<String> = row.get("job_id");
        let sha256: String = row.get("sha256");
        *referenced.entry(sha256).or_default() += 1;
        if let Some(job) = job {
            of_jobs.entry(job).or_default().insert(id);
        }
    }
    for (job, ids) in &of_jobs {
        assert_eq!(
            outputs_of.get(job),
            Some(ids),
            "the upload rows of job {job} are the outputs it records"
        );
    }
    for (job, ids) in &outputs_of {
        assert_eq!(
            of_jobs.get(job),
            Some(ids),
            "the outputs job {job} records are upload rows"
        );
        figures.outputs += ids.len();
    }

    // Blobs: the store holds one object per sha256 an upload row references, and nothing else;
    // each blob row counts exactly its upload rows.
    let after = StoreState::read(&pool, &storage).await;
    assert_eq!(after.referenced, referenced, "the uploads did not change");
    figures.objects = after.stored.len();
    let wanted = after.wanted();
    let missing: Vec<_> = wanted.difference(&after.stored).collect();
    let orphaned: Vec<_> = after.stored.difference(&wanted).collect();
    assert!(missing.is_empty(), "referenced but not stored: {missing:?}");
    assert!(
        orphaned.is_empty(),
        "stored but referenced by nothing: {orphaned:?}"
    );
    assert_eq!(
        after.counted, referenced,
        "every blob counts its upload rows exactly"
    );
    figures.studio = cluster_studio::check(&pool, &rows, &after.studio).await;
    let deleting: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM blobs WHERE deleting_since IS NOT NULL")
            .fetch_one(&pool)
            .await
            .expect("count")
            .get("n");
    assert_eq!(deleting, 0, "no blob is left half deleted");
    pool.close().await;
    figures
}

/// The 5xx the run met: each must be a 503 `database-unavailable` answered while the database
/// was cut off (or in the few seconds nodes take to reconnect after it came back).
pub fn check_server_errors(errors: &[ServerError], outage: (i64, i64)) -> usize {
    let (cut, restored) = outage;
    let unexplained: Vec<String> = errors
        .iter()
        .filter(|e| {
            !(e.status == 503
                && e.code.as_deref() == Some("database-unavailable")
                && e.at >= cut - 100
                && e.at <= restored + 15_000)
        })
        .map(|e| {
            format!(
                "{} answered {} {:?} at {} ms (outage {cut}–{restored})",
                e.what, e.status, e.code, e.at
            )
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "5xx outside the database outage: {unexplained:#?}"
    );
    errors.len()
}
