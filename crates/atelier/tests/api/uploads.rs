//! Uploads: accepted and refused types, size cap, decompression bombs, truncated files, signed
//! links, ownership — and nothing stored when anything is refused.

use image::ImageFormat;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{AppOptions, Backend, TestApp, error_code, images, spawn_app, spawn_app_with};

async fn download(app: &TestApp, url: &str) -> reqwest::Response {
    let absolute = if url.starts_with('/') {
        app.url(url)
    } else {
        url.to_owned()
    };
    app.client.get(absolute).send().await.expect("download")
}

async fn uploads_list(app: &TestApp, token: &str) -> Vec<Value> {
    app.get(token, "/api/v1/uploads")
        .await
        .json()
        .await
        .expect("json")
}

async fn accepted_types_are_stored_and_downloadable(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let cases = [
        (images::png(40, 30), "png", "image/png"),
        (images::jpeg(40, 30), "jpeg", "image/jpeg"),
        (
            images::encoded(40, 30, ImageFormat::Gif),
            "gif",
            "image/gif",
        ),
        (
            images::encoded(40, 30, ImageFormat::WebP),
            "webp",
            "image/webp",
        ),
    ];
    for (bytes, kind, mime) in cases {
        let upload = app.upload_ok(&token, bytes.clone()).await;
        assert_eq!(upload["kind"], kind);
        assert_eq!(upload["content_type"], mime);
        assert_eq!(
            (upload["width"].as_i64(), upload["height"].as_i64()),
            (Some(40), Some(30))
        );
        assert_eq!(upload["size"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(
            upload["sha256"],
            atelier_platform::secrets::sha256_hex(&bytes)
        );
        let fetched = download(&app, upload["url"].as_str().expect("url")).await;
        assert_eq!(fetched.status(), StatusCode::OK, "{kind}");
        assert_eq!(
            fetched.bytes().await.expect("bytes").to_vec(),
            bytes,
            "{kind} round trip"
        );
    }
    assert_eq!(uploads_list(&app, &token).await.len(), 4);
    assert_eq!(
        app.platform
            .storage()
            .list_keys("blobs")
            .await
            .expect("list")
            .len(),
        4,
        "one blob per file"
    );

    // An MP4 (checked by its box structure) is accepted without pixel checks.
    let video = app.upload_ok(&token, crate::helpers::tiny_mp4()).await;
    assert_eq!(video["kind"], "mp4");
    assert!(video["width"].is_null());
    app.stop().await;
}

async fn refused_uploads_store_nothing(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tweak: Box::new(|config| config.uploads.max_bytes = 200_000),
            ..AppOptions::default()
        },
    )
    .await;
    let token = app.user().await;

    let text = app
        .upload(
            &token,
            b"I am a text file wearing a .png name".to_vec(),
            "fake.png",
        )
        .await;
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(text).await, "unsupported-media-type");

    let mut big = vec![0xFF, 0xD8, 0xFF, 0xE0];
    big.resize(300_000, 7);
    let oversize = app.upload(&token, big, "big.jpg").await;
    assert_eq!(oversize.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(oversize).await, "payload-too-large");

    let header_bomb = app
        .upload(&token, images::bomb_png(30_000, 30_000), "bomb.png")
        .await;
    assert_eq!(header_bomb.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(header_bomb).await, "bad-image");

    let jpeg = images::jpeg(64, 64);
    let truncated = app
        .upload(&token, jpeg[..jpeg.len() / 2].to_vec(), "cut.jpg")
        .await;
    assert_eq!(truncated.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(truncated).await, "bad-image");

    let empty = app.upload(&token, Vec::new(), "empty.png").await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert!(
        uploads_list(&app, &token).await.is_empty(),
        "no upload rows"
    );
    if backend == Backend::Embedded {
        assert_eq!(app.local_blob_count(), 0, "no blobs");
    }
    let tmp = app.sandbox.dir.path().join("tmp");
    let leftovers = std::fs::read_dir(&tmp)
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "no spool files left in {}", tmp.display());
    app.stop().await;
}

crate::on_both_backends!(
    accepted_types_are_stored_and_downloadable,
    refused_uploads_store_nothing
);

#[tokio::test]
async fn a_real_decompression_bomb_is_refused_by_its_pixel_count() {
    // 8000 × 8000 grey zeros: 64 Mpx that deflate to a few tens of kilobytes.
    let image = image::DynamicImage::ImageLuma8(image::GrayImage::new(8000, 8000));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, ImageFormat::Png)
        .expect("encode");
    let bytes = bytes.into_inner();
    assert!(
        bytes.len() < 1_000_000,
        "the bomb is small: {} bytes",
        bytes.len()
    );
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let response = app.upload(&token, bytes, "bomb.png").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("8000×8000"),
        "{body}"
    );
    assert_eq!(app.local_blob_count(), 0);
    app.stop().await;
}

#[tokio::test]
async fn uploads_are_private_and_links_are_tamper_proof() {
    let app = spawn_app(Backend::Embedded).await;
    let alice = app.user().await;
    let bob = app.user().await;
    let upload = app.upload_ok(&alice, images::png(10, 10)).await;
    let id = upload["id"].as_str().expect("id");
    assert_eq!(
        app.get(&bob, &format!("/api/v1/uploads/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let delete = app
        .client
        .delete(app.url(&format!("/api/v1/uploads/{id}")))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);

    let url = upload["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/api/v1/files/"), "{url}");
    let tampered = url.replace("sig=", "sig=00");
    let refused = download(&app, &tampered).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let expired_at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        - 10) as i64;
    let object = url
        .trim_start_matches("/api/v1/files/")
        .split('?')
        .next()
        .expect("object")
        .to_owned();
    let old_sig = app.platform.signer().sign(&object, expired_at);
    let expired = download(
        &app,
        &format!("/api/v1/files/{object}?expires={expired_at}&sig={old_sig}"),
    )
    .await;
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    assert!(error_code(expired).await == "forbidden");

    // Same bytes uploaded twice share one blob; deleting one keeps the other readable.
    let again = app.upload_ok(&alice, images::png(10, 10)).await;
    assert_eq!(again["sha256"], upload["sha256"]);
    assert_eq!(app.local_blob_count(), 1);
    let delete = app
        .client
        .delete(app.url(&format!("/api/v1/uploads/{id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        download(&app, again["url"].as_str().expect("url"))
            .await
            .status(),
        StatusCode::OK
    );
    let last = again["id"].as_str().expect("id");
    app.client
        .delete(app.url(&format!("/api/v1/uploads/{last}")))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        app.local_blob_count(),
        0,
        "the last reference removes the blob"
    );
    app.stop().await;
}
