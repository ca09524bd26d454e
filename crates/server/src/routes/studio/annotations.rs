//! A media's annotations: all of them, or one frame's boxes (tracks interpolated); batches of
//! edits applied all-or-nothing against a version (409 `version_conflict` when stale); undo and
//! redo. Bad edits are 422 with the reason's code (`box_outside_frame`, `unknown_label`…).

use atelier_platform::studio::annotations::{
    self, AnnotationsView, Batch, FrameAnnotations, VersionView,
};
use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path, Query},
    state::AppState,
};

/// Which annotations to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FrameQuery {
    /// Only the boxes visible on this frame (tracks interpolated), as `FrameAnnotations`.
    pub frame: Option<u32>,
}

/// Every annotation of a media (`AnnotationsView`), or with `?frame=N` the boxes on frame N
/// (`FrameAnnotations`).
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

/// Annotation routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_annotations, apply))
        .routes(routes!(undo))
        .routes(routes!(redo))
}
