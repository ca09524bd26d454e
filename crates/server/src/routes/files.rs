//! Signed downloads of stored blobs: `GET /api/v1/files/{sha256}.{kind}?expires=…&sig=…`.

use atelier_imaging::MediaKind;
use atelier_platform::{PlatformError, storage::Storage, uploads};
use axum::{
    body::Body,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{Path, Query},
    state::AppState,
};

/// The signature part of a download link.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LinkQuery {
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// Hex HMAC-SHA256 signature.
    pub sig: String,
    /// The id of the key that signed (absent on links from before key ids).
    pub kid: Option<String>,
}

/// Serves a blob to whoever holds a valid, unexpired signed link.
#[utoipa::path(get, path = "/api/v1/files/{object}", tag = "uploads",
    params(("object" = String, Path, description = "`<sha256>.<kind>`"), LinkQuery),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    Path(object): Path<String>,
    Query(link): Query<LinkQuery>,
) -> ApiResult<Response> {
    state
        .platform
        .signer()
        .verify_with(link.kid.as_deref(), &object, link.expires, &link.sig)?;
    let (sha256, kind) = object
        .split_once('.')
        .ok_or(PlatformError::NotFound("file"))?;
    let media = MediaKind::from_name(kind).ok_or(PlatformError::NotFound("file"))?;
    if !uploads::blob_kind_known(&state.platform, sha256, kind).await? {
        return Err(PlatformError::NotFound("file").into());
    }
    let (size, stream) = state
        .platform
        .storage()
        .get_stream(&Storage::blob_key(sha256))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, media.mime().to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Download routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download))
}
