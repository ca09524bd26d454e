//! Pusher's signed HTTP API on this node: trigger events (`POST /apps/{app_id}/events`,
//! `/batch_events`) and query channels (`GET /apps/{app_id}/channels[/{name}[/users]]`).
//!
//! Bodies and errors follow Pusher's wire format (plain-text error bodies), not atelier's JSON
//! error shape, because Pusher's server libraries are the clients; [`PusherApiError::status`] is
//! the one place those errors meet status codes. Channel queries answer across the cluster on
//! PostgreSQL: presence channels from the roster table, exact; other channels from this node's
//! sockets plus the counts the other nodes publish (`counts`), at most
//! `channel_counts_interval` (1 s by default) behind theirs. On SQLite, one node answers alone.

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Event, Realtime,
    hub::ChannelCounts,
    protocol::{self, ChannelKind},
    signing::{self, RequestAuthError},
};
use crate::state::AppState;

/// Most channels one event may name.
pub const MAX_CHANNELS_PER_EVENT: usize = 100;
/// Most events one batch may carry.
pub const MAX_BATCH: usize = 10;

/// A refused HTTP API request, in Pusher's terms.
#[derive(Debug, thiserror::Error)]
pub enum PusherApiError {
    /// The request's signature, key or timestamp is wrong.
    #[error(transparent)]
    Auth(#[from] RequestAuthError),
    /// No app with this id.
    #[error("Unknown app_id")]
    UnknownApp,
    /// The body or query is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// The event data is over the size limit.
    #[error("{0}")]
    TooLarge(String),
    /// A server-side failure (logged, not detailed to the client).
    #[error("internal error: {0}")]
    Internal(#[from] atelier_platform::PlatformError),
}

impl PusherApiError {
    /// The status code of each error: the one place they are mapped.
    pub fn status(&self) -> StatusCode {
        match self {
            PusherApiError::Auth(_) => StatusCode::UNAUTHORIZED,
            PusherApiError::UnknownApp => StatusCode::NOT_FOUND,
            PusherApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PusherApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            PusherApiError::Internal(err) if err.is_database_unavailable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            PusherApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for PusherApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, "pusher API request failed: the database is unavailable");
            "Database unavailable; retry shortly\n".to_owned()
        } else if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "pusher API request failed");
            "Internal error".to_owned()
        } else {
            format!("{self}\n")
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

type PusherApiResult<T> = Result<T, PusherApiError>;

/// Checks the app id and the request's signature.
fn authenticate(
    realtime: &Realtime,
    app_id: &str,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> PusherApiResult<()> {
    if app_id != realtime.app_id {
        return Err(PusherApiError::UnknownApp);
    }
    let now = atelier_platform::db::now_ms() / 1000;
    signing::verify_request(
        &realtime.key,
        realtime.secret(),
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        body,
        now,
    )?;
    Ok(())
}

/// One event to trigger.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TriggerRequest {
    /// Event name.
    pub name: String,
    /// The payload: a string (usually JSON) delivered as is; other JSON is serialised.
    #[schema(value_type = Object)]
    pub data: Value,
    /// One channel…
    pub channel: Option<String>,
    /// …or up to 100.
    pub channels: Option<Vec<String>>,
    /// A socket to exclude (the sender's own connection).
    pub socket_id: Option<String>,
    /// Comma-separated attributes to return per channel: `subscription_count`, `user_count`.
    pub info: Option<String>,
}

/// A batch of events.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchRequest {
    /// Up to 10 events, each with one `channel`.
    pub batch: Vec<TriggerRequest>,
}

/// Validates one trigger request and turns it into an event plus the requested info fields.
fn to_event(realtime: &Realtime, request: TriggerRequest) -> PusherApiResult<(Event, Vec<String>)> {
    if !protocol::valid_event_name(&request.name) {
        return Err(PusherApiError::BadRequest(format!(
            "invalid event name {:?}",
            request.name
        )));
    }
    let channels = match (request.channel, request.channels) {
        (Some(one), None) => vec![one],
        (None, Some(many)) => many,
        (Some(_), Some(_)) => {
            return Err(PusherApiError::BadRequest(
                "give either channel or channels, not both".into(),
            ));
        }
        (None, None) => return Err(PusherApiError::BadRequest("no channel given".into())),
    };
    if channels.is_empty() || channels.len() > MAX_CHANNELS_PER_EVENT {
        return Err(PusherApiError::BadRequest(format!(
            "an event goes to 1–{MAX_CHANNELS_PER_EVENT} channels"
        )));
    }
    for channel in &channels {
        protocol::channel_kind(channel).map_err(PusherApiError::BadRequest)?;
    }
    let data = match request.data {
        Value::String(text) => text,
        other => other.to_string(),
    };
    let limit = realtime.config.max_message_bytes;
    if data.len() > limit {
        return Err(PusherApiError::TooLarge(format!(
            "Event data is {} bytes; the limit is {limit} bytes",
            data.len()
        )));
    }
    if let Some(socket_id) = &request.socket_id
        && !valid_socket_id(socket_id)
    {
        return Err(PusherApiError::BadRequest(format!(
            "invalid socket_id {socket_id:?}"
        )));
    }
    let info = parse_info(request.info.as_deref());
    Ok((
        Event {
            channels,
            name: request.name,
            data,
            except: request.socket_id,
            user_id: None,
        },
        info,
    ))
}

/// Whether a socket id has the protocol's `digits.digits` shape.
pub fn valid_socket_id(socket_id: &str) -> bool {
    socket_id.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

fn parse_info(info: Option<&str>) -> Vec<String> {
    info.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The info attributes of one channel, as asked (its counts looked up only when some are).
async fn channel_info(
    realtime: &Realtime,
    channel: &str,
    info: &[String],
) -> PusherApiResult<Map<String, Value>> {
    let counts = if info.is_empty() {
        ChannelCounts::default()
    } else {
        realtime.channel_counts(channel).await?.unwrap_or_default()
    };
    info_attributes(channel, counts, info)
}

/// The info attributes of one channel with `counts`, as asked.
fn info_attributes(
    channel: &str,
    counts: ChannelCounts,
    info: &[String],
) -> PusherApiResult<Map<String, Value>> {
    let mut out = Map::new();
    for attribute in info {
        match attribute.as_str() {
            "subscription_count" => {
                out.insert(
                    "subscription_count".into(),
                    json!(counts.subscription_count),
                );
            }
            "user_count" => {
                if protocol::channel_kind(channel) != Ok(ChannelKind::Presence) {
                    return Err(PusherApiError::BadRequest(
                        "user_count is only available for presence channels".into(),
                    ));
                }
                out.insert("user_count".into(), json!(counts.user_count));
            }
            other => {
                return Err(PusherApiError::BadRequest(format!(
                    "unknown info attribute {other:?}"
                )));
            }
        }
    }
    Ok(out)
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> PusherApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|err| PusherApiError::BadRequest(format!("bad JSON body: {err}")))
}

/// Triggers an event on up to 100 channels.
#[utoipa::path(post, path = "/apps/{app_id}/events", tag = "realtime", request_body = TriggerRequest,
    params(("app_id" = String, Path, description = "App id"),
        ("auth_key" = String, Query, description = "App key"),
        ("auth_timestamp" = i64, Query, description = "Unix seconds, within 600 s of the server"),
        ("auth_version" = String, Query, description = "1.0"),
        ("body_md5" = String, Query, description = "Hex MD5 of the body"),
        ("auth_signature" = String, Query, description = "HMAC-SHA256 of METHOD\\nPATH\\nsorted query")),
    responses((status = 200, description = "`{}`, or `{\"channels\": {…}}` with `info`"),
        (status = 400, description = "Bad body"), (status = 401, description = "Bad signature"),
        (status = 413, description = "Data over the size limit")))]
