//! Families: create, join with an invitation code, read (members only), leave, remove a member
//! (the founder).

use atelier_platform::{
    PlatformError,
    families::{self, Family},
};
use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use atelier_platform::throttle::{Action, Subject};

use crate::{
    client::{Client, throttled, wrong_code},
    error::{ApiResult, ErrorBody},
    extract::{CurrentUser, Json, Path},
    state::AppState,
};

/// A new family.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateFamily {
    /// Display name, 1–100 characters.
    pub name: String,
}

/// Joining a family.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinFamily {
    /// The family's invitation code.
    pub invitation_code: String,
}

/// Creates a family with the caller as its first member.
#[utoipa::path(post, path = "/api/v1/families", tag = "families", request_body = CreateFamily, security(("bearer" = [])),
    responses((status = 201, body = Family), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(request): Json<CreateFamily>,
) -> ApiResult<(StatusCode, Json<Family>)> {
    let family = families::create(state.platform.db(), &user, &request.name).await?;
    Ok((StatusCode::CREATED, Json(family)))
}

/// Joins the family with this invitation code.
#[utoipa::path(post, path = "/api/v1/families/join", tag = "families", request_body = JoinFamily, security(("bearer" = [])),
    responses((status = 200, body = Family), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn join(
    State(state): State<AppState>,
    client: Client,
    CurrentUser(user): CurrentUser,
    Json(request): Json<JoinFamily>,
) -> ApiResult<Json<Family>> {
    let subjects = [client.subject(), Subject::Account(user.id.to_string())];
    let family = throttled(
        &state,
        Action::Join,
        &subjects,
        wrong_code,
        families::join(state.platform.db(), &user, &request.invitation_code),
    )
    .await?;
    Ok(Json(family))
}

/// The caller's family and its members.
#[utoipa::path(get, path = "/api/v1/families/mine", tag = "families", security(("bearer" = [])),
    responses((status = 200, body = Family), (status = 404, body = ErrorBody)))]
pub async fn mine(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<Family>> {
    let id = user.family_id.ok_or(PlatformError::NotFound(
        "family (you have not created or joined one)",
    ))?;
    Ok(Json(
        families::get_for(state.platform.db(), &user, id).await?,
    ))
}

/// A family, for its members only.
#[utoipa::path(get, path = "/api/v1/families/{id}", tag = "families", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Family id")),
    responses((status = 200, body = Family), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Family>> {
    Ok(Json(
        families::get_for(state.platform.db(), &user, id).await?,
    ))
}

/// Leaves the caller's family (the family stays for the others).
#[utoipa::path(post, path = "/api/v1/families/leave", tag = "families", security(("bearer" = [])),
    responses((status = 204, description = "left"), (status = 404, body = ErrorBody)))]
pub async fn leave(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<StatusCode> {
    families::leave(state.platform.db(), &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The founder removes a member from the family.
#[utoipa::path(delete, path = "/api/v1/families/{id}/members/{user_id}", tag = "families", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Family id"), ("user_id" = i64, Path, description = "The member to remove")),
    responses((status = 200, body = Family), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, member)): Path<(i64, i64)>,
) -> ApiResult<Json<Family>> {
    Ok(Json(
        families::remove_member(state.platform.db(), &user, id, member).await?,
    ))
}

/// Family routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(join))
        .routes(routes!(mine))
        .routes(routes!(get))
        .routes(routes!(leave))
        .routes(routes!(remove_member))
}
