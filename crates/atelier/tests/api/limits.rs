//! The audit's findings on unbounded work (issue 15), each reproduced over HTTP: detection
//! limits and cancellation (2), body limits (6), global back-pressure and the decode pool (7),
//! cancel and delete stopping a job's writes (8), and concurrent submits of one drawing (11).

use std::time::{Duration, Instant};

use atelier_platform::{PlatformConfig, maintenance, pause::PausePoint, uploads};
use reqwest::{StatusCode, multipart};
use serde_json::{Value, json};

use crate::detect::detect_as;
use crate::helpers::{AppOptions, Backend, TestApp, error_code, images, spawn_app_with};

/// A Haar cascade on a 4×4 window whose every tree answers 1 whatever the image: it accepts
/// every window, at the cost of `stages × trees` tree evaluations per window.
fn accept_all_cascade(stages: usize, trees: usize) -> String {
    let tree = "<_><internalNodes>0 -1 0 0.</internalNodes><leafValues>1. 1.</leafValues></_>";
    let stage = format!(
        "<_><maxWeakCount>{trees}</maxWeakCount><stageThreshold>0.</stageThreshold>\
         <weakClassifiers>{}</weakClassifiers></_>",
        tree.repeat(trees)
    );
    format!(
        "<?xml version=\"1.0\"?><opencv_storage><cascade type_id=\"opencv-cascade-classifier\">\
         <stageType>BOOST</stageType><featureType>HAAR</featureType><height>4</height>\
         <width>4</width><stageParams><maxWeakCount>{trees}</maxWeakCount></stageParams>\
         <featureParams><maxCatCount>0</maxCatCount></featureParams><stageNum>{stages}</stageNum>\
         <stages>{}</stages><features><_><rects><_>0 0 2 4 1.</_><_>2 0 2 4 -1.</_></rects></_>\
         </features></cascade></opencv_storage>",
        stage.repeat(stages)
    )
}

/// A PNG of noise: it does not compress, so it is about 3 bytes a pixel.
fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let image = image::RgbImage::from_fn(width, height, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        };
        image::Rgb([next(), next(), next()])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

/// One decode slot for the whole process, waited for at most `wait`.
fn one_decode_slot(wait: Duration) -> Box<dyn FnOnce(&mut PlatformConfig) + Send> {
    Box::new(move |config| {
        config.uploads.max_concurrent_decodes = 1;
        config.uploads.decode_wait = wait;
    })
}

async fn app_with(options: AppOptions) -> TestApp {
    spawn_app_with(Backend::Embedded, options).await
}

/// Asserts that less than `limit` has passed since `started`.
fn assert_within(started: Instant, limit: Duration) {
    let elapsed = started.elapsed();
    assert!(elapsed < limit, "took {elapsed:?}, more than {limit:?}");
}

fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Finding 2: posting an own cascade needs a session (401 without one, before its bytes are
/// read); the named cascades stay open to everyone.
#[tokio::test]
async fn an_own_cascade_needs_a_session_but_named_cascades_stay_open() {
    let app = app_with(AppOptions::default()).await;
    let xml = accept_all_cascade(1, 1);
    let anonymous = detect_as(&app, None, "", images::png(64, 64), Some(&xml)).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(anonymous).await, "unauthenticated");
    let named = detect_as(&app, None, "", images::png(64, 64), None).await;
    assert_eq!(named.status(), StatusCode::OK);
    let token = app.user().await;
    let own = detect_as(&app, Some(&token), "", images::png(16, 16), Some(&xml)).await;
    assert_eq!(own.status(), StatusCode::OK);
    app.stop().await;
}

