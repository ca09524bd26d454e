//! What a studio job leaves when it does not finish is settled, found by the cluster run (issue
//! #18 §1): an import canceled while queued, or after a worker that died had stored frames, ends
//! `failed` ("the import was canceled") at once with no frame row and no object; an import whose
//! last attempt's worker died is settled the same way (with the job's reason) by the worker
//! that reaps it, or else by the housekeeping sweep; and a detector stored for a training that was then canceled is swept.

use atelier_platform::{jobs::queue, maintenance, studio::media::frame_key};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{AppOptions, Backend, TestApp, spawn_app_with, spawn_on},
    studio::{self, json_of},
};

/// Adds the upload to the project as a media; (media id, import job id), the job queued (the
/// app has no worker).
async fn queued_import(app: &TestApp, token: &str, pid: i64, upload: &Value) -> (i64, String) {
    let media = studio::add_media(app, token, pid, upload).await;
    (
        media["id"].as_i64().expect("media id"),
        media["job_id"].as_str().expect("job id").to_owned(),
    )
}

/// Claims the import as a worker that then dies, having stored `frames` frames (objects and
/// rows) of media `mid`.
async fn claimed_by_a_dying_worker(app: &TestApp, job: &str, mid: i64, frames: i64) {
    let db = app.platform.db();
    let claimed = queue::claim(
        db,
        &app.platform.config().jobs,
        "dying-worker",
        &["studio_import"],
    )
    .await
    .expect("claim")
    .expect("the import");
    assert_eq!(claimed.id, job);
    for number in 0..frames {
        let key = frame_key(mid, number);
        app.platform
            .storage()
            .put_bytes(&key, b"jpeg".to_vec().into())
            .await
            .expect("store a frame");
        sqlx::query(
            "INSERT INTO studio_frames (media_id, number, timestamp_ms, object_key) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(mid)
        .bind(number)
        .bind(number * 83)
        .bind(key.to_string())
        .execute(db.pool())
        .await
        .expect("frame row");
    }
}

/// The media's status and error, its frame rows and its stored objects.
async fn left_of(app: &TestApp, token: &str, mid: i64) -> (Value, usize, usize) {
    let media = json_of(
        app.get(token, &format!("/api/v1/studio/media/{mid}")).await,
        StatusCode::OK,
    )
    .await;
    let frames = json_of(
        app.get(token, &format!("/api/v1/studio/media/{mid}/frames"))
            .await,
        StatusCode::OK,
    )
    .await;
    let objects = app
        .platform
        .storage()
        .list_keys(&format!("studio/media/{mid}/"))
        .await
        .expect("list");
    (
        json!({"status": media["status"], "error": media["error"]}),
        frames["frames"].as_array().expect("frames").len(),
        objects.len(),
    )
}

/// An app with no worker: jobs stay queued until a test claims them.
async fn without_workers(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            workers: 0,
            ..AppOptions::default()
        },
    )
    .await
}

