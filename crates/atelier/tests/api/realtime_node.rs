//! The Pusher protocol driven by the real pusher-js client and the real `pusher` server library
//! (npm), through the Node harness.

use atelier_platform::{accounts, drawings};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, TestApp, spawn_app},
    node,
};

/// A user of a test family: token, id.
pub struct Member {
    /// Bearer token.
    pub token: String,
    /// User id.
    pub id: i64,
}

/// Registers `n` users in one new family (the first creates it).
pub async fn family(app: &TestApp, n: usize) -> Vec<Member> {
    let mut members = Vec::new();
    let mut code = String::new();
    for i in 0..n {
        let name = format!("artist{i}_{}", crate::helpers::random_suffix());
        let (token, user) = app
            .register(&name, if i == 0 { "Parent" } else { "Child" })
            .await;
        let response = if i == 0 {
            app.post_json(&token, "/api/v1/families", json!({"name": "Studio"}))
                .await
        } else {
            app.post_json(
                &token,
                "/api/v1/families/join",
                json!({"invitation_code": code}),
            )
            .await
        };
        assert!(response.status().is_success(), "family step {i}");
        let family: Value = response.json().await.expect("json");
        code = family["invitation_code"].as_str().expect("code").to_owned();
        members.push(Member {
            token,
            id: user["id"].as_i64().expect("id"),
        });
    }
    members
}

/// Opens a drawing hosted by `members[0]` with every member joined, through the platform.
pub async fn drawing_with(app: &TestApp, members: &[Member]) -> i64 {
    let db = app.platform.db();
    let host = accounts::authenticate(db, &members[0].token)
        .await
        .expect("host");
    let drawing = drawings::create(db, &host, &drawings::NewDrawing::default())
        .await
        .expect("drawing");
    for member in &members[1..] {
        let user = accounts::authenticate(db, &member.token)
            .await
            .expect("user");
        drawings::join(db, &user, drawing.id, &drawing.invitation_code)
            .await
            .expect("join");
    }
    drawing.id
}

/// The port of a test app.
pub fn port(app: &TestApp) -> u16 {
    app.base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

/// The harness's connection settings for `app`.
pub fn harness_config(app: &TestApp) -> Value {
    json!({
        "port": port(app),
        "key": app.realtime.key,
        "appId": app.realtime.app_id,
        "secret": app.realtime.secret(),
    })
}

async fn pusher_js_speaks_to_atelier(backend: Backend) {
    if !node::available() {
        return;
    }
    let app = spawn_app(backend).await;
    let members = family(&app, 2).await;
    let drawing = drawing_with(&app, &members).await;
    let mut config = harness_config(&app);
    config["drawingId"] = json!(drawing);
    config["alice"] = json!({"token": members[0].token, "id": members[0].id});
    config["bob"] = json!({"token": members[1].token, "id": members[1].id});
    let lines = node::run("protocol", &config).await;

    assert_eq!(node::events(&lines, "connected").len(), 2);
    for line in node::events(&lines, "connected") {
        let socket_id = line["socket_id"].as_str().expect("socket id");
        assert!(socket_id.split_once('.').is_some(), "{socket_id}");
    }
    node::one(&lines, "subscribed", "channel", "room-1");
    node::one(
        &lines,
        "subscribed",
        "channel",
        &format!("private-user-{}", members[0].id),
    );
    let refused = node::one(
        &lines,
        "subscription_error",
        "channel",
        &format!("private-user-{}", members[1].id),
    );
    assert_eq!(refused["status"], 403, "another user's channel is refused");

    let room = format!("presence-drawing-{drawing}");
    let subscribed: Vec<_> = node::events(&lines, "subscribed")
        .into_iter()
        .filter(|l| l["channel"] == room.as_str())
        .collect();
    assert_eq!(subscribed.len(), 2);
    assert_eq!(subscribed[0]["members"], json!([members[0].id.to_string()]));
    assert_eq!(subscribed[0]["me"], members[0].id.to_string());
    let mut both = vec![members[0].id.to_string(), members[1].id.to_string()];
    both.sort();
    assert_eq!(subscribed[1]["members"], json!(both));
    assert_eq!(subscribed[1]["count"], 2);
    let added = &node::events(&lines, "member_added")[0];
    assert_eq!(added["id"], members[1].id.to_string());
    assert!(
        added["name"]
            .as_str()
            .expect("name")
            .starts_with("artist1_")
    );

    let server_events = node::events(&lines, "server_event");
    assert_eq!(server_events[0]["data"], json!({"text": "hi"}));
    assert_eq!(server_events[1]["data"], json!({"percent": 40}));
    assert_eq!(server_events[2]["data"]["points"], json!([[1, 2], [3, 4]]));
    assert_eq!(server_events[3]["who"], "bob");
    assert_eq!(server_events[4]["data"], json!({"n": 1}));
    assert_eq!(
        node::events(&lines, "excluded")[0]["received"],
        false,
        "socket_id excluded"
    );

    let client_event = &node::events(&lines, "client_event")[0];
    assert_eq!(client_event["data"], json!({"x": 10, "y": 20}));
    assert_eq!(client_event["user_id"], members[1].id.to_string());
    assert_eq!(
        node::events(&lines, "client_echo")[0]["received"],
        false,
        "not echoed"
    );

    let info = &node::events(&lines, "channel_info")[0];
    assert_eq!(info["status"], 200);
    assert_eq!(
        info["body"],
        json!({"occupied": true, "user_count": 2, "subscription_count": 2})
    );
    let users = &node::events(&lines, "channel_users")[0]["body"]["users"];
    assert_eq!(users.as_array().expect("users").len(), 2);
    let channels = &node::events(&lines, "channels")[0]["body"]["channels"];
    assert_eq!(channels[&room], json!({"user_count": 2}));

    let removed = &node::events(&lines, "member_removed")[0];
    assert_eq!(removed["id"], members[1].id.to_string());
    assert_eq!(removed["members"], json!([members[0].id.to_string()]));
    app.stop().await;
}

async fn the_pusher_server_library_publishes_to_atelier(backend: Backend) {
    if !node::available() {
        return;
    }
    let app = spawn_app(backend).await;
    let lines = node::run("publish", &harness_config(&app)).await;
    let batch = &node::events(&lines, "batch")[0];
    assert_eq!(batch["status"], 200);
    assert_eq!(batch["one"], json!({"n": 1}));
    assert_eq!(batch["two"], "plain text");
    let info = &node::events(&lines, "trigger_info")[0];
    assert_eq!(
        info["body"],
        json!({"channels": {"news": {"subscription_count": 1}}})
    );
    let forged = &node::events(&lines, "bad_secret")[0];
    assert_eq!(forged["status"], StatusCode::UNAUTHORIZED.as_u16());
    assert!(
        forged["body"]
            .as_str()
            .expect("body")
            .contains("Invalid signature")
    );
    assert_eq!(node::events(&lines, "too_large")[0]["status"], 413);
    app.stop().await;
}

crate::on_both_backends!(
    pusher_js_speaks_to_atelier,
    the_pusher_server_library_publishes_to_atelier
);
