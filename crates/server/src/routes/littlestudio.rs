//! LittleStudio's REST API, served as its Android app calls it, under `/compat/littlestudio`:
//! `/user`, `/user/login`, `/user/logout`, `/family`, `/drawing`, `/drawing/{id}`,
//! `/drawing/{id}/join`, `/drawing/{id}/canvas`, `/drawing/{id}/submit`. Same paths and JSON
//! shapes as the seed's table; the work is done by atelier's own drawing and account code.
//! Differences: passwords are never echoed back, a session token is returned (and set as a
//! cookie), and times are ISO 8601 strings.

use atelier_platform::{
    accounts::{self, Gender, NewUser, Role, User},
    drawings::{self, LogEntry, NewDrawing},
    families,
};
use axum::{
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    accounts::{login_throttled, register_throttled, session_cookie},
    drawings::{
        DrawingView, StrokeRequest, SubmitForm, add_stroke, join_and_announce, submit_and_announce,
        view,
    },
};
use crate::{
    client::Client,
    error::{ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path, SessionToken, multipart::MultipartForm},
    state::AppState,
};

/// The prefix these routes are mounted under.
pub const PREFIX: &str = "/compat/littlestudio";

/// Formats Unix milliseconds as ISO 8601 UTC (`2023-11-05T12:00:00.000Z`).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// LittleStudio's `User`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedUser {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Gender (`null` for an account registered through atelier's own API without one).
    pub gender: Option<Gender>,
    /// Parent or child (`null` likewise).
    #[serde(rename = "type")]
    pub role: Option<Role>,
    /// Family id.
    pub family_id: Option<i64>,
    /// ISO 8601.
    pub created_at: String,
}

impl From<&User> for SeedUser {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            gender: user.gender,
            role: user.role,
            family_id: user.family_id,
            created_at: iso8601(user.created_at),
        }
    }
}

/// `User` plus the session atelier opened (LittleStudio's app keeps the cookie).
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedSession {
    /// The user.
    #[serde(flatten)]
    pub user: SeedUser,
    /// Bearer token (also set as the session cookie).
    pub token: String,
}

/// LittleStudio's `FamilyMemberResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedMember {
    /// Login name.
    pub username: String,
    /// Gender (`null` for an account registered through atelier's own API without one).
    pub gender: Option<Gender>,
    /// Parent or child (`null` likewise).
    #[serde(rename = "type")]
    pub role: Option<Role>,
}

/// LittleStudio's `Drawing`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedDrawing {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// The final image ("" before submission).
    pub image_url: String,
    /// The processed image (atelier: the same as `image_url`).
    pub ai_image_url: String,
    /// The animation ("" until it exists).
    pub gif_url: String,
    /// `raw`, `processed` (animation queued or running) or `animated`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The host.
    pub host_id: i64,
    /// Who joined.
    pub participants: Vec<SeedMember>,
    /// Voice id.
    pub voice_id: Option<i64>,
    /// Invitation code.
    pub invitation_code: String,
    /// ISO 8601.
    pub created_at: String,
    /// ISO 8601.
    pub updated_at: String,
}

impl From<DrawingView> for SeedDrawing {
    fn from(view: DrawingView) -> Self {
        let kind = if view.gif_url.is_some() {
            "animated"
        } else if matches!(view.animation_status.as_deref(), Some("queued" | "running")) {
            "processed"
        } else {
            "raw"
        };
        let drawing = view.drawing;
        let image = view.image_url.unwrap_or_default();
        Self {
            id: drawing.id,
            title: drawing.title,
            description: drawing.description,
            ai_image_url: image.clone(),
            image_url: image,
            gif_url: view.gif_url.unwrap_or_default(),
            kind: kind.to_owned(),
            host_id: drawing.host_id,
            participants: drawing
                .participants
                .iter()
                .map(|p| SeedMember {
                    username: p.username.clone(),
                    gender: p.gender,
                    role: p.role,
                })
                .collect(),
            voice_id: drawing.voice_id,
            invitation_code: drawing.invitation_code,
            created_at: iso8601(drawing.created_at),
            updated_at: iso8601(drawing.updated_at),
        }
    }
}

