//! Animations (the "Draw together" app's last step): a drawing becomes an animated character.
//! `POST /api/v1/animations` queues an `animate` job (202), `GET /api/v1/animations/{id}` shows
//! its progress and links to the GIF / MP4 / sprite sheet / mask, and
//! `GET /api/v1/animations/characters/{upload_id}` analyses a drawing inline (mask, joints, mesh)
//! so a UI can show the joints, let the user move them, and re-render with `joints`.
//!
//! Bad drawings (blank page, several figures) are found when the job runs: the job fails with
//! the error code `no-figure` / `multiple-figures` in its error record, and the character route
//! answers 422 with the same codes. Bad parameters (unknown motion, joints outside the image,
//! malformed joints) are refused at creation with 422.

use std::collections::BTreeMap;

use atelier_animate::{AnalyzeParams, AnimateError, CharacterInfo, Joint};
use atelier_imaging::{DynamicImage, OutputFormat, decode_image, encode};
use atelier_platform::{
    PlatformError,
    drawings::strokes::parse_color,
    jobs::{
        Job,
        animate::{Animate, AnimateParams, error_code},
        queue,
    },
    storage::Storage,
    uploads,
};
use axum::{
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::multipart::{MultipartForm, NamedParts, parse_formats, parse_number},
    extract::{CurrentUser, Json, Path},
    job_outputs::{OutputLink, signed_links},
    state::AppState,
};

/// The parts `POST /api/v1/animations` accepts.
const ANIMATION_PARTS: &[&str] = &[
    "file",
    "upload_id",
    "motion",
    "joints",
    "fps",
    "size",
    "duration_s",
    "background",
    "formats",
];

/// The multipart form of `POST /api/v1/animations`: the drawing as `file`, or `upload_id` of an
/// image you uploaded before; every other part is optional text.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AnimationForm {
    /// The drawing (JPEG, PNG, WebP or GIF).
    #[schema(format = Binary, value_type = Option<String>)]
    file: Option<Vec<u8>>,
    /// An image upload of yours, instead of `file` (re-render a drawing, e.g. with edited joints).
    upload_id: Option<String>,
    /// `walk`, `wave`, `jump`, `dance` (default) or `run`.
    motion: Option<String>,
    /// Edited joints: a JSON list of `{"name", "loc": [x, y]}` in image pixels, all 16
    /// AnimatedDrawings joints (as `GET /api/v1/animations/characters/{upload_id}` returns them).
    joints: Option<String>,
    /// Frames per second, 1–60 (default 24).
    fps: Option<u32>,
    /// Seconds, up to 20 (default 3).
    duration_s: Option<f32>,
    /// Frame side in pixels, 32–1024 (default 384).
    size: Option<u32>,
    /// `transparent` (default) or a colour `#rrggbb`.
    background: Option<String>,
    /// Comma-separated outputs: `gif` (default), `mp4`, `png` (sprite sheet).
    formats: Option<String>,
}

/// An animation job and, once it succeeded, links to its files.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnimationView {
    /// The `animate` job (status, progress, stage, error record, result).
    pub job: Job,
    /// By name: `gif`, `mp4`, `sprite_sheet`, `mask`.
    pub outputs: BTreeMap<String, OutputLink>,
}

/// A drawing analysed as a character.
#[derive(Debug, Serialize, ToSchema)]
pub struct CharacterView {
    /// Joints (AnimatedDrawings layout), bounding box, rest mesh and where the joints came from.
    #[schema(value_type = Object)]
    pub character: CharacterInfo,
    /// The figure's mask as a PNG (same size as the drawing).
    pub mask_url: String,
}

impl From<AnimateError> for ApiError {
    fn from(err: AnimateError) -> Self {
        ApiError::Unprocessable {
            code: error_code(&err),
            message: err.to_string(),
        }
    }
}

/// Parses `transparent` (or nothing) as no background, `#rrggbb` (the `#` optional) as a colour.
fn parse_background(text: &str) -> ApiResult<Option<[u8; 3]>> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("transparent") {
        return Ok(None);
    }
    let hex = text.strip_prefix('#').unwrap_or(text);
    match parse_color(&format!("#{hex}")) {
        Some([r, g, b, _]) if hex.len() == 6 => Ok(Some([r, g, b])),
        _ => Err(ApiError::Unprocessable {
            code: "invalid-parameters",
            message: format!("background {text:?} is neither `transparent` nor `#rrggbb`"),
        }),
    }
}

/// Reads the form into job parameters, storing a `file` part as an upload (its id is left in
/// `ingested`, so a refused request can remove it).
async fn read_form(
    state: &AppState,
    user_id: i64,
    form: MultipartForm,
    ingested: &mut Option<String>,
) -> ApiResult<AnimateParams> {
    let limit = state.platform.config().uploads.max_bytes;
    let mut parts = NamedParts::new(form, ANIMATION_PARTS, limit);
    let mut params = AnimateParams::for_upload(String::new());
    while let Some((name, field)) = parts.next().await? {
        if name == "file" {
            let upload = field.ingest(&state.platform, user_id).await?;
            *ingested = Some(upload.id.clone());
            params.upload_id = upload.id;
            continue;
        }
        let text = field.text().await?;
        match name.as_str() {
            "upload_id" => params.upload_id = text,
            "motion" => params.motion = text,
            "joints" => {
                let joints: Vec<Joint> =
                    serde_json::from_str(&text).map_err(|err| ApiError::Unprocessable {
                        code: "invalid-joints",
                        message: format!("joints: {err}"),
                    })?;
                params.joints = Some(joints);
            }
            "fps" => params.fps = parse_number(&name, &text)?,
            "size" => params.size = parse_number(&name, &text)?,
            "duration_s" => params.duration_s = parse_number(&name, &text)?,
            "background" => params.background = parse_background(&text)?,
            _ => params.formats = parse_formats(&text),
        }
    }
    if params.upload_id.is_empty() {
        return Err(ApiError::bad_request(
            "missing-file",
            "send the drawing as `file`, or `upload_id` of an image upload",
        ));
    }
    Ok(params)
}

