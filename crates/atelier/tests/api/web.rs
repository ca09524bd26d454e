//! The web app: its shell and assets as served (Content-Security-Policy, nosniff, ETag and 304),
//! the CSRF rule for cookie-authenticated writes, and every flow end to end in headless Chromium
//! (`tests/web/e2e.mjs`: Debian's `chromium` driven by `playwright-core`, with axe-core), at
//! 1280×800 and 390×844. The browser's screenshots are written to
//! `target/tmp/web-screenshots/`.
//!
//! The browser test needs `chromium` (or `ATELIER_CHROMIUM`), `node` and
//! `npm ci --prefix crates/atelier/tests/web`. Without them it skips with a printed reason,
//! unless `ATELIER_REQUIRE_BROWSER=1` (CI), where it fails.

use std::{path::PathBuf, process::Stdio, time::Duration};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{AppOptions, Backend, error_code, spawn_app, spawn_app_with};

/// When set to 1, a missing browser, Node or `node_modules` fails the test.
const REQUIRE_BROWSER_ENV: &str = "ATELIER_REQUIRE_BROWSER";

/// The browser tests' folder (`tests/web`).
pub(crate) fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web")
}

/// The Chromium binary the browser tests drive.
pub(crate) fn chromium() -> PathBuf {
    std::env::var_os("ATELIER_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Whether the browser test can run; panics when it must but cannot.
pub(crate) fn browser_available() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let modules = folder()
        .join("node_modules/playwright-core/package.json")
        .is_file()
        && folder()
            .join("node_modules/axe-core/package.json")
            .is_file();
    let reason = if !node {
        "node is not installed".to_owned()
    } else if !modules {
        format!(
            "the browser test's node_modules are missing: run `npm ci --prefix {}`",
            folder().display()
        )
    } else if !chromium().is_file() {
        format!(
            "{} is missing: `apt-get install chromium` or set ATELIER_CHROMIUM",
            chromium().display()
        )
    } else {
        return true;
    };
    if std::env::var(REQUIRE_BROWSER_ENV).as_deref() == Ok("1") {
        panic!("{REQUIRE_BROWSER_ENV}=1 but {reason}");
    }
    eprintln!("skipping the browser test: {reason}");
    false
}

#[tokio::test]
async fn the_app_shell_is_served_with_a_strict_policy_and_revalidated_by_etag() {
    let app = spawn_app(Backend::Embedded).await;
    let shell = app.client.get(app.url("/")).send().await.expect("shell");
    assert_eq!(shell.status(), StatusCode::OK);
    let headers = shell.headers().clone();
    let csp = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );
    let body = shell.text().await.expect("body");
    assert!(
        body.contains("/assets/app.js") && !body.contains("<style") && !body.contains("style=")
    );
    let etag = headers[header::ETAG].clone();
    let again = app
        .client
        .get(app.url("/"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    for (path, kind) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
        ("/assets/vendor/pusher-js/pusher.min.js", "text/javascript"),
        (
            "/assets/vendor/three/addons/loaders/GLTFLoader.js",
            "text/javascript",
        ),
    ] {
        let asset = app.client.get(app.url(path)).send().await.expect("asset");
        assert_eq!(asset.status(), StatusCode::OK, "{path}");
        assert!(
            asset.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("type")
                .starts_with(kind),
            "{path}"
        );
    }
    let missing = app
        .client
        .get(app.url("/assets/nope.js"))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let config: Value = app
        .client
        .get(app.url("/api/v1/web/config"))
        .send()
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    assert_eq!(config["pusher_key"], app.realtime.key.as_str());
    app.stop().await;
}

#[tokio::test]
async fn cookie_writes_from_another_site_are_refused_and_the_apps_own_pass() {
    let app = spawn_app(Backend::Embedded).await;
    let name = format!("csrf_{}", crate::helpers::random_suffix());
    let (token, _) = app.register(&name, "Parent").await;
    let cookie = format!("atelier_session={token}");
    let create = |site: Option<&'static str>, csrf: bool| {
        let mut request = app
            .client
            .post(app.url("/api/v1/families"))
            .header(header::COOKIE, cookie.clone())
            .json(&json!({"name": "Forged"}));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if csrf {
            request = request.header("x-atelier-csrf", "1");
        }
        request.send()
    };
    let forged = create(Some("cross-site"), false).await.expect("forged");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(forged).await, "csrf");
    let evil_origin = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header(header::COOKIE, cookie.clone())
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .expect("logout");
    assert_eq!(evil_origin.status(), StatusCode::FORBIDDEN);
    // The app's own requests: same-origin, or the header.
    let own = create(Some("same-origin"), false).await.expect("own");
    assert_eq!(own.status(), StatusCode::CREATED);
    let again = create(Some("cross-site"), true).await.expect("header");
    assert_eq!(
        again.status(),
        StatusCode::CONFLICT,
        "passes the check, then the family rule"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_flow_works_in_headless_chromium_at_desktop_and_phone_sizes() {
    if !browser_available() {
        return;
    }
    let app = spawn_app_with(
        Backend::Embedded,
        AppOptions {
            workers: 2,
            ..Default::default()
        },
    )
    .await;
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    let image = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../classify/tests/fixtures/parity/images/001.png");
    // The studio step uploads a small synthetic H.264 clip, made here as the studio tests do.
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    let video = screenshots.join("studio-clip.mp4");
    std::fs::write(&video, crate::studio::mp4(&crate::studio::clip(5))).expect("write the clip");
    let config = json!({
        "base": app.base,
        "out": screenshots,
        "chromium": chromium(),
        "photo": image,
        "image": image,
        "video": video,
        "flows": std::env::var("ATELIER_WEB_FLOWS").ok(),
        "only": std::env::var("ATELIER_WEB_ONLY").ok(),
    });
    let lines = crate::node::run_script(
        &folder().join("e2e.mjs"),
        &[config.to_string()],
        Duration::from_secs(900),
    )
    .await;
    for viewport in ["desktop", "phone"] {
        if config["only"].as_str().is_some_and(|only| only != viewport) {
            continue;
        }
        let flows = config["flows"].as_str();
        for (flow, event) in [("core", "live-stroke"), ("studio", "studio-annotated")] {
            if flows.is_some_and(|f| !f.split(',').any(|x| x == flow)) {
                continue;
            }
            assert!(
                lines
                    .iter()
                    .any(|l| l["ev"] == event && l["viewport"] == viewport),
                "{viewport}: no {event} in {lines:#?}"
            );
        }
    }
    println!("screenshots in {}", screenshots.display());
    app.stop().await;
}
