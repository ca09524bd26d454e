//! Backup and restore of the embedded deployment with the real binary: `atelier backup` while
//! a running `atelier serve` takes uploads, deletes and strokes, then `atelier restore` into a
//! fresh folder and a server on it, where every row acknowledged before the backup began and
//! every file the restored rows point to is there and downloadable.

use std::{
    collections::{BTreeMap, HashSet},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode, multipart};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::process::{Child, Command};

use crate::helpers::{
    Backend, Sandbox, binary, free_port, images, register_at, test_models_config, wait_until_up,
};

/// What the load acknowledged so far.
#[derive(Debug, Default, Clone)]
struct Acked {
    /// Upload id → sha256, for uploads answered 201.
    uploads: BTreeMap<String, String>,
    /// Uploads whose delete was answered 204.
    deleted: HashSet<String>,
    /// Stroke sequence numbers answered 201.
    strokes: Vec<i64>,
}

fn serve(data_dir: &std::path::Path, port: u16) -> Child {
    // The model cache is the tests' shared one: a server here must not fetch into its data folder.
    let models = test_models_config().cache_dir;
    Command::new(binary())
        .args([
            "serve",
            "--workers",
            "0",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--data-dir", data_dir.to_str().expect("utf8")])
        .args([
            "--runtime",
            "rten",
            "--models-dir",
            models.to_str().expect("utf8"),
        ])
        .env("ATELIER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start atelier serve")
}

/// Runs `atelier <args> --data-dir DATA_DIR` to the end: (success, stdout, stderr).
async fn run_cli(args: &[&str], data_dir: &std::path::Path) -> (bool, String, String) {
    let output = Command::new(binary())
        .args(args)
        .args(["--data-dir", data_dir.to_str().expect("utf8")])
        .env("ATELIER_LOG", "warn")
        .output()
        .await
        .expect("run atelier");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A distinct PNG per `n` (so each upload is a new blob).
fn distinct_png(n: u32) -> Vec<u8> {
    images::png(40 + n % 97, 30 + n / 97 % 89)
}

async fn setup(client: &Client, base: &str) -> (String, String) {
    let (token, _) = register_at(client, base, "keeper").await;
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let family = post("/api/v1/families", json!({"name": "Keepers"}))
        .await
        .expect("family");
    assert!(family.status().is_success());
    let drawing: Value = post("/api/v1/drawings", json!({"width": 200, "height": 100}))
        .await
        .expect("drawing")
        .json()
        .await
        .expect("json");
    let id = match &drawing["id"] {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    };
    let drawing = format!("/api/v1/drawings/{id}");
    let started = post(&format!("{drawing}/start"), json!({}))
        .await
        .expect("start");
    assert_eq!(started.status(), StatusCode::OK);
    (token, drawing)
}

/// Uploads, deletes every third upload, and draws strokes until `stop`.
fn spawn_load(
    base: String,
    token: String,
    drawing: String,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = Client::new();
    let uploader = {
        let (client, base, token, acked, stop) = (
            client.clone(),
            base.clone(),
            token.clone(),
            acked.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) && n < 400 {
                let bytes = distinct_png(n);
                let sha256 = sha256_hex(&bytes);
                let form = multipart::Form::new()
                    .part("file", multipart::Part::bytes(bytes).file_name("a.png"));
                let response = client
                    .post(format!("{base}/api/v1/uploads"))
                    .bearer_auth(&token)
                    .multipart(form)
                    .send()
                    .await
                    .expect("upload");
                assert_eq!(response.status(), StatusCode::CREATED);
                let id = response.json::<Value>().await.expect("json")["id"]
                    .as_str()
                    .expect("id")
                    .to_owned();
                acked
                    .lock()
                    .expect("lock")
                    .uploads
                    .insert(id.clone(), sha256);
                if n % 3 == 2 {
                    let deleted = client
                        .delete(format!("{base}/api/v1/uploads/{id}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("delete");
                    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
                    acked.lock().expect("lock").deleted.insert(id);
                }
                n += 1;
            }
        })
    };
    let stroker = tokio::spawn(async move {
        let mut n = 0u32;
        while !stop.load(Ordering::SeqCst) && n < 2000 {
            let y = 5 + (n % 90);
            let stroke = json!({"client_id": format!("k-{n}"), "points": [[10, y], [30, y]], "color": "#336699", "width": 2.0});
            let response = client
                .post(format!("{base}{drawing}/strokes"))
                .bearer_auth(&token)
                .json(&stroke)
                .send()
                .await
                .expect("stroke");
            assert_eq!(response.status(), StatusCode::CREATED);
            let seq = response.json::<Value>().await.expect("json")["seq"]
                .as_i64()
                .expect("seq");
            acked.lock().expect("lock").strokes.push(seq);
            n += 1;
        }
    });
    vec![uploader, stroker]
}

/// Every stroke sequence number of the drawing, paging through the log.
async fn stroke_seqs(client: &Client, base: &str, token: &str, drawing: &str) -> Vec<i64> {
    let mut seqs = Vec::new();
    loop {
        let since = seqs.last().copied().unwrap_or(0);
        let page: Value = client
            .get(format!("{base}{drawing}/strokes?since={since}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("strokes")
            .json()
            .await
            .expect("json");
        let entries = page["entries"].as_array().expect("entries");
        if entries.is_empty() {
            return seqs;
        }
        seqs.extend(entries.iter().map(|e| e["seq"].as_i64().expect("seq")));
    }
}

/// Downloads the upload `id` through its signed link and returns the content's sha256.
async fn download_sha256(client: &Client, base: &str, token: &str, id: &str) -> String {
    let view: Value = client
        .get(format!("{base}/api/v1/uploads/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let link = view["url"].as_str().expect("url");
    let response = client
        .get(format!("{base}{link}"))
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), StatusCode::OK, "download {id}");
    sha256_hex(&response.bytes().await.expect("bytes"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_restores_every_acknowledged_row_and_file() {
    let sandbox = Sandbox::new(Backend::Embedded).await;
    let live_dir = sandbox.dir.path().join("live");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(&live_dir, port);
    wait_until_up(&base).await;
    let client = Client::new();
    let (token, drawing) = setup(&client, &base).await;

    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = spawn_load(
        base.clone(),
        token.clone(),
        drawing.clone(),
        acked.clone(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The backup point: everything acknowledged before `atelier backup` starts must survive.
    let before = acked.lock().expect("lock").clone();
    let dest = sandbox.dir.path().join("backup");
    let started = Instant::now();
    let (ok, stdout, stderr) = run_cli(&["backup", dest.to_str().expect("utf8")], &live_dir).await;
    let backup_secs = started.elapsed().as_secs_f64();
    assert!(ok, "backup failed: {stderr}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.expect("load task");
    }
    let after = acked.lock().expect("lock").clone();
    let manifest: Value = serde_json::from_str(&stdout).expect("manifest JSON");
    assert!(
        after.strokes.len() > before.strokes.len() && after.uploads.len() > before.uploads.len(),
        "writes went on during the backup"
    );

    // Restoring into the live, non-empty data folder is refused.
    let (ok, _, stderr) = run_cli(&["restore", dest.to_str().expect("utf8")], &live_dir).await;
    assert!(!ok, "restore into a non-empty folder must fail");
    assert!(stderr.contains("not empty"), "clear message: {stderr}");
    server.start_kill().expect("kill");
    let _ = server.wait().await;

    let restored_dir = sandbox.dir.path().join("restored");
    let (ok, stdout, stderr) =
        run_cli(&["restore", dest.to_str().expect("utf8")], &restored_dir).await;
    assert!(ok, "restore failed: {stderr}");
    let restored: Value = serde_json::from_str(&stdout).expect("restore JSON");
    assert_eq!(
        restored["rows"], manifest["rows"],
        "the restored database holds exactly the snapshot's rows"
    );

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(&restored_dir, port);
    wait_until_up(&base).await;

    // Every stroke acknowledged before the backup point is in the restored log, without gaps.
    let seqs = stroke_seqs(&client, &base, &token, &drawing).await;
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "no gaps in the restored stroke log"
    );
    for seq in &before.strokes {
        assert!(
            seqs.contains(seq),
            "stroke {seq} acknowledged before the backup"
        );
    }

    // Every upload acknowledged before the backup point (and never deleted) is there, and every
    // upload the restored database lists downloads with the bytes of its hash.
    let listed: Vec<Value> = client
        .get(format!("{base}/api/v1/uploads?limit=500"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let listed_ids: HashSet<&str> = listed.iter().filter_map(|u| u["id"].as_str()).collect();
    for (id, sha256) in &before.uploads {
        if !after.deleted.contains(id) {
            assert!(
                listed_ids.contains(id.as_str()),
                "upload {id} acknowledged before the backup"
            );
            assert_eq!(&download_sha256(&client, &base, &token, id).await, sha256);
        }
    }
    for upload in &listed {
        let id = upload["id"].as_str().expect("id");
        let sha256 = upload["sha256"].as_str().expect("sha256");
        assert_eq!(download_sha256(&client, &base, &token, id).await, sha256);
    }
    server.start_kill().expect("kill");
    let _ = server.wait().await;

    eprintln!(
        "backup under load: before the backup {} uploads acked ({} deleted by then), {} strokes; \
         when the load stopped {} uploads, {} strokes; backup took {backup_secs:.2} s with {} \
         objects ({} bytes), rows {}; restored {} uploads, {} strokes",
        before.uploads.len(),
        before.deleted.len(),
        before.strokes.len(),
        after.uploads.len(),
        after.strokes.len(),
        manifest["objects"],
        manifest["object_bytes"],
        manifest["rows"],
        listed.len(),
        seqs.len(),
    );
}