/// Finding 2: the audit's one-stage cascade that accepts every window cost 28 s of CPU on a
/// 640×480 image (grouping is quadratic in the candidates); now it stops at the candidate limit
/// with 422 `too-many-candidates`, at once.
#[tokio::test]
async fn a_cascade_that_accepts_every_window_stops_at_the_candidate_limit() {
    let app = app_with(AppOptions::default()).await;
    let token = app.user().await;
    let started = Instant::now();
    let response = detect_as(
        &app,
        Some(&token),
        "",
        images::png(640, 480),
        Some(&accept_all_cascade(1, 1)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(response).await, "too-many-candidates");
    assert_within(started, Duration::from_secs(5));
    app.stop().await;
}

/// Finding 2: a posted cascade over the stage, tree or feature limits is 422
/// `cascade-too-large`; one over the byte limit is 413.
#[tokio::test]
async fn a_cascade_over_the_limits_is_refused() {
    let app = app_with(AppOptions {
        server: Box::new(|server| {
            server.detect.cascade.max_stages = 3;
            server.detect.cascade.max_trees = 50;
            server.detect.max_cascade_bytes = 64 * 1024;
        }),
        ..AppOptions::default()
    })
    .await;
    let token = app.user().await;
    for (xml, what) in [
        (accept_all_cascade(4, 1), "stages"),
        (accept_all_cascade(2, 30), "trees"),
    ] {
        let response = detect_as(&app, Some(&token), "", images::png(16, 16), Some(&xml)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}"
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "cascade-too-large", "{what}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(what)),
            "{body}"
        );
    }
    let big = accept_all_cascade(3, 800);
    assert!(big.len() > 64 * 1024);
    let response = detect_as(&app, Some(&token), "", images::png(16, 16), Some(&big)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(response).await, "payload-too-large");
    app.stop().await;
}

/// Finding 2: an image over detection's side limit is refused from its header (the audit's
/// 5000×5000 PNG in an 88 kB request raised memory by 1.7 GB), and a detection past its
/// deadline stops with 422 `detection-too-slow`.
#[tokio::test]
async fn detection_bounds_the_image_side_and_the_time() {
    let app = app_with(AppOptions::default()).await;
    let response = detect_as(&app, None, "", images::bomb_png(5000, 5000), None).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(response).await, "image-too-large");
    app.stop().await;

    let app = app_with(AppOptions {
        server: Box::new(|server| server.detect.deadline = Duration::from_millis(1)),
        ..AppOptions::default()
    })
    .await;
    let response = detect_as(&app, None, "", images::png(640, 480), None).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(response).await, "detection-too-slow");
    app.stop().await;
}

/// Finding 2: a detection whose request went away (here: past the request timeout) stops
/// within a row of windows and gives its decode slot back; before, the work went on for
/// minutes after the client left.
#[tokio::test]
async fn a_detection_whose_request_timed_out_stops_and_frees_its_slot() {
    let app = app_with(AppOptions {
        tweak: one_decode_slot(Duration::from_secs(60)),
        server: Box::new(|server| {
            server.requests.request_timeout = Duration::from_secs(1);
            server.detect.max_candidates = usize::MAX;
            server.detect.deadline = Duration::from_secs(600);
        }),
        ..AppOptions::default()
    })
    .await;
    let token = app.user().await;
    // 64 stages of 150 trees on every window of a 1024² image: minutes of work.
    let heavy = detect_as(
        &app,
        Some(&token),
        "?min_neighbors=0",
        images::png(1024, 1024),
        Some(&accept_all_cascade(64, 150)),
    )
    .await;
    assert_eq!(heavy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&heavy).is_some());
    assert_eq!(error_code(heavy).await, "timeout");
    // The one decode slot frees up as soon as the canceled scan notices.
    let started = Instant::now();
    let next = detect_as(&app, None, "", images::png(64, 64), None).await;
    assert_eq!(next.status(), StatusCode::OK);
    assert_within(started, Duration::from_secs(10));
    app.stop().await;
}

