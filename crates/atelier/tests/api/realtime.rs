//! The Pusher protocol over raw WebSockets: handshake errors, malformed frames, signatures,
//! channel authorisation, size and rate limits, and cross-node fan-out on PostgreSQL.

use std::{sync::Arc, time::Duration};

use atelier_server::realtime::{RealtimeConfig, signing};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::frame::coding::CloseCode},
};

use crate::{
    helpers::{
        AppOptions, Backend, Sandbox, TestApp, pusher_auth, spawn_app, spawn_app_with, spawn_on,
    },
    realtime_node::{drawing_with, family, port},
};

type Stream = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw protocol client.
pub struct Ws {
    stream: Stream,
    /// The socket id from the handshake.
    pub socket_id: String,
}

/// What reading a frame gave.
#[derive(Debug)]
pub enum Read {
    /// A JSON text frame.
    Json(Value),
    /// The server closed with this code.
    Closed(Option<u16>),
}

async fn open(app: &TestApp, path: &str) -> Stream {
    open_port(port(app), path).await
}

async fn open_port(port: u16, path: &str) -> Stream {
    let url = format!("ws://127.0.0.1:{port}{path}");
    connect_async(url).await.expect("websocket connect").0
}

async fn read(stream: &mut Stream, wait: Duration) -> Option<Read> {
    loop {
        let next = tokio::time::timeout(wait, stream.next()).await.ok()?;
        match next {
            Some(Ok(Message::Text(text))) => {
                return Some(Read::Json(
                    serde_json::from_str(text.as_str()).expect("json frame"),
                ));
            }
            Some(Ok(Message::Close(frame))) => {
                return Some(Read::Closed(frame.map(|f| u16::from(f.code))));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Some(Read::Closed(None)),
        }
    }
}

/// The `data` of a server frame, decoded from its JSON string.
pub fn data(frame: &Value) -> Value {
    match &frame["data"] {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
        other => other.clone(),
    }
}

impl Ws {
    /// Connects to `app` with its key and completes the handshake.
    pub async fn connect(app: &TestApp) -> Ws {
        Ws::connect_port(port(app), &app.realtime.key).await
    }

    /// Connects to the atelier on 127.0.0.1:`port` with app key `key` and completes the
    /// handshake (for nodes started as processes).
    pub async fn connect_port(port: u16, key: &str) -> Ws {
        let mut stream = open_port(
            port,
            &format!("/app/{key}?protocol=7&client=rust&version=1"),
        )
        .await;
        let Some(Read::Json(first)) = read(&mut stream, Duration::from_secs(5)).await else {
            panic!("no handshake");
        };
        assert_eq!(first["event"], "pusher:connection_established");
        let established = data(&first);
        assert_eq!(established["activity_timeout"], 120);
        Ws {
            socket_id: established["socket_id"]
                .as_str()
                .expect("socket id")
                .to_owned(),
            stream,
        }
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: String) {
        self.stream.send(Message::text(text)).await.expect("send");
    }

    /// The next JSON frame (panics after 5 s or on close).
    pub async fn next(&mut self) -> Value {
        match read(&mut self.stream, Duration::from_secs(5)).await {
            Some(Read::Json(value)) => value,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next frame whose event is `name`, skipping others.
    pub async fn next_event(&mut self, name: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["event"] == name {
                return frame;
            }
        }
    }

    /// The next frame whose event is `name` within `wait`, skipping others (None when none
    /// comes, or the socket closes).
    pub async fn next_event_within(&mut self, name: &str, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match read(&mut self.stream, left).await? {
                Read::Json(frame) if frame["event"] == name => return Some(frame),
                Read::Json(_) => {}
                Read::Closed(_) => return None,
            }
        }
    }

    /// Whatever arrives within `ms` (None when nothing does).
    pub async fn within(&mut self, ms: u64) -> Option<Read> {
        read(&mut self.stream, Duration::from_millis(ms)).await
    }

    /// Subscribes (signing with the app's secret when `sign`) and waits for success.
    pub async fn subscribe(&mut self, app: &TestApp, channel: &str, channel_data: Option<&str>) {
        self.subscribe_signed(
            &app.realtime.key,
            app.realtime.secret(),
            channel,
            channel_data,
        )
        .await;
    }

    /// Subscribes (private and presence channels signed with `key` and `secret`), waits for
    /// success and returns the success frame.
    pub async fn subscribe_signed(
        &mut self,
        key: &str,
        secret: &str,
        channel: &str,
        channel_data: Option<&str>,
    ) -> Value {
        let mut data = json!({"channel": channel});
        if channel.starts_with("private-") || channel.starts_with("presence-") {
            data["auth"] = json!(signing::sign_channel(
                key,
                secret,
                &self.socket_id,
                channel,
                channel_data
            ));
        }
        if let Some(channel_data) = channel_data {
            data["channel_data"] = json!(channel_data);
        }
        self.send(json!({"event": "pusher:subscribe", "data": data}))
            .await;
        let frame = self
            .next_event("pusher_internal:subscription_succeeded")
            .await;
        assert_eq!(frame["channel"], channel);
        frame
    }
}

/// Triggers an event through the signed HTTP API, as Pusher's server libraries do.
pub async fn trigger(app: &TestApp, body: Value) -> reqwest::Response {
    let path = format!("/apps/{}/events", app.realtime.app_id);
    signed_post(app, &path, &body.to_string(), app.realtime.secret()).await
}

/// POSTs `body` to `path` signed with `secret`.
pub async fn signed_post(app: &TestApp, path: &str, body: &str, secret: &str) -> reqwest::Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let query = format!(
        "auth_key={}&auth_timestamp={now}&auth_version=1.0&body_md5={}",
        app.realtime.key,
        signing::body_md5(body.as_bytes())
    );
    let to_sign = signing::request_string_to_sign("POST", path, &signing::query_pairs(&query));
    let signature = signing::hmac_hex(secret, &to_sign);
    app.client
        .post(app.url(&format!("{path}?{query}&auth_signature={signature}")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST events")
}

fn error_of(frame: &Value) -> (Option<i64>, String) {
    assert_eq!(frame["event"], "pusher:error", "{frame}");
    let d = data(frame);
    (
        d["code"].as_i64(),
        d["message"].as_str().unwrap_or("").to_owned(),
    )
}

async fn the_handshake_gives_a_socket_id_and_answers_pings(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = Ws::connect(&app).await;
    let (left, right) = ws.socket_id.split_once('.').expect("dot");
    assert!(left.parse::<u64>().is_ok() && right.parse::<u64>().is_ok());
    ws.send(json!({"event": "pusher:ping", "data": {}})).await;
    assert_eq!(ws.next().await["event"], "pusher:pong");
    app.stop().await;
}

async fn unknown_keys_and_bad_versions_are_refused_with_protocol_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    for (path, code) in [
        ("/app/no-such-key?protocol=7".to_owned(), 4001),
        (format!("/app/{}?protocol=3", app.realtime.key), 4007),
        (format!("/app/{}?protocol=seven", app.realtime.key), 4006),
        (format!("/app/{}", app.realtime.key), 4008),
    ] {
        let mut stream = open(&app, &path).await;
        let Some(Read::Json(frame)) = read(&mut stream, Duration::from_secs(5)).await else {
            panic!("no error frame for {path}");
        };
        assert_eq!(error_of(&frame).0, Some(code), "{path}");
        match read(&mut stream, Duration::from_secs(5)).await {
            Some(Read::Closed(Some(closed))) => assert_eq!(closed, code as u16, "{path}"),
            other => panic!("expected a close with {code} for {path}, got {other:?}"),
        }
    }
    app.stop().await;
}

async fn malformed_frames_and_unknown_events_get_errors_and_the_socket_lives_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = Ws::connect(&app).await;
    for bad in [
        "not json".to_owned(),
        "[1, 2]".to_owned(),
        json!({"data": {}}).to_string(),
        json!({"event": "pusher:subscribe"}).to_string(),
        json!({"event": "hello", "data": {}}).to_string(),
        json!({"event": "pusher:subscribe", "data": {"channel": "bad name!"}}).to_string(),
    ] {
        ws.send_text(bad.clone()).await;
        let (code, message) = error_of(&ws.next().await);
        assert_eq!(code, None, "{bad}");
        assert!(!message.is_empty());
    }
    ws.send(json!({"event": "pusher:ping", "data": {}})).await;
    assert_eq!(ws.next().await["event"], "pusher:pong");
    app.stop().await;
}

