//! Jobs: the full life cycle of a real `thumbnail` job, the active-job cap, cancel, structured
//! failure records, bad requests.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    AppOptions, Backend, error_code, images, spawn_app, spawn_app_with, status_is,
};

const WAIT: Duration = Duration::from_secs(30);

async fn a_thumbnail_job_runs_from_queued_to_succeeded(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let source = app.upload_ok(&token, images::png(640, 480)).await;
    let created = app
        .create_job(
            &token,
            "thumbnail",
            json!({"upload_id": source["id"], "max_side": 128, "format": "jpeg"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let job: Value = created.json().await.expect("json");
    assert!(["queued", "running", "succeeded"].contains(&job["status"].as_str().expect("status")));
    let id = job["id"].as_str().expect("id").to_owned();

    let done = app
        .wait_job(&token, &id, WAIT, status_is("succeeded"))
        .await;
    assert_eq!(done["progress"], 100);
    assert_eq!(done["attempts"], 1);
    assert!(done["error"].is_null());
    assert!(done["finished_at"].as_i64() >= done["started_at"].as_i64());
    let output = &done["output"];
    assert_eq!(
        (output["width"].as_i64(), output["height"].as_i64()),
        (Some(128), Some(96))
    );
    assert_eq!(output["kind"], "jpeg");

    // The result is an upload of the owner, downloadable, and a real 128×96 JPEG.
    let result: Value = app
        .get(
            &token,
            &format!(
                "/api/v1/uploads/{}",
                output["upload_id"].as_str().expect("upload id")
            ),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(result["job_id"], id.as_str());
    let url = result["url"].as_str().expect("url");
    let absolute = if url.starts_with('/') {
        app.url(url)
    } else {
        url.to_owned()
    };
    let bytes = app
        .client
        .get(absolute)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    let decoded = image::load_from_memory(&bytes).expect("decodes");
    assert_eq!((decoded.width(), decoded.height()), (128, 96));

    let listed: Vec<Value> = app
        .get(&token, "/api/v1/jobs?status=succeeded")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    app.stop().await;
}

async fn the_active_job_cap_refuses_with_429_and_cancel_frees_a_slot(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            workers: 0,
            tweak: Box::new(|config| config.jobs.max_active_per_account = 2),
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let other = app.user().await;
    let source = app.upload_ok(&token, images::png(32, 32)).await;
    let params = json!({"upload_id": source["id"]});
    let first: Value = app
        .create_job(&token, "thumbnail", params.clone())
        .await
        .json()
        .await
        .expect("json");
    let second = app.create_job(&token, "thumbnail", params.clone()).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let third = app.create_job(&token, "thumbnail", params.clone()).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = third.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too-many-active-jobs");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("2 active jobs"),
        "{body}"
    );

    // Another account is not affected, and cannot see or cancel the first one's jobs.
    let first_id = first["id"].as_str().expect("id");
    assert_eq!(
        app.get(&other, &format!("/api/v1/jobs/{first_id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let foreign_cancel = app
        .post_json(
            &other,
            &format!("/api/v1/jobs/{first_id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(foreign_cancel.status(), StatusCode::NOT_FOUND);

    let canceled = app
        .post_json(
            &token,
            &format!("/api/v1/jobs/{first_id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(canceled.status(), StatusCode::OK);
    assert_eq!(
        canceled.json::<Value>().await.expect("json")["status"],
        "canceled"
    );
    let again = app
        .post_json(
            &token,
            &format!("/api/v1/jobs/{first_id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.create_job(&token, "thumbnail", params).await.status(),
        StatusCode::CREATED,
        "slot freed"
    );
    app.stop().await;
}

async fn a_failed_job_keeps_its_error_record_and_frees_its_slot(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            workers: 0,
            tweak: Box::new(|config| config.jobs.max_active_per_account = 1),
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let source = app.upload_ok(&token, images::png(32, 32)).await;
    let source_id = source["id"].as_str().expect("id");
    let job: Value = app
        .create_job(&token, "thumbnail", json!({"upload_id": source_id}))
        .await
        .json()
        .await
        .expect("json");
    // The input disappears before any worker runs the job.
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/uploads/{source_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let worker = crate::helpers::spawn_on(app.sandbox.clone(), AppOptions::default()).await;
    let id = job["id"].as_str().expect("id");
    let failed = app.wait_job(&token, id, WAIT, status_is("failed")).await;
    assert_eq!(failed["error"]["code"], "input-missing");
    assert_eq!(failed["error"]["retryable"], false);
    assert_eq!(failed["error"]["attempt"], 1);
    assert!(
        failed["error"]["message"]
            .as_str()
            .expect("message")
            .contains("upload")
    );
    let another = app.upload_ok(&token, images::png(16, 16)).await;
    let next = app
        .create_job(&token, "thumbnail", json!({"upload_id": another["id"]}))
        .await;
    assert_eq!(
        next.status(),
        StatusCode::CREATED,
        "the failed job no longer counts against the cap"
    );
    worker.stop().await;
    app.stop().await;
}

async fn concurrent_creations_never_exceed_the_cap(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            workers: 0,
            tweak: Box::new(|config| config.jobs.max_active_per_account = 3),
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let source = app.upload_ok(&token, images::png(8, 8)).await;
    let params = json!({"upload_id": source["id"]});
    let attempts = (0..12).map(|_| app.create_job(&token, "thumbnail", params.clone()));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((created, refused), (3, 9), "{statuses:?}");
    let queued: Vec<Value> = app
        .get(&token, "/api/v1/jobs?status=queued")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(queued.len(), 3);
    app.stop().await;
}

crate::on_both_backends!(
    concurrent_creations_never_exceed_the_cap,
    a_thumbnail_job_runs_from_queued_to_succeeded,
    the_active_job_cap_refuses_with_429_and_cancel_frees_a_slot,
    a_failed_job_keeps_its_error_record_and_frees_its_slot,
);

#[tokio::test]
async fn bad_job_requests_are_refused_before_queueing() {
    let app = spawn_app_with(
        Backend::Embedded,
        AppOptions {
            workers: 0,
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let other = app.user().await;
    let source = app.upload_ok(&token, images::png(8, 8)).await;

    let unknown = app.create_job(&token, "teleport", json!({})).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = unknown.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("thumbnail"),
        "lists known kinds: {body}"
    );

    let bad_side = app
        .create_job(
            &token,
            "thumbnail",
            json!({"upload_id": source["id"], "max_side": 0}),
        )
        .await;
    assert_eq!(bad_side.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let extra_field = app
        .create_job(
            &token,
            "thumbnail",
            json!({"upload_id": source["id"], "colour": "red"}),
        )
        .await;
    assert_eq!(extra_field.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let foreign_input = app
        .create_job(&other, "thumbnail", json!({"upload_id": source["id"]}))
        .await;
    assert_eq!(
        foreign_input.status(),
        StatusCode::NOT_FOUND,
        "someone else's upload is not an input"
    );
    let bad_status = app.get(&token, "/api/v1/jobs?status=sleeping").await;
    assert_eq!(bad_status.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(bad_status).await, "bad-query");
    let listed: Vec<Value> = app
        .get(&token, "/api/v1/jobs")
        .await
        .json()
        .await
        .expect("json");
    assert!(listed.is_empty(), "nothing was queued");
    app.stop().await;
}

#[tokio::test]
async fn a_retryable_failure_backs_off_and_is_retried_until_attempts_run_out() {
    use atelier_platform::jobs::{JobStatus, queue};
    let app = spawn_app_with(
        Backend::Embedded,
        AppOptions {
            workers: 0,
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let source = app.upload_ok(&token, images::png(8, 8)).await;
    let job: Value = app
        .create_job(&token, "thumbnail", json!({"upload_id": source["id"]}))
        .await
        .json()
        .await
        .expect("json");
    let db = app.platform.db();
    let config = app.platform.config().jobs;
    let id = job["id"].as_str().expect("id");

    let claimed = queue::claim(db, &config, "w1", &["thumbnail"])
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(claimed.attempts, 1);
    let status = queue::fail(
        db,
        &config,
        &claimed,
        "w1",
        "infrastructure",
        "store timed out",
        true,
    )
    .await
    .expect("fail");
    assert_eq!(status, Some(JobStatus::Queued));
    let queued = queue::get_any(db, id).await.expect("job");
    assert!(
        queued.run_at >= queued.updated_at + 100,
        "retry is scheduled after a 100 ms backoff"
    );
    assert_eq!(
        queued.error.as_ref().map(|e| e.code.as_str()),
        Some("infrastructure")
    );
    assert!(
        queue::claim(db, &config, "w1", &["thumbnail"])
            .await
            .expect("claim")
            .is_none(),
        "not due yet"
    );

    for attempt in 2..=3 {
        tokio::time::sleep(config.backoff(attempt) + Duration::from_millis(50)).await;
        let claimed = queue::claim(db, &config, "w2", &["thumbnail"])
            .await
            .expect("claim")
            .expect("due again");
        assert_eq!(claimed.attempts, attempt as i64);
        let status = queue::fail(
            db,
            &config,
            &claimed,
            "w2",
            "infrastructure",
            "store timed out",
            true,
        )
        .await
        .expect("fail");
        let expected = if attempt < 3 {
            JobStatus::Queued
        } else {
            JobStatus::Failed
        };
        assert_eq!(status, Some(expected));
    }
    let failed = app
        .get(&token, &format!("/api/v1/jobs/{id}"))
        .await
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["error"]["retryable"], false);
    app.stop().await;
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_cannot_overwrite_the_new_run() {
    use atelier_platform::jobs::queue::{self, Heartbeat};
    let app = spawn_app_with(
        Backend::Embedded,
        AppOptions {
            workers: 0,
            tweak: Box::new(|config| config.jobs.lease = Duration::from_millis(200)),
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let source = app.upload_ok(&token, images::png(8, 8)).await;
    app.create_job(&token, "thumbnail", json!({"upload_id": source["id"]}))
        .await;
    let db = app.platform.db();
    let config = app.platform.config().jobs;
    let first = queue::claim(db, &config, "slow", &["thumbnail"])
        .await
        .expect("claim")
        .expect("job");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queue::reap_expired(db).await.expect("reap"), 1);
    let second = queue::claim(db, &config, "fast", &["thumbnail"])
        .await
        .expect("claim")
        .expect("requeued");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
    assert_eq!(
        queue::heartbeat(db, &config, &first.id, "slow", 50, None)
            .await
            .expect("beat"),
        Heartbeat::Lost
    );
    assert!(
        !queue::complete(db, &first.id, "slow", &json!({"stale": true}))
            .await
            .expect("complete")
    );
    assert!(
        queue::complete(db, &first.id, "fast", &json!({"fresh": true}))
            .await
            .expect("complete")
    );
    let done = queue::get_any(db, &first.id).await.expect("job");
    assert_eq!(done.output, Some(json!({"fresh": true})));
    app.stop().await;
}
