//! Trainings and detectors: `POST …/projects/{pid}/train` queues a `train` job (202; 400
//! `no_annotations`, 409 `training_running`), whose progress events carry
//! `{epoch, epochs, loss, eval_map50}`; the detectors it stores are listed, shown and deleted
//! here, downloaded as a zip with one ONNX model (`GET …/detectors/{did}/download`), and served
//! by `POST /api/v1/detect?detector={id}`.

use atelier_platform::{
    jobs::{
        Job, queue,
        train::{Train, TrainParams},
    },
    studio::detectors::{self, Detector},
};
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path},
    state::AppState,
};

/// A queued training.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainingStarted {
    /// The `train` job (follow it at `GET /api/v1/jobs/{id}` or on your private channel).
    pub job_id: String,
    /// The job as queued.
    pub job: Job,
}

/// The detectors of a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetectorList {
    /// Newest first.
    pub detectors: Vec<Detector>,
}

/// Starts training a detector on the project's annotated frames.
#[utoipa::path(post, path = "/api/v1/studio/projects/{pid}/train", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id")), request_body = TrainParams,
    responses((status = 202, body = TrainingStarted), (status = 400, body = ErrorBody, description = "no_annotations"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "training_running"),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn train(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
    Json(mut params): Json<TrainParams>,
) -> ApiResult<(StatusCode, Json<TrainingStarted>)> {
    params.project_id = pid;
    let job = queue::enqueue_kind::<Train>(&state.platform, &user, &params).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TrainingStarted {
            job_id: job.id.clone(),
            job,
        }),
    ))
}

/// The detectors of a project.
#[utoipa::path(get, path = "/api/v1/studio/projects/{pid}/detectors", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id")),
    responses((status = 200, body = DetectorList), (status = 404, body = ErrorBody)))]
pub async fn list_detectors(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
) -> ApiResult<Json<DetectorList>> {
    let detectors = detectors::list(state.platform.db(), &user, pid).await?;
    Ok(Json(DetectorList { detectors }))
}

/// One detector: labels, metrics with PR curves, history.
#[utoipa::path(get, path = "/api/v1/studio/detectors/{did}", tag = "studio", security(("bearer" = [])),
    params(("did" = i64, Path, description = "Detector id")),
    responses((status = 200, body = Detector), (status = 404, body = ErrorBody)))]
pub async fn get_detector(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(did): Path<i64>,
) -> ApiResult<Json<Detector>> {
    Ok(Json(detectors::get(state.platform.db(), &user, did).await?))
}

/// Deletes a detector.
#[utoipa::path(delete, path = "/api/v1/studio/detectors/{did}", tag = "studio", security(("bearer" = [])),
    params(("did" = i64, Path, description = "Detector id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_detector(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(did): Path<i64>,
) -> ApiResult<StatusCode> {
    detectors::delete(state.platform.db(), &user, did).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The detector as a zip: `detector.onnx` (normalisation, backbone, feature composition, head
/// and peak test in one model), `labels.json`, `metrics.json`, `README.md` and `decode.py`.
#[utoipa::path(get, path = "/api/v1/studio/detectors/{did}/download", tag = "studio", security(("bearer" = [])),
    params(("did" = i64, Path, description = "Detector id")),
    responses((status = 200, description = "application/zip", content_type = "application/zip"),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody, description = "model-unavailable: the backbone cannot be made")))]
pub async fn download_detector(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(did): Path<i64>,
) -> ApiResult<Response> {
    let (detector, loaded) = detectors::loaded(&state.platform, &user, did).await?;
    let backbone = state.platform.models().studio_backbone_onnx().await?;
    let zip = detectors::package(detector, loaded.head.clone(), backbone).await?;
    let disposition = format!("attachment; filename=\"detector-{did}.zip\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response())
}

/// Training and detector routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(train))
        .routes(routes!(list_detectors))
        .routes(routes!(get_detector, delete_detector))
        .routes(routes!(download_detector))
}
