//! Detection: OpenCV-exact Haar/LBP cascades over HTTP — the toy application's API, faster.
//! `POST /api/v1/detect` (boxes as JSON, or `?draw=true` for the image with boxes drawn),
//! `GET /api/v1/detect/cascades`, and `GET /api/v1/detect/uploads/{id}` for the toy flow
//! (upload once with `POST /api/v1/uploads`, download the original there, the processed image here).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use atelier_haar::{Budget, Cascade, DetectParams, GrayImage, HaarError, Size, rgb_to_gray};
use atelier_imaging::{DecodeError, DecodeLimits, decode_image};
use atelier_platform::{
    PlatformError, models::cascades::png_with_boxes, storage::Storage, studio::detectors, uploads,
};
use axum::{
    extract::{DefaultBodyLimit, RawQuery, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    config::DetectLimits,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{
        CurrentUser, Json, MaybeUser, Path, Query,
        multipart::{FieldParams, MultipartForm, NamedParts},
    },
    state::AppState,
};

/// Detection parameters (OpenCV's `detectMultiScale` meaning and defaults).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct DetectQuery {
    /// Cascade name from `GET /api/v1/detect/cascades` (default `frontalface_default`); ignored
    /// when the form carries a `cascade_xml` file. Every parameter may also be sent as a form
    /// field; the query wins when both name one.
    pub cascade: Option<String>,
    /// Pyramid step, > 1 (default 1.1).
    pub scale_factor: Option<f64>,
    /// Neighbours a detection needs (default 3).
    pub min_neighbors: Option<u32>,
    /// Smallest object width (default 0: no limit).
    pub min_width: Option<u32>,
    /// Smallest object height (default 0: no limit).
    pub min_height: Option<u32>,
    /// Largest object width (default 0: the image).
    pub max_width: Option<u32>,
    /// Largest object height (default 0: the image).
    pub max_height: Option<u32>,
    /// Return the image (PNG) with boxes drawn instead of JSON.
    pub draw: Option<bool>,
    /// A trained detector of the studio (yours or your family's shared project's) instead of a
    /// cascade: needs a session; boxes carry `label`, `label_id` and `score`.
    pub detector: Option<i64>,
    /// With `detector`: the lowest score reported, in (0, 1] (default 0.3).
    pub min_score: Option<f32>,
}

impl DetectQuery {
    fn params(&self) -> DetectParams {
        let defaults = DetectParams::default();
        DetectParams {
            scale_factor: self.scale_factor.unwrap_or(defaults.scale_factor),
            min_neighbors: self.min_neighbors.unwrap_or(defaults.min_neighbors),
            min_size: Size::new(self.min_width.unwrap_or(0), self.min_height.unwrap_or(0)),
            max_size: Size::new(self.max_width.unwrap_or(0), self.max_height.unwrap_or(0)),
        }
    }

    fn cascade_name(&self) -> &str {
        self.cascade
            .as_deref()
            .filter(|c| !c.is_empty())
            .unwrap_or("frontalface_default")
    }
}

/// The multipart form: the image in `file`, optionally your own cascade in `cascade_xml`.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "describes the multipart form to OpenAPI; never built"
)]
pub struct DetectForm {
    /// The image (JPEG, PNG, WebP or GIF).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// An OpenCV cascade XML file (Haar or LBP) to use instead of a named one.
    #[schema(format = Binary, value_type = Option<String>)]
    cascade_xml: Option<Vec<u8>>,
}

/// One detection.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetectedBox {
    /// Left edge, pixels.
    pub x: i32,
    /// Top edge, pixels.
    pub y: i32,
    /// Width, pixels.
    pub width: i32,
    /// Height, pixels.
    pub height: i32,
    /// The label's name (studio detectors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The label's id (studio detectors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_id: Option<i64>,
    /// Confidence in [0, 1] (studio detectors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

/// The answer of `POST /api/v1/detect`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Detection {
    /// The cascade used (`custom` for an uploaded one; `detector-{id}` for a studio detector).
    pub cascade: String,
    /// The studio detector used, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<i64>,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// The boxes, in OpenCV's order.
    pub boxes: Vec<DetectedBox>,
}

/// A cascade the server has.
#[derive(Debug, Serialize, ToSchema)]
pub struct CascadeInfo {
    /// Short name, e.g. `frontalface_default`, `lbp_frontalcatface`.
    pub name: String,
    /// The file it comes from.
    pub file: String,
}

