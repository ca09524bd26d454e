//! OpenID Connect sign-in ("Sign in with Google" and any other provider): the web app's
//! redirect flow (`…/login` sends the browser to the provider, `…/callback` takes the answer,
//! opens the same session as a password login and returns to the app, or to the sign-in page
//! with `?oidc_error=CODE`), the same flow for API clients with their own redirect URI
//! (`…/start`, `…/finish`), and the ID-token exchange for clients that already hold one
//! (`…/nonce`, `…/id-token`).

use atelier_platform::{
    PlatformError, accounts,
    accounts::User,
    oidc::{
        OidcError,
        flow::{Binding, ProviderAnswer, StartLogin},
        identities::{self, LinkedIdentity, SignInOutcome},
    },
    secrets::random_token,
};
use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    client::Client,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path, Query},
    routes::accounts::session_cookie,
    state::AppState,
};

/// The cookie that binds a web sign-in to the browser that started it.
const BINDING_COOKIE: &str = "atelier_oidc";
/// Where the binding cookie is sent.
const BINDING_PATH: &str = "/api/v1/auth/oidc";

/// A provider people can sign in with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderInfo {
    /// Its id in URLs.
    pub id: String,
    /// Its display name (`Google`).
    pub name: String,
    /// Where the web app's "Sign in with …" button goes.
    pub login_url: String,
}

/// The configured providers, in the settings' order.
#[utoipa::path(get, path = "/api/v1/auth/oidc/providers", tag = "accounts",
    responses((status = 200, body = [ProviderInfo])))]
pub async fn providers(State(state): State<AppState>) -> Json<Vec<ProviderInfo>> {
    Json(
        state
            .platform
            .oidc()
            .providers()
            .map(|provider| ProviderInfo {
                id: provider.id.clone(),
                name: provider.name.clone(),
                login_url: format!("{BINDING_PATH}/{}/login", provider.id),
            })
            .collect(),
    )
}

/// What the web sign-in may be told.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LoginQuery {
    /// Link the provider to the signed-in account instead of signing in.
    #[serde(default)]
    pub link: bool,
    /// Where the app goes afterwards: a path of atelier's own (`/#/gallery`). Default `/`.
    pub return_to: Option<String>,
}

/// The provider's answer at the web callback.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// The flow's state.
    pub state: Option<String>,
    /// The authorization code, on success.
    pub code: Option<String>,
    /// The OAuth error, on failure (`access_denied` when the person declined).
    pub error: Option<String>,
    /// The error's description.
    pub error_description: Option<String>,
}

/// This deployment's address as the browser sees it: `public_url`, or the request's.
fn base_url(state: &AppState, client: Client, headers: &HeaderMap) -> String {
    if let Some(public) = &state.platform.oidc().config().public_url {
        return public.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if client.https { "https" } else { "http" };
    format!("{scheme}://{host}")
}

fn callback_uri(state: &AppState, client: Client, headers: &HeaderMap, provider: &str) -> String {
    format!(
        "{}{BINDING_PATH}/{provider}/callback",
        base_url(state, client, headers)
    )
}

/// A path of atelier's own (no other origin, no scheme).
fn own_path(path: Option<String>) -> Option<String> {
    path.filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.contains('\\'))
}

fn binding_cookie(state: &AppState, client: Client, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.secure_cookies || client.https {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; HttpOnly; SameSite=Lax; Path={BINDING_PATH}; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn read_binding(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == BINDING_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The sign-in page with an error code it explains.
fn error_redirect(state: &AppState, client: Client, code: &str) -> Response {
    let mut response = Redirect::to(&format!("/?oidc_error={code}#/login")).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, binding_cookie(state, client, "", 0));
    response
}

fn error_code(err: &ApiError) -> &'static str {
    match err {
        ApiError::Platform(PlatformError::Oidc(err)) => err.code(),
        ApiError::Platform(PlatformError::Unauthenticated(_)) => "sign-in-required",
        _ => "internal",
    }
}

/// Starts the web sign-in: sends the browser to the provider (303), with a short-lived cookie
/// that binds the flow to this browser. With `link=true` the provider is linked to the
/// signed-in account instead. Errors come back as a redirect to the sign-in page with
/// `?oidc_error=CODE` (`unknown-provider`, `provider-unreachable`, `sign-in-required`).
#[utoipa::path(get, path = "/api/v1/auth/oidc/{provider}/login", tag = "accounts",
    params(("provider" = String, Path, description = "provider id"), LoginQuery),
    responses((status = 303, description = "to the provider, or to `/?oidc_error=CODE#/login`")))]