/// Animates a drawing: queues an `animate` job and answers 202 with it. Poll
/// `GET /api/v1/animations/{id}` (or watch the job's progress) for the result.
#[utoipa::path(post, path = "/api/v1/animations", tag = "animate", security(("bearer" = [])),
    request_body(content = AnimationForm, content_type = "multipart/form-data"),
    responses((status = 202, body = AnimationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "unknown motion, joints outside the image, bad parameters"),
              (status = 429, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    form: MultipartForm,
) -> ApiResult<(StatusCode, Json<AnimationView>)> {
    let mut ingested = None;
    let queued = match read_form(&state, user.id, form, &mut ingested).await {
        Ok(params) => queue::enqueue_kind::<Animate>(&state.platform, &user, &params)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    let job = match queued {
        Ok(job) => job,
        Err(err) => {
            // A drawing stored by this refused request goes with it.
            if let Some(id) = ingested {
                let _ = uploads::delete_owned(&state.platform, user.id, &id).await;
            }
            return Err(err);
        }
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(AnimationView {
            job,
            outputs: BTreeMap::new(),
        }),
    ))
}

/// One of your animations: the job's status, progress and stage; once it succeeded, the result
/// (motion, frame count, character) and signed links to its files.
#[utoipa::path(get, path = "/api/v1/animations/{id}", tag = "animate", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = AnimationView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<AnimationView>> {
    let job = queue::get_owned(state.platform.db(), user.id, &id).await?;
    if job.kind != "animate" {
        return Err(PlatformError::NotFound("animation").into());
    }
    let outputs = signed_links(&state, user.id, &job).await?;
    Ok(Json(AnimationView { job, outputs }))
}

async fn analyze_upload(
    state: &AppState,
    user_id: i64,
    id: &str,
) -> ApiResult<atelier_animate::Character> {
    let upload = uploads::get_owned(&state.platform, user_id, id).await?;
    if !upload.media_kind()?.is_image() {
        return Err(PlatformError::Invalid("a character needs an image upload".into()).into());
    }
    let bytes = state
        .platform
        .storage()
        .get_bytes(&Storage::blob_key(&upload.sha256))
        .await?;
    let limits = state.platform.config().uploads.decode;
    let slot = state.platform.decode_slot().await?;
    tokio::task::spawn_blocking(move || -> ApiResult<_> {
        let _slot = slot;
        let image = decode_image(&bytes, &limits)
            .map_err(PlatformError::from)?
            .to_rgba8();
        Ok(atelier_animate::analyze(
            &image,
            &AnalyzeParams::default(),
            &mut atelier_animate::no_progress,
        )?)
    })
    .await
    .map_err(|err| ApiError::Internal(err.into()))?
}

/// A drawing analysed as a character: its joints (to show and edit), bounding box, rest mesh and
/// a link to its mask. Runs inline (about 0.1 s for a 512-pixel drawing).
#[utoipa::path(get, path = "/api/v1/animations/characters/{upload_id}", tag = "animate", security(("bearer" = [])),
    params(("upload_id" = String, Path, description = "An image upload of yours")),
    responses((status = 200, body = CharacterView), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "no-figure, multiple-figures, image-too-large")))]
pub async fn character(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(upload_id): Path<String>,
) -> ApiResult<Json<CharacterView>> {
    let character = analyze_upload(&state, user.id, &upload_id).await?;
    Ok(Json(CharacterView {
        character: character.info(),
        mask_url: format!("/api/v1/animations/characters/{upload_id}/mask"),
    }))
}

/// The figure's mask of a drawing, as a PNG (white = figure).
#[utoipa::path(get, path = "/api/v1/animations/characters/{upload_id}/mask", tag = "animate", security(("bearer" = [])),
    params(("upload_id" = String, Path, description = "An image upload of yours")),
    responses((status = 200, description = "image/png"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn mask(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(upload_id): Path<String>,
) -> ApiResult<Response> {
    let character = analyze_upload(&state, user.id, &upload_id).await?;
    let png = encode(
        &DynamicImage::ImageLuma8(character.mask_image()),
        OutputFormat::Png,
    )
    .map_err(|err| ApiError::Internal(err.into()))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// Animation routes.
pub fn router(max_bytes: u64) -> OpenApiRouter<AppState> {
    let limit = usize::try_from(max_bytes.saturating_add(1024 * 1024)).unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(get))
        .routes(routes!(character))
        .routes(routes!(mask))
        .layer(DefaultBodyLimit::max(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backgrounds_parse_as_transparent_or_hex() {
        assert_eq!(parse_background("transparent").ok(), Some(None));
        assert_eq!(parse_background("#ff8000").ok(), Some(Some([255, 128, 0])));
        assert_eq!(parse_background("ff8000").ok(), Some(Some([255, 128, 0])));
        assert!(parse_background("orange").is_err());
        assert!(parse_background("#ff800080").is_err(), "no alpha");
        // Once a panic (slicing through a multi-byte character).
        assert!(parse_background("aé123").is_err());
        assert!(parse_background("#ééé").is_err());
    }
}