/// Finding 6: routes that take no file take small bodies (413 with the usual error shape):
/// login, LittleStudio's login, photo3d's JSON form; a stroke has its own, larger limit; files
/// still go up to the upload limit.
#[tokio::test]
async fn json_bodies_are_small_and_files_keep_the_large_limit() {
    let app = app_with(AppOptions::default()).await;
    let token = app.user().await;
    let padding = "x".repeat(100 * 1024);
    for (path, body) in [
        (
            "/api/v1/auth/login",
            json!({"username": padding, "password": "p"}),
        ),
        (
            "/compat/littlestudio/user/login",
            json!({"username": padding, "password": "p"}),
        ),
        ("/api/v1/photo3d", json!({"upload_id": padding})),
    ] {
        let response = app.post_json(&token, path, body).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(error_code(response).await, "payload-too-large", "{path}");
    }

    let drawing = app.create_drawing(&token, 200, 100).await;
    let strokes = app.url(&format!("/api/v1/drawings/{}/strokes", drawing["id"]));
    let stroke = |pad: usize| {
        format!(
            "{{\"client_id\": \"s{pad}\", \"points\": [[1, 1], [20, 20]],{}\"color\": \"#000000\", \"width\": 2}}",
            " ".repeat(pad)
        )
    };
    let post = |body: String| {
        app.client
            .post(strokes.clone())
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // 100 KiB: over the JSON limit, within the stroke's.
    let ok = post(stroke(100 * 1024)).await.expect("post");
    assert_eq!(ok.status(), StatusCode::CREATED);
    let over = post(stroke(300 * 1024)).await.expect("post");
    assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(over).await, "payload-too-large");

    let file = noise_png(256, 256);
    assert!(file.len() > 64 * 1024);
    assert_eq!(
        app.upload(&token, file, "big.png").await.status(),
        StatusCode::CREATED
    );
    app.stop().await;
}

/// Finding 7: images are decoded under a bounded pool; when it stays full past the wait, an
/// upload (or a detection) is answered 503 `busy` with `Retry-After` instead of decoding.
#[tokio::test]
async fn a_full_decode_pool_answers_503_with_retry_after() {
    let app = app_with(AppOptions {
        tweak: one_decode_slot(Duration::from_millis(200)),
        ..AppOptions::default()
    })
    .await;
    let token = app.user().await;
    let held = app.platform.decode_slot().await.expect("the one slot");
    let upload = app.upload(&token, images::png(32, 32), "a.png").await;
    assert_eq!(upload.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&upload).is_some());
    assert_eq!(error_code(upload).await, "busy");
    let detect = detect_as(&app, None, "", images::png(32, 32), None).await;
    assert_eq!(detect.status(), StatusCode::SERVICE_UNAVAILABLE);
    drop(held);
    let upload = app.upload(&token, images::png(32, 32), "a.png").await;
    assert_eq!(upload.status(), StatusCode::CREATED);
    app.stop().await;
}

