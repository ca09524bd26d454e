//! The audit's findings (issue 15), each reproduced over HTTP: registration without the
//! LittleStudio fields, metric labels from requests, Secure cookies behind TLS, no paths in
//! answers, MP4 box structure, throttled guessing with 429 + `Retry-After`, long invitation
//! codes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_code, random_suffix, spawn_app};

/// Finding 16: atelier's own API registers a 3D-photo or studio user, who has neither gender
/// nor family role; the LittleStudio compat route keeps asking for both.
#[tokio::test]
async fn registration_needs_neither_gender_nor_type() {
    let app = spawn_app(Backend::Embedded).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"username": "studio_user", "password": "correct horse"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert!(body["user"]["gender"].is_null(), "{body}");
    assert!(body["user"]["type"].is_null(), "{body}");
    let token = body["token"].as_str().expect("token");
    let me: Value = app
        .get(token, "/api/v1/me")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["username"], "studio_user");
    assert!(me["gender"].is_null());

    let seed = app
        .client
        .post(app.url("/compat/littlestudio/user"))
        .json(&json!({"username": "seed_user", "password": "correct horse"}))
        .send()
        .await
        .expect("compat register");
    // LittleStudio's route keeps its seed shape: both fields are required (a malformed body).
    assert_eq!(seed.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

/// Finding 10: made-up HTTP methods must not each become a metric series.
#[tokio::test]
async fn made_up_methods_are_counted_as_other() {
    let app = spawn_app(Backend::Embedded).await;
    let invented = format!("ZQ{}", random_suffix().to_uppercase());
    let method = Method::from_bytes(invented.as_bytes()).expect("method");
    let response = app
        .client
        .request(method, app.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
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
        !metrics.contains(&invented),
        "the invented method is a label"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    app.stop().await;
}

async fn login_cookie(app: &TestApp, forwarded_proto: Option<&str>) -> String {
    let mut request = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "cookie_user", "password": "correct horse"}));
    if let Some(proto) = forwarded_proto {
        request = request.header("x-forwarded-proto", proto);
    }
    let response = request.send().await.expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned()
}

/// Finding 13: a session cookie is `Secure` when the request came over TLS (as a proxy in
/// front says with `X-Forwarded-Proto: https`), and only then by default.
#[tokio::test]
async fn cookies_are_secure_when_the_request_came_over_https() {
    let app = spawn_app(Backend::Embedded).await;
    app.register("cookie_user", "Parent").await;
    let behind_tls = login_cookie(&app, Some("https")).await;
    assert!(behind_tls.contains("; Secure"), "{behind_tls}");
    let plain = login_cookie(&app, None).await;
    assert!(!plain.contains("Secure"), "{plain}");
    let plain_proxy = login_cookie(&app, Some("http")).await;
    assert!(!plain_proxy.contains("Secure"), "{plain_proxy}");
    app.stop().await;
}

/// Finding 13: `/readyz` says what the store is, not where it lives on disk.
#[tokio::test]
async fn readyz_shows_no_filesystem_paths() {
    let app = spawn_app(Backend::Embedded).await;
    let body = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .text()
        .await
        .expect("text");
    let dir = app.sandbox.dir.path().display().to_string();
    assert!(!body.contains(&dir), "{body}");
    assert!(!body.contains("/tmp"), "{body}");
    app.stop().await;
}

/// Finding 14: `ftyp` at bytes 4–8 is not enough; the boxes must tile the file and hold a
/// movie. A real MP4 (atelier's own muxer) is still accepted.
#[tokio::test]
async fn an_mp4_must_have_a_valid_box_structure() {
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let mut fake = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    fake.extend_from_slice(b"this is not a movie at all, just text after a header");
    let response = app.upload(&token, fake, "fake.mp4").await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(response).await, "unsupported-media-type");

    let mut zeros = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    zeros.extend_from_slice(&[0u8; 64]);
    let response = app.upload(&token, zeros, "zeros.mp4").await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let real = crate::helpers::tiny_mp4();
    let response = app.upload(&token, real, "real.mp4").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.local_blob_count(), 1);
    app.stop().await;
}

/// The first answer among `attempts` that is 429, with its `Retry-After` seconds.
async fn first_throttled(responses: Vec<reqwest::Response>) -> Option<(usize, u64)> {
    for (i, response) in responses.into_iter().enumerate() {
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("a 429 carries Retry-After in seconds");
            assert_eq!(error_code(response).await, "rate-limited");
            return Some((i, retry));
        }
    }
    None
}

/// Finding 5: repeated bad logins for one account end in 429 + `Retry-After`, and while
/// throttled even the right password waits; other accounts are not locked out by it.
#[tokio::test]
async fn repeated_bad_logins_are_throttled() {
    let app = spawn_app(Backend::Embedded).await;
    app.register("victim", "Parent").await;
    let mut responses = Vec::new();
    for _ in 0..12 {
        responses.push(
            app.client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"username": "victim", "password": "wrong password"}))
                .send()
                .await
                .expect("login"),
        );
    }
    let (at, retry) = first_throttled(responses)
        .await
        .expect("bad logins are throttled");
    assert!(at >= 3, "a few mistakes are allowed (throttled at {at})");
    assert!(retry >= 1);
    let right = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "victim", "password": "correct horse"}))
        .send()
        .await
        .expect("login");
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

