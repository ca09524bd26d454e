//! The Pusher Channels protocol v7 on the wire: parsing what clients send, building what the
//! server sends, channel and event names, and the protocol's error codes. Pure: no I/O.

use serde::Serialize;
use serde_json::{Map, Value};

/// The protocol version atelier speaks (pusher-js 8 sends `protocol=7`).
pub const PROTOCOL_VERSION: u32 = 7;
/// Oldest protocol version accepted (5 and 6 differ from 7 only in features atelier ignores).
pub const MIN_PROTOCOL_VERSION: u32 = 5;
/// Longest channel name the protocol allows.
pub const MAX_CHANNEL_NAME: usize = 200;
/// Longest event name the protocol allows.
pub const MAX_EVENT_NAME: usize = 200;

/// The protocol's error codes (sent in `pusher:error` and as WebSocket close codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 4001: the app key is unknown. Do not reconnect.
    AppDoesNotExist,
    /// 4005: the path is not `/app/{key}`.
    PathNotFound,
    /// 4006: the `protocol` query parameter is not a number.
    InvalidVersionFormat,
    /// 4007: the protocol version is not supported.
    UnsupportedProtocolVersion,
    /// 4008: no `protocol` query parameter.
    NoProtocolVersion,
    /// 4009: the connection is not authorised.
    Unauthorized,
    /// 4100: the server is over capacity; reconnect with back-off.
    OverCapacity,
    /// 4200: reconnect at once (the server is restarting or the socket fell behind).
    Reconnect,
    /// 4201: a ping got no pong in time.
    PongNotReceived,
    /// 4202: closed for inactivity.
    ClosedAfterInactivity,
    /// 4301: a client event was dropped for exceeding the rate limit.
    ClientEventRateLimit,
}

impl ErrorCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::AppDoesNotExist => 4001,
            ErrorCode::PathNotFound => 4005,
            ErrorCode::InvalidVersionFormat => 4006,
            ErrorCode::UnsupportedProtocolVersion => 4007,
            ErrorCode::NoProtocolVersion => 4008,
            ErrorCode::Unauthorized => 4009,
            ErrorCode::OverCapacity => 4100,
            ErrorCode::Reconnect => 4200,
            ErrorCode::PongNotReceived => 4201,
            ErrorCode::ClosedAfterInactivity => 4202,
            ErrorCode::ClientEventRateLimit => 4301,
        }
    }
}

/// The three kinds of channel, told apart by their name's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// Anyone connected may subscribe.
    Public,
    /// `private-…`: needs a signature from the auth endpoint.
    Private,
    /// `presence-…`: needs a signature over the member's data; members are announced.
    Presence,
}

impl ChannelKind {
    /// Whether client events may be sent on this kind of channel.
    pub fn allows_client_events(self) -> bool {
        matches!(self, ChannelKind::Private | ChannelKind::Presence)
    }
}

/// Classifies a channel name, refusing names the protocol does not allow
/// (1–200 characters of `A-Za-z0-9_-=@,.;`; encrypted channels are not supported).
pub fn channel_kind(name: &str) -> Result<ChannelKind, String> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b));
    if name.is_empty() || name.len() > MAX_CHANNEL_NAME || !valid_chars {
        return Err(format!(
            "invalid channel name {name:?}: 1–{MAX_CHANNEL_NAME} characters of A-Z a-z 0-9 _ - = @ , . ;"
        ));
    }
    if name.starts_with("private-encrypted-") {
        return Err("encrypted channels are not supported".into());
    }
    Ok(if name.starts_with("presence-") {
        ChannelKind::Presence
    } else if name.starts_with("private-") {
        ChannelKind::Private
    } else {
        ChannelKind::Public
    })
}

/// Whether an event name is acceptable for the HTTP publish API (1–200 characters, not reserved).
pub fn valid_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_EVENT_NAME
        && !name.starts_with("pusher:")
        && !name.starts_with("pusher_internal:")
}

/// A presence member: the id and the info the auth endpoint signed.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The user id, as a string (the protocol's `ids` are strings).
    pub user_id: String,
    /// Free-form info (atelier: `{"name": …}`).
    pub user_info: Value,
}

/// Parses presence `channel_data` (`{"user_id": string|number, "user_info": any}`).
pub fn parse_channel_data(channel_data: &str) -> Result<Member, String> {
    let value: Value = serde_json::from_str(channel_data)
        .map_err(|_| "channel_data is not valid JSON".to_owned())?;
    let user_id = match value.get("user_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("channel_data must have a non-empty user_id".into()),
    };
    Ok(Member {
        user_id,
        user_info: value.get("user_info").cloned().unwrap_or(Value::Null),
    })
}

/// What a client can send.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// `pusher:ping`.
    Ping,
    /// `pusher:pong` (answer to the server's ping).
    Pong,
    /// `pusher:subscribe`.
    Subscribe {
        /// Channel name.
        channel: String,
        /// `key:signature` for private and presence channels.
        auth: Option<String>,
        /// The signed member data, presence channels only.
        channel_data: Option<String>,
    },
    /// `pusher:unsubscribe`.
    Unsubscribe {
        /// Channel name.
        channel: String,
    },
    /// `client-…` event.
    ClientEvent {
        /// Event name (starts with `client-`).
        event: String,
        /// Channel name.
        channel: String,
        /// The data as the JSON string other clients receive.
        data: String,
    },
}

