//! Registration, login, logout, me; wrong passwords, duplicates, expired and revoked tokens.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, Backend, error_code, spawn_app, spawn_app_with};

async fn register_login_me_logout(backend: Backend) {
    let app = spawn_app(backend).await;
    let (token, user) = app.register("ann", "Parent").await;
    assert_eq!(user["username"], "ann");
    assert_eq!(user["type"], "Parent");
    assert_eq!(user["gender"], "Other");
    assert!(user["id"].is_i64());
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());

    let me: Value = app
        .get(&token, "/api/v1/me")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["username"], "ann");

    let login = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "ann", "password": "correct horse"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.starts_with("atelier_session="),
        "{cookie}"
    );
    let second: Value = login.json().await.expect("json");
    let second_token = second["token"].as_str().expect("token").to_owned();
    assert_ne!(second_token, token, "each login is a new session");

    // The cookie alone authenticates.
    let cookie_pair = cookie.split(';').next().expect("pair").to_owned();
    let by_cookie = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", cookie_pair.clone())
        .send()
        .await
        .expect("me");
    assert_eq!(by_cookie.status(), StatusCode::OK);

    let logout = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&second_token)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let revoked = app.get(&second_token, "/api/v1/me").await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(revoked).await, "unauthenticated");
    let revoked_cookie = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", cookie_pair)
        .send()
        .await
        .expect("me");
    assert_eq!(revoked_cookie.status(), StatusCode::UNAUTHORIZED);
    // The first session is unaffected.
    assert_eq!(app.get(&token, "/api/v1/me").await.status(), StatusCode::OK);
    app.stop().await;
}

async fn wrong_password_and_unknown_user_are_refused_alike(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("bob", "Child").await;
    for (username, password) in [("bob", "wrong password"), ("nobody", "correct horse")] {
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["message"], "wrong username or password");
    }
    app.stop().await;
}

async fn a_taken_username_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("cat", "Parent").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"username": "cat", "password": "another one", "gender": "Male", "type": "Child"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(response).await, "conflict");
    app.stop().await;
}

async fn an_expired_session_is_refused(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tweak: Box::new(|config| config.session_ttl = Duration::from_millis(600)),
            ..AppOptions::default()
        },
    )
    .await;
    let (token, _) = app.register("dan", "Parent").await;
    assert_eq!(app.get(&token, "/api/v1/me").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let response = app.get(&token, "/api/v1/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("expired"),
        "{body}"
    );
    app.stop().await;
}

crate::on_both_backends!(
    register_login_me_logout,
    wrong_password_and_unknown_user_are_refused_alike,
    a_taken_username_is_a_conflict,
    an_expired_session_is_refused,
);

#[tokio::test]
async fn a_client_that_prehashes_with_sha256_logs_in_with_the_same_digest() {
    let app = spawn_app(Backend::Embedded).await;
    let digest = atelier_platform::secrets::sha256_hex(b"secret");
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"username": "android", "password": digest, "gender": "Female", "type": "Child"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let ok = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "android", "password": digest}))
        .send()
        .await
        .expect("login");
    assert_eq!(ok.status(), StatusCode::OK);
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'android'")
            .fetch_one(app.platform.db().pool())
            .await
            .expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = spawn_app(Backend::Embedded).await;
    let no_token = app
        .client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(no_token).await, "unauthenticated");

    let garbage_token = app.get("not-a-real-token", "/api/v1/me").await;
    assert_eq!(garbage_token.status(), StatusCode::UNAUTHORIZED);

    let malformed = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(malformed).await, "malformed-json");

    let bad_gender = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"username": "eve", "password": "long enough", "gender": "Robot", "type": "Parent"}))
        .send()
        .await
        .expect("post");
    assert_eq!(bad_gender.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(bad_gender).await, "invalid-json-fields");

    let short_password = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(
            &json!({"username": "eve", "password": "short", "gender": "Female", "type": "Parent"}),
        )
        .send()
        .await
        .expect("post");
    assert_eq!(short_password.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(short_password).await, "invalid-input");
    app.stop().await;
}
