//! Drawing rooms: open, join, start, strokes (append, catch up, undo), submit, gallery. Every
//! change is also announced on the drawing's `presence-drawing-{id}` channel.

use atelier_platform::{
    PlatformError,
    drawings::{
        self, Drawing, LogEntry, NewDrawing, StrokeInput,
        submit::{AnimationOutcome, SubmitRequest, submit_drawing},
    },
    jobs::queue,
    uploads::{self, Upload},
};
use axum::{
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use atelier_platform::throttle::{Action, Subject};

use crate::{
    client::{Client, throttled, wrong_code},
    error::{ApiError, ApiResult, ErrorBody},
    extract::multipart::{MultipartForm, NamedParts},
    extract::{CurrentUser, Json, Path, Query},
    realtime::{Event, auth::drawing_channel, http_api::valid_socket_id},
    state::AppState,
};

/// A drawing with links to its image and animation.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrawingView {
    /// The drawing.
    #[serde(flatten)]
    pub drawing: Drawing,
    /// The channel its live events travel on.
    pub channel: String,
    /// Signed link to the final image (once submitted).
    pub image_url: Option<String>,
    /// Signed link to the animated GIF (once the animate job produced one).
    pub gif_url: Option<String>,
    /// The animate job's status (`queued`, `running`, `succeeded`, …), if one was queued.
    pub animation_status: Option<String>,
}

async fn upload_link(state: &AppState, owner_id: i64, id: &str) -> ApiResult<Option<String>> {
    match uploads::get_owned(&state.platform, owner_id, id).await {
        Ok(upload) => Ok(Some(state.platform.download_link(&upload).await?)),
        Err(PlatformError::NotFound(_)) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Adds links and the animation status to a drawing.
pub async fn view(state: &AppState, drawing: Drawing) -> ApiResult<DrawingView> {
    let db = state.platform.db();
    let image_url = match &drawing.image_upload_id {
        Some(id) => upload_link(state, drawing.host_id, id).await?,
        None => None,
    };
    let (gif_url, animation_status) = match &drawing.animate_job_id {
        Some(job_id) => {
            let status = queue::get_any(db, job_id)
                .await
                .ok()
                .map(|job| job.status.as_str().to_owned());
            let gif = match drawings::animation_upload_id(db, job_id).await? {
                Some(id) => upload_link(state, drawing.host_id, &id).await?,
                None => None,
            };
            (gif, status)
        }
        None => (None, None),
    };
    Ok(DrawingView {
        channel: drawing_channel(drawing.id),
        drawing,
        image_url,
        gif_url,
        animation_status,
    })
}

/// Triggers `name` with `data` on the drawing's channel (except `socket_id`, the sender).
pub async fn announce(
    state: &AppState,
    drawing_id: i64,
    name: &str,
    data: serde_json::Value,
    socket_id: Option<String>,
) {
    let event = Event {
        channels: vec![drawing_channel(drawing_id)],
        name: name.to_owned(),
        data: data.to_string(),
        except: socket_id.filter(|s| valid_socket_id(s)),
        user_id: None,
    };
    if let Err(err) = state.realtime.trigger(event).await {
        tracing::warn!(drawing_id, error = %err, "drawing event not broadcast to other nodes");
    }
}

/// Paging for lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// At most this many drawings (1–500, default 100).
    pub limit: Option<i64>,
}

/// The gallery: the drawings of the caller's family and those it joined, newest first.
#[utoipa::path(get, path = "/api/v1/drawings", tag = "drawings", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = [DrawingView]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<DrawingView>>> {
    let drawings =
        drawings::list_for(state.platform.db(), &user, query.limit.unwrap_or(100)).await?;
    let mut views = Vec::with_capacity(drawings.len());
    for drawing in drawings {
        views.push(view(&state, drawing).await?);
    }
    Ok(Json(views))
}