/// Finding 5: guessing family invitation codes ends in 429 + `Retry-After`; codes are at least
/// 12 characters of an alphabet without look-alikes.
#[tokio::test]
async fn family_code_guesses_are_throttled_and_codes_are_long() {
    let app = spawn_app(Backend::Embedded).await;
    let parent = app.user().await;
    let family: Value = app
        .post_json(&parent, "/api/v1/families", json!({"name": "Long codes"}))
        .await
        .json()
        .await
        .expect("json");
    let code = family["invitation_code"].as_str().expect("code");
    assert!(code.len() >= 12, "{code}");
    assert!(
        code.chars()
            .all(|c| "ABCDEFGHJKMNPQRSTUVWXYZ23456789".contains(c)),
        "{code}"
    );
    let guesser = app.user().await;
    let mut responses = Vec::new();
    for i in 0..40 {
        responses.push(
            app.post_json(
                &guesser,
                "/api/v1/families/join",
                json!({"invitation_code": format!("GUESS{i:07}")}),
            )
            .await,
        );
    }
    let (_, retry) = first_throttled(responses)
        .await
        .expect("guesses are throttled");
    assert!(retry >= 1);
    app.stop().await;
}

/// Finding 5: guessing a drawing's invitation code ends in 429 too; drawing codes are long.
#[tokio::test]
async fn drawing_code_guesses_are_throttled_and_codes_are_long() {
    let app = spawn_app(Backend::Embedded).await;
    let host = app.user().await;
    let drawing: Value = app
        .post_json(
            &host,
            "/api/v1/drawings",
            json!({"width": 200, "height": 100}),
        )
        .await
        .json()
        .await
        .expect("json");
    let code = drawing["invitation_code"].as_str().expect("code");
    assert!(code.len() >= 12, "{code}");
    let id = drawing["id"].as_i64().expect("id");
    let guesser = app.user().await;
    let mut responses = Vec::new();
    for i in 0..40 {
        responses.push(
            app.post_json(
                &guesser,
                &format!("/api/v1/drawings/{id}/join"),
                json!({"invitation_code": format!("GUESS{i:07}")}),
            )
            .await,
        );
    }
    assert!(first_throttled(responses).await.is_some());
    app.stop().await;
}

/// Finding 5: one address registering account after account is throttled.
#[tokio::test]
async fn a_registration_flood_is_throttled() {
    let app = spawn_app(Backend::Embedded).await;
    let mut responses = Vec::new();
    for i in 0..60 {
        let response = app
            .client
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({"username": format!("flood_{i}"), "password": "correct horse"}))
            .send()
            .await
            .expect("register");
        let throttled = response.status() == StatusCode::TOO_MANY_REQUESTS;
        responses.push(response);
        if throttled {
            break;
        }
    }
    assert!(first_throttled(responses).await.is_some());
    app.stop().await;
}

/// Finding 13: signing keys come from the settings (the environment) with ids; a rotated key
/// keeps the links it signed valid, a retired key's links stop working.
#[tokio::test]
async fn a_rotated_signing_key_keeps_old_links_valid() {
    use std::sync::Arc;

    use atelier_platform::signing::SigningKey;

    use crate::helpers::{AppOptions, Sandbox, spawn_on};

    fn keys(spec: &'static str) -> AppOptions {
        AppOptions {
            tweak: Box::new(move |config| {
                config.url_signing_keys = SigningKey::parse_list(spec).expect("keys");
            }),
            ..AppOptions::default()
        }
    }
    async fn fetch(app: &TestApp, url: &str) -> StatusCode {
        app.client
            .get(app.url(url))
            .send()
            .await
            .expect("download")
            .status()
    }
    let sandbox = Arc::new(Sandbox::new(Backend::Embedded).await);
    let app = spawn_on(sandbox.clone(), keys("k1:first-secret-0123456789")).await;
    let token = app.user().await;
    let upload = app
        .upload_ok(&token, crate::helpers::images::png(12, 12))
        .await;
    let old_link = upload["url"].as_str().expect("url").to_owned();
    assert!(old_link.contains("kid=k1"), "{old_link}");
    assert_eq!(fetch(&app, &old_link).await, StatusCode::OK);
    app.stop().await;

    let app = spawn_on(
        sandbox.clone(),
        keys("k2:second-secret-0123456789,k1:first-secret-0123456789"),
    )
    .await;
    assert_eq!(fetch(&app, &old_link).await, StatusCode::OK);
    let id = upload["id"].as_str().expect("id");
    let view: Value = app
        .get(&token, &format!("/api/v1/uploads/{id}"))
        .await
        .json()
        .await
        .expect("json");
    let new_link = view["url"].as_str().expect("url").to_owned();
    assert!(new_link.contains("kid=k2"), "{new_link}");
    assert_eq!(fetch(&app, &new_link).await, StatusCode::OK);
    app.stop().await;

    let app = spawn_on(sandbox.clone(), keys("k2:second-secret-0123456789")).await;
    assert_eq!(fetch(&app, &old_link).await, StatusCode::FORBIDDEN);
    assert_eq!(fetch(&app, &new_link).await, StatusCode::OK);
    app.stop().await;
}