async fn cancel(app: &TestApp, token: &str, job: &str) {
    json_of(
        app.post_json(token, &format!("/api/v1/jobs/{job}/cancel"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
}

async fn an_import_that_does_not_finish_ends_failed_without_frames(backend: Backend) {
    let app = without_workers(backend).await;
    let token = app.user().await;
    let (pid, _) = studio::project(&app, &token).await;
    let clip = studio::mp4(&studio::clip(2));
    let upload = json_of(
        app.upload(&token, clip, "clip.mp4").await,
        StatusCode::CREATED,
    )
    .await;
    let canceled = json!({"status": "failed", "error": "the import was canceled"});

    // Canceled while queued: failed at once.
    let (queued, job) = queued_import(&app, &token, pid, &upload).await;
    cancel(&app, &token, &job).await;
    assert_eq!(
        left_of(&app, &token, queued).await,
        (canceled.clone(), 0, 0)
    );

    // Canceled after its worker died having stored frames: they go at once.
    let (orphaned, job) = queued_import(&app, &token, pid, &upload).await;
    claimed_by_a_dying_worker(&app, &job, orphaned, 3).await;
    let before = left_of(&app, &token, orphaned).await;
    assert_eq!((before.1, before.2), (3, 3));
    assert_eq!(before.0["status"], "importing");
    cancel(&app, &token, &job).await;
    assert_eq!(left_of(&app, &token, orphaned).await, (canceled, 0, 0));

    // Its last attempt's worker died: the job fails for good, and the sweep settles the media.
    let (failed, job) = last_attempt_claimed(&app, &token, pid, &upload, 4).await;
    expire_lease(&app, &job).await;
    assert_eq!(
        queue::reap_expired(app.platform.db()).await.expect("reap"),
        1
    );
    assert_eq!(
        maintenance::sweep_canceled_outputs(&app.platform)
            .await
            .expect("sweep"),
        1
    );
    let (media, frames, objects) = left_of(&app, &token, failed).await;
    assert_eq!((frames, objects), (0, 0));
    assert_eq!(media["status"], "failed");
    assert!(
        media["error"]
            .as_str()
            .is_some_and(|e| e.contains("stopped responding")),
        "{media}"
    );
    // Settled media are not settled again; the canceled ones stay as they are.
    assert_eq!(
        maintenance::sweep_canceled_outputs(&app.platform)
            .await
            .expect("sweep"),
        0
    );

    // The same, met by a worker of another node: it reaps the job and settles the media at
    // once (its node's housekeeping pass ran at its start, before the lease ran out, and the
    // next is 10 minutes away).
    let (reaped, job) = last_attempt_claimed(&app, &token, pid, &upload, 2).await;
    let worker = spawn_on(app.sandbox.clone(), AppOptions::default()).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    expire_lease(&app, &job).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (media, frames, objects) = loop {
        let left = left_of(&app, &token, reaped).await;
        if left.0["status"] != "importing" || std::time::Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        (&media["status"], frames, objects),
        (&json!("failed"), 0, 0)
    );
    worker.stop().await;
    app.stop().await;
}

/// Queues an import with one attempt, claimed by a worker that dies after storing `frames`
/// frames: (media id, job id).
async fn last_attempt_claimed(
    app: &TestApp,
    token: &str,
    pid: i64,
    upload: &Value,
    frames: i64,
) -> (i64, String) {
    let (mid, job) = queued_import(app, token, pid, upload).await;
    let db = app.platform.db();
    sqlx::query("UPDATE jobs SET max_attempts = 1 WHERE id = $1")
        .bind(&job)
        .execute(db.pool())
        .await
        .expect("one attempt");
    claimed_by_a_dying_worker(app, &job, mid, frames).await;
    assert_eq!(left_of(app, token, mid).await.1, frames as usize);
    (mid, job)
}

/// Ends the lease of job `job` (its worker is gone).
async fn expire_lease(app: &TestApp, job: &str) {
    sqlx::query("UPDATE jobs SET lease_expires_at = 0 WHERE id = $1")
        .bind(job)
        .execute(app.platform.db().pool())
        .await
        .expect("expire the lease");
}
crate::on_both_backends!(an_import_that_does_not_finish_ends_failed_without_frames);

async fn a_detector_stored_for_a_canceled_training_is_swept(backend: Backend) {
    let app = without_workers(backend).await;
    let token = app.user().await;
    let (pid, _) = studio::project(&app, &token).await;
    // Two queued jobs stand for trainings (the sweep goes by the job's status): one is
    // canceled after "its" detector was stored, the other keeps running.
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let upload = app
            .upload_ok(&token, crate::helpers::images::png(20, 20))
            .await;
        let job = json_of(
            app.create_job(&token, "thumbnail", json!({"upload_id": upload["id"]}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        jobs.push(job["id"].as_str().expect("id").to_owned());
    }
    for (n, job) in jobs.iter().enumerate() {
        sqlx::query(
            "INSERT INTO studio_detectors (project_id, name, job_id, labels, metrics, history, \
             head, train_frames, eval_frames, training_ms, created_at) \
             VALUES ($1, $2, $3, '[]', '{}', '[]', '{}', 1, 1, 1, 0)",
        )
        .bind(pid)
        .bind(format!("Detector {n}"))
        .bind(job)
        .execute(app.platform.db().pool())
        .await
        .expect("detector row");
    }
    cancel(&app, &token, &jobs[0]).await;
    assert_eq!(
        maintenance::sweep_canceled_outputs(&app.platform)
            .await
            .expect("sweep"),
        1
    );
    let left: Vec<String> = sqlx::query("SELECT job_id FROM studio_detectors ORDER BY id")
        .fetch_all(app.platform.db().pool())
        .await
        .expect("detectors")
        .iter()
        .map(|row| sqlx::Row::get(row, "job_id"))
        .collect();
    assert_eq!(left, vec![jobs[1].clone()]);
    app.stop().await;
}
crate::on_both_backends!(a_detector_stored_for_a_canceled_training_is_swept);
