//! Projects and their labels.

use atelier_platform::studio::{
    self, Label, LabelPatch, NewLabel, NewProject, Project, ProjectPatch,
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
    extract::{CurrentUser, Json, Path, Query},
    state::AppState,
};

/// Your projects and those your family shares.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    /// Newest first.
    pub projects: Vec<Project>,
}

/// Creates a detector project.
#[utoipa::path(post, path = "/api/v1/studio/projects", tag = "studio", security(("bearer" = [])),
    request_body = NewProject,
    responses((status = 201, body = Project), (status = 422, body = ErrorBody)))]
pub async fn create_project(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(new): Json<NewProject>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    let project = studio::create_project(state.platform.db(), &user, &new).await?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// Your projects and your family's shared ones.
#[utoipa::path(get, path = "/api/v1/studio/projects", tag = "studio", security(("bearer" = [])),
    responses((status = 200, body = ProjectList)))]
pub async fn list_projects(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<ProjectList>> {
    let projects = studio::list_projects(state.platform.db(), &user).await?;
    Ok(Json(ProjectList { projects }))
}

/// One project with its labels, counts and the training in progress.
#[utoipa::path(get, path = "/api/v1/studio/projects/{pid}", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id")),
    responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn get_project(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
) -> ApiResult<Json<Project>> {
    Ok(Json(
        studio::get_project(state.platform.db(), &user, pid).await?,
    ))
}

/// Renames or re-shares a project (its owner only).
#[utoipa::path(patch, path = "/api/v1/studio/projects/{pid}", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id")), request_body = ProjectPatch,
    responses((status = 200, body = Project), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update_project(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
    Json(patch): Json<ProjectPatch>,
) -> ApiResult<Json<Project>> {
    Ok(Json(
        studio::update_project(state.platform.db(), &user, pid, &patch).await?,
    ))
}

/// Deletes a project with its media, frames, annotations and detectors (its owner only).
#[utoipa::path(delete, path = "/api/v1/studio/projects/{pid}", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_project(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
) -> ApiResult<StatusCode> {
    studio::delete_project(&state.platform, &user, pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a label (409 `label_exists` for a name the project has).
#[utoipa::path(post, path = "/api/v1/studio/projects/{pid}/labels", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id")), request_body = NewLabel,
    responses((status = 201, body = Label), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "bad name, bad_color")))]
pub async fn create_label(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
    Json(new): Json<NewLabel>,
) -> ApiResult<(StatusCode, Json<Label>)> {
    let label = studio::create_label(state.platform.db(), &user, pid, &new).await?;
    Ok((StatusCode::CREATED, Json(label)))
}

/// Renames or recolours a label.
#[utoipa::path(patch, path = "/api/v1/studio/projects/{pid}/labels/{lid}", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id"), ("lid" = i64, Path, description = "Label id")),
    request_body = LabelPatch,
    responses((status = 200, body = Label), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update_label(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((pid, lid)): Path<(i64, i64)>,
    Json(patch): Json<LabelPatch>,
) -> ApiResult<Json<Label>> {
    Ok(Json(
        studio::update_label(state.platform.db(), &user, pid, lid, &patch).await?,
    ))
}

/// Deletes a label no annotation uses (409 `label_in_use` otherwise).
#[utoipa::path(delete, path = "/api/v1/studio/projects/{pid}/labels/{lid}", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id"), ("lid" = i64, Path, description = "Label id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_label(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((pid, lid)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    studio::delete_label(state.platform.db(), &user, pid, lid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The export format.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `cvat_video`, `cvat_images`, `coco`, `yolo` or `voc`.
    pub format: String,
}

/// The project's annotations as a zip: one folder per media in the chosen CVAT format.
#[utoipa::path(get, path = "/api/v1/studio/projects/{pid}/export", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id"), ExportQuery),
    responses((status = 200, description = "application/zip", content_type = "application/zip"),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "unknown_format")))]
pub async fn export(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    let zip = studio::export::export_project(&state.platform, &user, pid, &query.format).await?;
    let disposition = format!(
        "attachment; filename=\"project-{pid}-{}.zip\"",
        query.format
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response())
}

/// Project and label routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_project, list_projects))
        .routes(routes!(get_project, update_project, delete_project))
        .routes(routes!(create_label))
        .routes(routes!(update_label, delete_label))
        .routes(routes!(export))
}