impl From<HaarError> for ApiError {
    fn from(err: HaarError) -> Self {
        let code = match err {
            HaarError::Xml(_)
            | HaarError::MissingElement { .. }
            | HaarError::InvalidNumber { .. }
            | HaarError::MalformedCascade(_)
            | HaarError::Unsupported(_) => "bad-cascade",
            HaarError::CascadeTooLarge { .. } => "cascade-too-large",
            HaarError::TooManyCandidates { .. } => "too-many-candidates",
            HaarError::DeadlineExceeded => "detection-too-slow",
            HaarError::Canceled => "detection-canceled",
            HaarError::PyramidTooLarge { .. } | HaarError::ImageTooLarge { .. } => {
                "image-too-large"
            }
            _ => "invalid-detection-parameters",
        };
        ApiError::Unprocessable {
            code,
            message: err.to_string(),
        }
    }
}

/// The parts `POST /api/v1/detect` accepts: the image, an own cascade, and every
/// [`DetectQuery`] parameter as a form field.
const DETECT_PARTS: &[&str] = &[
    "file",
    "cascade_xml",
    "cascade",
    "scale_factor",
    "min_neighbors",
    "min_width",
    "min_height",
    "max_width",
    "max_height",
    "draw",
    "detector",
    "min_score",
];

struct DetectRequest {
    image: Vec<u8>,
    cascade_xml: Option<Vec<u8>>,
    query: DetectQuery,
}

/// Reads the form by part name; parameters sent as fields merge with the query string (the
/// query wins when both name one). A `cascade_xml` part needs a signed-in user (401 before its
/// bytes are read): running a stranger's cascade is the costly case.
async fn read_form(
    form: MultipartForm,
    raw_query: Option<&str>,
    max_bytes: u64,
    limits: &DetectLimits,
    signed_in: bool,
) -> ApiResult<DetectRequest> {
    let max_cascade = limits.max_cascade_bytes as u64;
    let body_limit = max_bytes.saturating_add(max_cascade);
    let mut parts = NamedParts::new(form, DETECT_PARTS, body_limit);
    let mut image = None;
    let mut cascade_xml = None;
    let mut fields = FieldParams::default();
    while let Some((name, mut field)) = parts.next().await? {
        match name.as_str() {
            "file" => image = Some(field.bytes(max_bytes).await?),
            "cascade_xml" => {
                if !signed_in {
                    return Err(PlatformError::Unauthenticated(
                        "sign in to detect with your own cascade (named cascades are open to all)"
                            .into(),
                    )
                    .into());
                }
                cascade_xml = Some(field.bytes(max_cascade).await?);
            }
            _ => {
                let value = field.text().await?;
                fields.insert(name, value);
            }
        }
    }
    let image = image.ok_or_else(|| {
        ApiError::bad_request("missing-file", "the form has no part named `file`")
    })?;
    Ok(DetectRequest {
        image,
        cascade_xml,
        query: fields.merged_with(raw_query)?,
    })
}

/// Sets the flag when dropped: the request's future went away (the client left, or the
/// request timed out), so the detection running for it stops at its next row of windows.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Decodes, converts to grey as OpenCV does, and runs the cascade (off the async runtime),
/// under one of the process's decode slots and within `limits` (image side, candidates,
/// deadline; canceled when this future is dropped). Returns the decoded image (for drawing)
/// and the boxes.
async fn run_detection(
    state: &AppState,
    image: Vec<u8>,
    cascade: Arc<Cascade>,
    params: DetectParams,
) -> ApiResult<(atelier_imaging::RgbImage, Vec<atelier_haar::Rect>)> {
    let limits = state.config.detect;
    let mut decode = state.platform.config().uploads.decode;
    decode.max_side = decode.max_side.min(limits.max_image_side);
    let side = u64::from(decode.max_side);
    decode.max_pixels = decode.max_pixels.min(side.saturating_mul(side));
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    // Admission in arrival order first (the CPU lane), then memory (a decode slot).
    let ticket = state.platform.cpu_slot().await?;
    let slot = state.platform.decode_slot().await?;
    tokio::task::spawn_blocking(move || -> ApiResult<_> {
        // Held until the work ends, even when the request is dropped first.
        let _slot = slot;
        let started = Instant::now();
        ticket.run(|| {
            let rgb = decode_rgb(&image, &decode)?;
            let gray = rgb_to_gray(rgb.as_raw(), rgb.width(), rgb.height(), 3)?;
            let view = GrayImage::packed(&gray, rgb.width(), rgb.height())?;
            let budget = Budget {
                max_candidates: Some(limits.max_candidates),
                deadline: Some(started + limits.deadline),
                cancel: Some(cancel.as_ref()),
            };
            let boxes = cascade.detect_multi_scale_within(&view, &params, &budget)?;
            Ok((rgb, boxes))
        })
    })
    .await
    .map_err(|err| ApiError::Internal(err.into()))?
}

