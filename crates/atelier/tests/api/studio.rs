//! The detector studio over HTTP, on data the tests make with `atelier_detector::synth`: a
//! project with labels, a synthetic H.264 clip imported into frames, annotation batches with
//! interpolated tracks, undo/redo and stale versions, bad input refused with its code, access
//! by owner and family only, and a training whose detector then finds the objects through
//! `POST /api/v1/detect?detector=`.

use std::time::Duration;

use atelier_detector::{
    BBox,
    synth::{self, SynthParams, SynthVideo},
};
use image::{DynamicImage, ImageFormat};
use reqwest::{StatusCode, multipart};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_code, spawn_app};

pub(crate) const WAIT: Duration = Duration::from_secs(120);

/// A small synthetic clip: 320 × 240, 24 frames, 2 objects, key frames every 4 frames.
pub(crate) fn clip(seed: u64) -> SynthVideo {
    let p = SynthParams {
        objects: 2,
        seed,
        ..SynthParams::default()
    };
    synth::video(&p, 24, 4)
}

/// The clip encoded as an H.264 MP4 at 12 fps.
pub(crate) fn mp4(video: &SynthVideo) -> Vec<u8> {
    synth::encode_video(&video.frames, 12).expect("encode MP4")
}

pub(crate) fn png(image: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image.clone())
        .write_to(&mut out, ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

pub(crate) async fn json_of(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(got, status, "body: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

pub(crate) async fn send(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    let request = match method {
        "PATCH" => app.client.patch(app.url(path)),
        "DELETE" => app.client.delete(app.url(path)),
        _ => app.client.post(app.url(path)),
    };
    request
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request")
}

/// A project with one label per synthetic class; returns (project id, label ids by class).
pub(crate) async fn project(app: &TestApp, token: &str) -> (i64, Vec<i64>) {
    let created = json_of(
        app.post_json(token, "/api/v1/studio/projects", json!({"name": "shapes"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let pid = created["id"].as_i64().expect("id");
    let mut labels = Vec::new();
    for (i, name) in synth::CLASSES.iter().enumerate() {
        let label = json_of(
            app.post_json(
                token,
                &format!("/api/v1/studio/projects/{pid}/labels"),
                json!({"name": name, "color": format!("#00{:02x}00", i * 40)}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        labels.push(label["id"].as_i64().expect("label id"));
    }
    (pid, labels)
}

/// Adds an upload to the project as a media (202); the media JSON, its import queued.
pub(crate) async fn add_media(app: &TestApp, token: &str, pid: i64, upload: &Value) -> Value {
    json_of(
        app.post_json(
            token,
            &format!("/api/v1/studio/projects/{pid}/media"),
            json!({"upload_id": upload["id"]}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await
}

/// Uploads `bytes` and imports it into the project; returns the media JSON once ready.
pub(crate) async fn import(
    app: &TestApp,
    token: &str,
    pid: i64,
    bytes: Vec<u8>,
    name: &str,
) -> Value {
    let upload = app.upload(token, bytes, name).await;
    let upload = json_of(upload, StatusCode::CREATED).await;
    let media = add_media(app, token, pid, &upload).await;
    assert_eq!(media["status"], "importing");
    let job_id = media["job_id"].as_str().expect("job id");
    let job = app
        .wait_job(token, job_id, WAIT, |j| {
            !matches!(j["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    let mid = media["id"].as_i64().expect("media id");
    let media = json_of(
        app.get(token, &format!("/api/v1/studio/media/{mid}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job} {media}");
    media
}

/// The put_track ops that annotate a synthetic clip's tracks (key frames only).
pub(crate) fn track_ops(video: &SynthVideo, labels: &[i64]) -> Vec<Value> {
    let doc = &video.annotations;
    doc.tracks
        .values()
        .map(|t| {
            let class = doc.label_index(&t.label).expect("label");
            let keyframes: Vec<Value> = t
                .keyframes
                .iter()
                .map(|(f, k)| {
                    json!({"frame": f, "box": [k.bbox.xtl, k.bbox.ytl, k.bbox.xbr, k.bbox.ybr],
                           "outside": k.outside, "occluded": k.occluded})
                })
                .collect();
            json!({"op": "put_track", "track": {"label_id": labels[class], "keyframes": keyframes}})
        })
        .collect()
}

/// Imports `video` into the project as `clip.mp4` and puts its tracks (key frames only) in
/// one batch; returns the media id.
pub(crate) async fn import_annotated(
    app: &TestApp,
    token: &str,
    pid: i64,
    video: &SynthVideo,
    labels: &[i64],
) -> i64 {
    let media = import(app, token, pid, mp4(video), "clip.mp4").await;
    let mid = media["id"].as_i64().expect("id");
    json_of(
        app.post_json(
            token,
            &format!("/api/v1/studio/media/{mid}/annotations"),
            json!({"base_version": 0, "ops": track_ops(video, labels)}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    mid
}

/// A project trained on one annotated synthetic clip (60 frames, key frames every 3rd).
pub(crate) struct TrainedProject {
    /// The project.
    pub pid: i64,
    /// Label ids by synthetic class.
    pub labels: Vec<i64>,
    /// The clip (frames and truth).
    pub video: SynthVideo,
    /// The annotated media.
    pub mid: i64,
    /// The detector the training stored.
    pub did: i64,
}

/// Makes a [`TrainedProject`] of `token`'s: imports and annotates a clip, trains (≤ 20 s).
pub(crate) async fn trained_project(app: &TestApp, token: &str) -> TrainedProject {
    let (pid, labels) = project(app, token).await;
    let video = synth::video(
        &SynthParams {
            objects: 2,
            seed: 11,
            ..SynthParams::default()
        },
        60,
        3,
    );
    let mid = import_annotated(app, token, pid, &video, &labels).await;
    let started = json_of(
        app.post_json(
            token,
            &format!("/api/v1/studio/projects/{pid}/train"),
            json!({"max_epochs": 40, "time_budget_secs": 20}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let job = app
        .wait_job(token, started["job_id"].as_str().expect("job"), WAIT, |j| {
            !matches!(j["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let did = job["output"]["detector_id"].as_i64().expect("detector id");
    TrainedProject {
        pid,
        labels,
        video,
        mid,
        did,
    }
}

async fn a_project_with_labels_imports_a_video_and_serves_its_frames(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (pid, labels) = project(&app, &token).await;
    let video = clip(3);
    let media = import(&app, &token, pid, mp4(&video), "clip.mp4").await;
    assert_eq!(media["status"], "ready");
    assert_eq!(media["kind"], "video");
    assert_eq!(media["frame_count"], 24);
    assert_eq!(
        (media["width"].as_i64(), media["height"].as_i64()),
        (Some(320), Some(240))
    );
    assert!(
        (media["fps"].as_f64().expect("fps") - 12.0).abs() < 0.01,
        "{media}"
    );
    let mid = media["id"].as_i64().expect("id");

    let frames = json_of(
        app.get(&token, &format!("/api/v1/studio/media/{mid}/frames"))
            .await,
        StatusCode::OK,
    )
    .await;
    let frames = frames["frames"].as_array().expect("frames");
    assert_eq!(frames.len(), 24);
    assert_eq!(frames[6]["number"], 6);
    assert_eq!(frames[6]["timestamp_ms"], 500);
    assert_eq!(frames[6]["annotated"], false);

    // A frame is a JPEG of the frame's size, close to the source frame; it caches by ETag.
    let response = app
        .get(&token, &format!("/api/v1/studio/media/{mid}/frames/6"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let etag = response.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_owned();
    let jpeg = response.bytes().await.expect("bytes");
    let decoded = image::load_from_memory(&jpeg).expect("jpeg").into_rgb8();
    assert_eq!(decoded.dimensions(), (320, 240));
    let source = &video.frames[6];
    let diff: f64 = decoded
        .as_raw()
        .iter()
        .zip(source.as_raw())
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / source.as_raw().len() as f64;
    assert!(
        diff < 12.0,
        "frame 6 differs from its source by {diff} on average"
    );
    let cached = app
        .client
        .get(app.url(&format!("/api/v1/studio/media/{mid}/frames/6")))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let missing = app
        .get(&token, &format!("/api/v1/studio/media/{mid}/frames/24"))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let thumb = app
        .get(&token, media["thumbnail_url"].as_str().expect("thumbnail"))
        .await;
    assert_eq!(thumb.status(), StatusCode::OK);

    // An image is a one-frame media; the project counts both.
    let image = import(&app, &token, pid, png(&video.frames[0]), "still.png").await;
    assert_eq!(
        (image["kind"].as_str(), image["frame_count"].as_i64()),
        (Some("images"), Some(1))
    );
    let shown = json_of(
        app.get(&token, &format!("/api/v1/studio/projects/{pid}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["media_count"], 2);
    assert_eq!(shown["labels"].as_array().map(Vec::len), Some(4));
    assert_eq!(shown["labels"][0]["id"], labels[0]);
    assert_eq!(shown["training"], Value::Null);
    let list = json_of(
        app.get(&token, "/api/v1/studio/projects").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["projects"][0]["id"], pid);
    let deleted = send(
        &app,
        &token,
        "DELETE",
        &format!("/api/v1/studio/media/{mid}"),
        json!({}),
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app
        .get(&token, &format!("/api/v1/studio/media/{mid}/frames/0"))
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

crate::on_both_backends!(a_project_with_labels_imports_a_video_and_serves_its_frames);

async fn annotation_batches_interpolate_undo_and_refuse_stale_versions_and_bad_boxes(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (pid, labels) = project(&app, &token).await;
    let media = import(&app, &token, pid, mp4(&clip(5)), "clip.mp4").await;
    let mid = media["id"].as_i64().expect("id");
    let path = format!("/api/v1/studio/media/{mid}/annotations");

    let empty = json_of(app.get(&token, &path).await, StatusCode::OK).await;
    assert_eq!(empty["version"], 0);
    // A track with key frames at 0 and 8, and a shape on frame 2.
    let batch = json!({"base_version": 0, "ops": [
        {"op": "put_track", "track": {"id": 1, "label_id": labels[0], "keyframes": [
            {"frame": 0, "box": [10.0, 20.0, 50.0, 60.0]},
            {"frame": 8, "box": [90.0, 20.0, 130.0, 100.0]}]}},
        {"op": "put_shape", "shape": {"id": 2, "frame": 2, "label_id": labels[1], "box": [200.0, 100.0, 240.0, 150.0]}}
    ]});
    let v1 = json_of(app.post_json(&token, &path, batch).await, StatusCode::OK).await;
    assert_eq!(v1["version"], 1);
    let frame4 = json_of(
        app.get(&token, &format!("{path}?frame=4")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(frame4["frame"], 4);
    let boxes = frame4["boxes"].as_array().expect("boxes");
    assert_eq!(boxes.len(), 1);
    assert_eq!(boxes[0]["source"], "track");
    assert_eq!(boxes[0]["keyframe"], false);
    assert_eq!(
        boxes[0]["box"],
        json!([50.0, 20.0, 90.0, 80.0]),
        "halfway between the key frames"
    );
    assert_eq!(boxes[0]["label_id"], labels[0]);
    let frame2 = json_of(
        app.get(&token, &format!("{path}?frame=2")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(frame2["boxes"].as_array().map(Vec::len), Some(2));

    // Editing the interpolated frame makes it a key frame.
    let v2 = json_of(
        app.post_json(
            &token,
            &path,
            json!({"base_version": 1, "ops": [
            {"op": "set_box", "track_id": 1, "frame": 4, "box": [60.0, 30.0, 100.0, 90.0]}]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v2["version"], 2);
    let frame4 = json_of(
        app.get(&token, &format!("{path}?frame=4")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(frame4["boxes"][0]["keyframe"], true);
    assert_eq!(frame4["boxes"][0]["box"], json!([60.0, 30.0, 100.0, 90.0]));

    // A stale base version is a conflict and changes nothing.
    let stale = app
        .post_json(
            &token,
            &path,
            json!({"base_version": 1, "ops": [{"op": "delete_shape", "id": 2}]}),
        )
        .await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(stale).await, "version_conflict");
    // Bad boxes and labels: 422 with their code, nothing applied (all-or-nothing).
    for (op, code) in [
        (
            json!({"op": "put_shape", "shape": {"frame": 1, "label_id": labels[0], "box": [300.0, 200.0, 340.0, 260.0]}}),
            "box_outside_frame",
        ),
        (
            json!({"op": "put_shape", "shape": {"frame": 1, "label_id": 987654, "box": [1.0, 1.0, 5.0, 5.0]}}),
            "unknown_label",
        ),
        (
            json!({"op": "put_shape", "shape": {"frame": 99, "label_id": labels[0], "box": [1.0, 1.0, 5.0, 5.0]}}),
            "frame_out_of_range",
        ),
    ] {
        let refused = app
            .post_json(
                &token,
                &path,
                json!({"base_version": 2, "ops": [{"op": "delete_shape", "id": 2}, op]}),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(refused).await, code);
    }
    let all = json_of(app.get(&token, &path).await, StatusCode::OK).await;
    assert_eq!(all["version"], 2);
    assert_eq!(all["shapes"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        all["tracks"][0]["keyframes"].as_array().map(Vec::len),
        Some(3)
    );

    // Undo the set_box, then the first batch; redo one; the frame list shows annotated frames.
    let undo = json_of(
        app.post_json(&token, &format!("{path}/undo"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(undo["version"], 3);
    let frame4 = json_of(
        app.get(&token, &format!("{path}?frame=4")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(frame4["boxes"][0]["box"], json!([50.0, 20.0, 90.0, 80.0]));
    json_of(
        app.post_json(&token, &format!("{path}/undo"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let none = json_of(app.get(&token, &path).await, StatusCode::OK).await;
    assert_eq!(
        (
            none["shapes"].as_array().map(Vec::len),
            none["tracks"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let nothing = app
        .post_json(&token, &format!("{path}/undo"), json!({}))
        .await;
    assert_eq!(nothing.status(), StatusCode::CONFLICT);
    let redo = json_of(
        app.post_json(&token, &format!("{path}/redo"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(redo["version"], 5);
    let frames = json_of(
        app.get(&token, &format!("/api/v1/studio/media/{mid}/frames"))
            .await,
        StatusCode::OK,
    )
    .await;
    let annotated: Vec<i64> = frames["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .filter(|f| f["annotated"] == true)
        .filter_map(|f| f["number"].as_i64())
        .collect();
    assert_eq!(annotated, vec![0, 2, 8]);
    // A label in use cannot be deleted.
    let in_use = send(
        &app,
        &token,
        "DELETE",
        &format!("/api/v1/studio/projects/{pid}/labels/{}", labels[0]),
        json!({}),
    )
    .await;
    assert_eq!(in_use.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(in_use).await, "label_in_use");
    app.stop().await;
}

crate::on_both_backends!(
    annotation_batches_interpolate_undo_and_refuse_stale_versions_and_bad_boxes
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_videos_or_are_truncated_are_refused() {
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let (pid, _) = project(&app, &token).await;
    let text = app
        .upload(
            &token,
            b"this is not a video at all, just words".to_vec(),
            "notes.mp4",
        )
        .await;
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let whole = mp4(&clip(7));
    let truncated = app
        .upload(&token, whole[..whole.len() * 2 / 3].to_vec(), "cut.mp4")
        .await;
    assert_eq!(truncated.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unknown = app
        .post_json(
            &token,
            &format!("/api/v1/studio/projects/{pid}/media"),
            json!({"upload_id": "upl_nope"}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let bad_color = app
        .post_json(
            &token,
            &format!("/api/v1/studio/projects/{pid}/labels"),
            json!({"name": "x", "color": "red"}),
        )
        .await;
    assert_eq!(bad_color.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let project = json_of(
        app.get(&token, &format!("/api/v1/studio/projects/{pid}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(project["media_count"], 0, "nothing was added");
    app.stop().await;
}

/// Box IoU.
fn iou(a: &BBox, b: &BBox) -> f64 {
    a.iou(b)
}

async fn training_needs_annotations_runs_once_per_project_and_its_detector_finds_the_objects(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (stranger, _) = app
        .register(
            &format!("stranger_{}", crate::helpers::random_suffix()),
            "Parent",
        )
        .await;
    let (pid, labels) = project(&app, &token).await;
    let video = synth::video(
        &SynthParams {
            objects: 2,
            seed: 11,
            ..SynthParams::default()
        },
        60,
        3,
    );
    let media = import(&app, &token, pid, mp4(&video), "clip.mp4").await;
    let mid = media["id"].as_i64().expect("id");
    let train_path = format!("/api/v1/studio/projects/{pid}/train");
    let params = json!({"max_epochs": 40, "time_budget_secs": 20});

    let none = app.post_json(&token, &train_path, params.clone()).await;
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(none).await, "no_annotations");

    let ops = track_ops(&video, &labels);
    json_of(
        app.post_json(
            &token,
            &format!("/api/v1/studio/media/{mid}/annotations"),
            json!({"base_version": 0, "ops": ops}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    // Another user sees none of it.
    for path in [
        format!("/api/v1/studio/projects/{pid}"),
        format!("/api/v1/studio/media/{mid}"),
        format!("/api/v1/studio/media/{mid}/frames/0"),
        format!("/api/v1/studio/media/{mid}/annotations"),
    ] {
        assert_eq!(
            app.get(&stranger, &path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        app.post_json(&stranger, &train_path, params.clone())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let started = json_of(
        app.post_json(&token, &train_path, params.clone()).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let job_id = started["job_id"].as_str().expect("job id").to_owned();
    let second = app.post_json(&token, &train_path, params.clone()).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(second).await, "training_running");
    let shown = json_of(
        app.get(&token, &format!("/api/v1/studio/projects/{pid}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["training"]["job_id"], job_id.as_str());

    let job = app
        .wait_job(&token, &job_id, WAIT, |j| {
            !matches!(j["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let did = job["output"]["detector_id"].as_i64().expect("detector id");
    let detector = json_of(
        app.get(&token, &format!("/api/v1/studio/detectors/{did}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(detector["project_id"], pid);
    assert_eq!(detector["labels"].as_array().map(Vec::len), Some(4));
    assert!(!detector["history"].as_array().expect("history").is_empty());
    assert!(detector["train_frames"].as_i64() > Some(0), "{detector}");
    let list = json_of(
        app.get(&token, &format!("/api/v1/studio/projects/{pid}/detectors"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["detectors"][0]["id"], did);
    assert_eq!(
        app.get(&stranger, &format!("/api/v1/studio/detectors/{did}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // The detector finds the objects of an annotated frame (labels and boxes).
    let frame = 8usize;
    let detect = |who: &str| {
        let form = multipart::Form::new().part(
            "file",
            multipart::Part::bytes(png(&video.frames[frame])).file_name("f.png"),
        );
        app.client
            .post(app.url(&format!("/api/v1/detect?detector={did}&min_score=0.2")))
            .bearer_auth(who.to_owned())
            .multipart(form)
            .send()
    };
    let found = json_of(detect(&token).await.expect("detect"), StatusCode::OK).await;
    assert_eq!(found["detector"], did);
    let boxes = found["boxes"].as_array().expect("boxes");
    for (class, truth) in &video.truth[frame] {
        let hit = boxes.iter().any(|b| {
            let x = b["x"].as_f64().unwrap_or(0.0);
            let y = b["y"].as_f64().unwrap_or(0.0);
            let found = BBox::new(
                x,
                y,
                x + b["width"].as_f64().unwrap_or(0.0),
                y + b["height"].as_f64().unwrap_or(0.0),
            );
            b["label_id"] == labels[*class]
                && iou(&found, truth) >= 0.5
                && b["score"].as_f64().is_some()
        });
        assert!(
            hit,
            "object {class} at {truth:?} not found in {found}; detector {detector}"
        );
    }
    let refused = detect(&stranger).await.expect("detect");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

crate::on_both_backends!(
    training_needs_annotations_runs_once_per_project_and_its_detector_finds_the_objects
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_shared_project_is_seen_by_the_family_only_and_changed_by_its_owner_only() {
    let app = spawn_app(Backend::Embedded).await;
    let owner = app.user().await;
    let member = app.user().await;
    let outsider = app.user().await;
    let family = json_of(
        app.post_json(&owner, "/api/v1/families", json!({"name": "home"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let code = family["invitation_code"].as_str().expect("code");
    let joined = app
        .post_json(
            &member,
            "/api/v1/families/join",
            json!({"invitation_code": code}),
        )
        .await;
    assert!(joined.status().is_success(), "join: {}", joined.status());
    let (pid, _) = project(&app, &owner).await;
    let path = format!("/api/v1/studio/projects/{pid}");
    assert_eq!(
        app.get(&member, &path).await.status(),
        StatusCode::NOT_FOUND,
        "not shared yet"
    );
    let shared = json_of(
        send(
            &app,
            &owner,
            "PATCH",
            &path,
            json!({"shared_with_family": true}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shared["shared_with_family"], true);
    assert_eq!(app.get(&member, &path).await.status(), StatusCode::OK);
    assert_eq!(
        app.get(&outsider, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    let renamed = send(&app, &member, "PATCH", &path, json!({"name": "mine"})).await;
    assert_eq!(renamed.status(), StatusCode::FORBIDDEN);
    let label = app
        .post_json(&member, &format!("{path}/labels"), json!({"name": "cup"}))
        .await;
    assert_eq!(
        label.status(),
        StatusCode::CREATED,
        "family members work in a shared project"
    );
    assert_eq!(
        send(&app, &outsider, "DELETE", &path, json!({}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, &owner, "DELETE", &path, json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&owner, &path).await.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