pub async fn events(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> PusherApiResult<axum::Json<Value>> {
    let realtime = &state.realtime;
    authenticate(realtime, &app_id, &method, &uri, &body)?;
    let (event, info) = to_event(realtime, parse_body(&body)?)?;
    let mut channels = Map::new();
    if !info.is_empty() {
        for channel in &event.channels {
            channels.insert(
                channel.clone(),
                Value::Object(channel_info(realtime, channel, &info).await?),
            );
        }
    }
    realtime.trigger(event).await?;
    metrics::counter!("atelier_realtime_api_events_total").increment(1);
    Ok(axum::Json(if info.is_empty() {
        json!({})
    } else {
        json!({"channels": channels})
    }))
}

/// Triggers up to 10 events, each on one channel.
#[utoipa::path(post, path = "/apps/{app_id}/batch_events", tag = "realtime", request_body = BatchRequest,
    params(("app_id" = String, Path, description = "App id")),
    responses((status = 200, description = "`{}`, or `{\"batch\": [{…}]}` with `info`"),
        (status = 400, description = "Bad body"), (status = 401, description = "Bad signature"),
        (status = 413, description = "Data over the size limit")))]
pub async fn batch_events(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> PusherApiResult<axum::Json<Value>> {
    let realtime = &state.realtime;
    authenticate(realtime, &app_id, &method, &uri, &body)?;
    let batch: BatchRequest = parse_body(&body)?;
    if batch.batch.is_empty() || batch.batch.len() > MAX_BATCH {
        return Err(PusherApiError::BadRequest(format!(
            "a batch holds 1–{MAX_BATCH} events"
        )));
    }
    // Validate everything before triggering anything: a bad batch sends nothing.
    let mut events = Vec::with_capacity(batch.batch.len());
    for request in batch.batch {
        if request.channels.is_some() {
            return Err(PusherApiError::BadRequest(
                "batch events take one channel each".into(),
            ));
        }
        events.push(to_event(realtime, request)?);
    }
    let mut infos = Vec::new();
    let wants_info = events.iter().any(|(_, info)| !info.is_empty());
    for (event, info) in events {
        if wants_info {
            let channel = event.channels.first().cloned().unwrap_or_default();
            infos.push(Value::Object(
                channel_info(realtime, &channel, &info).await?,
            ));
        }
        realtime.trigger(event).await?;
    }
    Ok(axum::Json(if wants_info {
        json!({"batch": infos})
    } else {
        json!({})
    }))
}

/// Occupied channels of every API node, optionally filtered by prefix.
#[utoipa::path(get, path = "/apps/{app_id}/channels", tag = "realtime",
    params(("app_id" = String, Path, description = "App id"),
        ("filter_by_prefix" = Option<String>, Query, description = "e.g. presence-"),
        ("info" = Option<String>, Query, description = "user_count (presence prefix only), subscription_count")),
    responses((status = 200, description = "`{\"channels\": {name: {…}}}`"), (status = 401, description = "Bad signature")))]
