//! Job leases across nodes whose clocks disagree (finding 12 of issue 15): lease times come
//! from the database, so a node whose clock runs an hour ahead does not take a live job from
//! its worker, and a node whose clock runs behind does not hand out leases that are already
//! over.

use std::sync::Arc;

use atelier_platform::{
    Platform,
    jobs::{StoredOutput, queue},
    pause::PausePoint,
    uploads,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, Backend, Sandbox, TestApp, images, spawn_on, status_is};

const HOUR_MS: i64 = 3_600_000;

async fn queued_thumbnail(app: &TestApp, token: &str) -> String {
    let upload = app.upload_ok(token, images::png(20, 20)).await;
    let created = app
        .create_job(token, "thumbnail", json!({"upload_id": upload["id"]}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let job: Value = created.json().await.expect("json");
    job["id"].as_str().expect("id").to_owned()
}

async fn node_with_skew(sandbox: &Sandbox, skew_ms: i64) -> Platform {
    let mut config = sandbox.platform_config();
    config.jobs.clock_skew_ms = skew_ms;
    Platform::open(config).await.expect("open node")
}

async fn skewed_clocks_neither_steal_nor_shorten_leases(backend: Backend) {
    let sandbox = Arc::new(Sandbox::new(backend).await);
    let app = spawn_on(
        sandbox.clone(),
        AppOptions {
            workers: 0,
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let config = app.platform.config().jobs;

    // A worker on a node with a right clock holds a job.
    let first = queued_thumbnail(&app, &token).await;
    let held = queue::claim(app.platform.db(), &config, "node-right", &["thumbnail"])
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(held.id, first);
    // A node an hour ahead looks for expired leases: this one is not.
    let ahead = node_with_skew(&sandbox, HOUR_MS).await;
    assert_eq!(
        queue::reap_expired(ahead.db()).await.expect("reap"),
        0,
        "a fast clock took a live lease"
    );

    // A worker on a node an hour behind claims a job; the right node must not see it expired.
    let second = queued_thumbnail(&app, &token).await;
    let behind = node_with_skew(&sandbox, -HOUR_MS).await;
    let claimed = queue::claim(behind.db(), &config, "node-behind", &["thumbnail"])
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(claimed.id, second);
    assert_eq!(
        queue::reap_expired(app.platform.db()).await.expect("reap"),
        0,
        "a slow clock handed out a lease that was already over"
    );
    let heartbeat = queue::heartbeat(
        behind.db(),
        &config,
        &second,
        "node-behind",
        10,
        Some("resize"),
    )
    .await
    .expect("heartbeat");
    assert_eq!(heartbeat, queue::Heartbeat::Extended);
    assert_eq!(queue::reap_expired(ahead.db()).await.expect("reap"), 0);
    ahead.db().close().await;
    behind.db().close().await;
    app.stop().await;
}

/// Stalls the app's one worker before it stores the output of a new job, lets the lease run
/// out and hands the job to `other-worker`; the stalled attempt is resumed by the caller.
async fn stall_and_take_over(
    app: &TestApp,
    token: &str,
) -> (String, atelier_platform::pause::Paused) {
    let mut paused = app.platform.pause_points().arm(PausePoint::JobBeforeStore);
    let id = queued_thumbnail(app, token).await;
    paused.reached().await;
    let db = app.platform.db();
    sqlx::query("UPDATE jobs SET lease_expires_at = 0 WHERE id = $1")
        .bind(&id)
        .execute(db.pool())
        .await
        .expect("expire the lease");
    assert_eq!(queue::reap_expired(db).await.expect("reap"), 1);
    let config = app.platform.config().jobs;
    let taken = queue::claim(db, &config, "other-worker", &["thumbnail"])
        .await
        .expect("claim")
        .expect("the job");
    assert_eq!(taken.id, id);
    // The other worker's lease outlasts the test: nobody takes the job from it.
    sqlx::query("UPDATE jobs SET lease_expires_at = lease_expires_at + 3600000 WHERE id = $1")
        .bind(&id)
        .execute(db.pool())
        .await
        .expect("a long lease");
    (id, paused)
}

/// The worker is idle again (its stalled attempt has ended): a job queued now succeeds.
async fn worker_free_again(app: &TestApp, token: &str) {
    let next = queued_thumbnail(app, token).await;
    app.wait_job(
        token,
        &next,
        std::time::Duration::from_secs(20),
        status_is("succeeded"),
    )
    .await;
}

/// Found by the cluster run of issue #18: an attempt whose lease had gone to another worker (it
/// stalled past its lease, or the database was away) checked only that the job was still
/// "running" before it stored an output, so it stored a stray output under the other attempt's
/// lease; and once the other attempt had finished, it took the job for canceled and deleted the
/// finished job's outputs. It now checks its own lease and takes back only what it stored.
async fn an_attempt_that_lost_its_lease_leaves_other_attempts_outputs_alone(backend: Backend) {
    let sandbox = Arc::new(Sandbox::new(backend).await);
    let app = spawn_on(sandbox, AppOptions::default()).await;
    let (token, user) = app.register("stalled", "Parent").await;
    let owner = user["id"].as_i64().expect("id");
    let db = app.platform.db();

    // The other attempt finishes before the stalled one goes on.
    let (finished, paused) = stall_and_take_over(&app, &token).await;
    let output = uploads::store_output(&app.platform, owner, &finished, images::png(8, 8), None)
        .await
        .expect("store");
    let record = json!({"outputs": {"thumbnail": StoredOutput::of(&output, Some((8, 8)))}});
    assert!(
        queue::complete(db, &finished, "other-worker", &record)
            .await
            .expect("complete")
    );
    paused.resume();
    worker_free_again(&app, &token).await;
    let kept = uploads::list_job_outputs(&app.platform, owner, &finished)
        .await
        .expect("outputs");
    assert_eq!(
        kept.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        [output.id.as_str()],
        "the finished attempt's output is kept, and nothing else was stored"
    );
    let job = queue::get_any(db, &finished).await.expect("job");
    assert_eq!(job.output, Some(record));

    // The other attempt is still running: the stalled one stores nothing beside it.
    let (running, paused) = stall_and_take_over(&app, &token).await;
    paused.resume();
    worker_free_again(&app, &token).await;
    assert!(
        uploads::list_job_outputs(&app.platform, owner, &running)
            .await
            .expect("outputs")
            .is_empty(),
        "no stray output under another attempt's lease"
    );
    let job = queue::get_any(db, &running).await.expect("job");
    assert_eq!(job.status, atelier_platform::jobs::JobStatus::Running);
    app.stop().await;
}

crate::on_both_backends!(
    skewed_clocks_neither_steal_nor_shorten_leases,
    an_attempt_that_lost_its_lease_leaves_other_attempts_outputs_alone
);
