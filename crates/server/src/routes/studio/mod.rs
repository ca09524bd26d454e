//! The detector studio's REST resources under `/api/v1/studio` (issue #13; the contract the web
//! pages code against is `notes/studio-api.md`): projects and labels ([`projects`]), media,
//! frames and thumbnails ([`media`]), annotations with batches, undo and redo
//! ([`annotations`]), trainings and detectors ([`training`]),
//! auto-annotation proposals to accept or reject ([`proposals`]). Every resource is reached through
//! its project: its owner and, when shared, the owner's family see it; anyone else gets 404.
//! `POST /api/v1/detect?detector={id}` (in `routes::detect`) serves a trained detector.

pub mod annotations;
pub mod media;
pub mod projects;
pub mod proposals;
pub mod training;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Studio routes; batches of annotation edits may be larger than the small JSON default, and an
/// annotation import as large as an upload (`max_upload_bytes`).
pub fn router(max_upload_bytes: u64) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(projects::router())
        .merge(media::router())
        .merge(annotations::router(max_upload_bytes))
        .merge(training::router())
        .merge(proposals::router())
}