pub async fn channels(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    method: Method,
    uri: Uri,
) -> PusherApiResult<axum::Json<Value>> {
    let realtime = &state.realtime;
    authenticate(realtime, &app_id, &method, &uri, b"")?;
    let pairs = signing::query_pairs(uri.query().unwrap_or(""));
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let prefix = get("filter_by_prefix").unwrap_or_default();
    let info = parse_info(get("info").as_deref());
    if info.iter().any(|i| i == "user_count") && !prefix.starts_with("presence-") {
        return Err(PusherApiError::BadRequest(
            "user_count needs filter_by_prefix=presence-".into(),
        ));
    }
    let mut out = BTreeMap::new();
    for (name, counts) in realtime.channels(&prefix).await? {
        let attributes = info_attributes(&name, counts, &info)?;
        out.insert(name, Value::Object(attributes));
    }
    Ok(axum::Json(json!({"channels": out})))
}

/// One channel's state across every API node.
#[utoipa::path(get, path = "/apps/{app_id}/channels/{channel}", tag = "realtime",
    params(("app_id" = String, Path, description = "App id"),
        ("channel" = String, Path, description = "Channel name"),
        ("info" = Option<String>, Query, description = "user_count (presence only), subscription_count")),
    responses((status = 200, description = "`{\"occupied\": bool, …}`"), (status = 401, description = "Bad signature")))]
pub async fn channel(
    State(state): State<AppState>,
    Path((app_id, channel)): Path<(String, String)>,
    method: Method,
    uri: Uri,
) -> PusherApiResult<axum::Json<Value>> {
    let realtime = &state.realtime;
    authenticate(realtime, &app_id, &method, &uri, b"")?;
    protocol::channel_kind(&channel).map_err(PusherApiError::BadRequest)?;
    let pairs = signing::query_pairs(uri.query().unwrap_or(""));
    let info = parse_info(
        pairs
            .iter()
            .find(|(k, _)| k == "info")
            .map(|(_, v)| v.as_str()),
    );
    let counts = realtime.channel_counts(&channel).await?;
    let mut out = info_attributes(&channel, counts.unwrap_or_default(), &info)?;
    out.insert("occupied".into(), json!(counts.is_some()));
    Ok(axum::Json(Value::Object(out)))
}

/// The members of a presence channel, on every node.
#[utoipa::path(get, path = "/apps/{app_id}/channels/{channel}/users", tag = "realtime",
    params(("app_id" = String, Path, description = "App id"),
        ("channel" = String, Path, description = "A presence channel")),
    responses((status = 200, description = "`{\"users\": [{\"id\": …}]}`"), (status = 400, description = "Not a presence channel"), (status = 401, description = "Bad signature")))]
pub async fn users(
    State(state): State<AppState>,
    Path((app_id, channel)): Path<(String, String)>,
    method: Method,
    uri: Uri,
) -> PusherApiResult<axum::Json<Value>> {
    let realtime = &state.realtime;
    authenticate(realtime, &app_id, &method, &uri, b"")?;
    if protocol::channel_kind(&channel) != Ok(ChannelKind::Presence) {
        return Err(PusherApiError::BadRequest(
            "users are only available for presence channels".into(),
        ));
    }
    let users: Vec<Value> = realtime
        .members(&channel)
        .await?
        .into_iter()
        .map(|id| json!({"id": id}))
        .collect();
    Ok(axum::Json(json!({"users": users})))
}

/// The HTTP API's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(events))
        .routes(routes!(batch_events))
        .routes(routes!(channels))
        .routes(routes!(channel))
        .routes(routes!(users))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_ids_are_two_digit_groups() {
        assert!(valid_socket_id("1234.5678"));
        assert!(!valid_socket_id("1234"));
        assert!(!valid_socket_id("12a.5"));
        assert!(!valid_socket_id(".5"));
    }

    #[test]
    fn info_lists_are_split_and_trimmed() {
        assert_eq!(
            parse_info(Some("user_count, subscription_count")),
            ["user_count", "subscription_count"]
        );
        assert!(parse_info(None).is_empty());
    }
}