/// Finding 13: expired and revoked sessions are purged; live ones stay.
#[tokio::test]
async fn expired_and_revoked_sessions_are_purged() {
    use atelier_platform::{accounts, maintenance};

    let app = spawn_app(Backend::Embedded).await;
    let (live, user) = app.register("purged_user", "Parent").await;
    let user_id = user["id"].as_i64().expect("id");
    let db = app.platform.db();
    accounts::open_session(db, user_id, std::time::Duration::ZERO)
        .await
        .expect("expired session");
    let revoked = accounts::open_session(db, user_id, std::time::Duration::from_secs(60))
        .await
        .expect("session");
    accounts::logout(db, &revoked.token).await.expect("logout");
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions")
            .fetch_one(db.pool())
            .await
            .expect("count")
    };
    assert_eq!(count().await, 3);
    let swept = maintenance::run_once(&app.platform).await.expect("sweep");
    assert_eq!(swept.sessions, 2);
    assert_eq!(count().await, 1);
    assert_eq!(app.get(&live, "/api/v1/me").await.status(), StatusCode::OK);
    app.stop().await;
}

/// Finding 3: ink is bounded per stroke (422) and per drawing (409), so a submit's render is.
#[tokio::test]
async fn a_stroke_and_a_drawing_have_bounded_ink() {
    use crate::helpers::{AppOptions, spawn_app_with};

    let app = spawn_app_with(
        Backend::Embedded,
        AppOptions {
            tweak: Box::new(|config| config.strokes.max_ink_per_drawing = 20_000),
            ..AppOptions::default()
        },
    )
    .await;
    let host = app.user().await;
    let drawing = app.create_drawing(&host, 4096, 4096).await;
    let strokes = format!("/api/v1/drawings/{}/strokes", drawing["id"]);
    // The audit's stroke: 300 points across the canvas at width 200.
    let zigzag: Vec<[f32; 2]> = (0..300)
        .map(|i| [if i % 2 == 0 { 0.0 } else { 4096.0 }, (i * 13) as f32])
        .collect();
    let huge = app
        .post_json(
            &host,
            &strokes,
            json!({"client_id": "huge", "points": zigzag, "color": "#000000", "width": 200.0}),
        )
        .await;
    assert_eq!(huge.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Each of these holds (400 + 10) × 10 = 4,100 px² of ink: four fit in 20,000, a fifth not.
    for i in 0..4 {
        let ok = app
            .post_json(
                &host,
                &strokes,
                json!({"client_id": format!("s{i}"), "points": [[10, 10], [410, 10]], "color": "#ff0000", "width": 10.0}),
            )
            .await;
        assert_eq!(ok.status(), StatusCode::CREATED, "stroke {i}");
    }
    let over = app
        .post_json(
            &host,
            &strokes,
            json!({"client_id": "s4", "points": [[10, 10], [410, 10]], "color": "#ff0000", "width": 10.0}),
        )
        .await;
    assert_eq!(over.status(), StatusCode::CONFLICT);
    let message = over.json::<Value>().await.expect("json")["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(message.contains("ink"), "{message}");
    app.stop().await;
}

/// Finding 4: an animation whose frames would take gigabytes is refused when the job is
/// created (422), not after the frames are rendered; repeated formats count once.
#[tokio::test]
async fn a_costly_animation_is_refused_at_creation() {
    use reqwest::multipart;

    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let drawing = app
        .upload_ok(&token, crate::helpers::images::png(64, 64))
        .await;
    let post = |fps: &str, duration: &str, size: &str, formats: &str| {
        let form = multipart::Form::new()
            .text("upload_id", drawing["id"].as_str().expect("id").to_owned())
            .text("fps", fps.to_owned())
            .text("duration_s", duration.to_owned())
            .text("size", size.to_owned())
            .text("formats", formats.to_owned());
        app.client
            .post(app.url("/api/v1/animations"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
    };
    let ten_gifs = ["gif"; 10].join(",");
    let costly = post("60", "20", "1024", &ten_gifs).await.expect("POST");
    assert_eq!(costly.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let sheet = post("24", "20", "384", "png").await.expect("POST");
    assert_eq!(sheet.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fine = post("12", "1", "64", &ten_gifs).await.expect("POST");
    assert_eq!(fine.status(), StatusCode::ACCEPTED);
    let body: Value = fine.json().await.expect("json");
    assert_eq!(body["job"]["params"]["formats"], json!(["gif"]), "{body}");
    app.stop().await;
}
