//! 3D photos: a photo in (multipart or JSON naming uploads), a `photo3d` job, the MP4 / GIF /
//! GLB / depth preview out; a supplied depth map used and reported; bad inputs refused with
//! their codes; the per-account cap; owner-only access; DELETE removing the objects; the CLI.

use std::{process::Command, time::Duration};

use atelier_photo3d::synthetic::SyntheticScene;
use atelier_platform::{storage::Storage, uploads};
use image::{DynamicImage, GrayImage, ImageBuffer, ImageFormat, Luma, Rgb, RgbImage};
use reqwest::{StatusCode, multipart};
use serde_json::{Value, json};

use crate::helpers::{AppOptions, Backend, TestApp, binary, error_code, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(120);

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// A synthetic scene (wall, floor, cards, box, sphere) as PNG, and its true disparity as a
/// 16-bit PNG (brighter = nearer).
fn scene(width: u32, height: u32) -> (Vec<u8>, Vec<u8>) {
    let scene = SyntheticScene::mixed(width, height);
    let photo = encode(DynamicImage::ImageRgb8(scene.image), ImageFormat::Png);
    let (lo, hi) = scene.disparity.min_max();
    let depth: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_fn(width, height, |x, y| {
        let v = (scene.disparity.at(x, y) - lo) / (hi - lo);
        Luma([(v * 65535.0).round() as u16])
    });
    (
        photo,
        encode(DynamicImage::ImageLuma16(depth), ImageFormat::Png),
    )
}

fn part(bytes: Vec<u8>, name: &str) -> multipart::Part {
    multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("application/octet-stream")
        .expect("mime")
}

async fn post_form(app: &TestApp, token: &str, form: multipart::Form) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/photo3d"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("POST /api/v1/photo3d")
}

async fn post_json(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_json(token, "/api/v1/photo3d", body).await
}

async fn download(app: &TestApp, url: &str) -> Vec<u8> {
    let response = app.client.get(app.url(url)).send().await.expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.expect("bytes").to_vec()
}

