//! Shared blobs: identical bytes uploaded by two accounts share one blob, and no interleaving
//! of one account's upload with the other's delete (of an upload, of a job's outputs, of a 3D
//! photo) loses the blob a surviving upload points to. The race's window is reproduced every
//! time with a pause point; many concurrent pairs check the rest.

use std::time::Duration;

use atelier_platform::{pause::PausePoint, storage::Storage, uploads};
use reqwest::{StatusCode, multipart};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, images, spawn_app};

/// Downloads an upload's file through the link its JSON carries.
async fn download(app: &TestApp, token: &str, upload_id: &str) -> (StatusCode, Vec<u8>) {
    let view: Value = app
        .get(token, &format!("/api/v1/uploads/{upload_id}"))
        .await
        .json()
        .await
        .expect("upload json");
    let url = view["url"].as_str().expect("url");
    let response = app.client.get(app.url(url)).send().await.expect("download");
    let status = response.status();
    (status, response.bytes().await.expect("bytes").to_vec())
}

async fn delete_upload(app: &TestApp, token: &str, id: &str) -> StatusCode {
    app.client
        .delete(app.url(&format!("/api/v1/uploads/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("DELETE upload")
        .status()
}

/// Alice's delete runs to completion while Bob's upload of the same bytes stands between
/// "the blob is in the store" and "the row is inserted": before reference counting, Bob's
/// upload answered 201 and its download 404, every time.
async fn a_delete_inside_another_uploads_window_keeps_its_blob(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user().await;
    let bob = app.user().await;
    let bytes = images::png(33, 21);
    let first = app.upload_ok(&alice, bytes.clone()).await;

    let mut paused = app
        .platform
        .pause_points()
        .arm(PausePoint::BlobStoredBeforeRow);
    let upload = tokio::spawn({
        let (client, base, bob, bytes) = (
            app.client.clone(),
            app.base.clone(),
            bob.clone(),
            bytes.clone(),
        );
        async move {
            let part = multipart::Part::bytes(bytes).file_name("same.png");
            client
                .post(format!("{base}/api/v1/uploads"))
                .bearer_auth(bob)
                .multipart(multipart::Form::new().part("file", part))
                .send()
                .await
                .expect("upload")
        }
    });
    paused.reached().await;
    let first_id = first["id"].as_str().expect("id");
    assert_eq!(
        delete_upload(&app, &alice, first_id).await,
        StatusCode::NO_CONTENT
    );
    paused.resume();
    let response = upload.await.expect("upload task");
    assert_eq!(response.status(), StatusCode::CREATED);
    let second: Value = response.json().await.expect("json");
    let (status, body) = download(&app, &bob, second["id"].as_str().expect("id")).await;
    assert_eq!(status, StatusCode::OK, "Bob's new upload lost its blob");
    assert_eq!(body, bytes);
    app.stop().await;
}

/// Many concurrent pairs: Alice uploads then deletes, Bob uploads the same bytes at the same
/// moment; every upload that answered 201 and was not deleted must download intact.
async fn concurrent_identical_uploads_and_deletes_never_lose_a_blob(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user().await;
    let bob = app.user().await;
    let rounds: usize = 24;
    let pairs = (0..rounds).map(|i| {
        let app = &app;
        let (alice, bob) = (&alice, &bob);
        async move {
            let bytes = images::png(16 + (i as u32 % 4), 16 + (i as u32 / 4));
            let first = app.upload_ok(alice, bytes.clone()).await;
            let first_id = first["id"].as_str().expect("id").to_owned();
            let (deleted, second) = tokio::join!(
                delete_upload(app, alice, &first_id),
                app.upload(bob, bytes.clone(), "same.png")
            );
            assert_eq!(deleted, StatusCode::NO_CONTENT);
            assert_eq!(second.status(), StatusCode::CREATED);
            let second: Value = second.json().await.expect("json");
            (second["id"].as_str().expect("id").to_owned(), bytes)
        }
    });
    let survivors = futures::future::join_all(pairs).await;
    for (id, bytes) in survivors {
        let (status, body) = download(&app, &bob, &id).await;
        assert_eq!(status, StatusCode::OK, "upload {id} lost its blob");
        assert_eq!(body, bytes);
    }
    // Every blob left is referenced: Alice's deletes left nothing behind but Bob's files.
    let keys = app
        .platform
        .storage()
        .list_keys("blobs")
        .await
        .expect("list");
    assert_eq!(keys.len(), rounds, "{keys:?}");
    app.stop().await;
}

/// Deleting a 3D photo removes its outputs and inputs; Bob's upload of the same bytes as one
/// of its outputs, standing in its window, keeps its blob.
async fn deleting_a_3d_photo_keeps_an_identical_upload_of_another_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user().await;
    let bob = app.user().await;
    let photo = images::png(48, 36);
    let form = multipart::Form::new()
        .part("image", multipart::Part::bytes(photo).file_name("p.png"))
        .text("duration", "0.25")
        .text("fps", "8")
        .text("formats", "gif");
    let created = app
        .client
        .post(app.url("/api/v1/photo3d"))
        .bearer_auth(&alice)
        .multipart(form)
        .send()
        .await
        .expect("POST photo3d");
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let view: Value = created.json().await.expect("json");
    let job_id = view["job"]["id"].as_str().expect("id").to_owned();
    let owner_id = view["job"]["owner_id"].as_i64().expect("owner");
    app.wait_job(&alice, &job_id, Duration::from_secs(120), |job| {
        job["status"] == "succeeded"
    })
    .await;
    let outputs = uploads::list_job_outputs(&app.platform, owner_id, &job_id)
        .await
        .expect("outputs");
    let output = outputs
        .iter()
        .find(|u| u.kind == "gif")
        .expect("a GIF output");
    let bytes = app
        .platform
        .storage()
        .get_bytes(&Storage::blob_key(&output.sha256))
        .await
        .expect("output bytes")
        .to_vec();

    let mut paused = app
        .platform
        .pause_points()
        .arm(PausePoint::BlobStoredBeforeRow);
    let upload = tokio::spawn({
        let (client, base, bob, bytes) = (
            app.client.clone(),
            app.base.clone(),
            bob.clone(),
            bytes.clone(),
        );
        async move {
            let part = multipart::Part::bytes(bytes).file_name("same.gif");
            client
                .post(format!("{base}/api/v1/uploads"))
                .bearer_auth(bob)
                .multipart(multipart::Form::new().part("file", part))
                .send()
                .await
                .expect("upload")
        }
    });
    paused.reached().await;
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/photo3d/{job_id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("DELETE photo3d");
    assert_eq!(deleted.status(), StatusCode::OK);
    paused.resume();
    let response = upload.await.expect("upload task");
    assert_eq!(response.status(), StatusCode::CREATED);
    let second: Value = response.json().await.expect("json");
    let (status, body) = download(&app, &bob, second["id"].as_str().expect("id")).await;
    assert_eq!(status, StatusCode::OK, "Bob's upload lost its blob");
    assert_eq!(body, bytes);
    app.stop().await;
}

/// A crash between deleting the row and the object, a reference taken by an upload that died
/// before inserting its row, and an object no row knows (from before the count existed): the
/// collector cleans all three and keeps every referenced blob.
async fn blobs_orphaned_by_a_crash_are_collected(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user().await;
    let kept = app.upload_ok(&alice, images::png(20, 20)).await;
    let half_deleted = app.upload_ok(&alice, images::png(21, 20)).await;
    let leaked = app.upload_ok(&alice, images::png(22, 20)).await;
    let pool = app.platform.db().pool();
    let sha = |upload: &Value| upload["sha256"].as_str().expect("sha").to_owned();

    // Crash after the row went and the blob was marked, before the object was deleted.
    sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(half_deleted["id"].as_str().expect("id"))
        .execute(pool)
        .await
        .expect("delete row");
    sqlx::query("UPDATE blobs SET refs = 0, deleting_since = 0 WHERE sha256 = $1")
        .bind(sha(&half_deleted))
        .execute(pool)
        .await
        .expect("mark");
    // A reference whose upload never inserted its row; and one too many on a live blob.
    sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(leaked["id"].as_str().expect("id"))
        .execute(pool)
        .await
        .expect("delete row");
    sqlx::query("UPDATE blobs SET refs = refs + 1, updated_at = 0 WHERE sha256 IN ($1, $2)")
        .bind(sha(&leaked))
        .bind(sha(&kept))
        .execute(pool)
        .await
        .expect("leak");
    // An object without any row.
    let stray = atelier_platform::secrets::sha256_hex(b"stray");
    app.platform
        .storage()
        .put_bytes(&Storage::blob_key(&stray), b"stray".to_vec().into())
        .await
        .expect("put stray");
    tokio::time::sleep(Duration::from_millis(50)).await;

    let collected = atelier_platform::blobs::collect(&app.platform, Duration::ZERO, Duration::ZERO)
        .await
        .expect("collect");
    assert_eq!(collected.finished, 1, "{collected:?}");
    assert_eq!(collected.corrected, 2, "{collected:?}");
    assert_eq!(collected.orphans, 1, "{collected:?}");
    let mut keys = app
        .platform
        .storage()
        .list_keys("blobs")
        .await
        .expect("list");
    keys.sort();
    assert_eq!(keys, vec![Storage::blob_key(&sha(&kept)).to_string()]);
    let (status, _) = download(&app, &alice, kept["id"].as_str().expect("id")).await;
    assert_eq!(status, StatusCode::OK);
    // The corrected count is right: deleting the last upload removes the blob.
    assert_eq!(
        delete_upload(&app, &alice, kept["id"].as_str().expect("id")).await,
        StatusCode::NO_CONTENT
    );
    assert!(
        app.platform
            .storage()
            .list_keys("blobs")
            .await
            .expect("list")
            .is_empty()
    );
    app.stop().await;
}

crate::on_both_backends!(
    blobs_orphaned_by_a_crash_are_collected,
    a_delete_inside_another_uploads_window_keeps_its_blob,
    concurrent_identical_uploads_and_deletes_never_lose_a_blob,
    deleting_a_3d_photo_keeps_an_identical_upload_of_another_account,
);
