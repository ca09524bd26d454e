//! Animate: a drawing in, an `animate` job, the GIF / MP4 / sprite sheet / mask out; the
//! character route for showing and editing joints; re-rendering with edited joints; bad drawings
//! and bad parameters.

use std::time::Duration;

use image::{ImageFormat, Rgb, RgbImage};
use reqwest::{StatusCode, multipart};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, error_code, spawn_app};

const WAIT: Duration = Duration::from_secs(120);

fn seg_dist(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let l2 = dx * dx + dy * dy;
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / l2).clamp(0.0, 1.0);
    (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
}

/// A black stick figure on white paper (`figures` of them side by side), as PNG.
pub fn drawing(width: u32, height: u32, figures: u32) -> Vec<u8> {
    let mut lines = Vec::new();
    for k in 0..figures {
        let cx = width as f32 * (k as f32 + 0.5) / figures as f32;
        let u = height as f32 / 100.0;
        let p = |x: f32, y: f32| (cx + x * u, y * u);
        let (neck, chest, pelvis) = (p(0.0, 20.0), p(0.0, 30.0), p(0.0, 60.0));
        lines.extend([
            (neck, pelvis),
            (chest, p(-14.0, 45.0)),
            (p(-14.0, 45.0), p(-24.0, 58.0)),
            (chest, p(14.0, 45.0)),
            (p(14.0, 45.0), p(24.0, 58.0)),
            (pelvis, p(-8.0, 78.0)),
            (p(-8.0, 78.0), p(-14.0, 95.0)),
            (pelvis, p(8.0, 78.0)),
            (p(8.0, 78.0), p(14.0, 95.0)),
        ]);
        lines.push((p(0.0, 12.0), p(0.0, 12.0))); // head centre marker for the ring below
    }
    let u = height as f32 / 100.0;
    let image = RgbImage::from_fn(width, height, |x, y| {
        let q = (x as f32 + 0.5, y as f32 + 0.5);
        let ink = lines.chunks(10).any(|fig| {
            let head = fig[9].0;
            let ring = ((q.0 - head.0).hypot(q.1 - head.1) - 8.0 * u).abs() <= 1.6 * u;
            ring || fig[..9].iter().any(|&(a, b)| seg_dist(q, a, b) <= 1.6 * u)
        });
        if ink {
            Rgb([20, 20, 20])
        } else {
            Rgb([250, 248, 240])
        }
    });
    let mut out = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png)
        .expect("png");
    out
}

async fn post_animation(app: &TestApp, token: &str, form: multipart::Form) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/animations"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("POST /api/v1/animations")
}

fn file_part(bytes: Vec<u8>) -> multipart::Part {
    multipart::Part::bytes(bytes)
        .file_name("drawing.png")
        .mime_str("image/png")
        .expect("mime")
}

async fn download(app: &TestApp, url: &str) -> Vec<u8> {
    let absolute = if url.starts_with('/') {
        app.url(url)
    } else {
        url.to_owned()
    };
    let response = app.client.get(absolute).send().await.expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.expect("bytes").to_vec()
}