/// `DrawingListResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedDrawingList {
    /// Drawings, newest first.
    pub drawings: Vec<SeedDrawing>,
}

/// `DrawingCreateResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedDrawingCreated {
    /// Id.
    pub id: i64,
    /// Host.
    pub host_id: i64,
    /// Invitation code.
    pub invitation_code: String,
    /// ISO 8601.
    pub created_at: String,
}

/// `FamilyResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedFamily {
    /// The caller's family members (just the caller when it has no family).
    pub users: Vec<SeedUser>,
}

/// LittleStudio's registration body: `User` without id and dates.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SeedRegistration {
    /// Login name.
    pub username: String,
    /// Password (the app sends its sha256).
    pub password: String,
    /// Gender (LittleStudio's user model requires it).
    pub gender: Gender,
    /// Parent or child (required likewise).
    #[serde(rename = "type", alias = "role")]
    pub role: Role,
}

/// `UserLoginRequest`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SeedLogin {
    /// Login name.
    pub username: String,
    /// Password (the app sends its sha256).
    pub password: String,
}

/// `DrawingJoinRequest` (`user_id` is ignored: the session says who joins).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SeedJoin {
    /// The drawing's invitation code.
    pub invitation_code: String,
    /// Ignored.
    pub user_id: Option<i64>,
}

async fn session(
    state: &AppState,
    client: Client,
    user: User,
    token: String,
    status: StatusCode,
) -> (StatusCode, HeaderMap, Json<SeedSession>) {
    let ttl = state.platform.config().session_ttl;
    let headers = session_cookie(
        state,
        client,
        &token,
        i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
    );
    (
        status,
        headers,
        Json(SeedSession {
            user: SeedUser::from(&user),
            token,
        }),
    )
}

/// Registers a user (and signs it in).
#[utoipa::path(post, path = "/compat/littlestudio/user", tag = "littlestudio", request_body = SeedRegistration,
    responses((status = 201, body = SeedSession), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: Client,
    Json(seed): Json<SeedRegistration>,
) -> ApiResult<(StatusCode, HeaderMap, Json<SeedSession>)> {
    let new = NewUser {
        username: seed.username,
        password: seed.password,
        gender: Some(seed.gender),
        role: Some(seed.role),
    };
    let user = register_throttled(&state, client, new).await?;
    let ttl = state.platform.config().session_ttl;
    let issued = accounts::open_session(state.platform.db(), user.id, ttl).await?;
    Ok(session(&state, client, user, issued.token, StatusCode::CREATED).await)
}

/// Logs in.
#[utoipa::path(post, path = "/compat/littlestudio/user/login", tag = "littlestudio", request_body = SeedLogin,
    responses((status = 200, body = SeedSession), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    Json(request): Json<SeedLogin>,
) -> ApiResult<(StatusCode, HeaderMap, Json<SeedSession>)> {
    let (user, issued) =
        login_throttled(&state, client, &request.username, &request.password).await?;
    Ok(session(&state, client, user, issued.token, StatusCode::OK).await)
}

/// Logs out.
#[utoipa::path(post, path = "/compat/littlestudio/user/logout", tag = "littlestudio",
    responses((status = 200, description = "Logged out"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    client: Client,
    SessionToken(token): SessionToken,
) -> ApiResult<(HeaderMap, Json<serde_json::Value>)> {
    accounts::logout(state.platform.db(), &token).await?;
    Ok((
        session_cookie(&state, client, "", 0),
        Json(serde_json::json!({})),
    ))
}

/// The caller's family members.
#[utoipa::path(get, path = "/compat/littlestudio/family", tag = "littlestudio", security(("bearer" = [])),
    responses((status = 200, body = SeedFamily), (status = 401, body = ErrorBody)))]
