//! Liveness and readiness probes.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{extract::Json, state::AppState, telemetry};

/// `/healthz` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
}

/// One dependency's state in `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    /// Whether it answered.
    pub ok: bool,
    /// What it is (backend, location).
    pub detail: String,
    /// The error, when it did not answer.
    pub error: Option<String>,
}

/// `/readyz` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not-ready`.
    pub status: &'static str,
    /// The database.
    pub database: Check,
    /// The object store.
    pub storage: Check,
    /// In-process workers, and the job kinds this process runs.
    pub workers: usize,
    /// Job kinds registered.
    pub job_kinds: Vec<&'static str>,
    /// The inference runtime (ONNX Runtime or the rten fallback) and why; null until chosen.
    #[schema(value_type = Option<Object>)]
    pub inference: Option<serde_json::Value>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The database and the object store both answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let probe = state.platform.readiness().await;
    // Errors (which may name files and hosts) go to the log; the answer says only what failed.
    let check = |result: Result<(), atelier_platform::PlatformError>, detail: String| Check {
        ok: result.is_ok(),
        error: result.err().map(|err| {
            tracing::warn!(dependency = %detail, error = %err, "readiness probe failed");
            format!("{detail} does not answer (the server log has the details)")
        }),
        detail,
    };
    let database = check(
        probe.database,
        format!("{:?}", state.platform.db().backend()).to_lowercase(),
    );
    let storage = check(
        probe.storage,
        state.platform.storage().public_description().to_owned(),
    );
    let ready = database.ok && storage.ok;
    let body = Readiness {
        status: if ready { "ready" } else { "not-ready" },
        database,
        storage,
        workers: state.config.workers,
        job_kinds: state.platform.jobs().kinds(),
        inference: state
            .platform
            .models()
            .runtime_info()
            .and_then(|info| serde_json::to_value(info).ok())
            .map(redact_json_paths),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// `value` with filesystem paths in its strings replaced (a runtime's library location is
/// for the log, not for the answer).
fn redact_json_paths(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(crate::error::redact_paths(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(redact_json_paths).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, redact_json_paths(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The probes and the metrics page.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(telemetry::metrics_page))
}
