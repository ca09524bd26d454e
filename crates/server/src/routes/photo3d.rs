//! 3D photos (the Amena flow): `POST /api/v1/photo3d` queues a `photo3d` job (202) from a
//! multipart form (`image` [+ `depth`] files and fields) or a JSON body naming uploads;
//! `GET /api/v1/photo3d/{id}` shows its status and stage and, once done, links to the video,
//! GIF, glTF scene and depth preview (or the error record); `DELETE /api/v1/photo3d/{id}`
//! cancels it if it is still queued or running and deletes its inputs and outputs.
//!
//! Bad input is refused at creation: not an image (415), a depth map that is not a PNG (415),
//! of another size than the photo (422 `depth-size-mismatch`) or constant (422
//! `constant-depth`), a photo over the pixel limit (422 `photo-too-large`), an empty file
//! (422), bad parameters (422 `invalid-parameters`), more active 3D photos than the account may
//! have (429 `too-many-active-jobs-of-kind`). Only the owner sees or deletes a job (others: 404).

use std::collections::BTreeMap;

use atelier_platform::{
    PlatformError,
    jobs::{
        Job, JobKind,
        photo3d::{self, Deleted, Photo3d, Photo3dParams},
        queue,
    },
    uploads,
};
use axum::{
    extract::{DefaultBodyLimit, FromRequest, Request, State},
    http::{StatusCode, header},
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::multipart::{MultipartForm, NamedParts, parse_formats, parse_number},
    extract::{CurrentUser, Json, Path, small_json},
    job_outputs::{OutputLink, signed_links},
    state::AppState,
};

/// The stages a `photo3d` job goes through, in order.
pub const STAGES: [&str; 8] = [
    "fetch", "depth", "layers", "inpaint", "render", "encode", "store", "done",
];

/// The multipart form of `POST /api/v1/photo3d`: the photo as `image` (or `upload_id` of an
/// image you uploaded), optionally its depth map as `depth` (or `depth_upload_id`); every
/// other part is optional text.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Photo3dForm {
    /// The photo (JPEG, PNG, WebP or GIF).
    #[schema(format = Binary, value_type = Option<String>)]
    image: Option<Vec<u8>>,
    /// A depth map of the photo's size: an 8-bit (brighter = nearer) or 16-bit (brighter =
    /// farther, 0 = missing) PNG.
    #[schema(format = Binary, value_type = Option<String>)]
    depth: Option<Vec<u8>>,
    /// An image upload of yours, instead of `image`.
    upload_id: Option<String>,
    /// A PNG upload of yours, instead of `depth`.
    depth_upload_id: Option<String>,
    /// `disparity` or `depth`, overriding the bit-depth convention.
    depth_convention: Option<String>,
    /// `zoom-in`, `dolly-zoom`, `swing` or `circle` (default).
    path: Option<String>,
    /// Seconds, in (0, 20] (default 4).
    duration: Option<f32>,
    /// Frames per second, 1–60 (default 30).
    fps: Option<u32>,
    /// Parallax of the nearest content, fraction of the longer side, (0, 0.05] (default 0.03).
    amplitude: Option<f32>,
    /// Comma-separated outputs: `mp4`, `gif`, `glb` (default `mp4,glb`).
    formats: Option<String>,
    /// Working size (longer side), 64–1024 (default 512).
    max_side: Option<u32>,
}

/// A 3D-photo job and, once it succeeded, links to its files.
#[derive(Debug, Serialize, ToSchema)]
pub struct Photo3dView {
    /// The `photo3d` job: status, progress, current stage, error record, result (with
    /// `depth_source`: `learned`, `supplied` or `classical`).
    pub job: Job,
    /// The stages in order (`job.stage` is one of them).
    pub stages: Vec<&'static str>,
    /// By name: `mp4`, `gif`, `glb`, `depth_preview`.
    pub outputs: BTreeMap<String, OutputLink>,
}

impl Photo3dView {
    fn new(job: Job, outputs: BTreeMap<String, OutputLink>) -> Self {
        Self {
            job,
            stages: STAGES.to_vec(),
            outputs,
        }
    }
}

/// The parts `POST /api/v1/photo3d` accepts as a form.
const PHOTO3D_PARTS: &[&str] = &[
    "image",
    "depth",
    "upload_id",
    "depth_upload_id",
    "depth_convention",
    "path",
    "duration",
    "fps",
    "amplitude",
    "max_side",
    "formats",
];

