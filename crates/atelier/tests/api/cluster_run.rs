//! The short cluster run (the CI variant of issue #18's cluster test): PostgreSQL + S3, two
//! `atelier serve --workers 0` API nodes and two `atelier worker` processes (the topology of
//! `cluster.rs`), a few dozen thumbnail and animate jobs submitted through both nodes, and
//! `kill -9` of one worker and of one API node mid-way, each restarted after a moment. At the
//! end, exactly: every job succeeded, no request was answered 5xx (requests to the killed node
//! fail to connect, as a load balancer would see, and are sent to the other node), and every
//! output a job recorded exists in the store.

use std::time::{Duration, Instant};

use atelier_platform::storage::{Storage, StorageLocation};
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    animate::drawing,
    cluster::{Cluster, Node, register, upload},
    helpers::images,
};

/// Jobs in the run: thumbnails and animations, alternating between the nodes and two accounts.
const THUMBNAILS: usize = 24;
const ANIMATIONS: usize = 12;

/// Outcome of a request through the "load balancer": the node that answered and the status.
#[derive(Default)]
struct Tally {
    requests: usize,
    server_errors: Vec<String>,
    refused_connections: usize,
}

/// Sends `make(node)` to the first live node starting at `preferred`, as a load balancer would
/// (a refused connection goes to the next node); records 5xx answers.
async fn balanced(
    tally: &mut Tally,
    nodes: [&Node; 2],
    preferred: usize,
    what: &str,
    make: impl Fn(&Node) -> reqwest::RequestBuilder,
) -> reqwest::Response {
    for attempt in 0..40 {
        let node = nodes[(preferred + attempt) % 2];
        match make(node).send().await {
            Ok(response) => {
                tally.requests += 1;
                if response.status().is_server_error() {
                    tally.server_errors.push(format!(
                        "{what} on {}: {}",
                        node.port,
                        response.status()
                    ));
                }
                return response;
            }
            Err(err) if err.is_connect() => {
                tally.refused_connections += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("{what}: {err}"),
        }
    }
    panic!("{what}: no node answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_under_kill_9_loses_no_job_and_no_file() {
    let Some(cluster) = Cluster::start(true).await else {
        return;
    };
    let started = Instant::now();
    let a = cluster.serve(&["--max-active-jobs", "100"]).await;
    let mut b = cluster.serve(&["--max-active-jobs", "100"]).await;
    let worker_args = ["--workers", "2", "--job-lease-ms", "2000"];
    let mut doomed_worker = cluster.worker(&worker_args);
    let mut steady_worker = cluster.worker(&worker_args);
    let client = reqwest::Client::new();
    let mut accounts = Vec::new();
    for (node, name) in [(&a, "cluster-a"), (&b, "cluster-b")] {
        let (token, _) = register(&client, node, name).await;
        let picture = upload(&client, node, &token, images::png(160, 120)).await;
        let figure = upload(&client, node, &token, drawing(160, 160, 1)).await;
        accounts.push((token, picture, figure));
    }

    let mut tally = Tally::default();
    let mut jobs: Vec<(String, usize)> = Vec::new();
    let total = THUMBNAILS + ANIMATIONS;
    for n in 0..total {
        if n == total / 3 {
            doomed_worker.kill9().await;
            eprintln!("kill -9 of a worker after {n} jobs submitted");
        }
        if n == total / 2 {
            cluster.restart(&mut doomed_worker).await;
        }
        if n == 2 * total / 3 {
            b.kill9().await;
            eprintln!("kill -9 of API node B after {n} jobs submitted");
        }
        let (token, picture, figure) = &accounts[n % 2];
        let nodes = [&a, &b];
        let response = if n % 3 == 2 {
            balanced(&mut tally, nodes, n % 2, "POST animation", |node| {
                client
                    .post(node.url("/api/v1/animations"))
                    .bearer_auth(token)
                    .multipart(
                        reqwest::multipart::Form::new()
                            .text("upload_id", figure.clone())
                            .text("motion", "wave")
                            .text("fps", "6")
                            .text("duration_s", "0.5")
                            .text("size", "64")
                            .text("formats", "gif"),
                    )
            })
            .await
        } else {
            balanced(&mut tally, nodes, n % 2, "POST job", |node| {
                client
                    .post(node.url("/api/v1/jobs"))
                    .bearer_auth(token)
                    .json(&json!({"kind": "thumbnail", "params": {"upload_id": picture, "max_side": 16 + n}}))
            })
            .await
        };
        assert!(
            response.status().is_success(),
            "job {n}: {}",
            response.status()
        );
        let body: Value = response.json().await.expect("json");
        let job = if body["job"].is_object() {
            &body["job"]
        } else {
            &body
        };
        jobs.push((job["id"].as_str().expect("job id").to_owned(), n % 2));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.restart(&mut b).await;
    eprintln!("node B restarted");

    // Every job succeeds; status is read through both nodes.
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut finished: Vec<Option<Value>> = vec![None; jobs.len()];
    let mut round = 0usize;
    while finished.iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "jobs still unfinished: {:?}",
            jobs.iter()
                .zip(&finished)
                .filter(|(_, f)| f.is_none())
                .map(|(j, _)| &j.0)
                .collect::<Vec<_>>()
        );
        for (index, (id, account)) in jobs.iter().enumerate() {
            if finished[index].is_some() {
                continue;
            }
            round += 1;
            let token = &accounts[*account].0;
            let response = balanced(&mut tally, [&a, &b], round % 2, "GET job", |node| {
                client
                    .get(node.url(&format!("/api/v1/jobs/{id}")))
                    .bearer_auth(token)
            })
            .await;
            assert_eq!(response.status(), 200);
            let job: Value = response.json().await.expect("json");
            if job["status"] == "succeeded" || job["status"] == "failed" {
                finished[index] = Some(job);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failed: Vec<&Value> = finished
        .iter()
        .flatten()
        .filter(|job| job["status"] != "succeeded")
        .collect();
    assert!(failed.is_empty(), "every job succeeded: {failed:?}");
    assert!(
        tally.server_errors.is_empty(),
        "no 5xx: {:?}",
        tally.server_errors
    );
    let retried = finished
        .iter()
        .flatten()
        .filter(|job| job["attempts"].as_i64() > Some(1))
        .count();

    // Every output a job recorded is in the store.
    let pool = sqlx::PgPool::connect(&cluster.sandbox.database_url)
        .await
        .expect("connect");
    let outputs = sqlx::query(
        "SELECT job_id, sha256, kind FROM uploads WHERE job_id IS NOT NULL ORDER BY job_id",
    )
    .fetch_all(&pool)
    .await
    .expect("outputs");
    let storage = Storage::open(&StorageLocation::parse(&cluster.sandbox.storage).expect("spec"))
        .expect("store");
    let mut with_outputs = std::collections::HashSet::new();
    for row in &outputs {
        let job_id: String = row.get("job_id");
        let sha256: String = row.get("sha256");
        assert!(
            storage
                .exists(&Storage::blob_key(&sha256))
                .await
                .expect("exists"),
            "the output {sha256} of {job_id} is in the store"
        );
        with_outputs.insert(job_id);
    }
    for (id, _) in &jobs {
        assert!(with_outputs.contains(id), "job {id} recorded its outputs");
    }
    pool.close().await;
    eprintln!(
        "cluster run: {} jobs ({THUMBNAILS} thumbnail, {ANIMATIONS} animate) succeeded, {retried} \
         after a retry; {} outputs, all stored; {} requests, 0 answered 5xx, {} refused \
         connections to the killed node; faults: kill -9 of a worker and of an API node; {:?}",
        jobs.len(),
        outputs.len(),
        tally.requests,
        tally.refused_connections,
        started.elapsed()
    );
    doomed_worker.kill9().await;
    steady_worker.kill9().await;
}
