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

use atelier_platform::throttle::{Action, Subject};

use crate::{
    client::{Client, throttled, wrong_credentials},
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

/// The session cookie: `HttpOnly`, `SameSite=Lax`, and `Secure` when the request came over
/// TLS (as the proxy in front says with `X-Forwarded-Proto: https`) or `--secure-cookies`
/// forces it.
pub(crate) fn session_cookie(
    state: &AppState,
    client: Client,
    token: &str,
    max_age_secs: i64,
) -> HeaderMap {
    let secure = if state.config.secure_cookies || client.https {
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
    client: Client,
    user: User,
    status: StatusCode,
) -> ApiResult<impl IntoResponse + use<>> {
    let ttl = state.platform.config().session_ttl;
    let session = accounts::open_session(state.platform.db(), user.id, ttl).await?;
    let headers = session_cookie(
        state,
        client,
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

/// Registers an account, throttled per client address (every attempt counts).
pub(crate) async fn register_throttled(
    state: &AppState,
    client: Client,
    new: NewUser,
) -> ApiResult<User> {
    throttled(
        state,
        Action::Register,
        &[client.subject()],
        |_| true,
        accounts::register(state.platform.db(), new),
    )
    .await
}

/// Checks credentials, throttling failures per account and per client address.
pub(crate) async fn login_throttled(
    state: &AppState,
    client: Client,
    username: &str,
    password: &str,
) -> ApiResult<(User, accounts::IssuedSession)> {
    let subjects = [
        client.subject(),
        Subject::Account(username.trim().to_lowercase()),
    ];
    let ttl = state.platform.config().session_ttl;
    throttled(
        state,
        Action::Login,
        &subjects,
        wrong_credentials,
        accounts::login(state.platform.db(), username, password, ttl),
    )
    .await
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = SessionResponse), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: Client,
    Json(new): Json<NewUser>,
) -> ApiResult<impl IntoResponse> {
    let user = register_throttled(&state, client, new).await?;
    open_session(&state, client, user, StatusCode::CREATED).await
}

/// Signs in.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = SessionResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    Json(request): Json<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let ttl = state.platform.config().session_ttl;
    let (user, session) =
        login_throttled(&state, client, &request.username, &request.password).await?;
    let headers = session_cookie(
        &state,
        client,
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
    client: Client,
    SessionToken(token): SessionToken,
) -> ApiResult<impl IntoResponse> {
    accounts::logout(state.platform.db(), &token).await?;
    Ok((
        StatusCode::NO_CONTENT,
        session_cookie(&state, client, "", 0),
    ))
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