async fn bad_signatures_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = Ws::connect(&app).await;
    let forged = format!("{}:{}", app.realtime.key, "ab".repeat(32));
    ws.send(json!({"event": "pusher:subscribe", "data": {"channel": "private-x", "auth": forged}}))
        .await;
    assert!(error_of(&ws.next().await).1.contains("Invalid signature"));
    ws.send(json!({"event": "pusher:subscribe", "data": {"channel": "private-x"}}))
        .await;
    assert!(error_of(&ws.next().await).1.contains("Auth info required"));
    // A presence signature is bound to its member data: changing the user id breaks it.
    let genuine = r#"{"user_id":"1","user_info":{"name":"a"}}"#;
    let auth = signing::sign_channel(
        &app.realtime.key,
        app.realtime.secret(),
        &ws.socket_id,
        "presence-x",
        Some(genuine),
    );
    let forged_data = r#"{"user_id":"2","user_info":{"name":"a"}}"#;
    ws.send(json!({"event": "pusher:subscribe", "data": {"channel": "presence-x", "auth": auth, "channel_data": forged_data}}))
        .await;
    assert!(error_of(&ws.next().await).1.contains("Invalid signature"));
    // Signed for another socket: refused too.
    let other = signing::sign_channel(
        &app.realtime.key,
        app.realtime.secret(),
        "1.2",
        "private-x",
        None,
    );
    ws.send(json!({"event": "pusher:subscribe", "data": {"channel": "private-x", "auth": other}}))
        .await;
    assert!(error_of(&ws.next().await).1.contains("Invalid signature"));
    assert_eq!(app.realtime.hub().channel_counts("private-x"), None);
    app.stop().await;
}

