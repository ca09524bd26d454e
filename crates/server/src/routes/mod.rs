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
pub mod photo3d;
pub mod uploads;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every documented route of the API; `max_upload_bytes` sizes the upload body limit.
pub fn router(max_upload_bytes: u64) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(accounts::router())
        .merge(families::router())
        .merge(uploads::router(max_upload_bytes))
        .merge(files::router())
        .merge(jobs::router())
        .merge(classify::router(max_upload_bytes))
        .merge(detect::router(max_upload_bytes))
        .merge(drawings::router(max_upload_bytes))
        .merge(littlestudio::router(max_upload_bytes))
        .merge(animations::router(max_upload_bytes))
        .merge(photo3d::router(max_upload_bytes))
}
