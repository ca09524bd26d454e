//! Crash safety with real processes: a worker killed with SIGKILL mid-job, and a server restart
//! with jobs queued. Both run on SQLite and on PostgreSQL + S3.

use std::{process::Stdio, sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::{
    AppOptions, Backend, Sandbox, binary, free_port, images, register_at, spawn_on, wait_job_at,
    wait_until_up,
};

/// Starts the `atelier` binary on `sandbox` with extra arguments.
pub fn start(sandbox: &Sandbox, subcommand: &[&str], extra: &[&str]) -> Child {
    let mut command = Command::new(binary());
    command
        .args(subcommand)
        .args(["--data-dir", sandbox.dir.path().to_str().expect("utf8")])
        .args(["--database-url", &sandbox.database_url])
        .args(["--storage", &sandbox.storage])
        .args(["--job-poll-ms", "50", "--job-backoff-ms", "100"])
        .args(extra)
        .env("ATELIER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command.spawn().expect("start atelier")
}

async fn a_worker_killed_mid_job_is_replaced_and_the_job_completes(backend: Backend) {
    let sandbox = Arc::new(Sandbox::new(backend).await);
    // The API process runs no workers; jobs go to separate `atelier worker` processes.
    let api = spawn_on(
        sandbox.clone(),
        AppOptions {
            workers: 0,
            ..AppOptions::default()
        },
    )
    .await;
    let token = api.user().await;
    let source = api.upload_ok(&token, images::png(300, 200)).await;
    let job: Value = api
        .create_job(
            &token,
            "thumbnail",
            json!({"upload_id": source["id"], "max_side": 50}),
        )
        .await
        .json()
        .await
        .expect("json");
    let id = job["id"].as_str().expect("id").to_owned();

    // Worker A claims the job and is held mid-job (fault injection), then killed with SIGKILL.
    let mut doomed = start(
        &sandbox,
        &["worker"],
        &[
            "--workers",
            "1",
            "--job-lease-ms",
            "1000",
            "--job-stall-ms",
            "60000",
        ],
    );
    let running = api
        .wait_job(&token, &id, Duration::from_secs(30), |j| {
            j["status"] == "running"
        })
        .await;
    assert_eq!(running["attempts"], 1);
    doomed.start_kill().expect("SIGKILL");
    doomed.wait().await.expect("reaped");

    // Worker B picks the job up once A's lease expires.
    let mut rescuer = start(
        &sandbox,
        &["worker"],
        &["--workers", "1", "--job-lease-ms", "1000"],
    );
    let done = api
        .wait_job(&token, &id, Duration::from_secs(60), |j| {
            j["status"] == "succeeded"
        })
        .await;
    assert_eq!(
        done["attempts"], 2,
        "the killed attempt counts, the second succeeds"
    );
    assert_eq!(done["error"], Value::Null);
    assert_eq!(done["output"]["width"], 50);
    rescuer.start_kill().expect("kill");
    let _ = rescuer.wait().await;
    api.stop().await;
}

async fn a_server_restart_loses_no_queued_job(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let mut first = start(&sandbox, &["serve"], &["--bind", &bind, "--workers", "0"]);
    wait_until_up(&base).await;
    let client = reqwest::Client::new();
    let (token, _) = register_at(&client, &base, "restart").await;
    let part = reqwest::multipart::Part::bytes(images::png(100, 100)).file_name("a.png");
    let upload: Value = client
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let mut ids = Vec::new();
    for side in [20, 30, 40] {
        let job: Value = client
            .post(format!("{base}/api/v1/jobs"))
            .bearer_auth(&token)
            .json(&json!({"kind": "thumbnail", "params": {"upload_id": upload["id"], "max_side": side}}))
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("json");
        assert_eq!(job["status"], "queued");
        ids.push(job["id"].as_str().expect("id").to_owned());
    }
    // An abrupt stop: no chance to flush anything.
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("reaped");

    let mut second = start(&sandbox, &["serve"], &["--bind", &bind, "--workers", "2"]);
    wait_until_up(&base).await;
    for (id, side) in ids.iter().zip([20, 30, 40]) {
        let done = wait_job_at(&client, &base, &token, id, Duration::from_secs(60), |j| {
            j["status"] == "succeeded"
        })
        .await;
        assert_eq!(done["output"]["width"], side);
    }
    second.start_kill().expect("kill");
    let _ = second.wait().await;
}

crate::on_both_backends!(
    a_worker_killed_mid_job_is_replaced_and_the_job_completes,
    a_server_restart_loses_no_queued_job
);

#[tokio::test]
async fn every_subcommand_explains_its_flags() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["worker", "--help"],
        vec!["migrate", "--help"],
    ] {
        let output = std::process::Command::new(binary())
            .args(&args)
            .output()
            .expect("run");
        assert!(output.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Usage"), "{args:?}: {text}");
        if args[0] != "--help" {
            assert!(
                text.contains("ATELIER_DATABASE_URL"),
                "{args:?} names its env vars: {text}"
            );
        }
    }
}

/// The scaled-out layout of the README: an API process without workers and a separate `atelier
/// worker` process on PostgreSQL + S3. A pusher-js client on its own `private-user-…` channel
/// hears the worker's progress and the final state of the job it created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_progress_from_a_separate_worker_process_reaches_pusher_js() {
    if !crate::helpers::scaled_available() || !crate::node::available() {
        return;
    }
    let sandbox = Sandbox::new(Backend::Scaled).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let mut api = start(&sandbox, &["serve"], &["--bind", &bind, "--workers", "0"]);
    wait_until_up(&base).await;
    let mut worker = start(&sandbox, &["worker"], &["--workers", "1"]);
    let client = reqwest::Client::new();
    let (token, user_id) = register_at(&client, &base, "progress").await;
    let part = reqwest::multipart::Part::bytes(images::png(400, 300)).file_name("a.png");
    let upload: Value = client
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");

    let lines = crate::node::run(
        "jobEvents",
        &json!({
            "port": port,
            "key": "atelier-key",
            "token": token,
            "userId": user_id,
            "job": {"kind": "thumbnail", "params": {"upload_id": upload["id"], "max_side": 64}},
        }),
    )
    .await;
    let created = &crate::node::events(&lines, "created")[0];
    assert_eq!(created["status"], 201, "{created}");
    let id = created["id"].as_str().expect("job id");
    let progress: Vec<&Value> = crate::node::events(&lines, "job_progress")
        .into_iter()
        .map(|line| &line["data"])
        .collect();
    assert!(
        progress
            .iter()
            .all(|p| p["job_id"] == id && p["kind"] == "thumbnail"),
        "{progress:?}"
    );
    assert!(
        progress.iter().any(|p| p["status"] == "running"),
        "the worker's running state is pushed: {progress:?}"
    );
    let last = progress.last().expect("events");
    assert_eq!(last["status"], "succeeded", "{progress:?}");
    assert_eq!(last["progress"], 100);
    for child in [&mut worker, &mut api] {
        child.start_kill().expect("kill");
        let _ = child.wait().await;
    }
}
