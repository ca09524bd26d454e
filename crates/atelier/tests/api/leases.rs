//! Job leases across nodes whose clocks disagree (finding 12 of issue 15): lease times come
//! from the database, so a node whose clock runs an hour ahead does not take a live job from
//! its worker, and a node whose clock runs behind does not hand out leases that are already
//! over.

use std::sync::Arc;

use atelier_platform::{Platform, jobs::queue};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, Backend, Sandbox, TestApp, images, spawn_on};

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

crate::on_both_backends!(skewed_clocks_neither_steal_nor_shorten_leases);
