//! `atelier studio …` against the real server: the built binary creates a project with labels,
//! imports a synthetic H.264 clip and an image (waiting for their import jobs), imports the
//! clip's CVAT-for-video annotations, exports them (one media and the whole project) and imports
//! an export back, trains a detector showing its epochs, and downloads it; every result is
//! checked through the API. Sign-in with a user and password, and a server error (an unknown
//! label) shown as its message with a non-zero exit, are checked too. On both backends: the
//! embedded default and PostgreSQL + S3.

use std::{io::Read, path::Path, process::Stdio};

use atelier_detector::{formats::cvat_video, synth};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::process::Command;

use crate::helpers::{Backend, TestApp, binary, random_suffix, spawn_app};
use crate::studio::{clip, json_of, mp4, png};

/// What one run of the binary gave.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The JSON lines printed on stdout.
    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("JSON line: {l}")))
            .collect()
    }

    /// The one JSON line printed on stdout.
    fn json(&self) -> Value {
        let lines = self.lines();
        assert_eq!(lines.len(), 1, "stdout: {}", self.stdout);
        lines.into_iter().next().expect("one line")
    }
}

/// Runs `atelier studio <args>` against `app` with `env` set (ATELIER_TOKEN among them), to
/// its end; stdin and stderr are not terminals, so progress comes as plain lines.
async fn studio(app: &TestApp, env: &[(&str, &str)], args: &[&str]) -> Run {
    let output = Command::new(binary())
        .arg("studio")
        .args(args)
        .env("ATELIER_SERVER", &app.base)
        .env_remove("ATELIER_TOKEN")
        .env_remove("ATELIER_USER")
        .env("ATELIER_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run atelier studio");
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `studio` that must succeed.
async fn studio_ok(app: &TestApp, token: &str, args: &[&str]) -> Run {
    let run = studio(app, &[("ATELIER_TOKEN", token)], args).await;
    assert!(
        run.ok,
        "atelier studio {args:?} failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    run
}

fn zip_names(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("read zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    (0..archive.len())
        .map(|i| {
            archive
                .by_index(i)
                .expect("entry")
                .name()
                .expect("name")
                .into_owned()
        })
        .collect()
}

fn zip_entry(path: &Path, name: &str) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("read zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut entry = archive.by_name(name).expect("entry");
    let mut out = Vec::new();
    entry.read_to_end(&mut out).expect("read entry");
    out
}

/// Every frame's boxes as the server shows them: (label id, box) sorted.
async fn shown_boxes(
    app: &TestApp,
    token: &str,
    mid: i64,
    frames: u32,
) -> Vec<Vec<(i64, Vec<f64>)>> {
    let mut all = Vec::new();
    for n in 0..frames {
        let shown = json_of(
            app.get(
                token,
                &format!("/api/v1/studio/media/{mid}/annotations?frame={n}"),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        let mut boxes: Vec<(i64, Vec<f64>)> = shown["boxes"]
            .as_array()
            .expect("boxes")
            .iter()
            .map(|b| {
                let coords = b["box"]
                    .as_array()
                    .expect("box")
                    .iter()
                    .map(|v| v.as_f64().expect("coordinate"))
                    .collect();
                (b["label_id"].as_i64().expect("label"), coords)
            })
            .collect();
        boxes.sort_by(|a, b| a.0.cmp(&b.0).then(a.1[0].total_cmp(&b.1[0])));
        all.push(boxes);
    }
    all
}

async fn a_detector_project_is_scripted_end_to_end_with_the_studio_cli(backend: Backend) {
    let app = spawn_app(backend).await;
    let username = format!("cli_{}", random_suffix());
    let (token, _) = app.register(&username, "Parent").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str| dir.path().join(name);
    let path = |name: &str| file(name).to_str().expect("utf8").to_owned();

    // Not signed in: a clear refusal, nothing done.
    let refused = studio(&app, &[], &["projects"]).await;
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("not signed in"),
        "{}",
        refused.stderr
    );

    // Signed in with a user and password, `login` prints a working token.
    let login = studio(
        &app,
        &[
            ("ATELIER_USER", username.as_str()),
            ("ATELIER_PASSWORD", "correct horse"),
        ],
        &["login"],
    )
    .await;
    assert!(login.ok, "{}", login.stderr);
    let cli_token = login.stdout.trim().to_owned();
    assert_eq!(
        app.get(&cli_token, "/api/v1/me").await.status(),
        StatusCode::OK
    );

    // A project with the synthetic classes as labels.
    let labels = synth::CLASSES.join(",");
    let created = studio_ok(&app, &cli_token, &["create", "shapes", "--labels", &labels])
        .await
        .json();
    let pid = created["id"].as_i64().expect("project id");
    let project = json_of(
        app.get(&token, &format!("/api/v1/studio/projects/{pid}"))
            .await,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = project["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| l["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, synth::CLASSES);
    let listed = studio_ok(&app, &token, &["projects"]).await.lines();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], pid);

    // A clip and an image, each uploaded and waited for.
    let video = clip(11);
    std::fs::write(file("clip.mp4"), mp4(&video)).expect("write clip");
    std::fs::write(file("still.png"), png(&video.frames[0])).expect("write image");
    let imported = studio_ok(
        &app,
        &token,
        &[
            "import",
            &pid.to_string(),
            &path("clip.mp4"),
            &path("still.png"),
        ],
    )
    .await;
    let media = imported.lines();
    assert_eq!(media.len(), 2, "{}", imported.stdout);
    assert_eq!(media[0]["status"], "ready");
    assert_eq!(media[0]["frame_count"], 24);
    assert_eq!(media[1]["status"], "ready");
    assert_eq!(media[1]["frame_count"], 1);
    assert!(
        imported.stderr.contains("import clip.mp4: 100%")
            || imported.stderr.contains("import clip.mp4: media"),
        "plain progress lines on a pipe: {}",
        imported.stderr
    );
    let listed = json_of(
        app.get(&token, &format!("/api/v1/studio/projects/{pid}/media"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["media"].as_array().expect("media").len(), 2);
    let mid = media[0]["id"].as_i64().expect("media id");
    let mid_arg = mid.to_string();

    // The clip's annotations as CVAT for video: the server shows the analytic boxes.
    std::fs::write(file("clip.xml"), cvat_video::write(&video.annotations)).expect("xml");
    let version = studio_ok(
        &app,
        &token,
        &[
            "import",
            &pid.to_string(),
            "--annotations",
            &path("clip.xml"),
            "--media",
            &mid_arg,
            "--format",
            "cvat-video",
        ],
    )
    .await
    .json();
    assert!(
        version["version"].as_u64().expect("version") >= 1,
        "{version}"
    );
    let label_id = |name: &str| {
        project["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .find(|l| l["name"] == name)
            .and_then(|l| l["id"].as_i64())
            .expect("label id")
    };
    let before = shown_boxes(&app, &token, mid, 24).await;
    for (n, shown) in before.iter().enumerate() {
        let mut want: Vec<(i64, Vec<f64>)> = video
            .annotations
            .boxes_on(n as u32)
            .into_iter()
            .map(|b| {
                let bb = b.bbox;
                (label_id(&b.label), vec![bb.xtl, bb.ytl, bb.xbr, bb.ybr])
            })
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0).then(a.1[0].total_cmp(&b.1[0])));
        assert_eq!(shown.len(), want.len(), "frame {n}: {shown:?} vs {want:?}");
        for (s, w) in shown.iter().zip(&want) {
            assert_eq!(s.0, w.0, "frame {n}");
            assert!(
                s.1.iter().zip(&w.1).all(|(a, b)| (a - b).abs() < 0.01),
                "frame {n}: {s:?} vs {w:?}"
            );
        }
    }

    // An unknown label: the server's message and code, a non-zero exit, nothing changed.
    let mut bad = video.annotations.clone();
    bad.labels
        .push(atelier_detector::Label::new("unicorn", "#ff00ff"));
    for track in bad.tracks.values_mut() {
        track.label = "unicorn".to_owned();
    }
    std::fs::write(file("bad.xml"), cvat_video::write(&bad)).expect("xml");
    let refused = studio(
        &app,
        &[("ATELIER_TOKEN", token.as_str())],
        &[
            "import",
            &pid.to_string(),
            "--annotations",
            &path("bad.xml"),
            "--media",
            &mid_arg,
            "--format",
            "cvat_video",
        ],
    )
    .await;
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("unknown_label") && refused.stderr.contains("HTTP 422"),
        "{}",
        refused.stderr
    );
    assert_eq!(shown_boxes(&app, &token, mid, 24).await, before);

    // Exports: the project (a folder per media) and one media, which imports back unchanged.
    let out = studio_ok(
        &app,
        &token,
        &[
            "export",
            &pid.to_string(),
            "--format",
            "cvat-video",
            "-o",
            &path("project.zip"),
        ],
    )
    .await
    .json();
    assert!(out["bytes"].as_u64().expect("bytes") > 0);
    assert!(
        zip_names(&file("project.zip")).contains(&format!("media-{mid}/annotations.xml")),
        "{:?}",
        zip_names(&file("project.zip"))
    );
    studio_ok(
        &app,
        &token,
        &[
            "export",
            "--media",
            &mid_arg,
            "--format",
            "yolo",
            "-o",
            &path("media.zip"),
        ],
    )
    .await;
    assert!(
        zip_names(&file("media.zip"))
            .iter()
            .any(|n| n.ends_with(".txt"))
    );
    studio_ok(
        &app,
        &token,
        &[
            "export",
            "--media",
            &mid_arg,
            "--format",
            "coco",
            "-o",
            &path("coco.zip"),
        ],
    )
    .await;
    let coco: Value = serde_json::from_slice(&zip_entry(
        &file("coco.zip"),
        "annotations/instances_default.json",
    ))
    .expect("coco json");
    assert!(
        !coco["annotations"]
            .as_array()
            .expect("annotations")
            .is_empty()
    );
    studio_ok(
        &app,
        &token,
        &[
            "import",
            &pid.to_string(),
            "--annotations",
            &path("coco.zip"),
            "--media",
            &mid_arg,
            "--format",
            "coco",
        ],
    )
    .await;
    let after = shown_boxes(&app, &token, mid, 24).await;
    // COCO carries boxes per image, not tracks: the same boxes on every frame.
    assert_eq!(after.len(), before.len());
    for (n, (a, b)) in after.iter().zip(&before).enumerate() {
        assert_eq!(a.len(), b.len(), "frame {n}");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.0, y.0, "frame {n}");
            assert!(
                x.1.iter().zip(&y.1).all(|(p, q)| (p - q).abs() < 0.01),
                "frame {n}: {x:?} vs {y:?}"
            );
        }
    }

    // A short training: its epochs shown on stderr, the detector printed and stored.
    let trained = studio_ok(
        &app,
        &token,
        &["train", &pid.to_string(), "--epochs", "2", "--budget", "30"],
    )
    .await;
    let result = trained.json();
    let did = result["detector_id"].as_i64().expect("detector id");
    assert!(
        trained.stderr.contains("epoch 1/2") && trained.stderr.contains("epoch 2/2"),
        "{}",
        trained.stderr
    );
    let detector = json_of(
        app.get(&token, &format!("/api/v1/studio/detectors/{did}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(detector["project_id"], pid);
    assert_eq!(detector["history"].as_array().expect("history").len(), 2);
    let detectors = studio_ok(&app, &token, &["detectors", &pid.to_string()])
        .await
        .lines();
    assert_eq!(detectors.len(), 1);
    assert_eq!(detectors[0]["id"], did);

    // The download: one ONNX model with its labels.
    studio_ok(
        &app,
        &token,
        &["download", &did.to_string(), "-o", &path("detector.zip")],
    )
    .await;
    let names = zip_names(&file("detector.zip"));
    for want in ["detector.onnx", "labels.json", "metrics.json", "README.md"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }

    // Another user's project is not there for the CLI either.
    let stranger = app.user().await;
    let hidden = studio(
        &app,
        &[("ATELIER_TOKEN", stranger.as_str())],
        &["train", &pid.to_string()],
    )
    .await;
    assert!(!hidden.ok);
    assert!(hidden.stderr.contains("HTTP 404"), "{}", hidden.stderr);
    app.stop().await;
}

crate::on_both_backends!(a_detector_project_is_scripted_end_to_end_with_the_studio_cli);
