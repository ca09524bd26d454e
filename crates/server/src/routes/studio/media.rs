//! Media (videos, images and zips of images) of a project, their frames and thumbnails. Adding a media takes an
//! upload from `POST /api/v1/uploads` and queues its `studio_import` job (202).

use atelier_platform::{
    jobs::studio_import,
    studio::media::{self, FrameInfo, Media},
};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path},
    state::AppState,
};

/// A media as shown, with where its thumbnail is.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaView {
    /// The media.
    #[serde(flatten)]
    pub media: Media,
    /// `GET` this (with your session) for a JPEG thumbnail once imported.
    pub thumbnail_url: String,
}

impl From<Media> for MediaView {
    fn from(media: Media) -> Self {
        let thumbnail_url = format!("/api/v1/studio/media/{}/thumbnail", media.id);
        Self {
            media,
            thumbnail_url,
        }
    }
}

/// The media of a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaList {
    /// Oldest first.
    pub media: Vec<MediaView>,
}

/// What adding a media takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMedia {
    /// An upload of yours: a video (an H.264 Baseline MP4 in-process; WebM, Matroska, AVI, MOV,
    /// other codecs and H.264 profiles through ffmpeg when the server has it), an image, or a
    /// zip of images (one frame per image, natural name order, one size).
    pub upload_id: String,
}

/// A media's frames.
#[derive(Debug, Serialize, ToSchema)]
pub struct FrameList {
    /// In order.
    pub frames: Vec<FrameInfo>,
}

/// Adds an upload to a project and imports it (a `studio_import` job; the media is
/// `importing` until it ends, then `ready` or `failed` with `error`, keeping no frames). 415
/// `unsupported_media` for an upload that is no media, `unsupported_video` for a video only
/// ffmpeg reads on a server without ffmpeg; both name what is accepted.
#[utoipa::path(post, path = "/api/v1/studio/projects/{pid}/media", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id")), request_body = NewMedia,
    responses((status = 202, body = MediaView), (status = 404, body = ErrorBody),
              (status = 415, body = ErrorBody, description = "unsupported_media (not a video, image or zip), unsupported_video (needs ffmpeg, which the server lacks)"),
              (status = 429, body = ErrorBody)))]
pub async fn create_media(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
    Json(new): Json<NewMedia>,
) -> ApiResult<(StatusCode, Json<MediaView>)> {
    let (media, _job) =
        studio_import::queue_import(&state.platform, &user, pid, &new.upload_id).await?;
    Ok((StatusCode::ACCEPTED, Json(media.into())))
}

/// The media of a project.
#[utoipa::path(get, path = "/api/v1/studio/projects/{pid}/media", tag = "studio", security(("bearer" = [])),
    params(("pid" = i64, Path, description = "Project id")),
    responses((status = 200, body = MediaList), (status = 404, body = ErrorBody)))]
pub async fn list_media(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(pid): Path<i64>,
) -> ApiResult<Json<MediaList>> {
    let media = media::list(state.platform.db(), &user, pid).await?;
    Ok(Json(MediaList {
        media: media.into_iter().map(MediaView::from).collect(),
    }))
}

/// One media.
#[utoipa::path(get, path = "/api/v1/studio/media/{mid}", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id")),
    responses((status = 200, body = MediaView), (status = 404, body = ErrorBody)))]
pub async fn get_media(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
) -> ApiResult<Json<MediaView>> {
    Ok(Json(
        media::get_visible(state.platform.db(), &user, mid)
            .await?
            .into(),
    ))
}

/// Deletes a media with its frames and annotations.
#[utoipa::path(delete, path = "/api/v1/studio/media/{mid}", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_media(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
) -> ApiResult<StatusCode> {
    media::delete(&state.platform, &user, mid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A media's frames: number, timestamp, whether annotated.
#[utoipa::path(get, path = "/api/v1/studio/media/{mid}/frames", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id")),
    responses((status = 200, body = FrameList), (status = 404, body = ErrorBody)))]
pub async fn list_frames(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
) -> ApiResult<Json<FrameList>> {
    let frames = media::frames(state.platform.db(), &user, mid).await?;
    Ok(Json(FrameList { frames }))
}

/// A JPEG answer that caches: stored frames never change under one import job, so the ETag
/// names the media, the frame and the job.
fn jpeg_response(headers: &HeaderMap, etag: String, bytes: axum::body::Bytes) -> Response {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, "image/jpeg".to_owned())],
        bytes,
    )
        .into_response()
}

/// Frame `n` as a JPEG (cacheable, with an ETag).
#[utoipa::path(get, path = "/api/v1/studio/media/{mid}/frames/{n}", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id"), ("n" = i64, Path, description = "Frame number")),
    responses((status = 200, description = "image/jpeg", content_type = "image/jpeg"), (status = 304),
              (status = 404, body = ErrorBody)))]
pub async fn frame(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((mid, n)): Path<(i64, i64)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let found = media::get_visible(state.platform.db(), &user, mid).await?;
    let bytes = media::frame_jpeg(&state.platform, &user, mid, n).await?;
    let etag = format!(
        "\"{mid}-{n}-{}\"",
        found.job_id.as_deref().unwrap_or_default()
    );
    Ok(jpeg_response(&headers, etag, bytes))
}

/// The media's thumbnail (JPEG, at most 256 px), once imported.
#[utoipa::path(get, path = "/api/v1/studio/media/{mid}/thumbnail", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id")),
    responses((status = 200, description = "image/jpeg", content_type = "image/jpeg"), (status = 304),
              (status = 404, body = ErrorBody)))]
pub async fn thumbnail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let found = media::get_visible(state.platform.db(), &user, mid).await?;
    let bytes = media::thumbnail_jpeg(&state.platform, &user, mid).await?;
    let etag = format!(
        "\"{mid}-thumb-{}\"",
        found.job_id.as_deref().unwrap_or_default()
    );
    Ok(jpeg_response(&headers, etag, bytes))
}

/// Media, frame and thumbnail routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_media, list_media))
        .routes(routes!(get_media, delete_media))
        .routes(routes!(list_frames))
        .routes(routes!(frame))
        .routes(routes!(thumbnail))
}
