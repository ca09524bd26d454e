//! Detection on a fresh machine: with no OpenCV cascade folder (the system folder setting
//! pointed at an empty one), the Haar cascades come from the pinned `opencv-python-headless`
//! wheel, served here by a local mirror (the test never reaches the internet for it), land in
//! the model cache, give exactly the boxes the system cascades give, and are used offline after.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use atelier_infer::{Manifest, download::PinnedWheel};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::detect::{astronaut_png, detect};
use crate::helpers::{AppOptions, Backend, TestApp, error_code, spawn_app, spawn_app_with};

/// The pinned wheel on this machine: from `ATELIER_TEST_WHEELS` when it holds it, else fetched
/// once (checksum verified) into the tests' shared folder, as the model tests fetch theirs.
fn pinned_wheel() -> PathBuf {
    let pack = Manifest::builtin()
        .expect("manifest")
        .cascades
        .expect("a cascade pack");
    let dir = std::env::var("ATELIER_TEST_WHEELS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("atelier-wheels"));
    let wheel = PinnedWheel {
        spec: pack.requirement,
        file: pack.file,
        url: pack.url,
        sha256: pack.sha256,
        pip_args: Vec::new(),
    };
    atelier_infer::download::ensure_wheel(&wheel, &dir).expect("the pinned wheel")
}

/// A one-file HTTP server on 127.0.0.1 (any path gets the file) and its request count.
async fn mirror_serving(file: PathBuf) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/wheels", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let file = file.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = tokio::fs::read(&file).await.expect("read wheel");
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (base, hits)
}

async fn app_with_models(
    cascades_dir: PathBuf,
    cache_dir: PathBuf,
    mirror: Option<String>,
    allow_download: bool,
) -> TestApp {
    spawn_app_with(
        Backend::Embedded,
        AppOptions {
            tweak: Box::new(move |config| {
                config.models.cascades_dir = Some(cascades_dir);
                config.models.cache_dir = cache_dir;
                config.models.package_mirror = mirror;
                config.models.allow_download = allow_download;
            }),
            ..AppOptions::default()
        },
    )
    .await
}

async fn faces(app: &TestApp) -> (StatusCode, Value) {
    let response = detect(
        app,
        "?cascade=frontalface_default&min_neighbors=5",
        astronaut_png(),
        None,
    )
    .await;
    let status = response.status();
    (status, response.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_works_without_opencv_data_from_the_pinned_wheel_then_offline() {
    let wheel = pinned_wheel();
    let (mirror, hits) = mirror_serving(wheel).await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let empty = scratch.path().join("no-system-cascades");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let cache = scratch.path().join("models");

    // Before: the system's cascades (Debian's opencv-data, which `.ci/run` installs).
    let system = spawn_app(Backend::Embedded).await;
    let (status, expected) = faces(&system).await;
    assert_eq!(status, StatusCode::OK, "{expected}");
    system.stop().await;

    // Offline with an empty cache and no system folder: 503 model-unavailable, as before.
    let offline = app_with_models(empty.clone(), cache.clone(), None, false).await;
    let response = detect(
        &offline,
        "?cascade=frontalface_default",
        astronaut_png(),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(response).await, "model-unavailable");
    offline.stop().await;

    // A fresh machine: the pack is fetched from the mirror on first use, checked, cached.
    let fresh = app_with_models(empty.clone(), cache.clone(), Some(mirror.clone()), true).await;
    let (status, found) = faces(&fresh).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found["boxes"], expected["boxes"],
        "the same boxes as before"
    );
    let listed: Vec<Value> = fresh
        .client
        .get(fresh.url("/api/v1/detect/cascades"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        listed.len(),
        17,
        "every Haar cascade of the wheel: {listed:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one download");
    fresh.stop().await;
    assert!(
        !cache
            .join("downloads")
            .read_dir()
            .expect("downloads")
            .any(|_| true),
        "the wheel is not kept"
    );

    // Offline afterwards: no mirror, no downloads, the same boxes.
    let later = app_with_models(empty, cache, None, false).await;
    let (status, again) = faces(&later).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["boxes"], expected["boxes"]);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "nothing fetched offline");
    later.stop().await;
}
