//! A PostgreSQL outage under running API nodes and a worker (PostgreSQL reached through the
//! cluster harness's proxy, which drops every connection and refuses new ones, as a restarting
//! server does): requests are answered 503 `database-unavailable` within the connection wait
//! (not hung, not 500), `/readyz` says the database is down, and once it is back the nodes and
//! the worker reconnect by themselves — queries, job claims and LISTEN alike — and every job
//! queued before the outage completes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    cluster::{Cluster, KEY, SECRET, create_job, register, upload},
    helpers::{error_code, images, wait_job_at},
    presence_nodes::wait_for_fanout,
    realtime::{Ws, data},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_answered_503_and_nothing_is_lost() {
    let Some(cluster) = Cluster::start(false).await else {
        return;
    };
    let a = cluster.serve(&[]).await;
    let b = cluster.serve(&[]).await;
    // One job at a time, each held 1.5 s after its claim: the first runs into the outage, the
    // second waits in the queue through it.
    let mut worker = cluster.worker(&[
        "--workers",
        "1",
        "--job-lease-ms",
        "20000",
        "--job-stall-ms",
        "1500",
    ]);
    let client = reqwest::Client::new();
    let (token, user_id) = register(&client, &a, "outage").await;
    let source = upload(&client, &a, &token, images::png(120, 80)).await;
    let mut job_ids = Vec::new();
    for side in [40, 30] {
        let response = create_job(
            &client,
            &a,
            &token,
            "thumbnail",
            json!({"upload_id": source, "max_side": side}),
        )
        .await;
        assert_eq!(response.status(), 201);
        let job: Value = response.json().await.expect("json");
        job_ids.push(job["id"].as_str().expect("id").to_owned());
    }
    wait_job_at(
        &client,
        &a.base(),
        &token,
        &job_ids[0],
        Duration::from_secs(30),
        |job| job["status"] == "running",
    )
    .await;

    // The database goes away.
    cluster.proxy.cut();
    let cut = Instant::now();
    for node in [&a, &b] {
        let asked = Instant::now();
        let response = client
            .get(node.url(&format!("/api/v1/jobs/{}", job_ids[1])))
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET job");
        let waited = asked.elapsed();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(error_code(response).await, "database-unavailable");
        assert!(
            waited < Duration::from_secs(4),
            "answered within the connection wait (1 s here), not hung: {waited:?}"
        );
    }
    let refused = create_job(
        &client,
        &b,
        &token,
        "thumbnail",
        json!({"upload_id": source, "max_side": 20}),
    )
    .await;
    assert_eq!(refused.status(), 503);
    assert_eq!(error_code(refused).await, "database-unavailable");
    let ready = client.get(a.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["status"], "not-ready");
    assert_eq!(ready["database"]["ok"], false);
    let health = client.get(a.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200, "the process itself is alive");

    // Down for 3 s: the first job's stall ends meanwhile, so its worker meets the outage.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(cut.elapsed())).await;
    cluster.proxy.restore().await;
    let restored = Instant::now();
    loop {
        let response = client
            .get(a.url(&format!("/api/v1/jobs/{}", job_ids[1])))
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET job");
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503, "only 503 while reconnecting");
        assert!(
            restored.elapsed() < Duration::from_secs(15),
            "node A answers again once the database is back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "node A answered again {:?} after the database came back",
        restored.elapsed()
    );
    let ready = client.get(b.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);

    // Nothing was lost: both jobs queued before the outage succeed (the one cut off mid-run
    // at most once more).
    for (id, side) in job_ids.iter().zip([40, 30]) {
        let done = wait_job_at(
            &client,
            &a.base(),
            &token,
            id,
            Duration::from_secs(60),
            |job| job["status"] == "succeeded" || job["status"] == "failed",
        )
        .await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["output"]["width"], side);
        eprintln!("job {id} succeeded after {} attempt(s)", done["attempts"]);
    }
    let second: Value = client
        .get(a.url(&format!("/api/v1/jobs/{}", job_ids[1])))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET job")
        .json()
        .await
        .expect("json");
    assert_eq!(second["attempts"], 1, "the queued job ran once");

    // LISTEN connections came back: node B's events reach node A, and so does the worker's
    // progress on a job queued now.
    wait_for_fanout(&b, &a).await;
    let mut socket = Ws::connect_port(a.port, KEY).await;
    socket
        .subscribe_signed(KEY, SECRET, &format!("private-user-{user_id}"), None)
        .await;
    let response = create_job(
        &client,
        &b,
        &token,
        "thumbnail",
        json!({"upload_id": source, "max_side": 20}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let third: Value = response.json().await.expect("json");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = socket
            .next_event_within("job-progress", left)
            .await
            .expect("the worker's progress reaches node A after the outage");
        let progress = data(&frame);
        if progress["job_id"] == third["id"] && progress["status"] == "succeeded" {
            break;
        }
    }
    worker.kill9().await;
}
