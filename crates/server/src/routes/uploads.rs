//! Uploads: multipart in, streamed to the platform's validating ingest; list, read, delete.

use atelier_platform::uploads::{self, Upload};
use axum::{
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{
        CurrentUser, Json, Path, Query,
        multipart::{MultipartForm, NamedParts},
    },
    state::AppState,
};

/// An upload and a link to download it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    /// The stored file.
    #[serde(flatten)]
    pub upload: Upload,
    /// Expiring signed download link (absolute for S3 presigned links, else relative to the server).
    pub url: String,
}

/// The multipart form of an upload: one file part named `file`.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "describes the multipart form to OpenAPI; never built"
)]
pub struct UploadForm {
    /// The file: JPEG, PNG, WebP, GIF, MP4, WebM, Matroska, AVI or zip (judged by content).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
}

/// Paging for lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// At most this many items (1–500, default 100).
    pub limit: Option<i64>,
}

pub(crate) async fn view(state: &AppState, upload: Upload) -> ApiResult<UploadView> {
    let url = state.platform.download_link(&upload).await?;
    Ok(UploadView { upload, url })
}

/// Reads a form whose only part is `file` into the platform.
pub(crate) async fn ingest_file_part(
    state: &AppState,
    owner_id: i64,
    form: MultipartForm,
) -> ApiResult<Upload> {
    let limit = state.platform.config().uploads.max_bytes;
    let mut parts = NamedParts::new(form, &["file"], limit);
    match parts.next().await? {
        Some((_, part)) => part.ingest(&state.platform, owner_id).await,
        None => Err(ApiError::bad_request(
            "missing-file",
            "the form has no part named `file`",
        )),
    }
}

/// Uploads a file: JPEG, PNG, WebP, GIF, MP4, WebM, Matroska, AVI or zip (415 otherwise). Its
/// type is judged by its bytes; images are decoded under pixel limits, MP4 and zip structure is
/// checked.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = UploadView), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    form: MultipartForm,
) -> ApiResult<(StatusCode, Json<UploadView>)> {
    let upload = ingest_file_part(&state, user.id, form).await?;
    Ok((StatusCode::CREATED, Json(view(&state, upload).await?)))
}

/// The caller's uploads, newest first.
#[utoipa::path(get, path = "/api/v1/uploads", tag = "uploads", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<UploadView>)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<UploadView>>> {
    let found = uploads::list_owned(&state.platform, user.id, query.limit.unwrap_or(100)).await?;
    let mut views = Vec::with_capacity(found.len());
    for upload in found {
        views.push(view(&state, upload).await?);
    }
    Ok(Json(views))
}

/// One of the caller's uploads, with a fresh download link.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path, description = "Upload id")),
    responses((status = 200, body = UploadView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<UploadView>> {
    let upload = uploads::get_owned(&state.platform, user.id, &id).await?;
    Ok(Json(view(&state, upload).await?))
}

/// Deletes one of the caller's uploads (the content goes when nothing else uses it).
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path, description = "Upload id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    uploads::delete_owned(&state.platform, user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Upload routes; the body limit leaves room for multipart framing around the file cap, which
/// the ingest enforces exactly.
pub fn router(max_bytes: u64) -> OpenApiRouter<AppState> {
    let limit = usize::try_from(max_bytes.saturating_add(1024 * 1024)).unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, delete))
        .layer(DefaultBodyLimit::max(limit))
}
