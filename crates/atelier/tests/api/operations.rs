//! Health, readiness, metrics, OpenAPI, Swagger UI, and the error shape of unknown routes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, error_code, images, spawn_app};

#[tokio::test]
async fn probes_report_the_process_and_its_dependencies() {
    let app = spawn_app(Backend::Embedded).await;
    let health: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["database"]["ok"], true);
    assert_eq!(ready["database"]["detail"], "sqlite");
    assert_eq!(ready["storage"]["ok"], true);

    // With the database gone, the process is alive but not ready.
    app.platform.db().close().await;
    let down = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let down: Value = down.json().await.expect("json");
    assert_eq!(down["status"], "not-ready");
    assert_eq!(down["database"]["ok"], false);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_sample_the_queue() {
    let app = spawn_app(Backend::Embedded).await;
    let token = app.user().await;
    let source = app.upload_ok(&token, images::png(16, 16)).await;
    let job: Value = app
        .create_job(&token, "thumbnail", json!({"upload_id": source["id"]}))
        .await
        .json()
        .await
        .expect("json");
    app.wait_job(
        &token,
        job["id"].as_str().expect("id"),
        std::time::Duration::from_secs(30),
        |j| j["status"] == "succeeded",
    )
    .await;
    app.get(&token, "/api/v1/me").await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for needle in [
        r#"atelier_http_requests_total{method="GET",route="/api/v1/me",status="200"}"#,
        r#"atelier_http_request_duration_seconds_bucket{method="POST",route="/api/v1/uploads",status="201""#,
        r#"atelier_queue_depth{kind="thumbnail"}"#,
        r#"atelier_jobs{kind="thumbnail",status="succeeded"}"#,
        "atelier_workers_busy",
        r#"atelier_job_duration_seconds_bucket{kind="thumbnail""#,
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_and_swagger_ui_are_served_offline() {
    let app = spawn_app(Backend::Embedded).await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/auth/register",
        "/api/v1/me",
        "/api/v1/uploads",
        "/api/v1/jobs/{id}/cancel",
        "/api/v1/photo3d",
        "/api/v1/photo3d/{id}",
        "/readyz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "document lacks {path}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let page = app
        .client
        .get(app.url("/docs/"))
        .send()
        .await
        .expect("docs");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let response = app.client.get(app.url(asset)).send().await.expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{asset} is embedded");
    }
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("init")
        .text()
        .await
        .expect("js");
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app(Backend::Embedded).await;
    let missing = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(missing).await, "no-such-endpoint");
    let wrong_method = app
        .client
        .delete(app.url("/api/v1/me"))
        .send()
        .await
        .expect("delete");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(wrong_method).await, "method-not-allowed");
    let bad_path = app.get("whatever", "/api/v1/families/not-a-number").await;
    assert!(bad_path.status().is_client_error());
    let index = app.client.get(app.url("/")).send().await.expect("index");
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.text().await.expect("html").contains("atelier"));
    app.stop().await;
}