/// Opens a drawing (waiting room) with the caller as host.
#[utoipa::path(post, path = "/api/v1/drawings", tag = "drawings", security(("bearer" = [])), request_body = NewDrawing,
    responses((status = 201, body = DrawingView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(new): Json<NewDrawing>,
) -> ApiResult<(StatusCode, Json<DrawingView>)> {
    let drawing = drawings::create(state.platform.db(), &user, &new).await?;
    Ok((StatusCode::CREATED, Json(view(&state, drawing).await?)))
}

/// One drawing.
#[utoipa::path(get, path = "/api/v1/drawings/{id}", tag = "drawings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")),
    responses((status = 200, body = DrawingView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<DrawingView>> {
    let drawing = drawings::get_for(state.platform.db(), &user, id).await?;
    Ok(Json(view(&state, drawing).await?))
}

/// Joining a drawing.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinRequest {
    /// The drawing's invitation code.
    pub invitation_code: String,
}

/// Joins the drawing (waiting room) with its invitation code; announces `participant-joined`.
#[utoipa::path(post, path = "/api/v1/drawings/{id}/join", tag = "drawings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")), request_body = JoinRequest,
    responses((status = 200, body = DrawingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn join(
    State(state): State<AppState>,
    client: Client,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<JoinRequest>,
) -> ApiResult<Json<DrawingView>> {
    let drawing = join_and_announce(&state, client, &user, id, &request.invitation_code).await?;
    Ok(Json(view(&state, drawing).await?))
}

/// Joins and announces the new participant list. Wrong codes are throttled per account and
/// per client address (429 + `Retry-After` past the limit).
pub async fn join_and_announce(
    state: &AppState,
    client: Client,
    user: &atelier_platform::accounts::User,
    id: i64,
    code: &str,
) -> ApiResult<Drawing> {
    let subjects = [client.subject(), Subject::Account(user.id.to_string())];
    let drawing = throttled(
        state,
        Action::Join,
        &subjects,
        wrong_code,
        drawings::join(state.platform.db(), user, id, code),
    )
    .await?;
    let participants: Vec<_> = drawing
        .participants
        .iter()
        .map(|p| json!({"id": p.id, "username": p.username}))
        .collect();
    announce(
        state,
        id,
        "participant-joined",
        json!({"user_id": user.id, "username": user.username, "participants": participants}),
        None,
    )
    .await;
    Ok(drawing)
}

/// The host starts the session; announces `session-started`.
#[utoipa::path(post, path = "/api/v1/drawings/{id}/start", tag = "drawings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")),
    responses((status = 200, body = DrawingView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<DrawingView>> {
    let drawing = drawings::start(state.platform.db(), &user, id).await?;
    announce(
        &state,
        id,
        "session-started",
        json!({"drawing_id": id, "started_at": drawing.started_at, "host_id": drawing.host_id}),
        None,
    )
    .await;
    Ok(Json(view(&state, drawing).await?))
}

/// A stroke, and optionally the sender's socket id (so it is not echoed to the sender).
#[derive(Debug, Deserialize, ToSchema)]
pub struct StrokeRequest {
    /// The stroke.
    #[serde(flatten)]
    pub stroke: StrokeInput,
    /// The sender's Pusher socket id, excluded from the `stroke` event.
    pub socket_id: Option<String>,
}

/// Appends a stroke (idempotent on `client_id`), then triggers `stroke` with the log entry.
pub async fn add_stroke(
    state: &AppState,
    user: &atelier_platform::accounts::User,
    id: i64,
    request: StrokeRequest,
) -> ApiResult<(StatusCode, LogEntry)> {
    let limits = state.platform.config().strokes;
    let appended =
        drawings::add_stroke(state.platform.db(), user, id, request.stroke, &limits).await?;
    if !appended.created {
        return Ok((StatusCode::OK, appended.entry));
    }
    let data = serde_json::to_value(&appended.entry).map_err(anyhow::Error::from)?;
    announce(state, id, "stroke", data, request.socket_id).await;
    Ok((StatusCode::CREATED, appended.entry))
}

/// Appends a stroke to the drawing's log and triggers `stroke` on its channel. A retry with the
/// same `client_id` answers 200 with the first entry and triggers nothing.
#[utoipa::path(post, path = "/api/v1/drawings/{id}/strokes", tag = "drawings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")), request_body = StrokeRequest,
    responses((status = 201, body = LogEntry), (status = 200, body = LogEntry), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_stroke(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<StrokeRequest>,
) -> ApiResult<(StatusCode, Json<LogEntry>)> {
    let (status, entry) = add_stroke(&state, &user, id, request).await?;
    Ok((status, Json(entry)))
}

/// Catch-up query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SinceQuery {
    /// Entries after this `seq` (default 0: from the start).
    pub since: Option<i64>,
    /// At most this many (1–5000, default 1000).
    pub limit: Option<i64>,
}

/// A page of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    /// Entries, oldest first.
    pub entries: Vec<LogEntry>,
    /// The log's last `seq` when read (more pages follow while the last entry's is lower).
    pub last_seq: i64,
}

/// The log after `since`: what a late joiner or a reconnecting client missed.
#[utoipa::path(get, path = "/api/v1/drawings/{id}/strokes", tag = "drawings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id"), SinceQuery),
    responses((status = 200, body = LogPage), (status = 404, body = ErrorBody)))]
pub async fn strokes_since(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<SinceQuery>,
) -> ApiResult<Json<LogPage>> {
    let db = state.platform.db();
    let last_seq = drawings::get_for(db, &user, id).await?.last_seq;
    let entries = drawings::log_since(
        db,
        &user,
        id,
        query.since.unwrap_or(0),
        query.limit.unwrap_or(1000),
    )
    .await?;
    Ok(Json(LogPage { entries, last_seq }))
}

/// An undo.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UndoRequest {
    /// The client's id for this undo (idempotency key).
    pub client_id: String,
    /// The sender's Pusher socket id, excluded from the `undo` event.
    pub socket_id: Option<String>,
}

/// Undoes the caller's last stroke; triggers `undo` with the log entry (its `target_seq` is the
/// undone stroke).
#[utoipa::path(post, path = "/api/v1/drawings/{id}/undo", tag = "drawings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")), request_body = UndoRequest,
    responses((status = 201, body = LogEntry), (status = 200, body = LogEntry), (status = 409, body = ErrorBody)))]