async fn the_auth_endpoint_signs_only_the_callers_own_channels(backend: Backend) {
    let app = spawn_app(backend).await;
    let ours = family(&app, 2).await;
    let theirs = family(&app, 1).await;
    let drawing = drawing_with(&app, &ours).await;
    let ws = Ws::connect(&app).await;
    let auth = |token: String, channel: String| {
        let (app, socket_id) = (&app, ws.socket_id.clone());
        async move { pusher_auth(app, Some(&token), &socket_id, &channel).await }
    };
    let room = format!("presence-drawing-{drawing}");
    let response = auth(ours[1].token.clone(), room.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    let channel_data: Value =
        serde_json::from_str(body["channel_data"].as_str().expect("channel_data")).expect("json");
    assert_eq!(channel_data["user_id"], ours[1].id.to_string());
    assert!(signing::verify_channel(
        &app.realtime.key,
        app.realtime.secret(),
        &ws.socket_id,
        &room,
        body["channel_data"].as_str(),
        body["auth"].as_str().expect("auth"),
    ));
    for (token, channel) in [
        (&theirs[0].token, room.clone()),
        (&theirs[0].token, format!("private-drawing-{drawing}")),
        (&ours[0].token, format!("private-user-{}", ours[1].id)),
        (&ours[0].token, "private-anything".to_owned()),
        (&ours[0].token, "presence-drawing-999999".to_owned()),
    ] {
        let response = auth(token.clone(), channel.clone()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{channel}");
    }
    let anonymous = pusher_auth(&app, None, &ws.socket_id, &room).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn oversized_messages_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = Ws::connect(&app).await;
    let big = json!({"event": "pusher:ping", "data": {"pad": "x".repeat(11 * 1024)}});
    ws.send(big).await;
    let (code, message) = error_of(&ws.next().await);
    assert_eq!(code, None);
    assert!(message.contains("limit"), "{message}");
    ws.send(json!({"event": "pusher:ping", "data": {}})).await;
    assert_eq!(ws.next().await["event"], "pusher:pong", "still connected");
    let huge = "y".repeat(200 * 1024);
    let _ = ws.stream.send(Message::text(huge)).await;
    match ws.within(5000).await {
        Some(Read::Closed(code)) => {
            assert!(
                code.is_none() || code == Some(u16::from(CloseCode::Size)),
                "{code:?}"
            )
        }
        other => panic!("a frame far over the limit closes the socket, got {other:?}"),
    }
    let response = trigger(
        &app,
        json!({"name": "e", "channel": "a", "data": "z".repeat(11 * 1024)}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

async fn client_events_need_a_private_subscription_and_are_rate_limited(backend: Backend) {
    let realtime = RealtimeConfig {
        client_events_per_sec: 5,
        ..RealtimeConfig::default()
    };
    let app = spawn_app_with(
        backend,
        AppOptions {
            realtime,
            ..AppOptions::default()
        },
    )
    .await;
    let mut sender = Ws::connect(&app).await;
    let mut receiver = Ws::connect(&app).await;
    sender.subscribe(&app, "public-room", None).await;
    sender
        .send(json!({"event": "client-hi", "channel": "public-room", "data": {}}))
        .await;
    assert!(
        error_of(&sender.next().await)
            .1
            .contains("private and presence")
    );
    sender
        .send(json!({"event": "client-hi", "channel": "private-room", "data": {}}))
        .await;
    assert!(error_of(&sender.next().await).1.contains("subscribe"));

    sender.subscribe(&app, "private-room", None).await;
    receiver.subscribe(&app, "private-room", None).await;
    for i in 0..10 {
        sender
            .send(json!({"event": "client-move", "channel": "private-room", "data": {"i": i}}))
            .await;
    }
    let mut received = Vec::new();
    while let Some(Read::Json(frame)) = receiver.within(500).await {
        assert_eq!(frame["event"], "client-move");
        assert!(
            frame.get("user_id").is_none(),
            "no user_id on private channels"
        );
        received.push(data(&frame)["i"].as_i64().expect("i"));
    }
    assert_eq!(
        received,
        vec![0, 1, 2, 3, 4],
        "a burst of 10 at 5/s lets 5 through"
    );
    let mut limited = 0;
    while let Some(Read::Json(frame)) = sender.within(300).await {
        let (code, _) = error_of(&frame);
        assert_eq!(code, Some(4301));
        limited += 1;
    }
    assert_eq!(limited, 5);
    app.stop().await;
}

async fn server_events_exclude_the_given_socket(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut a = Ws::connect(&app).await;
    let mut b = Ws::connect(&app).await;
    a.subscribe(&app, "news", None).await;
    b.subscribe(&app, "news", None).await;
    let response = trigger(
        &app,
        json!({"name": "update", "channels": ["news", "empty"], "data": "{\"v\":1}", "socket_id": a.socket_id}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let frame = b.next_event("update").await;
    assert_eq!(frame["channel"], "news");
    assert_eq!(data(&frame), json!({"v": 1}));
    assert!(
        a.within(300).await.is_none(),
        "the excluded socket gets nothing"
    );
    let forged = signed_post(
        &app,
        &format!("/apps/{}/events", app.realtime.app_id),
        &json!({"name": "x", "channel": "news", "data": "{}"}).to_string(),
        "wrong-secret",
    )
    .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert!(
        forged
            .text()
            .await
            .expect("text")
            .starts_with("Invalid signature")
    );
    let unknown = signed_post(&app, "/apps/other/events", "{}", app.realtime.secret()).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

crate::on_both_backends!(
    the_handshake_gives_a_socket_id_and_answers_pings,
    unknown_keys_and_bad_versions_are_refused_with_protocol_codes,
    malformed_frames_and_unknown_events_get_errors_and_the_socket_lives_on,
    bad_signatures_are_refused,
    the_auth_endpoint_signs_only_the_callers_own_channels,
    oversized_messages_are_refused,
    client_events_need_a_private_subscription_and_are_rate_limited,
    server_events_exclude_the_given_socket,
);

/// Two atelier nodes on one PostgreSQL schema: a client on node A receives an event triggered
/// through node B's HTTP API, and a client event sent on B. Needs only PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_sockets_on_another_node() {
    let Some(sandbox) = Sandbox::postgres_with_local_store().await else {
        return;
    };
    let sandbox = Arc::new(sandbox);
    let secret = Some("shared-test-secret".to_owned());
    let options = || AppOptions {
        realtime: RealtimeConfig {
            secret: secret.clone(),
            ..RealtimeConfig::default()
        },
        ..AppOptions::default()
    };
    let node_a = spawn_on(Arc::clone(&sandbox), options()).await;
    let node_b = spawn_on(Arc::clone(&sandbox), options()).await;
    let mut on_a = Ws::connect(&node_a).await;
    let mut on_b = Ws::connect(&node_b).await;
    on_a.subscribe(&node_a, "private-shared", None).await;
    on_b.subscribe(&node_b, "private-shared", None).await;
    // The listeners connect in the background: retry until node A hears node B.
    let mut heard = None;
    for attempt in 0..50 {
        let response = trigger(&node_b, json!({"name": "ping", "channel": "private-shared", "data": format!("{{\"n\":{attempt}}}")})).await;
        assert_eq!(response.status(), StatusCode::OK);
        if let Some(Read::Json(frame)) = on_a.within(200).await {
            heard = Some(frame);
            break;
        }
    }
    let frame = heard.expect("node A received an event triggered on node B");
    assert_eq!(frame["event"], "ping");
    // A large payload goes through the outbox table instead of NOTIFY.
    let large = "q".repeat(9000);
    let response = trigger(
        &node_b,
        json!({"name": "large", "channel": "private-shared", "data": large}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let frame = on_a.next_event("large").await;
    assert_eq!(frame["data"].as_str().map(str::len), Some(9000));
    on_b.send(json!({"event": "client-wave", "channel": "private-shared", "data": {"from": "b"}}))
        .await;
    let frame = on_a.next_event("client-wave").await;
    assert_eq!(data(&frame), json!({"from": "b"}));
    node_a.stop().await;
    node_b.stop().await;
}