/// Waits for the job created by `created` to end and returns its view.
async fn finished(app: &TestApp, token: &str, created: reqwest::Response, status: &str) -> Value {
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let view: Value = created.json().await.expect("json");
    assert_eq!(view["job"]["kind"], "photo3d");
    let id = view["job"]["id"].as_str().expect("id").to_owned();
    app.wait_job(token, &id, WAIT, |job| {
        job["status"] == "succeeded" || job["status"] == "failed"
    })
    .await;
    let view: Value = app
        .get(token, &format!("/api/v1/photo3d/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["job"]["status"], status, "{view}");
    view
}

/// Whether ffprobe runs; when `ATELIER_REQUIRE_FFPROBE=1` its absence fails the test.
fn ffprobe_available() -> bool {
    let present = Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present && std::env::var("ATELIER_REQUIRE_FFPROBE").as_deref() == Ok("1") {
        panic!("ATELIER_REQUIRE_FFPROBE=1 but ffprobe is not installed (apt-get install ffmpeg)");
    }
    present
}

/// ffprobe's count of decoded frames, or `None` without ffprobe.
fn ffprobe_frames(mp4: &[u8]) -> Option<u64> {
    if !ffprobe_available() {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("photo3d.mp4");
    std::fs::write(&path, mp4).expect("write");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,nb_read_frames"])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("codec_name=h264"), "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("nb_read_frames="))
        .and_then(|n| n.trim().parse().ok())
}

async fn a_photo_becomes_a_video_a_gif_a_glb_and_a_depth_preview(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (photo, _) = scene(120, 80);
    let form = multipart::Form::new()
        .part("image", part(photo, "room.png"))
        .text("path", "swing")
        .text("duration", "0.5")
        .text("fps", "12")
        .text("amplitude", "0.04")
        .text("formats", "mp4,gif,glb")
        .text("max_side", "96");
    let view = finished(
        &app,
        &token,
        post_form(&app, &token, form).await,
        "succeeded",
    )
    .await;
    let job = &view["job"];
    assert_eq!(job["progress"], 100);
    let stages = json!([
        "fetch", "depth", "layers", "inpaint", "render", "encode", "store", "done"
    ]);
    assert_eq!(view["stages"], stages);
    assert_eq!(job["stage"], "done", "a succeeded job's stage reads done");
    let output = &job["output"];
    assert_eq!(output["depth_source"], "classical", "no depth model here");
    assert_eq!(output["frame_count"], 6);
    assert_eq!(
        (output["width"].as_u64(), output["height"].as_u64()),
        (Some(96), Some(64))
    );
    let outputs = &view["outputs"];
    for name in ["mp4", "gif", "glb", "depth_preview"] {
        assert!(outputs[name]["url"].is_string(), "{name} missing: {view}");
    }
    assert_eq!(outputs["glb"]["content_type"], "model/gltf-binary");

    let mp4 = download(&app, outputs["mp4"]["url"].as_str().expect("url")).await;
    let info = atelier_imaging::animation::inspect_mp4(&mp4).expect("MP4 parses");
    assert_eq!((info.frame_count, info.width, info.height), (6, 96, 64));
    if let Some(frames) = ffprobe_frames(&mp4) {
        assert_eq!(frames, 6, "ffprobe decodes every frame");
    }
    let gif = download(&app, outputs["gif"]["url"].as_str().expect("url")).await;
    let info = atelier_imaging::animation::inspect_gif(&gif).expect("GIF decodes");
    assert_eq!((info.width, info.height, info.frame_count), (96, 64, 6));
    let glb = download(&app, outputs["glb"]["url"].as_str().expect("url")).await;
    let info = atelier_photo3d::glb::inspect(&glb).expect("GLB parses");
    assert_eq!(
        info.triangles as u64,
        output["triangles"].as_u64().expect("n")
    );
    assert!(info.triangles > 0 && !info.images.is_empty());
    let preview = image::load_from_memory(
        &download(&app, outputs["depth_preview"]["url"].as_str().expect("url")).await,
    )
    .expect("depth PNG")
    .to_luma8();
    assert_eq!(preview.dimensions(), (96, 64));
    let (lo, hi) = preview
        .pixels()
        .fold((255, 0), |(lo, hi), p| (p[0].min(lo), p[0].max(hi)));
    assert!(
        hi > lo + 50,
        "the classical estimate has depth in it: {lo}..{hi}"
    );
    app.stop().await;
}

async fn a_supplied_depth_map_is_used_and_reported(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (photo, depth) = scene(96, 72);
    let photo = app.upload_ok(&token, photo).await;
    let depth = app.upload_ok(&token, depth).await;
    let body = json!({
        "upload_id": photo["id"],
        "depth_upload_id": depth["id"],
        "depth_convention": "disparity",
        "path": "circle",
        "duration": 0.25,
        "fps": 8,
        "formats": ["glb"],
        "max_side": 96,
    });
    let view = finished(
        &app,
        &token,
        post_json(&app, &token, body).await,
        "succeeded",
    )
    .await;
    let output = &view["job"]["output"];
    assert_eq!(output["depth_source"], "supplied");
    assert_eq!(output["depth"]["convention"], "disparity");
    assert!(output["edges"].as_u64().expect("edges") > 0, "{output}");
    assert!(view["outputs"]["mp4"].is_null() && view["outputs"]["glb"].is_object());
    // The preview is the supplied map: the sphere (nearest) is white, the wall dark.
    let preview = image::load_from_memory(
        &download(
            &app,
            view["outputs"]["depth_preview"]["url"]
                .as_str()
                .expect("url"),
        )
        .await,
    )
    .expect("png")
    .to_luma8();
    let truth = SyntheticScene::mixed(96, 72).disparity;
    let (lo, hi) = truth.min_max();
    let mut worst = 0.0f32;
    for (x, y, p) in preview.enumerate_pixels() {
        let expected = (truth.at(x, y) - lo) / (hi - lo) * 255.0;
        worst = worst.max((f32::from(p[0]) - expected).abs());
    }
    assert!(
        worst <= 1.5,
        "preview differs from the supplied map by {worst}"
    );
    app.stop().await;
}

async fn bad_inputs_are_refused_with_clear_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (photo, depth) = scene(64, 48);
    let expect = |status: StatusCode, code: &'static str| {
        move |response: reqwest::Response| async move {
            assert_eq!(response.status(), status, "{code}");
            assert_eq!(error_code(response).await, code);
        }
    };
    // Not an image.
    let form = multipart::Form::new().part(
        "image",
        part(b"just some text, no pixels".to_vec(), "a.png"),
    );
    expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")(
        post_form(&app, &token, form).await,
    )
    .await;
    // An empty file.
    let form = multipart::Form::new().part("image", part(Vec::new(), "empty.png"));
    expect(StatusCode::UNPROCESSABLE_ENTITY, "invalid-input")(post_form(&app, &token, form).await)
        .await;
    // A depth map of the wrong size.
    let small_depth = encode(
        DynamicImage::ImageLuma8(GrayImage::from_fn(32, 24, |x, _| Luma([(x * 8) as u8]))),
        ImageFormat::Png,
    );
    let form = multipart::Form::new()
        .part("image", part(photo.clone(), "p.png"))
        .part("depth", part(small_depth, "d.png"));
    let response = post_form(&app, &token, form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "depth-size-mismatch");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("32x24"),
        "{body}"
    );
    // A constant depth map: no parallax possible.
    let flat = encode(
        DynamicImage::ImageLuma8(GrayImage::from_pixel(64, 48, Luma([128]))),
        ImageFormat::Png,
    );
    let form = multipart::Form::new()
        .part("image", part(photo.clone(), "p.png"))
        .part("depth", part(flat, "d.png"));
    expect(StatusCode::UNPROCESSABLE_ENTITY, "constant-depth")(post_form(&app, &token, form).await)
        .await;
    // A depth map that is not a PNG.
    let jpeg_depth = encode(
        DynamicImage::ImageRgb8(RgbImage::from_fn(64, 48, |x, _| Rgb([(x * 4) as u8; 3]))),
        ImageFormat::Jpeg,
    );
    let form = multipart::Form::new()
        .part("image", part(photo.clone(), "p.png"))
        .part("depth", part(jpeg_depth, "d.jpg"));
    expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, "depth-not-png")(
        post_form(&app, &token, form).await,
    )
    .await;
    // A 20 000-pixel panorama.
    let panorama = encode(
        DynamicImage::ImageRgb8(RgbImage::from_pixel(20_000, 400, Rgb([90, 140, 200]))),
        ImageFormat::Png,
    );
    let form = multipart::Form::new().part("image", part(panorama, "pano.png"));
    let response = post_form(&app, &token, form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "photo-too-large");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("20000x400"),
        "{body}"
    );
    // Bad parameters.
    for (field, value) in [
        ("path", "spiral"),
        ("amplitude", "0.2"),
        ("duration", "30"),
        ("fps", "many"),
        ("fps", "120"),
        ("formats", "mp4,avi"),
        ("max_side", "5000"),
        ("depth_convention", "sideways"),
    ] {
        let form = multipart::Form::new()
            .part("image", part(photo.clone(), "p.png"))
            .part("depth", part(depth.clone(), "d.png"))
            .text(field, value);
        let response = post_form(&app, &token, form).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        assert_eq!(
            error_code(response).await,
            "invalid-parameters",
            "{field}={value}"
        );
    }
    // No photo; a JSON body with an unknown field.
    let form = multipart::Form::new().text("path", "circle");
    expect(StatusCode::BAD_REQUEST, "missing-file")(post_form(&app, &token, form).await).await;
    let upload = app.upload_ok(&token, photo.clone()).await;
    let response = post_json(
        &app,
        &token,
        json!({"upload_id": upload["id"], "colour": "red"}),
    )
    .await;
    expect(StatusCode::UNPROCESSABLE_ENTITY, "invalid-parameters")(response).await;
    // Someone else's upload is not found.
    let other = app.user().await;
    let response = post_json(&app, &other, json!({"upload_id": upload["id"]})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Refused requests keep none of the files they brought: only the one upload is left.
    let list: Value = app
        .get(&token, "/api/v1/uploads")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.as_array().expect("list").len(), 1, "{list}");
    app.stop().await;
}