/// Decodes under `limits`; an image over them is 422 `image-too-large`.
fn decode_rgb(bytes: &[u8], limits: &DecodeLimits) -> ApiResult<atelier_imaging::RgbImage> {
    match decode_image(bytes, limits) {
        Ok(image) => Ok(image.into_rgb8()),
        Err(err @ DecodeError::TooLarge { .. }) => Err(ApiError::Unprocessable {
            code: "image-too-large",
            message: format!("{err}; downscale it for detection"),
        }),
        Err(err) => Err(PlatformError::from(err).into()),
    }
}

fn png_response(
    image: atelier_imaging::RgbImage,
    boxes: &[atelier_haar::Rect],
) -> ApiResult<Response> {
    let png = png_with_boxes(image, boxes).map_err(|err| ApiError::Internal(err.into()))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

async fn cascade_for(
    state: &AppState,
    query: &DetectQuery,
    xml: Option<Vec<u8>>,
) -> ApiResult<(String, Arc<Cascade>)> {
    match xml {
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| ApiError::Unprocessable {
                code: "bad-cascade",
                message: "the cascade XML is not UTF-8 text".into(),
            })?;
            let limits = state.config.detect.cascade;
            let cascade = tokio::task::spawn_blocking(move || {
                let cascade = Cascade::from_xml(&text)?;
                cascade.check_limits(&limits)?;
                Ok::<_, HaarError>(cascade)
            })
            .await
            .map_err(|err| ApiError::Internal(err.into()))??;
            Ok(("custom".to_owned(), Arc::new(cascade)))
        }
        None => {
            let name = query.cascade_name().to_owned();
            Ok((name.clone(), state.platform.models().cascade(&name).await?))
        }
    }
}

/// Finds objects with a cascade: boxes as JSON, or with `draw=true` the image with boxes drawn.
/// Named cascades are open to everyone; posting your own `cascade_xml` needs a session.
#[utoipa::path(post, path = "/api/v1/detect", tag = "detect", params(DetectQuery),
    request_body(content = DetectForm, content_type = "multipart/form-data"),
    responses((status = 200, body = Detection, description = "boxes (or image/png with draw=true)"),
              (status = 401, body = ErrorBody, description = "`cascade_xml` without a session"),
              (status = 404, body = ErrorBody, description = "unknown cascade"), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "bad-cascade, cascade-too-large, image-too-large, too-many-candidates, detection-too-slow"),
              (status = 503, body = ErrorBody, description = "every decode slot busy (Retry-After)")))]
pub async fn detect(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    RawQuery(raw_query): RawQuery,
    form: MultipartForm,
) -> ApiResult<Response> {
    let max_bytes = state.platform.config().uploads.max_bytes;
    let request = read_form(
        form,
        raw_query.as_deref(),
        max_bytes,
        &state.config.detect,
        user.is_some(),
    )
    .await?;
    let query = request.query;
    if let Some(detector) = query.detector {
        let user = user.ok_or_else(|| {
            PlatformError::Unauthenticated("sign in to use a studio detector".into())
        })?;
        return detect_with_detector(&state, &user, detector, request.image, &query).await;
    }
    let (name, cascade) = cascade_for(&state, &query, request.cascade_xml).await?;
    let (image, boxes) = run_detection(&state, request.image, cascade, query.params()).await?;
    if query.draw.unwrap_or(false) {
        return png_response(image, &boxes);
    }
    Ok(Json(Detection {
        cascade: name,
        width: image.width(),
        height: image.height(),
        boxes: boxes
            .iter()
            .map(|b| DetectedBox {
                x: b.x,
                y: b.y,
                width: b.width,
                height: b.height,
                label: None,
                label_id: None,
                score: None,
            })
            .collect(),
        detector: None,
    })
    .into_response())
}

