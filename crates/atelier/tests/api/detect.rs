//! Detection over HTTP: boxes on a real photo, the drawn image, the toy application's flow on a
//! stored upload, user cascades, and bad input. Needs OpenCV's cascade files (Debian
//! `opencv-data`, installed by `.ci/run`).

use image::{DynamicImage, ImageFormat, imageops::FilterType};
use reqwest::{StatusCode, multipart};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, error_code, images, spawn_app};

/// scikit-image's `astronaut` (one face), from the classify crate's fixtures, enlarged to 512².
pub fn astronaut_png() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../classify/tests/fixtures/parity/images/000.png"
    );
    let small = image::open(path).expect("fixture");
    let big = small.resize_exact(512, 512, FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(big.to_rgb8())
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

pub async fn detect(
    app: &TestApp,
    query: &str,
    image: Vec<u8>,
    xml: Option<&str>,
) -> reqwest::Response {
    detect_as(app, None, query, image, xml).await
}

/// [`detect`] signed in as `token` (an own cascade needs a session).
pub async fn detect_as(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    image: Vec<u8>,
    xml: Option<&str>,
) -> reqwest::Response {
    let mut form =
        multipart::Form::new().part("file", multipart::Part::bytes(image).file_name("image"));
    if let Some(xml) = xml {
        form = form.part(
            "cascade_xml",
            multipart::Part::bytes(xml.as_bytes().to_vec()).file_name("c.xml"),
        );
    }
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/detect{query}")))
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("post")
}

#[tokio::test]
async fn a_face_is_found_and_drawn() {
    let app = spawn_app(Backend::Embedded).await;
    let cascades: Vec<Value> = app
        .client
        .get(app.url("/api/v1/detect/cascades"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = cascades.iter().filter_map(|c| c["name"].as_str()).collect();
    for expected in [
        "frontalface_default",
        "eye",
        "fullbody",
        "frontalcatface",
        "lbp_frontalface_improved",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    let response = detect(
        &app,
        "?cascade=frontalface_default&min_neighbors=5",
        astronaut_png(),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let found: Value = response.json().await.expect("json");
    let boxes = found["boxes"].as_array().expect("boxes");
    assert_eq!(boxes.len(), 1, "one face: {found}");
    let (x, y, w) = (
        boxes[0]["x"].as_i64().unwrap_or(0),
        boxes[0]["y"].as_i64().unwrap_or(0),
        boxes[0]["width"].as_i64().unwrap_or(0),
    );
    assert!(
        (150..350).contains(&x) && (20..250).contains(&y) && w > 40,
        "the face is in the upper middle: {found}"
    );

    let drawn = detect(&app, "?min_neighbors=5&draw=true", astronaut_png(), None).await;
    assert_eq!(drawn.status(), StatusCode::OK);
    assert_eq!(drawn.headers()["content-type"], "image/png");
    let picture = image::load_from_memory(&drawn.bytes().await.expect("bytes"))
        .expect("png")
        .to_rgb8();
    assert_eq!(
        picture.get_pixel(x as u32, y as u32).0,
        [255, 40, 40],
        "the box is drawn at its corner"
    );

    // The toy application's flow: store the image, download the processed one.
    let token = app.user().await;
    let upload = app.upload_ok(&token, astronaut_png()).await;
    let processed = app
        .get(
            &token,
            &format!(
                "/api/v1/detect/uploads/{}?min_neighbors=5",
                upload["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(processed.status(), StatusCode::OK);
    let processed = image::load_from_memory(&processed.bytes().await.expect("bytes"))
        .expect("png")
        .to_rgb8();
    assert_eq!(processed.get_pixel(x as u32, y as u32).0, [255, 40, 40]);
    let stranger = app.user().await;
    let refused = app
        .get(
            &stranger,
            &format!(
                "/api/v1/detect/uploads/{}",
                upload["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_users_own_cascade_is_used_and_a_broken_one_refused() {
    let app = spawn_app(Backend::Embedded).await;
    let xml = std::fs::read_to_string(
        "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
    )
    .expect("opencv-data is installed");
    let token = app.user().await;
    let token = Some(token.as_str());
    let custom = detect_as(&app, token, "?min_neighbors=5", astronaut_png(), Some(&xml)).await;
    assert_eq!(custom.status(), StatusCode::OK);
    let custom: Value = custom.json().await.expect("json");
    assert_eq!(custom["cascade"], "custom");
    assert_eq!(custom["boxes"].as_array().map(Vec::len), Some(1));

    let broken = detect_as(
        &app,
        token,
        "",
        astronaut_png(),
        Some("<opencv_storage><cascade>"),
    )
    .await;
    assert_eq!(broken.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(broken).await, "bad-cascade");
    let truncated = detect_as(
        &app,
        token,
        "",
        astronaut_png(),
        Some(&xml[..xml.len() / 2]),
    )
    .await;
    assert_eq!(truncated.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn bad_images_and_absurd_parameters_get_clear_4xx() {
    let app = spawn_app(Backend::Embedded).await;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "",
            b"plain text".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            "",
            images::bomb_png(30_000, 30_000),
            StatusCode::UNPROCESSABLE_ENTITY,
            "image-too-large",
        ),
        (
            "",
            Vec::new(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            "?scale_factor=1.0",
            images::png(64, 64),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-detection-parameters",
        ),
        (
            "?scale_factor=0.5",
            images::png(64, 64),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-detection-parameters",
        ),
        (
            "?min_width=500&min_height=500",
            images::png(64, 64),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-detection-parameters",
        ),
        (
            "?cascade=teapot",
            images::png(64, 64),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            "?scale_factor=abc",
            images::png(64, 64),
            StatusCode::BAD_REQUEST,
            "bad-query",
        ),
    ];
    for (query, image, status, code) in cases {
        let response = detect(&app, query, image, None).await;
        assert_eq!(response.status(), status, "{query}");
        assert_eq!(error_code(response).await, code, "{query}");
    }
    let tiny = detect(&app, "", images::png(1, 1), None).await;
    assert_eq!(
        tiny.status(),
        StatusCode::OK,
        "a 1×1 image simply has no faces"
    );
    assert_eq!(
        tiny.json::<Value>().await.expect("json")["boxes"],
        serde_json::json!([])
    );
    app.stop().await;
}

/// Posts `fields` (text parts, in order) and the image as `file` at `file_at` among them.
async fn detect_form(
    app: &TestApp,
    query: &str,
    fields: &[(&'static str, &'static str)],
    file_at: usize,
) -> reqwest::Response {
    let mut form = multipart::Form::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i == file_at {
            form = form.part(
                "file",
                multipart::Part::bytes(astronaut_png()).file_name("face.png"),
            );
        }
        form = form.text(*name, *value);
    }
    if file_at >= fields.len() {
        form = form.part(
            "file",
            multipart::Part::bytes(astronaut_png()).file_name("face.png"),
        );
    }
    app.client
        .post(app.url(&format!("/api/v1/detect{query}")))
        .multipart(form)
        .send()
        .await
        .expect("post")
}

async fn boxes(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.expect("json")["boxes"].clone()
}

#[tokio::test]
async fn form_parts_are_read_by_name_in_any_order_and_the_query_wins() {
    let app = spawn_app(Backend::Embedded).await;
    let eyes_by_query = boxes(detect(&app, "?cascade=eye", astronaut_png(), None).await).await;
    let faces =
        boxes(detect(&app, "?cascade=frontalface_default", astronaut_png(), None).await).await;
    assert!(
        !eyes_by_query.as_array().expect("boxes").is_empty(),
        "the astronaut's eyes are found"
    );
    assert_ne!(eyes_by_query, faces);

    // `curl -F cascade=eye -F file=@face.png`: the field before the file.
    let before = boxes(detect_form(&app, "", &[("cascade", "eye")], 1).await).await;
    assert_eq!(before, eyes_by_query);
    // `curl -F file=@face.png -F cascade=eye`: the field after the file.
    let after = boxes(detect_form(&app, "", &[("cascade", "eye")], 0).await).await;
    assert_eq!(after, eyes_by_query);
    // The query wins over a form field naming the same parameter.
    let both = boxes(
        detect_form(
            &app,
            "?cascade=frontalface_default",
            &[("cascade", "eye")],
            1,
        )
        .await,
    )
    .await;
    assert_eq!(both, faces);

    let unknown = detect_form(&app, "", &[("colour", "red")], 1).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(unknown).await, "unknown-part");
    let bad_number = detect_form(&app, "", &[("min_neighbors", "many")], 1).await;
    assert_eq!(
        bad_number.status(),
        StatusCode::BAD_REQUEST,
        "a bad field value reads like a bad query value"
    );
    assert_eq!(error_code(bad_number).await, "bad-query");
    app.stop().await;
}
