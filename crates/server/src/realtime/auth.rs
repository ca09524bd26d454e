//! `POST /pusher/auth`: signs subscriptions for atelier sessions. A session may join only its own
//! user channel (`private-user-{id}`) and the drawing channels (`private-drawing-{id}`,
//! `presence-drawing-{id}`) of drawings it may see (its family's, or ones it joined).
//! Presence members are `{user_id, user_info: {name}}`.

use atelier_platform::{PlatformError, drawings};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{http_api::valid_socket_id, protocol::ChannelKind, signing};
use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{CurrentUser, Json, UrlEncodedForm},
    state::AppState,
};

/// What pusher-js posts (form-encoded).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AuthRequest {
    /// The connection's socket id.
    pub socket_id: String,
    /// The channel to join.
    pub channel_name: String,
}

/// The signature pusher-js passes on in `pusher:subscribe`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    /// `key:signature`.
    pub auth: String,
    /// The signed member data (presence channels only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<String>,
}

/// Whose channel a name designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelTarget {
    /// `private-user-{id}`.
    User(i64),
    /// `private-drawing-{id}` or `presence-drawing-{id}`.
    Drawing(ChannelKind, i64),
}

/// Parses the channels atelier hands out; anything else is `None` (never authorised).
pub fn channel_target(channel: &str) -> Option<ChannelTarget> {
    let id = |rest: &str| -> Option<i64> {
        (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
            .then(|| rest.parse().ok())
            .flatten()
    };
    if let Some(rest) = channel.strip_prefix("private-user-") {
        return id(rest).map(ChannelTarget::User);
    }
    if let Some(rest) = channel.strip_prefix("private-drawing-") {
        return id(rest).map(|i| ChannelTarget::Drawing(ChannelKind::Private, i));
    }
    if let Some(rest) = channel.strip_prefix("presence-drawing-") {
        return id(rest).map(|i| ChannelTarget::Drawing(ChannelKind::Presence, i));
    }
    None
}

/// The presence channel of a drawing.
pub fn drawing_channel(drawing_id: i64) -> String {
    format!("presence-drawing-{drawing_id}")
}

pub use atelier_platform::events::user_channel;

fn refused(channel: &str) -> ApiError {
    PlatformError::Forbidden(format!("you may not subscribe to {channel}")).into()
}

/// Signs a subscription to one of the caller's channels.
#[utoipa::path(post, path = "/pusher/auth", tag = "realtime", security(("bearer" = [])),
    request_body(content = AuthRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn authorize(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    UrlEncodedForm(request): UrlEncodedForm<AuthRequest>,
) -> ApiResult<Json<AuthResponse>> {
    if !valid_socket_id(&request.socket_id) {
        return Err(ApiError::bad_request(
            "bad-socket-id",
            "socket_id must look like 1234.5678",
        ));
    }
    let channel = request.channel_name.as_str();
    let presence = match channel_target(channel) {
        Some(ChannelTarget::User(id)) if id == user.id => false,
        Some(ChannelTarget::Drawing(kind, id)) => {
            drawings::check_access(state.platform.db(), &user, id)
                .await
                .map_err(|err| match err {
                    PlatformError::NotFound(_) => refused(channel),
                    other => other.into(),
                })?;
            kind == ChannelKind::Presence
        }
        _ => return Err(refused(channel)),
    };
    let realtime = &state.realtime;
    let channel_data = presence.then(|| {
        serde_json::json!({"user_id": user.id.to_string(), "user_info": {"name": user.username}})
            .to_string()
    });
    let auth = signing::sign_channel(
        &realtime.key,
        realtime.secret(),
        &request.socket_id,
        channel,
        channel_data.as_deref(),
    );
    Ok(Json(AuthResponse { auth, channel_data }))
}

/// The auth route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(authorize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_atelier_channel_names_have_targets() {
        assert_eq!(
            channel_target("private-user-12"),
            Some(ChannelTarget::User(12))
        );
        assert_eq!(
            channel_target("presence-drawing-3"),
            Some(ChannelTarget::Drawing(ChannelKind::Presence, 3))
        );
        assert_eq!(
            channel_target("private-drawing-3"),
            Some(ChannelTarget::Drawing(ChannelKind::Private, 3))
        );
        assert_eq!(channel_target("private-user-"), None);
        assert_eq!(channel_target("private-user-1x"), None);
        assert_eq!(channel_target("private-user--1"), None);
        assert_eq!(channel_target("presence-room"), None);
        assert_eq!(
            channel_target("private-drawing-99999999999999999999999"),
            None
        );
    }
}
