//! One module per resource; each exposes `router()`, merged here.

pub mod accounts;
pub mod animations;
pub mod classify;
pub mod detect;
pub mod drawings;
pub mod families;
pub mod files;
pub mod health;
pub mod jobs;
pub mod littlestudio;
pub mod oidc;
pub mod photo3d;
pub mod studio;
pub mod uploads;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every documented route of the API; `max_upload_bytes` sizes the body limit of routes that
/// take files, `max_stroke_bytes` that of strokes; every other route takes the server's small
/// JSON limit (set around the whole router); detect's body may add a cascade of
/// `max_cascade_bytes`.
pub fn router(
    max_upload_bytes: u64,
    max_stroke_bytes: usize,
    max_cascade_bytes: usize,
) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(accounts::router())
        .merge(oidc::router())
        .merge(families::router())
        .merge(uploads::router(max_upload_bytes))
        .merge(files::router())
        .merge(jobs::router())
        .merge(classify::router(max_upload_bytes))
        .merge(detect::router(max_upload_bytes, max_cascade_bytes))
        .merge(drawings::router(max_upload_bytes, max_stroke_bytes))
        .merge(littlestudio::router(max_upload_bytes, max_stroke_bytes))
        .merge(animations::router(max_upload_bytes))
        .merge(photo3d::router(max_upload_bytes))
        .merge(studio::router(max_upload_bytes))
}