/// Runs a studio detector (its head loaded once per process, the backbone shared) on an image
/// decoded under one of the process's decode slots.
async fn detect_with_detector(
    state: &AppState,
    user: &atelier_platform::accounts::User,
    id: i64,
    image: Vec<u8>,
    query: &DetectQuery,
) -> ApiResult<Response> {
    let min_score = query.min_score.unwrap_or(0.3);
    if !(min_score > 0.0 && min_score <= 1.0) {
        return Err(ApiError::Unprocessable {
            code: "invalid-detection-parameters",
            message: "min_score must be in (0, 1]".into(),
        });
    }
    let (_, detector) = detectors::loaded(&state.platform, user, id).await?;
    let backbone = state.platform.models().studio_backbone().await?;
    let limits = state.config.detect;
    let mut decode = state.platform.config().uploads.decode;
    decode.max_side = decode.max_side.min(limits.max_image_side);
    let ticket = state.platform.cpu_slot().await?;
    let slot = state.platform.decode_slot().await?;
    let (rgb, found) = tokio::task::spawn_blocking(move || -> ApiResult<_> {
        let _slot = slot;
        ticket.run(|| {
            let rgb = decode_rgb(&image, &decode)?;
            let found = detectors::detect_blocking(&backbone, &detector, &rgb, min_score)?;
            Ok((rgb, found))
        })
    })
    .await
    .map_err(|err| ApiError::Internal(err.into()))??;
    let rect = |f: &detectors::Found| atelier_haar::Rect {
        x: f.bbox.xtl.round() as i32,
        y: f.bbox.ytl.round() as i32,
        width: f.bbox.width().round() as i32,
        height: f.bbox.height().round() as i32,
    };
    if query.draw.unwrap_or(false) {
        let rects: Vec<_> = found.iter().map(rect).collect();
        return png_response(rgb, &rects);
    }
    Ok(Json(Detection {
        cascade: format!("detector-{id}"),
        detector: Some(id),
        width: rgb.width(),
        height: rgb.height(),
        boxes: found
            .iter()
            .map(|f| {
                let r = rect(f);
                DetectedBox {
                    x: r.x,
                    y: r.y,
                    width: r.width,
                    height: r.height,
                    label: Some(f.label.clone()),
                    label_id: Some(f.label_id),
                    score: Some(f.score),
                }
            })
            .collect(),
    })
    .into_response())
}

/// The cascades this server has.
#[utoipa::path(get, path = "/api/v1/detect/cascades", tag = "detect",
    responses((status = 200, body = Vec<CascadeInfo>), (status = 503, body = ErrorBody)))]
pub async fn cascades(State(state): State<AppState>) -> ApiResult<Json<Vec<CascadeInfo>>> {
    let entries = state.platform.models().cascade_list().await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| CascadeInfo {
                name: e.name,
                file: e.path.display().to_string(),
            })
            .collect(),
    ))
}

/// The toy application's "download processed image": one of your uploads with boxes drawn.
#[utoipa::path(get, path = "/api/v1/detect/uploads/{id}", tag = "detect", security(("bearer" = [])),
    params(("id" = String, Path, description = "Upload id"), DetectQuery),
    responses((status = 200, description = "image/png with boxes drawn"), (status = 404, body = ErrorBody)))]
pub async fn processed_upload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<DetectQuery>,
) -> ApiResult<Response> {
    let upload = uploads::get_owned(&state.platform, user.id, &id).await?;
    let bytes = state
        .platform
        .storage()
        .get_bytes(&Storage::blob_key(&upload.sha256))
        .await?;
    let (_, cascade) = cascade_for(&state, &query, None).await?;
    let (image, boxes) = run_detection(&state, bytes.to_vec(), cascade, query.params()).await?;
    png_response(image, &boxes)
}

/// Detection routes; the body may hold an image of `max_bytes` and a cascade of
/// `max_cascade_bytes`.
pub fn router(max_bytes: u64, max_cascade_bytes: usize) -> OpenApiRouter<AppState> {
    let limit = usize::try_from(max_bytes.saturating_add(max_cascade_bytes as u64 + 1024 * 1024))
        .unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(detect))
        .routes(routes!(cascades))
        .routes(routes!(processed_upload))
        .layer(DefaultBodyLimit::max(limit))
}
