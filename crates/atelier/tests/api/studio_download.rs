//! A trained studio detector downloaded as a zip (`GET /api/v1/studio/detectors/{did}/download`)
//! finds what `POST /api/v1/detect?detector=` finds: its `detector.onnx` run by onnxruntime from
//! Python (the zip's own `decode.py`) and by `atelier detect IMAGE --detector FILE.zip` gives
//! the same boxes (within a pixel of the API's rounded ones), labels and scores (within 1e-3) on
//! frames at their size; on a frame the model's input scales down, the CLI (same resize code)
//! agrees as closely and Python (Pillow's bilinear resize) within 0.05 and 3 px. Strangers get
//! 404.
//!
//! The Python half needs python3 with onnxruntime, numpy and Pillow; without them it is skipped
//! with a message, unless `ATELIER_REQUIRE_PARITY=1` (CI), where the test fails.

use std::path::Path;
use std::process::Command;

use reqwest::{StatusCode, header, multipart};
use serde_json::Value;

use crate::helpers::{Backend, binary, spawn_app, test_models_config};
use crate::studio::{json_of, png, trained_project};

/// The lowest score asked for everywhere.
const MIN_SCORE: f64 = 0.2;

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import onnxruntime, numpy, PIL"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("ATELIER_REQUIRE_PARITY").as_deref() == Ok("1") {
            panic!(
                "ATELIER_REQUIRE_PARITY=1 but python3 with onnxruntime, numpy and Pillow is missing \
                 (pip install onnxruntime numpy pillow)"
            );
        }
        eprintln!(
            "SKIPPED onnxruntime parity of the downloaded detector: python3 + onnxruntime missing \
             (set ATELIER_REQUIRE_PARITY=1 to make this fatal)"
        );
    }
    ok
}

/// Runs the zip's decode.py (unpacked in `folder`) on `images`; one box list per image.
fn python_boxes(folder: &Path, images: &[std::path::PathBuf]) -> Vec<Vec<Value>> {
    let script = "import json, sys\n\
                  sys.path.insert(0, sys.argv[1])\n\
                  from PIL import Image\n\
                  from decode import Detector\n\
                  d = Detector(sys.argv[1])\n\
                  print(json.dumps([d.detect(Image.open(p), float(sys.argv[2])) for p in sys.argv[3:]]))\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(folder)
        .arg(MIN_SCORE.to_string())
        .args(images)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "decode.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from decode.py")
}