async fn finished(
    app: &TestApp,
    token: &str,
    created: reqwest::Response,
    status: &'static str,
) -> Value {
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let view: Value = created.json().await.expect("json");
    assert_eq!(view["job"]["kind"], "animate");
    let id = view["job"]["id"].as_str().expect("id").to_owned();
    app.wait_job(token, &id, WAIT, |job| {
        job["status"] == status || job["status"] == "failed"
    })
    .await;
    let view: Value = app
        .get(token, &format!("/api/v1/animations/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["job"]["status"], status, "{view}");
    view
}

async fn a_drawing_becomes_a_gif_mp4_and_sprite_sheet(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let form = multipart::Form::new()
        .part("file", file_part(drawing(240, 240, 1)))
        .text("motion", "wave")
        .text("fps", "10")
        .text("duration_s", "1.2")
        .text("size", "96")
        .text("formats", "gif,mp4,png");
    let created = post_animation(&app, &token, form).await;
    let view = finished(&app, &token, created, "succeeded").await;
    let job = &view["job"];
    assert_eq!(job["progress"], 100);
    let output = &job["output"];
    assert_eq!(output["frame_count"], 12);
    assert_eq!(output["motion"], "wave");
    assert_eq!(output["skeleton_source"], "geometric");
    assert_eq!(
        output["character"]["joints"]
            .as_array()
            .expect("joints")
            .len(),
        16
    );

    let outputs = &view["outputs"];
    for name in ["gif", "mp4", "sprite_sheet", "mask"] {
        assert!(outputs[name]["url"].is_string(), "{name} missing: {view}");
    }
    let gif = download(&app, outputs["gif"]["url"].as_str().expect("url")).await;
    let info = atelier_imaging::animation::inspect_gif(&gif).expect("GIF decodes");
    assert_eq!((info.width, info.height, info.frame_count), (96, 96, 12));
    assert!(
        info.delays_cs.iter().all(|&d| d == 10),
        "{:?}",
        info.delays_cs
    );
    assert!(info.loops_forever);
    let mp4 = download(&app, outputs["mp4"]["url"].as_str().expect("url")).await;
    assert_eq!(
        atelier_imaging::animation::inspect_mp4(&mp4)
            .expect("MP4 parses")
            .frame_count,
        12
    );
    let sheet = image::load_from_memory(
        &download(&app, outputs["sprite_sheet"]["url"].as_str().expect("url")).await,
    )
    .expect("sheet PNG");
    assert_eq!((sheet.width(), sheet.height()), (96 * 4, 96 * 3));
    let mask = image::load_from_memory(
        &download(&app, outputs["mask"]["url"].as_str().expect("url")).await,
    )
    .expect("mask PNG")
    .to_luma8();
    assert_eq!(mask.dimensions(), (240, 240));
    assert!(mask.pixels().any(|p| p[0] == 255) && mask.get_pixel(0, 0)[0] == 0);
    app.stop().await;
}

async fn edited_joints_rerender_the_same_drawing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let upload = app.upload_ok(&token, drawing(200, 200, 1)).await;
    let upload_id = upload["id"].as_str().expect("id").to_owned();
    let character = app
        .get(
            &token,
            &format!("/api/v1/animations/characters/{upload_id}"),
        )
        .await;
    assert_eq!(character.status(), StatusCode::OK);
    let character: Value = character.json().await.expect("json");
    assert_eq!(character["character"]["skeleton_source"], "geometric");
    let mask_url = character["mask_url"].as_str().expect("mask url");
    let mask = app.get(&token, mask_url).await;
    assert_eq!(mask.status(), StatusCode::OK);
    assert_eq!(mask.headers()["content-type"], "image/png");

    let mut joints = character["character"]["joints"].clone();
    let hand = joints
        .as_array_mut()
        .expect("list")
        .iter_mut()
        .find(|j| j["name"] == "right_hand")
        .expect("right hand");
    let moved = hand["loc"][0].as_f64().expect("x") - 6.0;
    hand["loc"][0] = Value::from(moved);
    let form = multipart::Form::new()
        .text("upload_id", upload_id.clone())
        .text("joints", joints.to_string())
        .text("motion", "jump")
        .text("fps", "8")
        .text("duration_s", "0.5")
        .text("size", "64");
    let view = finished(
        &app,
        &token,
        post_animation(&app, &token, form).await,
        "succeeded",
    )
    .await;
    let output = &view["job"]["output"];
    assert_eq!(output["skeleton_source"], "user");
    assert_eq!(output["frame_count"], 4);
    let used = output["character"]["joints"]
        .as_array()
        .expect("joints")
        .iter()
        .find(|j| j["name"] == "right_hand")
        .expect("right hand")["loc"][0]
        .as_f64()
        .expect("x");
    assert!((used - moved).abs() < 1e-3, "{used} vs {moved}");
    let gif = download(&app, view["outputs"]["gif"]["url"].as_str().expect("url")).await;
    assert_eq!(
        atelier_imaging::animation::inspect_gif(&gif)
            .expect("gif")
            .frame_count,
        4
    );
    app.stop().await;
}

async fn bad_drawings_and_parameters_are_refused_clearly(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    // A blank page: accepted (the job decides), then fails with a structured `no-figure` error.
    let blank = {
        let image = RgbImage::from_pixel(120, 120, Rgb([250, 250, 250]));
        let mut out = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png)
            .expect("png");
        out
    };
    let form = multipart::Form::new()
        .part("file", file_part(blank.clone()))
        .text("fps", "5")
        .text("duration_s", "0.4");
    let view = finished(
        &app,
        &token,
        post_animation(&app, &token, form).await,
        "failed",
    )
    .await;
    assert_eq!(view["job"]["error"]["code"], "no-figure", "{view}");
    assert_eq!(view["job"]["error"]["retryable"], false);
    // The character route says the same, at once.
    let upload = app.upload_ok(&token, blank).await;
    let response = app
        .get(
            &token,
            &format!(
                "/api/v1/animations/characters/{}",
                upload["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(response).await, "no-figure");
    // Two figures of the same size.
    let two = app.upload_ok(&token, drawing(300, 150, 2)).await;
    let response = app
        .get(
            &token,
            &format!(
                "/api/v1/animations/characters/{}",
                two["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(error_code(response).await, "multiple-figures");

    let good = app.upload_ok(&token, drawing(120, 120, 1)).await;
    let good_id = good["id"].as_str().expect("id").to_owned();
    // Unknown motion.
    let form = multipart::Form::new()
        .text("upload_id", good_id.clone())
        .text("motion", "fly");
    let response = post_animation(&app, &token, form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("unknown motion"),
        "{body}"
    );
    // Joints outside the image.
    let joints: Vec<Value> = atelier_animate::JOINT_NAMES
        .iter()
        .map(|n| serde_json::json!({"name": n, "loc": [500.0, 10.0]}))
        .collect();
    let form = multipart::Form::new()
        .text("upload_id", good_id.clone())
        .text("joints", Value::from(joints).to_string());
    let response = post_animation(&app, &token, form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("outside"),
        "{body}"
    );
    // Malformed joints, bad numbers, no drawing, someone else's upload.
    let form = multipart::Form::new()
        .text("upload_id", good_id.clone())
        .text("joints", "[{\"name\": 3}]");
    assert_eq!(
        error_code(post_animation(&app, &token, form).await).await,
        "invalid-joints"
    );
    let form = multipart::Form::new()
        .text("upload_id", good_id.clone())
        .text("fps", "many");
    assert_eq!(
        error_code(post_animation(&app, &token, form).await).await,
        "invalid-parameters"
    );
    let form = multipart::Form::new().text("motion", "walk");
    assert_eq!(
        error_code(post_animation(&app, &token, form).await).await,
        "missing-file"
    );
    let other = app.user().await;
    let form = multipart::Form::new().text("upload_id", good_id);
    assert_eq!(
        post_animation(&app, &other, form).await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

/// A job whose worker died after storing its files runs again (its lease expired): the retry
/// leaves one set of outputs, not two.
async fn a_rerun_after_an_interrupted_attempt_keeps_one_set_of_outputs(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let form = multipart::Form::new()
        .part("file", file_part(drawing(160, 160, 1)))
        .text("motion", "wave")
        .text("fps", "6")
        .text("duration_s", "0.5")
        .text("size", "64")
        .text("formats", "gif,mp4,png");
    let view = finished(
        &app,
        &token,
        post_animation(&app, &token, form).await,
        "succeeded",
    )
    .await;
    let job_id = view["job"]["id"].as_str().expect("id").to_owned();
    let owner: i64 = app
        .get(&token, "/api/v1/me")
        .await
        .json::<Value>()
        .await
        .expect("json")["id"]
        .as_i64()
        .expect("user id");
    let outputs = |app: &TestApp| {
        let (platform, job_id) = (app.platform.clone(), job_id.clone());
        async move {
            atelier_platform::uploads::list_job_outputs(&platform, owner, &job_id)
                .await
                .expect("outputs")
                .len()
        }
    };
    let first = outputs(&app).await;
    assert!(first >= 3, "gif, mp4 and sheet at least: {first}");
    // What the lease sweep does to a job whose worker vanished: back to the queue, files kept.
    sqlx::query(
        "UPDATE jobs SET status = 'queued', run_at = 0, lease_owner = NULL, \
         lease_expires_at = NULL, finished_at = NULL WHERE id = $1",
    )
    .bind(&job_id)
    .execute(app.platform.db().pool())
    .await
    .expect("requeue");
    app.platform.wake_workers();
    let rerun = app
        .wait_job(&token, &job_id, WAIT, |job| {
            job["attempts"] == 2 && (job["status"] == "succeeded" || job["status"] == "failed")
        })
        .await;
    assert_eq!(rerun["status"], "succeeded", "{rerun}");
    assert_eq!(
        outputs(&app).await,
        first,
        "one set of outputs after the re-run"
    );
    let view: Value = app
        .get(&token, &format!("/api/v1/animations/{job_id}"))
        .await
        .json()
        .await
        .expect("json");
    let gif = download(&app, view["outputs"]["gif"]["url"].as_str().expect("url")).await;
    assert_eq!(
        atelier_imaging::animation::inspect_gif(&gif)
            .expect("gif")
            .frame_count,
        3
    );
    app.stop().await;
}

crate::on_both_backends!(
    a_rerun_after_an_interrupted_attempt_keeps_one_set_of_outputs,
    a_drawing_becomes_a_gif_mp4_and_sprite_sheet,
    edited_joints_rerender_the_same_drawing,
    bad_drawings_and_parameters_are_refused_clearly,
);