pub async fn web_login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    user: Result<CurrentUser, ApiError>,
    Path(provider): Path<String>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let result = async {
        let link_user_id = if query.link { Some(user?.0.id) } else { None };
        let binding = random_token(32);
        let started = state
            .platform
            .oidc()
            .start(
                state.platform.db(),
                StartLogin {
                    redirect_uri: callback_uri(&state, client, &headers, &provider),
                    provider: provider.clone(),
                    binding: Binding::Browser(binding.clone()),
                    link_user_id,
                    return_to: own_path(query.return_to),
                },
            )
            .await?;
        Ok::<_, ApiError>((started, binding))
    }
    .await;
    match result {
        Ok((started, binding)) => {
            let ttl = state.platform.oidc().config().login_ttl.as_secs();
            let mut response = Redirect::to(&started.authorization_url).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                binding_cookie(&state, client, &binding, i64::try_from(ttl).unwrap_or(600)),
            );
            response
        }
        Err(err) => {
            tracing::warn!(provider, error = %err, "OpenID Connect sign-in could not start");
            error_redirect(&state, client, error_code(&err))
        }
    }
}

/// The provider's answer to the web sign-in: finishes the flow started in this browser,
/// signs in (creating the account on a first sign-in) or links, sets the session cookie and
/// returns to the app (303). Refusals go to `/?oidc_error=CODE#/login`: `invalid-state` (an
/// unknown or replayed state, or another browser), `login-expired`, `access-denied` (declined
/// at the provider), `provider-refused`, `provider-unreachable`, `id-token-…`,
/// `identity-linked-elsewhere`.
#[utoipa::path(get, path = "/api/v1/auth/oidc/{provider}/callback", tag = "accounts",
    params(("provider" = String, Path, description = "provider id"), CallbackQuery),
    responses((status = 303, description = "to the app with the session cookie set, or to `/?oidc_error=CODE#/login`")))]
pub async fn web_callback(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let result = async {
        let binding = read_binding(&headers).ok_or(OidcError::InvalidState)?;
        let state_param = query.state.clone().ok_or(OidcError::InvalidState)?;
        let answer = provider_answer(query.code, query.error, query.error_description)?;
        complete(
            &state,
            &provider,
            &state_param,
            &Binding::Browser(binding),
            answer,
        )
        .await
    }
    .await;
    match result {
        Ok(Completed::Session { session, .. }) => {
            let ttl = state.platform.config().session_ttl.as_secs();
            let mut response =
                Redirect::to(&session.return_to.unwrap_or_else(|| "/".into())).into_response();
            let headers = response.headers_mut();
            for value in session_cookie(
                &state,
                client,
                &session.token,
                i64::try_from(ttl).unwrap_or(i64::MAX),
            )
            .get_all(header::SET_COOKIE)
            {
                headers.append(header::SET_COOKIE, value.clone());
            }
            headers.append(header::SET_COOKIE, binding_cookie(&state, client, "", 0));
            response
        }
        Ok(Completed::Linked { return_to, .. }) => {
            let mut response =
                Redirect::to(&return_to.unwrap_or_else(|| "/".into())).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, binding_cookie(&state, client, "", 0));
            response
        }
        Err(err) => {
            tracing::info!(provider, error = %err, "OpenID Connect sign-in refused");
            error_redirect(&state, client, error_code(&err))
        }
    }
}

fn provider_answer(
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
) -> Result<ProviderAnswer, OidcError> {
    match (code, error) {
        (_, Some(error)) => Ok(ProviderAnswer::Error {
            error,
            description: error_description,
        }),
        (Some(code), None) => Ok(ProviderAnswer::Code(code)),
        (None, None) => Err(OidcError::ProviderRefused(
            "the answer holds neither a code nor an error".into(),
        )),
    }
}

/// A session opened by an OpenID Connect sign-in (the same opaque session as a password login).
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcSessionResponse {
    /// The account.
    pub user: User,
    /// Bearer token; also set as an HttpOnly cookie.
    pub token: String,
    /// Expiry, Unix milliseconds.
    pub expires_at: i64,
    /// Whether the account existed, was created now, or was linked by verified email.
    pub outcome: SignInOutcome,
    #[serde(skip)]
    return_to: Option<String>,
}

