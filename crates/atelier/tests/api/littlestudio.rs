//! LittleStudio's REST API under `/compat/littlestudio`, with the seed's paths and JSON shapes.

use reqwest::{StatusCode, multipart};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, random_suffix, spawn_app};

const PREFIX: &str = "/compat/littlestudio";

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

async fn register(app: &TestApp, role: &str) -> (String, Value) {
    let username = format!("ls_{}", random_suffix());
    // The app sends the sha256 of the password.
    let password = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let response = app
        .client
        .post(app.url(&format!("{PREFIX}/user")))
        .json(
            &json!({"username": username, "password": password, "gender": "Female", "type": role}),
        )
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.expect("json");
    assert_eq!(
        keys(&user),
        [
            "created_at",
            "family_id",
            "gender",
            "id",
            "token",
            "type",
            "username"
        ]
    );
    assert!(user.get("password").is_none(), "passwords are never echoed");
    assert_eq!(user["type"], role);
    assert!(user["created_at"].as_str().expect("iso").ends_with('Z'));
    let login = app
        .client
        .post(app.url(&format!("{PREFIX}/user/login")))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    assert!(
        login.headers().get("set-cookie").is_some(),
        "the session cookie is set"
    );
    let session: Value = login.json().await.expect("json");
    assert_eq!(session["id"], user["id"]);
    (session["token"].as_str().expect("token").to_owned(), user)
}

async fn the_seed_app_flow_works_as_written(backend: Backend) {
    let app = spawn_app(backend).await;
    let (parent, parent_user) = register(&app, "Parent").await;
    let (child, _) = register(&app, "Child").await;
    let family: Value = app
        .post_json(&parent, "/api/v1/families", json!({"name": "Kims"}))
        .await
        .json()
        .await
        .expect("json");
    let joined = app
        .post_json(
            &child,
            "/api/v1/families/join",
            json!({"invitation_code": family["invitation_code"]}),
        )
        .await;
    assert_eq!(joined.status(), StatusCode::OK);

    let members: Value = app
        .get(&child, &format!("{PREFIX}/family"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(members["users"].as_array().expect("users").len(), 2);
    assert_eq!(members["users"][0]["family_id"], family["id"]);

    let created = app
        .post_json(
            &parent,
            &format!("{PREFIX}/drawing"),
            json!({"host_id": parent_user["id"]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("json");
    assert_eq!(
        keys(&created),
        ["created_at", "host_id", "id", "invitation_code"]
    );
    let id = created["id"].as_i64().expect("id");

    let join = app
        .post_json(
            &child,
            &format!("{PREFIX}/drawing/{id}/join"),
            json!({"user_id": 1, "invitation_code": created["invitation_code"]}),
        )
        .await;
    assert_eq!(join.status(), StatusCode::OK);
    let drawing: Value = join.json().await.expect("json");
    assert_eq!(
        keys(&drawing),
        [
            "ai_image_url",
            "created_at",
            "description",
            "gif_url",
            "host_id",
            "id",
            "image_url",
            "invitation_code",
            "participants",
            "title",
            "type",
            "updated_at",
            "voice_id"
        ]
    );
    assert_eq!(drawing["type"], "raw");
    assert_eq!(
        keys(&drawing["participants"][1]),
        ["gender", "type", "username"]
    );
    assert_eq!(drawing["participants"][1]["type"], "Child");

    let canvas = app
        .post_json(&child, &format!("{PREFIX}/drawing/{id}/canvas"), json!({"client_id": "c1", "points": [[10, 10], [300, 300]], "color": "#00ff00", "width": 12, "eraser": false}))
        .await;
    assert_eq!(
        canvas.status(),
        StatusCode::CREATED,
        "strokes are accepted without a separate start"
    );
    assert_eq!(canvas.json::<Value>().await.expect("json")["seq"], 1);

    let submit = app
        .client
        .put(app.url(&format!("{PREFIX}/drawing/{id}/submit")))
        .bearer_auth(&parent)
        .multipart(
            multipart::Form::new()
                .text("title", "Dino")
                .text("description", "a green dino")
                .text("host_id", parent_user["id"].to_string())
                .text("voice_id", "2"),
        )
        .send()
        .await
        .expect("submit");
    assert_eq!(submit.status(), StatusCode::OK);
    let submitted: Value = submit.json().await.expect("json");
    assert_eq!(submitted["title"], "Dino");
    assert_eq!(submitted["voice_id"], 2);
    assert!(!submitted["image_url"].as_str().expect("url").is_empty());
    assert!(["raw", "processed"].contains(&submitted["type"].as_str().expect("type")));

    let one: Value = app
        .get(&child, &format!("{PREFIX}/drawing/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["description"], "a green dino");
    let list: Value = app
        .get(&child, &format!("{PREFIX}/drawing"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["drawings"][0]["id"], id);

    let logout = app
        .client
        .post(app.url(&format!("{PREFIX}/user/logout")))
        .bearer_auth(&child)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(
        app.get(&child, &format!("{PREFIX}/family")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

crate::on_both_backends!(the_seed_app_flow_works_as_written);