/// Why a client's frame could not be understood (answered with a `pusher:error`, no close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// Parses one text frame from a client.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ParseError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|_| ParseError("the message is not valid JSON".into()))?;
    let Value::Object(object) = value else {
        return Err(ParseError("the message must be a JSON object".into()));
    };
    let event = object
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError("the message has no event name".into()))?;
    let data = data_object(&object);
    match event {
        "pusher:ping" => Ok(ClientMessage::Ping),
        "pusher:pong" => Ok(ClientMessage::Pong),
        "pusher:subscribe" => {
            let data = data.ok_or_else(|| ParseError("pusher:subscribe needs data".into()))?;
            Ok(ClientMessage::Subscribe {
                channel: string_field(&data, "channel")?,
                auth: data.get("auth").and_then(Value::as_str).map(str::to_owned),
                channel_data: data
                    .get("channel_data")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        }
        "pusher:unsubscribe" => {
            let data = data.ok_or_else(|| ParseError("pusher:unsubscribe needs data".into()))?;
            Ok(ClientMessage::Unsubscribe {
                channel: string_field(&data, "channel")?,
            })
        }
        client if client.starts_with("client-") => {
            if client.len() > MAX_EVENT_NAME {
                return Err(ParseError("the event name is too long".into()));
            }
            let channel = object
                .get("channel")
                .and_then(Value::as_str)
                .ok_or_else(|| ParseError("a client event needs a channel".into()))?;
            let data = match object.get("data") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "{}".to_owned(),
            };
            Ok(ClientMessage::ClientEvent {
                event: client.to_owned(),
                channel: channel.to_owned(),
                data,
            })
        }
        other => Err(ParseError(format!("unsupported event {other:?}"))),
    }
}

/// `data` as an object: clients send an object, some send it JSON-encoded in a string.
fn data_object(object: &Map<String, Value>) -> Option<Map<String, Value>> {
    match object.get("data")? {
        Value::Object(map) => Some(map.clone()),
        Value::String(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        },
        _ => None,
    }
}

fn string_field(data: &Map<String, Value>, name: &str) -> Result<String, ParseError> {
    data.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ParseError(format!("missing string field {name:?}")))
}

#[derive(Serialize)]
struct Frame<'a> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    data: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

/// A server→client frame: `data` is a JSON-encoded string, as the protocol wants.
pub fn frame(event: &str, channel: Option<&str>, data: &str, user_id: Option<&str>) -> String {
    serde_json::to_string(&Frame {
        event,
        channel,
        data,
        user_id,
    })
    .unwrap_or_default()
}

/// `pusher:connection_established`.
pub fn connection_established(socket_id: &str, activity_timeout_secs: u64) -> String {
    let data =
        serde_json::json!({"socket_id": socket_id, "activity_timeout": activity_timeout_secs});
    frame(
        "pusher:connection_established",
        None,
        &data.to_string(),
        None,
    )
}

/// `pusher:error` with an optional protocol code.
pub fn error(code: Option<ErrorCode>, message: &str) -> String {
    let data = serde_json::json!({"code": code.map(ErrorCode::code), "message": message});
    frame("pusher:error", None, &data.to_string(), None)
}

/// `pusher:pong`.
pub fn pong() -> String {
    frame("pusher:pong", None, "{}", None)
}

/// `pusher:ping`.
pub fn ping() -> String {
    frame("pusher:ping", None, "{}", None)
}

/// `pusher_internal:subscription_succeeded` for a public or private channel.
pub fn subscription_succeeded(channel: &str) -> String {
    frame(
        "pusher_internal:subscription_succeeded",
        Some(channel),
        "{}",
        None,
    )
}

/// `pusher_internal:subscription_succeeded` for a presence channel, with the member list.
pub fn presence_subscription_succeeded(channel: &str, members: &[Member]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    let hash: Map<String, Value> = members
        .iter()
        .map(|m| (m.user_id.clone(), m.user_info.clone()))
        .collect();
    let data = serde_json::json!({"presence": {"ids": ids, "hash": hash, "count": members.len()}});
    frame(
        "pusher_internal:subscription_succeeded",
        Some(channel),
        &data.to_string(),
        None,
    )
}

/// `pusher_internal:member_added`.
pub fn member_added(channel: &str, member: &Member) -> String {
    let data = serde_json::json!({"user_id": member.user_id, "user_info": member.user_info});
    frame(
        "pusher_internal:member_added",
        Some(channel),
        &data.to_string(),
        None,
    )
}

/// `pusher_internal:member_removed`.
pub fn member_removed(channel: &str, user_id: &str) -> String {
    let data = serde_json::json!({"user_id": user_id});
    frame(
        "pusher_internal:member_removed",
        Some(channel),
        &data.to_string(),
        None,
    )
}