/// A link flow's result: the account and all its linked identities.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedResponse {
    /// The account.
    pub user: User,
    /// Its identities, the new one included.
    pub identities: Vec<LinkedIdentity>,
}

enum Completed {
    Session {
        session: OidcSessionResponse,
    },
    Linked {
        linked: LinkedResponse,
        return_to: Option<String>,
    },
}

async fn complete(
    state: &AppState,
    provider: &str,
    state_param: &str,
    binding: &Binding,
    answer: ProviderAnswer,
) -> ApiResult<Completed> {
    let oidc = state.platform.oidc();
    let db = state.platform.db();
    let finished = oidc
        .finish(db, provider, state_param, binding, answer)
        .await?;
    match finished.link_user_id {
        Some(user_id) => {
            let user = identities::link(db, &finished.identity, user_id).await?;
            let identities = identities::list(db, user_id).await?;
            Ok(Completed::Linked {
                linked: LinkedResponse { user, identities },
                return_to: finished.return_to,
            })
        }
        None => {
            let mut session = sign_in(state, &finished.identity).await?;
            session.return_to = finished.return_to;
            Ok(Completed::Session { session })
        }
    }
}

async fn sign_in(
    state: &AppState,
    identity: &atelier_platform::oidc::VerifiedIdentity,
) -> ApiResult<OidcSessionResponse> {
    let db = state.platform.db();
    let auto_link = state.platform.oidc().config().auto_link_verified_email;
    let (user, outcome) = identities::sign_in(db, identity, auto_link).await?;
    let session = accounts::open_session(db, user.id, state.platform.config().session_ttl).await?;
    Ok(OidcSessionResponse {
        user,
        token: session.token,
        expires_at: session.expires_at,
        outcome,
        return_to: None,
    })
}

fn session_answer(state: &AppState, client: Client, session: OidcSessionResponse) -> Response {
    let ttl = state.platform.config().session_ttl.as_secs();
    let status = if session.outcome == SignInOutcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let headers = session_cookie(
        state,
        client,
        &session.token,
        i64::try_from(ttl).unwrap_or(i64::MAX),
    );
    (status, headers, Json(session)).into_response()
}

/// An API client's start of the code flow.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StartRequest {
    /// Where the provider sends the answer: one of the provider's `redirect_uris` in the
    /// settings, exactly.
    pub redirect_uri: String,
    /// Link the provider to the signed-in account (a session is required) instead of signing in.
    #[serde(default)]
    pub link: bool,
}

/// A started code flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartResponse {
    /// Open this in the browser.
    pub authorization_url: String,
    /// The `state` the answer will carry; post it to `…/finish` with the code.
    pub state: String,
    /// When the flow stops being accepted, Unix milliseconds.
    pub expires_at: i64,
}

/// Starts the code flow for an API client (a phone app, a CLI) that receives the provider's
/// answer at its own redirect URI; atelier keeps the PKCE verifier and the nonce.
#[utoipa::path(post, path = "/api/v1/auth/oidc/{provider}/start", tag = "accounts",
    params(("provider" = String, Path, description = "provider id")), request_body = StartRequest,
    responses((status = 200, body = StartResponse), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn api_start(
    State(state): State<AppState>,
    user: Result<CurrentUser, ApiError>,
    Path(provider): Path<String>,
    Json(request): Json<StartRequest>,
) -> ApiResult<Json<StartResponse>> {
    let link_user_id = if request.link { Some(user?.0.id) } else { None };
    let started = state
        .platform
        .oidc()
        .start(
            state.platform.db(),
            StartLogin {
                provider,
                redirect_uri: request.redirect_uri,
                binding: Binding::Api,
                link_user_id,
                return_to: None,
            },
        )
        .await?;
    Ok(Json(StartResponse {
        authorization_url: started.authorization_url,
        state: started.state,
        expires_at: started.expires_at,
    }))
}

/// What the provider answered at the API client's redirect URI.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FinishRequest {
    /// The `state` of the answer.
    pub state: String,
    /// The authorization code, on success.
    pub code: Option<String>,
    /// The OAuth error, on failure.
    pub error: Option<String>,
    /// The error's description.
    pub error_description: Option<String>,
}

