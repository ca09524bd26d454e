//! Graceful shutdown of the real binaries, signalled as a process manager would: on SIGTERM an
//! `atelier serve` stops accepting, finishes the request in flight, closes its WebSockets with
//! Pusher's 4200 (reconnect) and hands the job still running after the grace period back to
//! the queue, where the next worker takes it at once instead of after the lease; on SIGINT an
//! `atelier worker` lets a job that ends within the grace period finish.

use std::{
    process::ExitStatus,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::process::Child;
use tokio_tungstenite::{connect_async, tungstenite::Message};

use crate::helpers::{
    AppOptions, Backend, Sandbox, free_port, images, register_at, spawn_on, wait_job_at,
    wait_until_up,
};
use crate::processes::start;

fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name}");
}

async fn exit_within(child: &mut Child, limit: Duration) -> (ExitStatus, Duration) {
    let started = Instant::now();
    let status = tokio::time::timeout(limit, child.wait())
        .await
        .unwrap_or_else(|_| panic!("the process did not exit within {limit:?}"))
        .expect("wait");
    (status, started.elapsed())
}

/// A registration whose JSON body arrives in three pieces over about 0.8 s: a request that is
/// still in flight when the signal arrives.
async fn slow_register(base: String) -> StatusCode {
    let body = json!({"username": "latecomer", "password": "correct horse", "gender": "Other", "type": "Parent"})
        .to_string()
        .into_bytes();
    let third = body.len() / 3;
    let pieces: Vec<Vec<u8>> = vec![
        body[..third].to_vec(),
        body[third..2 * third].to_vec(),
        body[2 * third..].to_vec(),
    ];
    let stream =
        futures::stream::iter(pieces.into_iter().enumerate()).then(|(i, piece)| async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            Ok::<_, std::io::Error>(piece)
        });
    Client::new()
        .post(format!("{base}/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("the in-flight request is answered")
        .status()
}

async fn thumbnail_job(client: &Client, base: &str, token: &str) -> String {
    let part = reqwest::multipart::Part::bytes(images::png(120, 80)).file_name("a.png");
    let upload: Value = client
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let job: Value = client
        .post(format!("{base}/api/v1/jobs"))
        .bearer_auth(token)
        .json(&json!({"kind": "thumbnail", "params": {"upload_id": upload["id"], "max_side": 30}}))
        .send()
        .await
        .expect("job")
        .json()
        .await
        .expect("json");
    job["id"].as_str().expect("job id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_closes_websockets_with_4200_and_hands_the_running_job_back() {
    let sandbox = Arc::new(Sandbox::new(Backend::Embedded).await);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    // The worker holds its job for a minute (fault injection): it is still running when the
    // 2-second grace period ends. The lease is the default 30 s.
    let mut server = start(
        &sandbox,
        &["serve"],
        &[
            "--bind",
            &bind,
            "--workers",
            "1",
            "--shutdown-grace-secs",
            "2",
            "--job-stall-ms",
            "60000",
            "--runtime",
            "rten",
        ],
    );
    wait_until_up(&base).await;
    let client = Client::new();
    let (token, _) = register_at(&client, &base, "stayer").await;
    let job = thumbnail_job(&client, &base, &token).await;
    wait_job_at(&client, &base, &token, &job, Duration::from_secs(20), |j| {
        j["status"] == "running"
    })
    .await;
    let (mut socket, _) = connect_async(format!(
        "ws://127.0.0.1:{port}/app/atelier-key?protocol=7&client=js&version=8.6.0"
    ))
    .await
    .expect("websocket");
    let established = socket.next().await.expect("frame").expect("frame");
    assert!(
        established
            .to_text()
            .expect("text")
            .contains("connection_established")
    );

    let in_flight = tokio::spawn(slow_register(base.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&server, "TERM");
    let signalled = Instant::now();

    // The WebSocket is closed at once with 4200: pusher-js reconnects (to another node).
    let code = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(frame) = socket.next().await {
            if let Ok(Message::Close(frame)) = frame {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("closed within 2 s");
    assert_eq!(code, Some(4200), "Pusher's reconnect-immediately code");
    let closed_after = signalled.elapsed();

    // No new connections are accepted.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        Client::new()
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err(),
        "the listener is closed"
    );

    // The request in flight when the signal came is answered in full.
    assert_eq!(in_flight.await.expect("task"), StatusCode::CREATED);
    let (status, _) = exit_within(&mut server, Duration::from_secs(15)).await;
    assert!(status.success(), "a clean exit: {status}");
    let exited_after = signalled.elapsed();

    // The job came back to the queue (attempt given back) and the next worker runs it now,
    // long before its 30-second lease would have expired.
    let app = spawn_on(
        sandbox.clone(),
        AppOptions {
            workers: 1,
            ..AppOptions::default()
        },
    )
    .await;
    let taken = Instant::now();
    let done = wait_job_at(
        &app.client,
        &app.base,
        &token,
        &job,
        Duration::from_secs(15),
        |j| j["status"] == "succeeded",
    )
    .await;
    assert_eq!(
        done["attempts"], 1,
        "the handed-back attempt does not count"
    );
    eprintln!(
        "SIGTERM: WebSocket closed with 4200 after {:.0} ms, process exited after {:.2} s \
         (grace 2 s), handed-back job done {:.2} s after a new worker started",
        closed_after.as_secs_f64() * 1000.0,
        exited_after.as_secs_f64(),
        taken.elapsed().as_secs_f64()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_lets_a_worker_finish_a_job_that_ends_within_the_grace_period() {
    let sandbox = Arc::new(Sandbox::new(Backend::Embedded).await);
    let api = spawn_on(
        sandbox.clone(),
        AppOptions {
            workers: 0,
            ..AppOptions::default()
        },
    )
    .await;
    let token = api.user().await;
    let job = thumbnail_job(&api.client, &api.base, &token).await;
    let mut worker = start(
        &sandbox,
        &["worker"],
        &[
            "--workers",
            "1",
            "--job-stall-ms",
            "1500",
            "--shutdown-grace-secs",
            "10",
            "--runtime",
            "rten",
        ],
    );
    api.wait_job(&token, &job, Duration::from_secs(20), |j| {
        j["status"] == "running"
    })
    .await;
    signal(&worker, "INT");
    let (status, took) = exit_within(&mut worker, Duration::from_secs(10)).await;
    assert!(status.success(), "a clean exit: {status}");
    assert!(
        took < Duration::from_secs(8),
        "it did not wait out the grace period: {took:?}"
    );
    let done = api
        .wait_job(&token, &job, Duration::from_secs(1), |j| {
            j["status"] == "succeeded"
        })
        .await;
    assert_eq!(done["attempts"], 1);
    api.stop().await;
}