/// Parses the `protocol` query value of a connection request.
pub fn check_protocol_version(value: Option<&str>) -> Result<u32, ErrorCode> {
    let value = value.ok_or(ErrorCode::NoProtocolVersion)?;
    let version: u32 = value.parse().map_err(|_| ErrorCode::InvalidVersionFormat)?;
    if (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
        Ok(version)
    } else {
        Err(ErrorCode::UnsupportedProtocolVersion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_classified_by_prefix() {
        assert_eq!(channel_kind("room-1"), Ok(ChannelKind::Public));
        assert_eq!(channel_kind("private-user-3"), Ok(ChannelKind::Private));
        assert_eq!(
            channel_kind("presence-drawing-9"),
            Ok(ChannelKind::Presence)
        );
        assert!(channel_kind("").is_err());
        assert!(channel_kind("has space").is_err());
        assert!(channel_kind(&"a".repeat(201)).is_err());
        assert!(channel_kind("private-encrypted-x").is_err());
        assert!(ChannelKind::Presence.allows_client_events());
        assert!(!ChannelKind::Public.allows_client_events());
    }

    #[test]
    fn subscribe_accepts_object_or_string_data() {
        let object = r#"{"event":"pusher:subscribe","data":{"channel":"private-a","auth":"k:s"}}"#;
        let string =
            r#"{"event":"pusher:subscribe","data":"{\"channel\":\"private-a\",\"auth\":\"k:s\"}"}"#;
        let expected = ClientMessage::Subscribe {
            channel: "private-a".into(),
            auth: Some("k:s".into()),
            channel_data: None,
        };
        assert_eq!(parse_client_message(object), Ok(expected.clone()));
        assert_eq!(parse_client_message(string), Ok(expected));
    }

    #[test]
    fn client_event_data_is_forwarded_as_a_json_string() {
        let text = r#"{"event":"client-move","channel":"private-a","data":{"x":1}}"#;
        assert_eq!(
            parse_client_message(text),
            Ok(ClientMessage::ClientEvent {
                event: "client-move".into(),
                channel: "private-a".into(),
                data: r#"{"x":1}"#.into()
            })
        );
    }

    #[test]
    fn malformed_and_unknown_frames_are_errors() {
        assert!(parse_client_message("not json").is_err());
        assert!(parse_client_message("[1,2]").is_err());
        assert!(parse_client_message(r#"{"data":{}}"#).is_err());
        assert!(parse_client_message(r#"{"event":"pusher:subscribe"}"#).is_err());
        assert!(parse_client_message(r#"{"event":"hello","data":{}}"#).is_err());
        assert!(parse_client_message(r#"{"event":"client-x","data":{}}"#).is_err());
        assert_eq!(
            parse_client_message(r#"{"event":"pusher:ping","data":{}}"#),
            Ok(ClientMessage::Ping)
        );
    }

    #[test]
    fn channel_data_user_ids_may_be_numbers_or_strings() {
        let m = parse_channel_data(r#"{"user_id":7,"user_info":{"name":"ann"}}"#).expect("ok");
        assert_eq!(m.user_id, "7");
        assert_eq!(m.user_info["name"], "ann");
        assert_eq!(
            parse_channel_data(r#"{"user_id":"u1"}"#)
                .expect("ok")
                .user_id,
            "u1"
        );
        assert!(parse_channel_data(r#"{"user_info":{}}"#).is_err());
        assert!(parse_channel_data("nope").is_err());
    }

    #[test]
    fn server_frames_carry_data_as_a_string() {
        let text = presence_subscription_succeeded(
            "presence-x",
            &[Member {
                user_id: "1".into(),
                user_info: serde_json::json!({"name": "ann"}),
            }],
        );
        let value: Value = serde_json::from_str(&text).expect("json");
        let data: Value =
            serde_json::from_str(value["data"].as_str().expect("string")).expect("json");
        assert_eq!(data["presence"]["ids"], serde_json::json!(["1"]));
        assert_eq!(data["presence"]["hash"]["1"]["name"], "ann");
        assert_eq!(data["presence"]["count"], 1);
        let err: Value =
            serde_json::from_str(&error(Some(ErrorCode::ClientEventRateLimit), "slow"))
                .expect("json");
        assert_eq!(err["event"], "pusher:error");
        assert!(err["data"].as_str().expect("string").contains("4301"));
    }

    #[test]
    fn protocol_versions_5_to_7_are_accepted() {
        assert_eq!(check_protocol_version(Some("7")), Ok(7));
        assert_eq!(check_protocol_version(Some("5")), Ok(5));
        assert_eq!(
            check_protocol_version(Some("4")),
            Err(ErrorCode::UnsupportedProtocolVersion)
        );
        assert_eq!(
            check_protocol_version(Some("x")),
            Err(ErrorCode::InvalidVersionFormat)
        );
        assert_eq!(
            check_protocol_version(None),
            Err(ErrorCode::NoProtocolVersion)
        );
        assert_eq!(ErrorCode::UnsupportedProtocolVersion.code(), 4007);
    }
}