/// Issue 18 (fair latency): detection waits its turn for one of the CPU slots; past the
/// queue's length the answer is 503 `busy` with `Retry-After` at once, and a waiting request
/// runs as soon as the slot frees.
#[tokio::test]
async fn detection_waits_in_line_for_a_cpu_slot_and_a_full_line_answers_503() {
    let app = app_with(AppOptions {
        tweak: Box::new(|config| {
            config.cpu.slots = 1;
            config.cpu.max_queued = 1;
            config.cpu.wait = Duration::from_secs(30);
        }),
        ..AppOptions::default()
    })
    .await;
    let held = app.platform.cpu_slot().await.expect("the one slot");
    let waiting = {
        let app_client = app.client.clone();
        let url = app.url("/api/v1/detect");
        tokio::spawn(async move {
            let part = multipart::Part::bytes(images::png(64, 48)).file_name("a.png");
            app_client
                .post(url)
                .multipart(multipart::Form::new().part("file", part))
                .send()
                .await
                .expect("detect")
                .status()
        })
    };
    // The first request takes the one place in line; the next finds the line full.
    let started = Instant::now();
    let refused = loop {
        let response = detect_as(&app, None, "", images::png(64, 48), None).await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            break response;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never refused");
        assert!(
            !waiting.is_finished(),
            "the waiting request ran while the slot was held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(retry_after(&refused).is_some());
    assert_eq!(error_code(refused).await, "busy");
    assert!(
        !waiting.is_finished(),
        "the waiting request ran while the slot was held"
    );
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the waiting request ran once the slot was free")
        .expect("task");
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

/// An upload of a small image by `token` on `app`, on its own task.
fn spawn_upload(app: &TestApp, token: &str) -> tokio::task::JoinHandle<reqwest::Response> {
    let (client, url, token) = (
        app.client.clone(),
        app.url("/api/v1/uploads"),
        token.to_owned(),
    );
    tokio::spawn(async move {
        let part = multipart::Part::bytes(images::png(8, 8)).file_name("a.png");
        client
            .post(url)
            .bearer_auth(token)
            .multipart(multipart::Form::new().part("file", part))
            .send()
            .await
            .expect("upload")
    })
}

/// Finding 7: past the global concurrency limit a request is shed at once (503 `overloaded`
/// with `Retry-After`; health stays answered), and a request past the timeout is answered 503
/// `timeout`.
#[tokio::test]
async fn requests_past_the_concurrency_limit_are_shed_and_slow_ones_time_out() {
    let app = app_with(AppOptions {
        tweak: one_decode_slot(Duration::from_secs(60)),
        server: Box::new(|server| server.requests.max_concurrent_requests = 1),
        ..AppOptions::default()
    })
    .await;
    let token = app.user().await;
    // The only request slot: an upload waiting for the decode slot the test holds.
    let held = app.platform.decode_slot().await.expect("the one slot");
    // No other request may be in flight while the upload starts, or the upload itself is the
    // one shed: start it alone, and again if it was answered at once.
    let deadline = Instant::now() + Duration::from_secs(20);
    let slow = loop {
        let slow = spawn_upload(&app, &token);
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !slow.is_finished() {
            break slow;
        }
        assert!(
            Instant::now() < deadline,
            "the upload never held the only request slot"
        );
    };
    let shed = app.get(&token, "/api/v1/me").await;
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&shed).is_some());
    assert_eq!(error_code(shed).await, "overloaded");
    let health = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("get");
    assert_eq!(health.status(), StatusCode::OK);
    drop(held);
    assert_eq!(slow.await.expect("join").status(), StatusCode::CREATED);
    assert_eq!(app.get(&token, "/api/v1/me").await.status(), StatusCode::OK);
    app.stop().await;

    let app = app_with(AppOptions {
        tweak: one_decode_slot(Duration::from_secs(60)),
        server: Box::new(|server| server.requests.request_timeout = Duration::from_secs(1)),
        ..AppOptions::default()
    })
    .await;
    let token = app.user().await;
    let held = app.platform.decode_slot().await.expect("the one slot");
    let slow = spawn_upload(&app, &token).await.expect("join");
    assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&slow).is_some());
    assert_eq!(error_code(slow).await, "timeout");
    drop(held);
    app.stop().await;
}

