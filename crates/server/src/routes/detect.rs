//! Detection: OpenCV-exact Haar/LBP cascades over HTTP — the toy application's API, faster.
//! `POST /api/v1/detect` (boxes as JSON, or `?draw=true` for the image with boxes drawn),
//! `GET /api/v1/detect/cascades`, and `GET /api/v1/detect/uploads/{id}` for the toy flow
//! (upload once with `POST /api/v1/uploads`, download the original there, the processed image here).

use std::sync::Arc;

use atelier_haar::{Cascade, DetectParams, GrayImage, HaarError, Size, rgb_to_gray};
use atelier_imaging::{DecodeError, DecodeLimits, decode_image};
use atelier_platform::{PlatformError, storage::Storage, uploads};
use axum::{
    extract::{DefaultBodyLimit, Multipart, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    detectors::{DetectorsError, png_with_boxes},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path, Query},
    routes::uploads::{Form, bad_multipart, read_part},
    state::AppState,
};

/// Largest user cascade XML accepted.
const MAX_CASCADE_XML_BYTES: usize = 16 * 1024 * 1024;

/// Detection parameters (OpenCV's `detectMultiScale` meaning and defaults).
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct DetectQuery {
    /// Cascade name from `GET /api/v1/detect/cascades` (default `frontalface_default`); ignored
    /// when the form carries a `cascade_xml` file.
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
}

/// The answer of `POST /api/v1/detect`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Detection {
    /// The cascade used (`custom` for an uploaded one).
    pub cascade: String,
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

impl From<DetectorsError> for ApiError {
    fn from(err: DetectorsError) -> Self {
        match err {
            DetectorsError::Unknown(_) => PlatformError::NotFound("cascade").into(),
            DetectorsError::NoCascades(_) => ApiError::ModelUnavailable(err.to_string()),
            DetectorsError::Haar(err) => err.into(),
        }
    }
}

impl From<HaarError> for ApiError {
    fn from(err: HaarError) -> Self {
        let code = match err {
            HaarError::Xml(_)
            | HaarError::MissingElement { .. }
            | HaarError::InvalidNumber { .. }
            | HaarError::MalformedCascade(_)
            | HaarError::Unsupported(_) => "bad-cascade",
            _ => "invalid-detection-parameters",
        };
        ApiError::Unprocessable {
            code,
            message: err.to_string(),
        }
    }
}

struct DetectRequest {
    image: Vec<u8>,
    cascade_xml: Option<Vec<u8>>,
}

async fn read_form(mut form: Multipart, max_bytes: u64) -> ApiResult<DetectRequest> {
    let mut image = None;
    let mut cascade_xml = None;
    while let Some(mut field) = form.next_field().await.map_err(bad_multipart)? {
        let is_cascade = field.name() == Some("cascade_xml");
        let limit = if is_cascade {
            MAX_CASCADE_XML_BYTES as u64
        } else {
            max_bytes
        };
        let bytes = read_part(&mut field, limit).await?;
        if is_cascade {
            cascade_xml = Some(bytes);
        } else if image.is_none() {
            image = Some(bytes);
        }
    }
    let image = image.ok_or_else(|| {
        ApiError::bad_request("missing-file", "the form has no part named `file`")
    })?;
    Ok(DetectRequest { image, cascade_xml })
}

/// Decodes, converts to grey as OpenCV does, and runs the cascade (off the async runtime).
/// Returns the decoded image (for drawing) and the boxes.
async fn run_detection(
    image: Vec<u8>,
    cascade: Arc<Cascade>,
    params: DetectParams,
    limits: DecodeLimits,
) -> ApiResult<(atelier_imaging::RgbImage, Vec<atelier_haar::Rect>)> {
    tokio::task::spawn_blocking(move || -> ApiResult<_> {
        let rgb = decode_image(&image, &limits)
            .map_err(|err| match err {
                DecodeError::UnsupportedType => {
                    PlatformError::UnsupportedMediaType(err.to_string())
                }
                other => PlatformError::BadImage(other.to_string()),
            })?
            .into_rgb8();
        let gray = rgb_to_gray(rgb.as_raw(), rgb.width(), rgb.height(), 3)?;
        let view = GrayImage::packed(&gray, rgb.width(), rgb.height())?;
        let boxes = cascade.detect_multi_scale(&view, &params)?;
        Ok((rgb, boxes))
    })
    .await
    .map_err(|err| ApiError::Internal(err.into()))?
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
            let cascade = tokio::task::spawn_blocking(move || Cascade::from_xml(&text))
                .await
                .map_err(|err| ApiError::Internal(err.into()))??;
            Ok(("custom".to_owned(), Arc::new(cascade)))
        }
        None => {
            let name = query.cascade_name().to_owned();
            Ok((name.clone(), state.detectors.get(&name).await?))
        }
    }
}

/// Finds objects with a cascade: boxes as JSON, or with `draw=true` the image with boxes drawn.
#[utoipa::path(post, path = "/api/v1/detect", tag = "detect", params(DetectQuery),
    request_body(content = DetectForm, content_type = "multipart/form-data"),
    responses((status = 200, body = Detection, description = "boxes (or image/png with draw=true)"),
              (status = 404, body = ErrorBody, description = "unknown cascade"), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn detect(
    State(state): State<AppState>,
    Query(query): Query<DetectQuery>,
    Form(form): Form,
) -> ApiResult<Response> {
    let request = read_form(form, state.platform.config().uploads.max_bytes).await?;
    let (name, cascade) = cascade_for(&state, &query, request.cascade_xml).await?;
    let limits = state.platform.config().uploads.decode;
    let (image, boxes) = run_detection(request.image, cascade, query.params(), limits).await?;
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
            })
            .collect(),
    })
    .into_response())
}

/// The cascades this server has.
#[utoipa::path(get, path = "/api/v1/detect/cascades", tag = "detect",
    responses((status = 200, body = Vec<CascadeInfo>), (status = 503, body = ErrorBody)))]
pub async fn cascades(State(state): State<AppState>) -> ApiResult<Json<Vec<CascadeInfo>>> {
    let entries = state.detectors.list()?;
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
    let limits = state.platform.config().uploads.decode;
    let (image, boxes) = run_detection(bytes.to_vec(), cascade, query.params(), limits).await?;
    png_response(image, &boxes)
}

/// Detection routes.
pub fn router(max_bytes: u64) -> OpenApiRouter<AppState> {
    let limit =
        usize::try_from(max_bytes.saturating_add(MAX_CASCADE_XML_BYTES as u64 + 1024 * 1024))
            .unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(detect))
        .routes(routes!(cascades))
        .routes(routes!(processed_upload))
        .layer(DefaultBodyLimit::max(limit))
}