pub async fn family(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<SeedFamily>> {
    let users = match user.family_id {
        Some(id) => families::get_for(state.platform.db(), &user, id)
            .await?
            .users
            .iter()
            .map(SeedUser::from)
            .collect(),
        None => vec![SeedUser::from(&user)],
    };
    Ok(Json(SeedFamily { users }))
}

/// The caller's drawings (family and joined), newest first.
#[utoipa::path(get, path = "/compat/littlestudio/drawing", tag = "littlestudio", security(("bearer" = [])),
    responses((status = 200, body = SeedDrawingList), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<SeedDrawingList>> {
    let mut out = Vec::new();
    for drawing in drawings::list_for(state.platform.db(), &user, 100).await? {
        out.push(SeedDrawing::from(view(&state, drawing).await?));
    }
    Ok(Json(SeedDrawingList { drawings: out }))
}

/// Opens a drawing (the body's `host_id` is ignored: the session is the host).
#[utoipa::path(post, path = "/compat/littlestudio/drawing", tag = "littlestudio", security(("bearer" = [])),
    responses((status = 201, body = SeedDrawingCreated), (status = 401, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<(StatusCode, Json<SeedDrawingCreated>)> {
    let drawing = drawings::create(state.platform.db(), &user, &NewDrawing::default()).await?;
    Ok((
        StatusCode::CREATED,
        Json(SeedDrawingCreated {
            id: drawing.id,
            host_id: drawing.host_id,
            invitation_code: drawing.invitation_code,
            created_at: iso8601(drawing.created_at),
        }),
    ))
}

/// One drawing.
#[utoipa::path(get, path = "/compat/littlestudio/drawing/{id}", tag = "littlestudio", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")),
    responses((status = 200, body = SeedDrawing), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<SeedDrawing>> {
    let drawing = drawings::get_for(state.platform.db(), &user, id).await?;
    Ok(Json(view(&state, drawing).await?.into()))
}

/// Joins a drawing with its invitation code.
#[utoipa::path(post, path = "/compat/littlestudio/drawing/{id}/join", tag = "littlestudio", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")), request_body = SeedJoin,
    responses((status = 200, body = SeedDrawing), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn join(
    State(state): State<AppState>,
    client: Client,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<SeedJoin>,
) -> ApiResult<Json<SeedDrawing>> {
    let drawing = join_and_announce(&state, client, &user, id, &request.invitation_code).await?;
    Ok(Json(view(&state, drawing).await?.into()))
}

/// Posts one stroke ("upload real-time drawing"); it is triggered on `presence-drawing-{id}`.
#[utoipa::path(post, path = "/compat/littlestudio/drawing/{id}/canvas", tag = "littlestudio", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")), request_body = StrokeRequest,
    responses((status = 201, body = LogEntry), (status = 200, body = LogEntry), (status = 422, body = ErrorBody)))]
pub async fn canvas(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<StrokeRequest>,
) -> ApiResult<(StatusCode, Json<LogEntry>)> {
    let (status, entry) = add_stroke(&state, &user, id, request).await?;
    Ok((status, Json(entry)))
}

/// Submits the drawing: multipart `file` (optional: rendered from the strokes otherwise),
/// `title`, `description`, `voice_id` (`host_id` is ignored).
#[utoipa::path(put, path = "/compat/littlestudio/drawing/{id}/submit", tag = "littlestudio", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drawing id")),
    request_body(content = SubmitForm, content_type = "multipart/form-data"),
    responses((status = 200, body = SeedDrawing), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    form: MultipartForm,
) -> ApiResult<Json<SeedDrawing>> {
    let submitted = submit_and_announce(&state, &user, id, form).await?;
    Ok(Json(submitted.drawing.into()))
}

/// The compatibility routes; `max_upload_bytes` sizes the submit body limit and
/// `max_stroke_bytes` the canvas stroke's (the others take the server's small JSON limit).
pub fn router(max_upload_bytes: u64, max_stroke_bytes: usize) -> OpenApiRouter<AppState> {
    let limit = usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(family))
        .routes(routes!(list, create))
        .routes(routes!(get))
        .routes(routes!(join))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(canvas))
                .layer(DefaultBodyLimit::max(max_stroke_bytes)),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(submit))
                .layer(DefaultBodyLimit::max(limit)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_unix_milliseconds() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_699_185_600_123), "2023-11-05T12:00:00.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }
}
