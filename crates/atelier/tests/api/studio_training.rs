//! Detector studio trainings over HTTP: one queued or running training per project, held by
//! the database even when requests race (a request stopped between its check and its insert
//! while another one is queued, and a burst of concurrent requests).

use atelier_platform::pause::PausePoint;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, Backend, TestApp, error_code, spawn_app, spawn_on};
use crate::studio::{clip, import_annotated, json_of, project};

/// A project with one annotated clip; returns the app (without workers, so trainings stay
/// queued), a token and the project id.
async fn annotated_project(backend: Backend) -> (TestApp, String, i64) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (pid, labels) = project(&app, &token).await;
    let video = clip(11);
    import_annotated(&app, &token, pid, &video, &labels).await;
    let sandbox = app.sandbox.clone();
    app.stop().await;
    let idle = spawn_on(
        sandbox,
        AppOptions {
            workers: 0,
            ..AppOptions::default()
        },
    )
    .await;
    (idle, token, pid)
}

async fn post_train(app: &TestApp, token: &str, pid: i64) -> reqwest::Response {
    app.post_json(
        token,
        &format!("/api/v1/studio/projects/{pid}/train"),
        json!({"max_epochs": 1, "time_budget_secs": 5}),
    )
    .await
}

async fn active_trainings(app: &TestApp, token: &str) -> Vec<Value> {
    let jobs = json_of(app.get(token, "/api/v1/jobs").await, StatusCode::OK).await;
    jobs.as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["kind"] == "train" && j["status"] == "queued")
        .cloned()
        .collect()
}

async fn racing_trainings_of_one_project_queue_exactly_one(backend: Backend) {
    let (app, token, pid) = annotated_project(backend).await;

    // A request stopped after its check, while another is queued: its insert is refused.
    let mut paused = app
        .platform
        .pause_points()
        .arm(PausePoint::TrainCheckedBeforeInsert);
    let first = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/v1/studio/projects/{pid}/train")),
            token.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"max_epochs": 1, "time_budget_secs": 5}))
                .send()
                .await
                .expect("train")
        })
    };
    paused.reached().await;
    let second = json_of(post_train(&app, &token, pid).await, StatusCode::ACCEPTED).await;
    paused.resume();
    let first = first.await.expect("request task");
    assert_eq!(first.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(first).await, "training_running");
    let active = active_trainings(&app, &token).await;
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0]["id"], second["job_id"]);

    // Canceled, it frees the project; then of a burst of requests one wins, the rest are 409.
    let job_id = second["job_id"].as_str().expect("job id");
    json_of(
        app.post_json(&token, &format!("/api/v1/jobs/{job_id}/cancel"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let burst: Vec<_> = (0..6).map(|_| post_train(&app, &token, pid)).collect();
    let answers = futures::future::join_all(burst).await;
    let mut statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            StatusCode::ACCEPTED,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT
        ]
    );
    for answer in answers {
        if answer.status() == StatusCode::CONFLICT {
            assert_eq!(error_code(answer).await, "training_running");
        }
    }
    assert_eq!(active_trainings(&app, &token).await.len(), 1);
    app.stop().await;
}

crate::on_both_backends!(racing_trainings_of_one_project_queue_exactly_one);
