//! A media's annotations: all of them, or one frame's boxes (tracks interpolated); batches of
//! edits applied all-or-nothing against a version (409 `version_conflict` when stale); undo and
//! redo; the batches after a version (`since/{v}`); an import of a file in an export format,
//! replacing the media's annotations in one undoable batch, and the export of one media's (a zip,
//! as CVAT exports a task). Bad edits are 422 with the reason's
//! code (`box_outside_frame`, `unknown_label`…).

use atelier_platform::studio::{
    annotations::{self, AnnotationsView, Batch, ChangesView, FrameAnnotations, VersionView},
    export, import,
};
use axum::{
    extract::{DefaultBodyLimit, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{
        CurrentUser, Json, Path, Query,
        multipart::{MultipartForm, NamedParts},
    },
    state::AppState,
};

/// Which annotations to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FrameQuery {
    /// Only this frame's boxes (tracks interpolated; tracks outside there with `outside: true`),
    /// as `FrameAnnotations`.
    pub frame: Option<u32>,
}

/// Every annotation of a media (`AnnotationsView`), or with `?frame=N` the boxes on frame N
/// (`FrameAnnotations`): the visible ones, then the tracks outside on it (`outside: true`, with
/// the box they keep, so a client can show them greyed and bring them back in).
#[utoipa::path(get, path = "/api/v1/studio/media/{mid}/annotations", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id"), FrameQuery),
    responses((status = 200, body = AnnotationsView, description = "AnnotationsView, or FrameAnnotations with ?frame="),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "media_not_ready"),
              (status = 422, body = ErrorBody, description = "frame_out_of_range")))]
pub async fn get_annotations(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
    Query(query): Query<FrameQuery>,
) -> ApiResult<Response> {
    let db = state.platform.db();
    Ok(match query.frame {
        Some(frame) => {
            let boxes: FrameAnnotations = annotations::on_frame(db, &user, mid, frame).await?;
            Json(boxes).into_response()
        }
        None => Json(annotations::get(db, &user, mid).await?).into_response(),
    })
}

/// Applies a batch of edits all-or-nothing.
#[utoipa::path(post, path = "/api/v1/studio/media/{mid}/annotations", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id")), request_body = Batch,
    responses((status = 200, body = VersionView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "version_conflict, id_in_use, media_not_ready"),
              (status = 422, body = ErrorBody, description = "box_outside_frame, unknown_label, bad_box, frame_out_of_range, unknown_track…")))]
pub async fn apply(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
    Json(batch): Json<Batch>,
) -> ApiResult<Json<VersionView>> {
    Ok(Json(
        annotations::apply(state.platform.db(), &user, mid, batch).await?,
    ))
}

/// Reverts the latest edit not yet undone (409 `nothing_to_undo`).
#[utoipa::path(post, path = "/api/v1/studio/media/{mid}/annotations/undo", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id")),
    responses((status = 200, body = VersionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn undo(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
) -> ApiResult<Json<VersionView>> {
    Ok(Json(
        annotations::undo(state.platform.db(), &user, mid).await?,
    ))
}

/// Re-applies the latest undone edit (409 `nothing_to_redo`).
#[utoipa::path(post, path = "/api/v1/studio/media/{mid}/annotations/redo", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id")),
    responses((status = 200, body = VersionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn redo(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
) -> ApiResult<Json<VersionView>> {
    Ok(Json(
        annotations::redo(state.platform.db(), &user, mid).await?,
    ))
}

/// The batches applied after version `v`, oldest first, as operations to replay (422
/// `unknown_version` past the latest).
#[utoipa::path(get, path = "/api/v1/studio/media/{mid}/annotations/since/{v}", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id"), ("v" = u64, Path, description = "The version the client has")),
    responses((status = 200, body = ChangesView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "media_not_ready"),
              (status = 422, body = ErrorBody, description = "unknown_version")))]
pub async fn since(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((mid, version)): Path<(i64, u64)>,
) -> ApiResult<Json<ChangesView>> {
    Ok(Json(
        annotations::since(state.platform.db(), &user, mid, version).await?,
    ))
}

/// The annotation format of an import or export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FormatQuery {
    /// `cvat_video`, `cvat_images`, `coco`, `yolo` or `voc`.
    pub format: String,
}

/// The parts an import form accepts.
const IMPORT_PARTS: &[&str] = &["file"];

/// Replaces the media's annotations with a file's (multipart part `file`: CVAT XML or COCO JSON,
/// bare or zipped; YOLO and VOC as a zip), in one batch that undo reverts. Labels are matched by
/// name: one the project lacks is 422 `unknown_label` and nothing changes.
#[utoipa::path(post, path = "/api/v1/studio/media/{mid}/annotations/import", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id"), FormatQuery),
    request_body(content_type = "multipart/form-data", description = "`file`: the annotation file or zip"),
    responses((status = 200, body = VersionView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "version_conflict, media_not_ready"),
              (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "unknown_format, unknown_label, unknown_image, bad_annotation_file, bad_archive, archive_too_large, box_outside_frame")))]
pub async fn import_file(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
    Query(query): Query<FormatQuery>,
    form: MultipartForm,
) -> ApiResult<Json<VersionView>> {
    let limit = state.platform.config().uploads.max_bytes;
    let mut parts = NamedParts::new(form, IMPORT_PARTS, limit);
    let mut file = None;
    while let Some((_, mut part)) = parts.next().await? {
        file = Some(part.bytes(limit).await?);
    }
    let file = file.ok_or_else(|| ApiError::bad_request("missing-file", "no `file` part"))?;
    Ok(Json(
        import::import_annotations(&state.platform, &user, mid, &query.format, file).await?,
    ))
}

/// The media's annotations as a zip in one format, its files at the root as CVAT exports a
/// task (what `annotations/import` takes back).
#[utoipa::path(get, path = "/api/v1/studio/media/{mid}/export", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id"), FormatQuery),
    responses((status = 200, description = "application/zip", content_type = "application/zip"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "media_not_ready"),
              (status = 422, body = ErrorBody, description = "unknown_format")))]
pub async fn export_file(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
    Query(query): Query<FormatQuery>,
) -> ApiResult<Response> {
    let zip = export::export_media(&state.platform, &user, mid, &query.format).await?;
    let disposition = format!("attachment; filename=\"media-{mid}-{}.zip\"", query.format);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response())
}

/// Annotation routes; an import's body may be as large as an upload.
pub fn router(max_upload_bytes: u64) -> OpenApiRouter<AppState> {
    let limit = usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(get_annotations, apply))
                .routes(routes!(undo))
                .routes(routes!(redo))
                .routes(routes!(since))
                .routes(routes!(export_file))
                .layer(DefaultBodyLimit::max(8 * 1024 * 1024)),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import_file))
                .layer(DefaultBodyLimit::max(limit)),
        )
}
