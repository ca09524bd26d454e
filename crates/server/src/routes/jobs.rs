//! Jobs: create, read, list mine, cancel.

use atelier_platform::jobs::{Job, JobStatus, queue};
use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path, Query},
    state::AppState,
};

/// A new job.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateJob {
    /// The job kind, e.g. `thumbnail`.
    pub kind: String,
    /// The kind's parameters, e.g. `{"upload_id": "upl_…", "max_side": 256}` for `thumbnail`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

/// Filters for the job list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct JobListQuery {
    /// Only jobs in this status (`queued`, `running`, `succeeded`, `failed`, `canceled`).
    pub status: Option<String>,
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
}

/// Queues a job. Each account may have a limited number of queued + running jobs (429 beyond).
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = CreateJob, security(("bearer" = [])),
    responses((status = 201, body = Job), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(request): Json<CreateJob>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    let params = if request.params.is_null() {
        serde_json::json!({})
    } else {
        request.params
    };
    let job = queue::enqueue(&state.platform, &user, &request.kind, params).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// The caller's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", security(("bearer" = [])), params(JobListQuery),
    responses((status = 200, body = Vec<Job>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(query): Query<JobListQuery>,
) -> ApiResult<Json<Vec<Job>>> {
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(JobStatus::parse(text).ok_or_else(|| {
            ApiError::bad_request("bad-query", format!("unknown status {text:?}"))
        })?),
    };
    let jobs = queue::list_owned(
        state.platform.db(),
        user.id,
        status,
        query.limit.unwrap_or(100),
    )
    .await?;
    Ok(Json(jobs))
}

/// One of the caller's jobs: status, progress, stage, output or error record.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Job>> {
    Ok(Json(
        queue::get_owned(state.platform.db(), user.id, &id).await?,
    ))
}

/// Cancels a queued or running job (409 if it already finished); a studio import's media ends
/// `failed` at once, without frames.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Job>> {
    Ok(Json(
        atelier_platform::jobs::cancel(&state.platform, user.id, &id).await?,
    ))
}

/// Job routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(cancel))
}
