//! Uploads: multipart in, streamed to the platform's validating ingest; list, read, delete.

use atelier_platform::{
    PlatformError,
    uploads::{self, Upload},
};
use axum::{
    extract::{
        DefaultBodyLimit, FromRequest, Multipart, Request, State, multipart::MultipartRejection,
    },
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path, Query},
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
    /// The file: JPEG, PNG, WebP, GIF or MP4 (judged by content).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
}

/// Paging for lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// At most this many items (1–500, default 100).
    pub limit: Option<i64>,
}

/// `Multipart` with atelier's error body on rejection.
pub struct Form(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Multipart::from_request(request, state)
            .await
            .map(Form)
            .map_err(|rejection: MultipartRejection| {
                ApiError::bad_request("expected-multipart", rejection.body_text())
            })
    }
}

/// Reads one multipart part into memory, refusing it with 413 once it passes `limit` bytes.
pub(crate) async fn read_part(
    field: &mut axum::extract::multipart::Field<'_>,
    limit: u64,
) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad_multipart)? {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(PlatformError::PayloadTooLarge { limit }.into());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A malformed multipart body, as a 400 with code `bad-multipart`.
pub(crate) fn bad_multipart(err: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::bad_request("bad-multipart", err.body_text())
}

/// A text field of a multipart form; a malformed body is [`bad_multipart`].
pub(crate) async fn field_text(field: axum::extract::multipart::Field<'_>) -> ApiResult<String> {
    field.text().await.map_err(bad_multipart)
}

pub(crate) async fn view(state: &AppState, upload: Upload) -> ApiResult<UploadView> {
    let url = state.platform.download_link(&upload).await?;
    Ok(UploadView { upload, url })
}

/// Reads the multipart part named `file` (or the first part with a file name) into the platform.
pub(crate) async fn ingest_file_part(
    state: &AppState,
    owner_id: i64,
    mut form: Multipart,
) -> ApiResult<Upload> {
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|err| multipart_error(err, state))?
            .ok_or_else(|| {
                ApiError::bad_request("missing-file", "the form has no part named `file`")
            })?;
        if field.name() == Some("file") || field.file_name().is_some() {
            return ingest_file_part_named(state, owner_id, field).await;
        }
    }
}

/// Streams one multipart file part into the platform's validating ingest.
pub(crate) async fn ingest_file_part_named(
    state: &AppState,
    owner_id: i64,
    field: axum::extract::multipart::Field<'_>,
) -> ApiResult<Upload> {
    let filename = field.file_name().map(str::to_owned);
    let stream = Box::pin(field);
    Ok(uploads::ingest(&state.platform, owner_id, stream, filename).await?)
}

/// Maps a multipart error, telling an over-size body from a malformed one.
pub(crate) fn multipart_error(
    err: axum::extract::multipart::MultipartError,
    state: &AppState,
) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PlatformError::PayloadTooLarge {
            limit: state.platform.config().uploads.max_bytes,
        }
        .into()
    } else {
        bad_multipart(err)
    }
}

/// Uploads a file. Its type is judged by its bytes; images are decoded under pixel limits.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = UploadView), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Form(form): Form,
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