pub async fn undo(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<UndoRequest>,
) -> ApiResult<(StatusCode, Json<LogEntry>)> {
    let appended = drawings::undo(state.platform.db(), &user, id, &request.client_id).await?;
    if !appended.created {
        return Ok((StatusCode::OK, Json(appended.entry)));
    }
    let data = serde_json::to_value(&appended.entry).map_err(anyhow::Error::from)?;
    announce(&state, id, "undo", data, request.socket_id).await;
    Ok((StatusCode::CREATED, Json(appended.entry)))
}

/// The multipart form of a submission (every part optional).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SubmitForm {
    /// The final image; without it the server renders the strokes.
    #[schema(format = Binary, value_type = Option<String>)]
    file: Option<Vec<u8>>,
    /// Title.
    title: Option<String>,
    /// Description.
    description: Option<String>,
    /// LittleStudio's voice id.
    voice_id: Option<i64>,
}

/// A submitted drawing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmitResponse {
    /// The drawing.
    pub drawing: DrawingView,
    /// What became of the animation.
    pub animation: AnimationOutcome,
}

/// The parts a submission form accepts (`host_id` is the LittleStudio client's, and ignored).
const SUBMIT_PARTS: &[&str] = &["file", "title", "description", "voice_id", "host_id"];

/// Reads a submission form: text parts, and the file part ingested as an upload.
pub async fn read_submission(
    state: &AppState,
    user: &atelier_platform::accounts::User,
    form: MultipartForm,
) -> ApiResult<SubmitRequest> {
    let limit = state.platform.config().uploads.max_bytes;
    let mut parts = NamedParts::new(form, SUBMIT_PARTS, limit);
    let mut request = SubmitRequest::default();
    while let Some((name, field)) = parts.next().await? {
        if name == "file" {
            let upload: Upload = field.ingest(&state.platform, user.id).await?;
            request.image = Some(upload);
            continue;
        }
        let text = field.text().await?;
        match name.as_str() {
            "title" => request.title = text,
            "description" => request.description = text,
            "voice_id" if !text.is_empty() => {
                request.voice_id = Some(text.parse().map_err(|_| {
                    ApiError::bad_request("bad-voice-id", "voice_id must be an integer")
                })?);
            }
            _ => {}
        }
    }
    Ok(request)
}

/// Submits and announces `submitted`.
pub async fn submit_and_announce(
    state: &AppState,
    user: &atelier_platform::accounts::User,
    id: i64,
    form: MultipartForm,
) -> ApiResult<SubmitResponse> {
    // Refuse before reading (and storing) any file.
    drawings::ensure_can_submit(state.platform.db(), user, id).await?;
    let request = read_submission(state, user, form).await?;
    let submitted = submit_drawing(&state.platform, user, id, request).await?;
    let drawing = view(state, submitted.drawing).await?;
    announce(
        state,
        id,
        "submitted",
        json!({"drawing_id": id, "image_url": drawing.image_url, "animation": submitted.animation}),
        None,
    )
    .await;
    Ok(SubmitResponse {
        drawing,
        animation: submitted.animation,
    })
}

/// Submits the drawing (host only): stores the uploaded file or renders the strokes to a PNG,
/// queues the `animate` job when this server has it, and triggers `submitted`.
#[utoipa::path(put, path = "/api/v1/drawings/{id}/submit", tag = "drawings", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")),
    request_body(content = SubmitForm, content_type = "multipart/form-data"),
    responses((status = 200, body = SubmitResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    form: MultipartForm,
) -> ApiResult<Json<SubmitResponse>> {
    Ok(Json(submit_and_announce(&state, &user, id, form).await?))
}

/// Drawing routes; `max_upload_bytes` sizes the submit body limit and `max_stroke_bytes` the
/// stroke's (the others take the server's small JSON limit).
pub fn router(max_upload_bytes: u64, max_stroke_bytes: usize) -> OpenApiRouter<AppState> {
    let limit = usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get))
        .routes(routes!(join))
        .routes(routes!(start))
        .routes(routes!(undo))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(post_stroke, strokes_since))
                .layer(DefaultBodyLimit::max(max_stroke_bytes)),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(submit))
                .layer(DefaultBodyLimit::max(limit)),
        )
}
