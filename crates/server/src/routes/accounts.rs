//! Accounts: register, log in, log out, who am I.

use atelier_platform::accounts::{self, NewUser, User};
use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{CurrentUser, Json, SESSION_COOKIE, SessionToken},
    state::AppState,
};

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password (or the client's sha256 of it, if that is what it registered with).
    pub password: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The account.
    pub user: User,
    /// Bearer token; also set as an HttpOnly cookie.
    pub token: String,
    /// Expiry, Unix milliseconds.
    pub expires_at: i64,
}

pub(crate) fn session_cookie(state: &AppState, token: &str, max_age_secs: i64) -> HeaderMap {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{secure}"
    );
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers
}

async fn open_session(
    state: &AppState,
    user: User,
    status: StatusCode,
) -> ApiResult<impl IntoResponse + use<>> {
    let ttl = state.platform.config().session_ttl;
    let session = accounts::open_session(state.platform.db(), user.id, ttl).await?;
    let headers = session_cookie(
        state,
        &session.token,
        i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
    );
    Ok((
        status,
        headers,
        Json(SessionResponse {
            user,
            token: session.token,
            expires_at: session.expires_at,
        }),
    ))
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = SessionResponse), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    Json(new): Json<NewUser>,
) -> ApiResult<impl IntoResponse> {
    let user = accounts::register(state.platform.db(), new).await?;
    open_session(&state, user, StatusCode::CREATED).await
}

/// Signs in.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = SessionResponse), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Json(request): Json<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let ttl = state.platform.config().session_ttl;
    let (user, session) = accounts::login(
        state.platform.db(),
        &request.username,
        &request.password,
        ttl,
    )
    .await?;
    let headers = session_cookie(
        &state,
        &session.token,
        i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
    );
    Ok((
        headers,
        Json(SessionResponse {
            user,
            token: session.token,
            expires_at: session.expires_at,
        }),
    ))
}

/// Revokes the session the request carries and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    SessionToken(token): SessionToken,
) -> ApiResult<impl IntoResponse> {
    accounts::logout(state.platform.db(), &token).await?;
    Ok((StatusCode::NO_CONTENT, session_cookie(&state, "", 0)))
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(CurrentUser(user): CurrentUser) -> Json<User> {
    Json(user)
}

/// Account routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}