/// Finding 8: a job canceled while it runs re-checks its state before it stores an output, so
/// nothing is stored (before, it stored its outputs after the cancel).
#[tokio::test]
async fn a_job_canceled_before_it_stores_leaves_no_output() {
    let app = app_with(AppOptions::default()).await;
    let (token, user) = app.register("canceler", "Parent").await;
    let owner = user["id"].as_i64().expect("id");
    let upload = app.upload_ok(&token, images::png(64, 64)).await;
    let mut paused = app.platform.pause_points().arm(PausePoint::JobBeforeStore);
    let job: Value = app
        .create_job(&token, "thumbnail", json!({"upload_id": upload["id"]}))
        .await
        .json()
        .await
        .expect("json");
    let id = job["id"].as_str().expect("id").to_owned();
    paused.reached().await;
    let canceled = app
        .post_json(&token, &format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(canceled.status(), StatusCode::OK);
    paused.resume();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let outputs = uploads::list_job_outputs(&app.platform, owner, &id)
            .await
            .expect("outputs");
        assert!(outputs.is_empty(), "a canceled job stored {outputs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let job: Value = app
        .get(&token, &format!("/api/v1/jobs/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(job["status"], "canceled");
    app.stop().await;
}

/// Finding 8: what a canceled job still managed to store is removed by the housekeeping pass;
/// the outputs of jobs that were not canceled stay.
#[tokio::test]
async fn the_housekeeping_pass_removes_what_canceled_jobs_stored() {
    let app = app_with(AppOptions {
        workers: 0,
        ..AppOptions::default()
    })
    .await;
    let (token, user) = app.register("sweeper", "Parent").await;
    let owner = user["id"].as_i64().expect("id");
    let upload = app.upload_ok(&token, images::png(64, 64)).await;
    let mut jobs = Vec::new();
    for side in [16, 24] {
        let job: Value = app
            .create_job(
                &token,
                "thumbnail",
                json!({"upload_id": upload["id"], "max_side": side}),
            )
            .await
            .json()
            .await
            .expect("json");
        let id = job["id"].as_str().expect("id").to_owned();
        // As a job that stored its output just as it was canceled.
        uploads::store_output(&app.platform, owner, &id, images::png(side, side), None)
            .await
            .expect("store");
        jobs.push(id);
    }
    let canceled = app
        .post_json(
            &token,
            &format!("/api/v1/jobs/{}/cancel", jobs[0]),
            json!({}),
        )
        .await;
    assert_eq!(canceled.status(), StatusCode::OK);
    let swept = maintenance::run_once(&app.platform).await.expect("pass");
    assert_eq!(swept.canceled_outputs, 1);
    let outputs = |id: String| {
        let platform = app.platform.clone();
        async move {
            uploads::list_job_outputs(&platform, owner, &id)
                .await
                .expect("outputs")
                .len()
        }
    };
    assert_eq!(outputs(jobs[0].clone()).await, 0);
    assert_eq!(
        outputs(jobs[1].clone()).await,
        1,
        "a queued job's file stays"
    );
    app.stop().await;
}

/// Finding 11: of two concurrent submits of one drawing only one queues an animate job; the
/// loser is 409 and leaves neither a job nor its rendered image behind. The pause point holds
/// the first submit between its image and its record, where the race used to fall.
#[tokio::test]
async fn concurrent_submits_of_one_drawing_queue_one_animate_job() {
    let app = app_with(AppOptions {
        workers: 0,
        ..AppOptions::default()
    })
    .await;
    let token = app.user().await;
    let drawing = app.create_drawing(&token, 200, 100).await;
    let submit_url = app.url(&format!("/api/v1/drawings/{}/submit", drawing["id"]));
    let submit = |title: &'static str| {
        let (client, url, token) = (app.client.clone(), submit_url.clone(), token.clone());
        async move {
            client
                .put(url)
                .bearer_auth(token)
                .multipart(multipart::Form::new().text("title", title))
                .send()
                .await
                .expect("submit")
        }
    };
    let mut paused = app
        .platform
        .pause_points()
        .arm(PausePoint::SubmitBeforeRecord);
    let first = tokio::spawn(submit("first"));
    paused.reached().await;
    let second = submit("second").await;
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["animation"]["status"], "queued");
    paused.resume();
    let first = first.await.expect("join");
    assert_eq!(first.status(), StatusCode::CONFLICT);

    let jobs: Vec<Value> = app
        .get(&token, "/api/v1/jobs")
        .await
        .json()
        .await
        .expect("json");
    let animate = jobs.iter().filter(|j| j["kind"] == "animate").count();
    assert_eq!(animate, 1, "{jobs:?}");
    let files: Vec<Value> = app
        .get(&token, "/api/v1/uploads")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(files.len(), 1, "only the winner's image: {files:?}");
    app.stop().await;
}
