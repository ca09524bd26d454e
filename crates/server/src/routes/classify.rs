//! Classification: `POST /api/v1/classify` (top-k, model choice) and the COMPSCI 532 seed's own
//! call, `POST /` with a multipart `file`, answered exactly `{"class_id", "class_name"}`.

use atelier_classify::{Classification, ClassifyError};
use atelier_infer::InferError;
use atelier_platform::{
    PlatformError,
    models::{ModelsError, PrepareError},
};
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{
        Json,
        multipart::{FieldParams, MultipartForm, NamedParts},
    },
    state::AppState,
};

/// Most classes a request may ask for.
const MAX_TOP_K: usize = 100;

/// Options, as query parameters or as text parts of the form.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ClassifyQuery {
    /// How many ranked classes to return (1–100, default 5).
    pub top_k: Option<usize>,
    /// The model (default: the server's default classifier, `efficientnet-lite0`).
    pub model: Option<String>,
}

/// The multipart form: the image in `file`, and optionally `top_k` and `model`.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "describes the multipart form to OpenAPI; never built"
)]
pub struct ClassifyForm {
    /// The image (JPEG, PNG, WebP or GIF).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// How many ranked classes to return.
    top_k: Option<usize>,
    /// The model.
    model: Option<String>,
}

/// One ranked class.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedClass {
    /// The class id (a WordNet id for ImageNet models, e.g. `n02099601`).
    pub class_id: String,
    /// The class name (e.g. `golden_retriever`).
    pub class_name: String,
    /// Softmax probability.
    pub score: f32,
}

/// The answer of `POST /api/v1/classify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassifyResponse {
    /// The top class's id.
    pub class_id: String,
    /// The top class's name.
    pub class_name: String,
    /// The top class's probability.
    pub score: f32,
    /// The best classes, best first.
    pub top_k: Vec<RankedClass>,
    /// The model that answered.
    pub model: String,
}

/// The seed's answer, field for field.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedAnswer {
    /// WordNet id, e.g. `n02099601`.
    pub class_id: String,
    /// Class name, e.g. `golden_retriever`.
    pub class_name: String,
}

impl From<ModelsError> for ApiError {
    fn from(err: ModelsError) -> Self {
        match err {
            ModelsError::Unknown(_) => ApiError::UnknownModel(err.to_string()),
            ModelsError::UnknownCascade(_) => PlatformError::NotFound("cascade").into(),
            ModelsError::Unavailable { .. } => ApiError::ModelUnavailable(err.to_string()),
            ModelsError::Haar(err) => err.into(),
        }
    }
}

impl From<PrepareError> for ApiError {
    fn from(err: PrepareError) -> Self {
        match err {
            PrepareError::Decode(err) => PlatformError::from(err).into(),
            PrepareError::Classify(err) => err.into(),
        }
    }
}

impl From<ClassifyError> for ApiError {
    fn from(err: ClassifyError) -> Self {
        match err {
            ClassifyError::Preprocess(err) => PlatformError::BadImage(err.to_string()).into(),
            ClassifyError::Infer(InferError::QueueFull { capacity }) => ApiError::Overloaded {
                message: format!(
                    "the classifier's queue is full ({capacity} images waiting); retry shortly"
                ),
                retry_after: 1,
            },
            other => ApiError::Internal(anyhow::anyhow!(other)),
        }
    }
}

/// The parts of a classify form.
struct Request {
    image: Vec<u8>,
    options: ClassifyQuery,
}

/// The parts a classify form accepts: the image and the [`ClassifyQuery`] options.
const CLASSIFY_PARTS: &[&str] = &["file", "top_k", "model"];

