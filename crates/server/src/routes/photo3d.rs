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
        Job,
        photo3d::{self, Deleted, Photo3dParams},
        queue,
    },
    uploads,
};
use axum::{
    extract::{DefaultBodyLimit, FromRequest, Request, State},
    http::{StatusCode, header},
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path},
    routes::uploads::{Form, bad_multipart, field_text},
    state::AppState,
};

/// The stages a `photo3d` job goes through, in order.
pub const STAGES: [&str; 7] = [
    "fetch", "depth", "layers", "inpaint", "render", "encode", "store",
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

/// A file a 3D photo produced.
#[derive(Debug, Serialize, ToSchema)]
pub struct Photo3dOutput {
    /// The output's upload id.
    pub upload_id: String,
    /// `mp4`, `gif`, `glb` or `png`.
    pub kind: String,
    /// Its media type.
    pub content_type: String,
    /// Expiring signed download link.
    pub url: String,
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
    pub outputs: BTreeMap<String, Photo3dOutput>,
}

impl Photo3dView {
    fn new(job: Job, outputs: BTreeMap<String, Photo3dOutput>) -> Self {
        Self {
            job,
            stages: STAGES.to_vec(),
            outputs,
        }
    }
}

fn number(name: &str, value: &str) -> ApiResult<Value> {
    let bad = || ApiError::Unprocessable {
        code: "invalid-parameters",
        message: format!("`{name}` is not a number: {value:?}"),
    };
    let parsed: f64 = value.trim().parse().map_err(|_| bad())?;
    if !parsed.is_finite() {
        return Err(bad());
    }
    if matches!(name, "fps" | "max_side") {
        let whole: u32 = value.trim().parse().map_err(|_| bad())?;
        return Ok(json!(whole));
    }
    Ok(json!(parsed))
}

/// Reads the multipart form into job parameters, storing the files as uploads (their ids are
/// pushed to `ingested` as they are stored, so a failure can remove them).
async fn read_form(
    state: &AppState,
    user_id: i64,
    mut form: axum::extract::Multipart,
    ingested: &mut Vec<String>,
) -> ApiResult<Map<String, Value>> {
    let mut params = Map::new();
    while let Some(field) = form.next_field().await.map_err(bad_multipart)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "image" | "depth" => {
                let filename = field.file_name().map(str::to_owned);
                let upload =
                    uploads::ingest(&state.platform, user_id, Box::pin(field), filename).await?;
                ingested.push(upload.id.clone());
                let key = if name == "image" {
                    "upload_id"
                } else {
                    "depth_upload_id"
                };
                params.insert(key.into(), Value::String(upload.id));
            }
            "upload_id" | "depth_upload_id" | "depth_convention" | "path" => {
                params.insert(
                    name,
                    Value::String(field_text(field).await?.trim().to_owned()),
                );
            }
            "duration" | "fps" | "amplitude" | "max_side" => {
                let value = number(&name, &field_text(field).await?)?;
                params.insert(name, value);
            }
            "formats" => {
                let list: Vec<String> = field_text(field)
                    .await?
                    .split(',')
                    .map(|f| f.trim().to_ascii_lowercase())
                    .filter(|f| !f.is_empty())
                    .collect();
                params.insert(name, json!(list));
            }
            _ => {}
        }
    }
    Ok(params)
}

async fn links(
    state: &AppState,
    user_id: i64,
    job: &Job,
) -> ApiResult<BTreeMap<String, Photo3dOutput>> {
    let mut out = BTreeMap::new();
    let Some(outputs) = job
        .output
        .as_ref()
        .and_then(|o| o.get("outputs"))
        .and_then(Value::as_object)
    else {
        return Ok(out);
    };
    for (name, entry) in outputs {
        let Some(id) = entry.get("upload_id").and_then(Value::as_str) else {
            continue;
        };
        // Deleted outputs (DELETE on the job) have no link any more.
        let upload = match uploads::get_owned(&state.platform, user_id, id).await {
            Ok(upload) => upload,
            Err(PlatformError::NotFound(_)) => continue,
            Err(err) => return Err(err.into()),
        };
        let url = state.platform.download_link(&upload).await?;
        out.insert(
            name.clone(),
            Photo3dOutput {
                upload_id: upload.id,
                kind: upload.kind,
                content_type: upload.content_type,
                url,
            },
        );
    }
    Ok(out)
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
            let Form(form) = Form::from_request(request, &state).await?;
            let params = read_form(&state, user.id, form, &mut ingested).await?;
            if !params.contains_key("upload_id") {
                return Err(ApiError::bad_request(
                    "missing-file",
                    "send the photo as `image`, or `upload_id` of an image upload",
                ));
            }
            Value::Object(params)
        } else {
            let Json(params) = Json::<Value>::from_request(request, &state).await?;
            params
        };
        queue::enqueue(&state.platform, &user, "photo3d", params)
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
    let outputs = links(&state, user.id, &job).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_whole_or_real_by_field() {
        assert_eq!(number("fps", "24").ok(), Some(json!(24)));
        assert_eq!(number("duration", "1.5").ok(), Some(json!(1.5)));
        assert!(number("fps", "2.5").is_err());
        assert!(number("amplitude", "NaN").is_err());
        assert!(number("duration", "long").is_err());
    }
}
