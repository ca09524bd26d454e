//! Assisted annotation: `POST …/media/{mid}/auto_annotate` queues an `auto_annotate` job (a
//! trained detector of the project proposes boxes on the frames that have none), `GET
//! …/media/{mid}/proposals[?frame=N]` lists the pending proposals, and `POST
//! …/proposals/{id}/accept` (the box becomes a shape, one undoable edit) or `…/reject` decides
//! one (409 `proposal_decided` the second time).

use atelier_platform::{
    jobs::{
        Job,
        auto_annotate::{AutoAnnotate, AutoAnnotateParams},
        queue,
    },
    studio::proposals::{self, Decided, Decision, Proposal},
};
use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path, Query},
    state::AppState,
};

/// A queued auto-annotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutoAnnotateStarted {
    /// The `auto_annotate` job (follow it at `GET /api/v1/jobs/{id}` or on your private
    /// channel).
    pub job_id: String,
    /// The job as queued.
    pub job: Job,
}

/// Pending proposals.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalList {
    /// By frame, best first within a frame.
    pub proposals: Vec<Proposal>,
}

/// Which proposals to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ProposalQuery {
    /// Only those of this frame.
    pub frame: Option<u32>,
}

/// Runs a detector of the project over the media's frames that carry no box (or every frame
/// with `all_frames`) and stores what it finds as proposals.
#[utoipa::path(post, path = "/api/v1/studio/media/{mid}/auto_annotate", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id")), request_body = AutoAnnotateParams,
    responses((status = 202, body = AutoAnnotateStarted), (status = 404, body = ErrorBody, description = "media or detector"),
              (status = 409, body = ErrorBody, description = "media_not_ready, auto_annotate_running"),
              (status = 422, body = ErrorBody, description = "detector_of_another_project, invalid_min_score"),
              (status = 429, body = ErrorBody)))]
pub async fn auto_annotate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
    Json(mut params): Json<AutoAnnotateParams>,
) -> ApiResult<(StatusCode, Json<AutoAnnotateStarted>)> {
    params.media_id = mid;
    let job = queue::enqueue_kind::<AutoAnnotate>(&state.platform, &user, &params).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(AutoAnnotateStarted {
            job_id: job.id.clone(),
            job,
        }),
    ))
}

/// The pending proposals of a media, or of one of its frames.
#[utoipa::path(get, path = "/api/v1/studio/media/{mid}/proposals", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id"), ProposalQuery),
    responses((status = 200, body = ProposalList), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(mid): Path<i64>,
    Query(query): Query<ProposalQuery>,
) -> ApiResult<Json<ProposalList>> {
    let frame = query.frame.map(i64::from);
    let proposals = proposals::pending(state.platform.db(), &user, mid, frame).await?;
    Ok(Json(ProposalList { proposals }))
}

/// Accepts a proposal: its box becomes a shape of the annotations (`source: auto`).
#[utoipa::path(post, path = "/api/v1/studio/media/{mid}/proposals/{id}/accept", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id"), ("id" = i64, Path, description = "Proposal id")),
    responses((status = 200, body = Decided), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "proposal_decided"),
              (status = 422, body = ErrorBody, description = "unknown_label (deleted since)")))]
pub async fn accept(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((mid, id)): Path<(i64, i64)>,
) -> ApiResult<Json<Decided>> {
    let decided = proposals::decide(state.platform.db(), &user, mid, id, Decision::Accept).await?;
    Ok(Json(decided))
}

/// Rejects a proposal.
#[utoipa::path(post, path = "/api/v1/studio/media/{mid}/proposals/{id}/reject", tag = "studio", security(("bearer" = [])),
    params(("mid" = i64, Path, description = "Media id"), ("id" = i64, Path, description = "Proposal id")),
    responses((status = 200, body = Decided), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "proposal_decided")))]
pub async fn reject(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((mid, id)): Path<(i64, i64)>,
) -> ApiResult<Json<Decided>> {
    let decided = proposals::decide(state.platform.db(), &user, mid, id, Decision::Reject).await?;
    Ok(Json(decided))
}

/// Auto-annotation and proposal routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auto_annotate))
        .routes(routes!(list))
        .routes(routes!(accept))
        .routes(routes!(reject))
}