async fn the_photo3d_cap_is_429_and_a_failed_job_frees_its_slot(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            workers: 0,
            tweak: Box::new(|config| config.photo3d.max_active_per_account = 1),
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;
    let (photo, _) = scene(64, 48);
    let first = app.upload_ok(&token, photo.clone()).await;
    let second = app.upload_ok(&token, photo.clone()).await;
    let quick = |upload: &Value| json!({"upload_id": upload["id"], "duration": 0.25, "fps": 4, "max_side": 64, "formats": ["glb"]});
    let created = post_json(&app, &token, quick(&first)).await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let job: Value = created.json().await.expect("json");
    let job_id = job["job"]["id"].as_str().expect("id").to_owned();
    assert_eq!(job["job"]["status"], "queued");
    let response = post_json(&app, &token, quick(&second)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too-many-active-jobs-of-kind");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("photo3d"),
        "{body}"
    );
    // The cap is per kind: another kind of job is still accepted.
    let thumbnail = app
        .create_job(&token, "thumbnail", json!({"upload_id": second["id"]}))
        .await;
    assert_eq!(thumbnail.status(), StatusCode::CREATED);
    // The photo disappears before a worker runs the job: it fails with its error record.
    let deleted = app
        .client
        .delete(app.url(&format!(
            "/api/v1/uploads/{}",
            first["id"].as_str().expect("id")
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let worker = crate::helpers::spawn_on(app.sandbox.clone(), AppOptions::default()).await;
    app.wait_job(&token, &job_id, WAIT, |job| job["status"] == "failed")
        .await;
    let view: Value = app
        .get(&token, &format!("/api/v1/photo3d/{job_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["job"]["error"]["code"], "input-missing", "{view}");
    assert_eq!(view["job"]["error"]["retryable"], false);
    assert!(view["outputs"].as_object().expect("map").is_empty());
    // The failed job freed its slot.
    let next = post_json(&app, &token, quick(&second)).await;
    assert_eq!(next.status(), StatusCode::ACCEPTED, "slot freed");
    let next: Value = next.json().await.expect("json");
    let next_id = next["job"]["id"].as_str().expect("id").to_owned();
    app.wait_job(&token, &next_id, WAIT, |job| job["status"] == "succeeded")
        .await;
    worker.stop().await;
    // With no worker left, a new job stays queued; deleting it cancels it and removes its photo.
    let third = app.upload_ok(&token, photo).await;
    let queued: Value = post_json(&app, &token, quick(&third))
        .await
        .json()
        .await
        .expect("json");
    let queued_id = queued["job"]["id"].as_str().expect("id");
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/photo3d/{queued_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), StatusCode::OK);
    let deleted: Value = response.json().await.expect("json");
    assert_eq!(deleted["canceled"], true);
    assert_eq!(deleted["upload_ids"], json!([third["id"]]));
    let view: Value = app
        .get(&token, &format!("/api/v1/photo3d/{queued_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["job"]["status"], "canceled");
    app.stop().await;
}

async fn only_the_owner_sees_and_deletes_and_delete_removes_the_objects(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let (photo, depth) = scene(64, 48);
    let form = multipart::Form::new()
        .part("image", part(photo, "p.png"))
        .part("depth", part(depth, "d.png"))
        .text("duration", "0.25")
        .text("fps", "8")
        .text("formats", "mp4,glb");
    let view = finished(
        &app,
        &token,
        post_form(&app, &token, form).await,
        "succeeded",
    )
    .await;
    let job_id = view["job"]["id"].as_str().expect("id").to_owned();
    let owner_id = view["job"]["owner_id"].as_i64().expect("owner");
    let path = format!("/api/v1/photo3d/{job_id}");

    let other = app.user().await;
    assert_eq!(app.get(&other, &path).await.status(), StatusCode::NOT_FOUND);
    let delete = |token: String| {
        let request = app.client.delete(app.url(&path)).bearer_auth(token);
        async move { request.send().await.expect("DELETE") }
    };
    assert_eq!(delete(other.clone()).await.status(), StatusCode::NOT_FOUND);
    // Not a photo3d job id: not found either.
    let unrelated = app.upload_ok(&token, scene(40, 30).0).await;
    let thumb = app
        .create_job(&token, "thumbnail", json!({"upload_id": unrelated["id"]}))
        .await;
    let thumb: Value = thumb.json().await.expect("json");
    let thumb_path = format!("/api/v1/photo3d/{}", thumb["id"].as_str().expect("id"));
    assert_eq!(
        app.get(&token, &thumb_path).await.status(),
        StatusCode::NOT_FOUND
    );

    let mut files = uploads::list_job_outputs(&app.platform, owner_id, &job_id)
        .await
        .expect("outputs");
    assert_eq!(files.len(), 3, "mp4, glb, depth preview");
    for key in ["upload_id", "depth_upload_id"] {
        let id = view["job"]["params"][key].as_str().expect("input id");
        files.push(
            uploads::get_owned(&app.platform, owner_id, id)
                .await
                .expect("input"),
        );
    }
    app.wait_job(&token, thumb["id"].as_str().expect("id"), WAIT, |job| {
        job["status"] == "succeeded"
    })
    .await;
    let response = delete(token.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let deleted: Value = response.json().await.expect("json");
    assert_eq!(deleted["canceled"], false);
    let mut ids: Vec<&str> = deleted["upload_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = files.iter().map(|u| u.id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    for file in &files {
        let gone = app
            .get(&token, &format!("/api/v1/uploads/{}", file.id))
            .await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        let exists = app
            .platform
            .storage()
            .exists(&Storage::blob_key(&file.sha256))
            .await
            .expect("exists");
        assert!(!exists, "blob of {} ({}) still stored", file.id, file.kind);
    }
    // The job record stays, without links.
    let view: Value = app.get(&token, &path).await.json().await.expect("json");
    assert_eq!(view["job"]["status"], "succeeded");
    assert!(view["outputs"].as_object().expect("map").is_empty());
    app.stop().await;
}

crate::on_both_backends!(
    a_photo_becomes_a_video_a_gif_a_glb_and_a_depth_preview,
    a_supplied_depth_map_is_used_and_reported,
    bad_inputs_are_refused_with_clear_codes,
    the_photo3d_cap_is_429_and_a_failed_job_frees_its_slot,
    only_the_owner_sees_and_deletes_and_delete_removes_the_objects,
);

#[test]
fn the_cli_makes_a_video_and_a_glb_with_a_supplied_depth_map() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (photo, depth) = scene(80, 60);
    let photo_path = dir.path().join("photo.png");
    let depth_path = dir.path().join("depth.png");
    std::fs::write(&photo_path, photo).expect("write");
    std::fs::write(&depth_path, depth).expect("write");
    let run = |extra: &[&str], out: &str| {
        let output = Command::new(binary())
            .arg("photo3d")
            .arg(&photo_path)
            .args([
                "--models-dir",
                dir.path().join("models").to_str().expect("utf8"),
            ])
            .args([
                "--path",
                "dolly-zoom",
                "--duration",
                "0.5",
                "--fps",
                "10",
                "--max-side",
                "80",
            ])
            .args(extra)
            .arg("-o")
            .arg(dir.path().join(out))
            .output()
            .expect("run atelier photo3d");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
        (
            summary,
            std::fs::read(dir.path().join(out)).expect("output"),
        )
    };
    let (summary, mp4) = run(&[], "out.mp4");
    assert_eq!(summary["frames"], 5);
    assert_eq!(summary["depth_source"]["kind"], "classical");
    assert_eq!(
        atelier_imaging::animation::inspect_mp4(&mp4)
            .expect("mp4")
            .frame_count,
        5
    );
    let preview = dir.path().join("preview.png");
    let (summary, glb) = run(
        &[
            "--depth",
            depth_path.to_str().expect("utf8"),
            "--depth-preview",
            preview.to_str().expect("utf8"),
        ],
        "out.glb",
    );
    assert_eq!(summary["depth_source"]["kind"], "supplied");
    assert!(atelier_photo3d::glb::inspect(&glb).expect("glb").triangles > 0);
    assert!(image::open(&preview).is_ok());
    // Bad input is a clear error, not a panic.
    let output = Command::new(binary())
        .arg("photo3d")
        .arg(&photo_path)
        .args(["--path", "spiral", "-o"])
        .arg(dir.path().join("x.mp4"))
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown path"));
}