/// Reads the form by part name; options sent as fields merge with the query string (the query
/// wins when both name one).
async fn read_form(
    form: MultipartForm,
    raw_query: Option<&str>,
    max_bytes: u64,
) -> ApiResult<Request> {
    let mut parts = NamedParts::new(form, CLASSIFY_PARTS, max_bytes);
    let mut image = None;
    let mut fields = FieldParams::default();
    while let Some((name, mut field)) = parts.next().await? {
        if name == "file" {
            image = Some(field.bytes(max_bytes).await?);
            continue;
        }
        let value = field.text().await?;
        if name == "top_k" && value.parse::<usize>().is_err() {
            return Err(ApiError::bad_request("bad-top-k", "top_k must be a number"));
        }
        fields.insert(name, value);
    }
    let image = image.ok_or_else(|| {
        ApiError::bad_request("missing-file", "the form has no part named `file`")
    })?;
    Ok(Request {
        image,
        options: fields.merged_with(raw_query)?,
    })
}

/// Decodes, preprocesses (off the async runtime) and classifies one image.
async fn classify_image(state: &AppState, request: Request) -> ApiResult<Classification> {
    let top_k = request.options.top_k.unwrap_or(5);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(
            PlatformError::Invalid(format!("top_k must be between 1 and {MAX_TOP_K}")).into(),
        );
    }
    let loaded = state
        .platform
        .models()
        .classifier(request.options.model.as_deref())
        .await?;
    let limits = state.platform.config().uploads.decode;
    let prepare = loaded.clone();
    let ticket = state.platform.cpu_slot().await?;
    let slot = state.platform.decode_slot().await?;
    let tensor = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        ticket.run(|| prepare.prepare_encoded(&request.image, &limits))
    })
    .await
    .map_err(|err| ApiError::Internal(err.into()))??;
    Ok(loaded.classify_prepared(tensor, top_k).await?)
}

/// Classifies an image: the top class, the `top_k` best, and the model that answered.
#[utoipa::path(post, path = "/api/v1/classify", tag = "classify", params(ClassifyQuery),
    request_body(content = ClassifyForm, content_type = "multipart/form-data"),
    responses((status = 200, body = ClassifyResponse), (status = 404, body = ErrorBody, description = "unknown model"),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 503, body = ErrorBody, description = "queue full (Retry-After) or model unavailable")))]
pub async fn classify(
    State(state): State<AppState>,
    RawQuery(raw_query): RawQuery,
    form: MultipartForm,
) -> ApiResult<Json<ClassifyResponse>> {
    let max_bytes = state.platform.config().uploads.max_bytes;
    let request = read_form(form, raw_query.as_deref(), max_bytes).await?;
    let answer = classify_image(&state, request).await?;
    Ok(Json(ClassifyResponse {
        class_id: answer.class_id,
        class_name: answer.class_name,
        score: answer.score,
        top_k: answer
            .top_k
            .into_iter()
            .map(|p| RankedClass {
                class_id: p.class_id,
                class_name: p.class_name,
                score: p.score,
            })
            .collect(),
        model: answer.model,
    }))
}

/// The COMPSCI 532 seed's call: `curl -F file=@dog.jpg http://host/` → `{"class_id", "class_name"}`.
#[utoipa::path(post, path = "/", tag = "classify",
    request_body(content = ClassifyForm, content_type = "multipart/form-data"),
    responses((status = 200, body = SeedAnswer), (status = 422, body = ErrorBody)))]
pub async fn seed_classify(
    State(state): State<AppState>,
    form: MultipartForm,
) -> ApiResult<Json<SeedAnswer>> {
    let request = read_form(form, None, state.platform.config().uploads.max_bytes).await?;
    let answer = classify_image(&state, request).await?;
    Ok(Json(SeedAnswer {
        class_id: answer.class_id,
        class_name: answer.class_name,
    }))
}

/// Classification routes.
pub fn router(max_bytes: u64) -> OpenApiRouter<AppState> {
    let limit = usize::try_from(max_bytes.saturating_add(1024 * 1024)).unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(classify))
        .routes(routes!(seed_classify))
        .layer(DefaultBodyLimit::max(limit))
}