/// Finishes an API client's code flow: a session (201 when the account was created now), or
/// for a link flow the account with its identities. Refusals: 400 `invalid-state` (unknown or
/// replayed), `login-expired`, `provider-refused`; 403 `access-denied`; 401 `id-token-…`;
/// 409 `identity-linked-elsewhere`; 502 `provider-unreachable`.
#[utoipa::path(post, path = "/api/v1/auth/oidc/{provider}/finish", tag = "accounts",
    params(("provider" = String, Path, description = "provider id")), request_body = FinishRequest,
    responses((status = 200, body = OidcSessionResponse), (status = 201, body = OidcSessionResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn api_finish(
    State(state): State<AppState>,
    client: Client,
    Path(provider): Path<String>,
    Json(request): Json<FinishRequest>,
) -> ApiResult<Response> {
    let answer = provider_answer(request.code, request.error, request.error_description)?;
    match complete(&state, &provider, &request.state, &Binding::Api, answer).await? {
        Completed::Session { session } => Ok(session_answer(&state, client, session)),
        Completed::Linked { linked, .. } => Ok(Json(linked).into_response()),
    }
}

/// A single-use nonce.
#[derive(Debug, Serialize, ToSchema)]
pub struct NonceResponse {
    /// Ask the provider for an ID token carrying this nonce, then post both to `…/id-token`.
    pub nonce: String,
    /// When it stops being accepted, Unix milliseconds.
    pub expires_at: i64,
}

/// Hands out a single-use nonce for the ID-token exchange (recommended: a token exchanged
/// with its nonce cannot be replayed).
#[utoipa::path(post, path = "/api/v1/auth/oidc/{provider}/nonce", tag = "accounts",
    params(("provider" = String, Path, description = "provider id")),
    responses((status = 200, body = NonceResponse), (status = 404, body = ErrorBody)))]
pub async fn nonce(
    State(state): State<AppState>,
    Path(provider): Path<String>,
) -> ApiResult<Json<NonceResponse>> {
    let (nonce, expires_at) = state
        .platform
        .oidc()
        .issue_nonce(state.platform.db(), &provider)
        .await?;
    Ok(Json(NonceResponse { nonce, expires_at }))
}

/// An ID token a client got from the provider itself.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IdTokenRequest {
    /// The ID token (a JWT).
    pub id_token: String,
    /// The nonce from `…/nonce` the token was requested with; without one the token must
    /// carry no nonce.
    pub nonce: Option<String>,
}

/// Exchanges an ID token the client already holds (a phone's "Sign in with Google") for a
/// session. The token is verified as in the code flow (signature against the provider's keys,
/// issuer, audience: the provider's client id or one of its `audiences`, expiry, nonce).
/// Refusals: 401 `id-token-expired`, `id-token-wrong-audience`, `id-token-wrong-issuer`,
/// `id-token-bad-signature`, `id-token-unknown-key`, `id-token-bad-nonce`, `id-token-invalid`;
/// 502 `provider-unreachable`.
#[utoipa::path(post, path = "/api/v1/auth/oidc/{provider}/id-token", tag = "accounts",
    params(("provider" = String, Path, description = "provider id")), request_body = IdTokenRequest,
    responses((status = 200, body = OidcSessionResponse), (status = 201, body = OidcSessionResponse),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn id_token(
    State(state): State<AppState>,
    client: Client,
    Path(provider): Path<String>,
    Json(request): Json<IdTokenRequest>,
) -> ApiResult<Response> {
    let identity = state
        .platform
        .oidc()
        .verify_id_token(
            state.platform.db(),
            &provider,
            &request.id_token,
            request.nonce.as_deref(),
        )
        .await?;
    let session = sign_in(&state, &identity).await?;
    Ok(session_answer(&state, client, session))
}

/// The identities linked to the signed-in account.
#[utoipa::path(get, path = "/api/v1/me/identities", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = [LinkedIdentity]), (status = 401, body = ErrorBody)))]
pub async fn my_identities(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<Vec<LinkedIdentity>>> {
    Ok(Json(identities::list(state.platform.db(), user.id).await?))
}

/// OpenID Connect routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(providers))
        .routes(routes!(web_login))
        .routes(routes!(web_callback))
        .routes(routes!(api_start))
        .routes(routes!(api_finish))
        .routes(routes!(nonce))
        .routes(routes!(id_token))
        .routes(routes!(my_identities))
}