/// Reads the multipart form into job parameters, storing the files as uploads (their ids are
/// pushed to `ingested` as they are stored, so a failure can remove them). `None` when the form
/// names no photo.
async fn read_form(
    state: &AppState,
    user_id: i64,
    form: MultipartForm,
    ingested: &mut Vec<String>,
) -> ApiResult<Option<Photo3dParams>> {
    let limit = state.platform.config().uploads.max_bytes;
    let mut parts = NamedParts::new(form, PHOTO3D_PARTS, limit);
    let mut params = Photo3dParams::for_upload(String::new());
    while let Some((name, field)) = parts.next().await? {
        if let "image" | "depth" = name.as_str() {
            let upload = field.ingest(&state.platform, user_id).await?;
            ingested.push(upload.id.clone());
            if name == "image" {
                params.upload_id = upload.id;
            } else {
                params.depth_upload_id = Some(upload.id);
            }
            continue;
        }
        let text = field.text().await?;
        match name.as_str() {
            "upload_id" => params.upload_id = text,
            "depth_upload_id" => params.depth_upload_id = Some(text),
            "depth_convention" => params.depth_convention = Some(text),
            "path" => params.path = text,
            "fps" => params.fps = parse_number(&name, &text)?,
            "max_side" => params.max_side = parse_number(&name, &text)?,
            "duration" => params.duration = parse_number(&name, &text)?,
            "amplitude" => params.amplitude = parse_number(&name, &text)?,
            _ => params.formats = parse_formats(&text),
        }
    }
    Ok((!params.upload_id.is_empty()).then_some(params))
}

/// Makes a 3D photo: queues a `photo3d` job and answers 202 with it. Send a multipart form
/// (`image` [+ `depth`] and fields) or JSON naming your uploads
/// (`{"upload_id": …, "depth_upload_id": …, "path": "circle", …}`); poll
/// `GET /api/v1/photo3d/{id}` for the result.
#[utoipa::path(post, path = "/api/v1/photo3d", tag = "photo3d", security(("bearer" = [])),
    request_body(content(
        (Photo3dForm = "multipart/form-data"),
        (Photo3dParams = "application/json"),
    )),
    responses((status = 202, body = Photo3dView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody, description = "not an image, depth map not a PNG"),
              (status = 422, body = ErrorBody, description = "invalid-parameters, depth-size-mismatch, constant-depth, photo-too-large, empty file"),
              (status = 429, body = ErrorBody, description = "too-many-active-jobs(-of-kind)")))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    request: Request,
) -> ApiResult<(StatusCode, Json<Photo3dView>)> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let mut ingested = Vec::new();
    let result: ApiResult<Job> = async {
        let params = if multipart {
            let form = MultipartForm::from_request(request, &state).await?;
            read_form(&state, user.id, form, &mut ingested)
                .await?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "missing-file",
                        "send the photo as `image`, or `upload_id` of an image upload",
                    )
                })?
        } else {
            // The route's body limit is sized for two files; the JSON form gets the small one.
            let limit = state.config.requests.max_json_bytes;
            let params: Value = small_json(request, limit).await?;
            serde_json::from_value(params).map_err(Photo3d::params_error)?
        };
        queue::enqueue_kind::<Photo3d>(&state.platform, &user, &params)
            .await
            .map_err(ApiError::from)
    }
    .await;
    match result {
        Ok(job) => Ok((
            StatusCode::ACCEPTED,
            Json(Photo3dView::new(job, BTreeMap::new())),
        )),
        Err(err) => {
            // Files stored by this refused request go with it.
            for id in &ingested {
                let _ = uploads::delete_owned(&state.platform, user.id, id).await;
            }
            Err(err)
        }
    }
}

/// One of your 3D photos: status, progress and stage; once it succeeded, the result (depth
/// source, frame count, size) and signed links to the video, GIF, glTF scene and depth preview;
/// once it failed, its error record.
#[utoipa::path(get, path = "/api/v1/photo3d/{id}", tag = "photo3d", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Photo3dView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Photo3dView>> {
    let job = queue::get_owned(state.platform.db(), user.id, &id).await?;
    if job.kind != "photo3d" {
        return Err(PlatformError::NotFound("3D photo").into());
    }
    let outputs = signed_links(&state, user.id, &job).await?;
    Ok(Json(Photo3dView::new(job, outputs)))
}

/// Deletes one of your 3D photos: cancels the job if it is still queued or running, and
/// deletes its outputs and its inputs (photo, depth map). The job record stays.
#[utoipa::path(delete, path = "/api/v1/photo3d/{id}", tag = "photo3d", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    Ok(Json(photo3d::delete(&state.platform, &user, &id).await?))
}

/// 3D-photo routes.
pub fn router(max_bytes: u64) -> OpenApiRouter<AppState> {
    // Two files (photo and depth map) may come in one request.
    let limit = usize::try_from(max_bytes.saturating_mul(2).saturating_add(1024 * 1024))
        .unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(get, delete))
        .layer(DefaultBodyLimit::max(limit))
}