/// The largest score and coordinate differences between matched boxes; panics unless every
/// box of `api` has one in `other` with the same label, a score within `score_tol` and
/// coordinates within `px_tol` pixels, and the counts agree.
fn agreement(
    api: &[Value],
    other: &[Value],
    what: &str,
    score_tol: f64,
    px_tol: f64,
) -> (f64, f64) {
    assert_eq!(api.len(), other.len(), "{what}: API {api:?}\nvs {other:?}");
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let (mut max_score, mut max_px) = (0.0f64, 0.0f64);
    for a in api {
        let best = other
            .iter()
            .filter(|o| o["label_id"] == a["label_id"] && o["label"] == a["label"])
            .map(|o| {
                let ds = (num(a, "score") - num(o, "score")).abs();
                let dp = ["x", "y", "width", "height"]
                    .iter()
                    .map(|k| (num(a, k) - num(o, k)).abs())
                    .fold(0.0, f64::max);
                (ds, dp)
            })
            .filter(|(ds, dp)| *ds <= score_tol && *dp <= px_tol)
            .min_by(|x, y| x.1.total_cmp(&y.1));
        let Some((ds, dp)) = best else {
            panic!("{what}: API box {a} has no match in {other:?}");
        };
        max_score = max_score.max(ds);
        max_px = max_px.max(dp);
    }
    (max_score, max_px)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloaded_detector_finds_what_the_api_finds_in_onnxruntime_and_the_cli() {
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let (stranger, _) = app
        .register(
            &format!("stranger_{}", crate::helpers::random_suffix()),
            "Parent",
        )
        .await;
    let trained = trained_project(&app, &token).await;
    let (did, labels, video) = (trained.did, trained.labels, trained.video);

    // The download: a zip for the owner, 404 for anyone else and for no detector.
    let path = format!("/api/v1/studio/detectors/{did}/download");
    for (who, path) in [
        (&stranger, path.clone()),
        (
            &token,
            "/api/v1/studio/detectors/987654321/download".to_owned(),
        ),
    ] {
        assert_eq!(
            app.get(who, &path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert!(
        doc["paths"]["/api/v1/studio/detectors/{did}/download"]["get"].is_object(),
        "the OpenAPI document has the download"
    );
    let response = app.get(&token, &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/zip");
    let zip_bytes = response.bytes().await.expect("zip").to_vec();
    let dir = tempfile::tempdir().expect("tempdir");
    let zip_path = dir.path().join("detector.zip");
    std::fs::write(&zip_path, &zip_bytes).expect("write zip");
    let folder = dir.path().join("unpacked");
    zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .expect("a zip")
        .extract(&folder)
        .expect("unzip");
    for name in [
        "detector.onnx",
        "labels.json",
        "metrics.json",
        "README.md",
        "decode.py",
    ] {
        assert!(folder.join(name).is_file(), "{name} in the zip");
    }
    let map: Value =
        serde_json::from_slice(&std::fs::read(folder.join("labels.json")).expect("labels"))
            .expect("labels.json");
    let ids: Vec<i64> = map["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| l["label_id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, labels, "class order is label order");
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(folder.join("metrics.json")).expect("metrics"))
            .expect("metrics.json");
    let detector = json_of(
        app.get(&token, &format!("/api/v1/studio/detectors/{did}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(metrics, detector["metrics"]);
    let readme = std::fs::read_to_string(folder.join("README.md")).expect("README");
    assert!(readme.contains("`[1, 3, 256, 320]`"), "{readme}");

    // Frames through the API, onnxruntime (decode.py) and the CLI.
    let mut images = Vec::new();
    let mut api = Vec::new();
    for frame in [2usize, 8, 31, 50] {
        let bytes = png(&video.frames[frame]);
        let image_path = dir.path().join(format!("frame{frame}.png"));
        std::fs::write(&image_path, &bytes).expect("write frame");
        let form =
            multipart::Form::new().part("file", multipart::Part::bytes(bytes).file_name("f.png"));
        let found = json_of(
            app.client
                .post(app.url(&format!(
                    "/api/v1/detect?detector={did}&min_score={MIN_SCORE}"
                )))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await
                .expect("detect"),
            StatusCode::OK,
        )
        .await;
        api.push(found["boxes"].as_array().expect("boxes").clone());
        images.push(image_path);
    }
    // One more: frame 8 at 400 × 300, which the model's input scales down to 320 × 240.
    let big = image::imageops::resize(
        &video.frames[8],
        400,
        300,
        image::imageops::FilterType::CatmullRom,
    );
    let bytes = png(&big);
    let image_path = dir.path().join("frame8-400x300.png");
    std::fs::write(&image_path, &bytes).expect("write frame");
    let form =
        multipart::Form::new().part("file", multipart::Part::bytes(bytes).file_name("f.png"));
    let found = json_of(
        app.client
            .post(app.url(&format!(
                "/api/v1/detect?detector={did}&min_score={MIN_SCORE}"
            )))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .expect("detect"),
        StatusCode::OK,
    )
    .await;
    api.push(found["boxes"].as_array().expect("boxes").clone());
    images.push(image_path);
    assert!(
        api.iter().map(Vec::len).sum::<usize>() >= 4,
        "the detector finds objects: {api:?}"
    );

    let models_dir = test_models_config().cache_dir;
    let (mut cli_score, mut cli_px) = (0.0f64, 0.0f64);
    for (image, want) in images.iter().zip(&api) {
        let output = Command::new(binary())
            .arg("detect")
            .arg(image)
            .arg("--detector")
            .arg(&zip_path)
            .args(["--min-score", &MIN_SCORE.to_string()])
            .arg("--models-dir")
            .arg(&models_dir)
            .output()
            .expect("run atelier detect");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(
            printed["width"],
            image::image_dimensions(image).expect("size").0
        );
        let (s, p) = agreement(
            want,
            printed["boxes"].as_array().expect("boxes"),
            "atelier detect --detector",
            1e-3,
            1.0,
        );
        cli_score = cli_score.max(s);
        cli_px = cli_px.max(p);
    }
    eprintln!("CLI vs API: max score difference {cli_score:e}, max box difference {cli_px} px");

    if python_ready() {
        let from_python = python_boxes(&folder, &images);
        let (mut score, mut px) = (0.0f64, 0.0f64);
        let last = images.len() - 1;
        for (got, want) in from_python[..last].iter().zip(&api) {
            let (s, p) = agreement(want, got, "onnxruntime + decode.py", 1e-3, 1.0);
            score = score.max(s);
            px = px.max(p);
        }
        eprintln!(
            "onnxruntime vs API ({last} frames at their size, {} boxes): max score difference \
             {score:e}, max box difference {px} px",
            api[..last].iter().map(Vec::len).sum::<usize>()
        );
        // The scaled frame: Pillow's bilinear resize is not the image crate's, so only close.
        let (s, p) = agreement(
            &api[last],
            &from_python[last],
            "onnxruntime + decode.py on a resized frame",
            0.05,
            3.0,
        );
        eprintln!(
            "onnxruntime vs API on a frame resized by Pillow vs the image crate ({} boxes): max \
             score difference {s:e}, max box difference {p} px",
            api[last].len()
        );
    }
    app.stop().await;
}

#[test]
fn the_cli_names_what_is_wrong_with_a_file_that_is_not_a_detector_download() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image_path = dir.path().join("frame.png");
    std::fs::write(&image_path, png(&image::RgbImage::new(32, 24))).expect("write");
    let not_zip = dir.path().join("not.zip");
    std::fs::write(&not_zip, b"not a zip").expect("write");
    let no_labels = dir.path().join("no-labels.zip");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("detector.onnx", zip::write::SimpleFileOptions::default())
        .expect("entry");
    std::io::Write::write_all(&mut zip, b"x").expect("write");
    let bytes = zip.finish().expect("zip").into_inner();
    std::fs::write(&no_labels, bytes).expect("write");
    for (file, message) in [
        (&not_zip, "is not a zip"),
        (&no_labels, "has no labels.json"),
    ] {
        let output = Command::new(binary())
            .arg("detect")
            .arg(&image_path)
            .arg("--detector")
            .arg(file)
            .output()
            .expect("run atelier detect");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{file:?} refused");
        assert!(stderr.contains(message), "{file:?}: {stderr}");
    }
}
