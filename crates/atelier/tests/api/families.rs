//! Families: create, join by invitation code, members with roles and genders, isolation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, error_code, spawn_app};

async fn families_are_created_joined_and_kept_apart(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mum, _) = app.register("mum", "Parent").await;
    let (kid, _) = app.register("kid", "Child").await;
    let (stranger, _) = app.register("stranger", "Parent").await;

    let created = app
        .post_json(&mum, "/api/v1/families", json!({"name": "The Parks"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let family: Value = created.json().await.expect("json");
    let code = family["invitation_code"].as_str().expect("code").to_owned();
    assert_eq!(code.len(), 12);
    let family_id = family["id"].as_i64().expect("id");

    // Codes are case-insensitive and trimmed.
    let joined = app
        .post_json(
            &kid,
            "/api/v1/families/join",
            json!({"invitation_code": format!(" {} ", code.to_lowercase())}),
        )
        .await;
    assert_eq!(joined.status(), StatusCode::OK);
    let members: Value = app
        .get(&mum, "/api/v1/families/mine")
        .await
        .json()
        .await
        .expect("json");
    let users = members["users"].as_array().expect("users");
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["username"], "mum");
    assert_eq!(users[0]["type"], "Parent");
    assert_eq!(users[1]["username"], "kid");
    assert_eq!(users[1]["type"], "Child");
    assert_eq!(users[1]["family_id"], family_id);

    // A stranger can neither read the family nor guess it.
    let peek = app
        .get(&stranger, &format!("/api/v1/families/{family_id}"))
        .await;
    assert_eq!(peek.status(), StatusCode::NOT_FOUND);
    let mine = app.get(&stranger, "/api/v1/families/mine").await;
    assert_eq!(mine.status(), StatusCode::NOT_FOUND);
    let wrong_code = app
        .post_json(
            &stranger,
            "/api/v1/families/join",
            json!({"invitation_code": "ZZZZZZZZ"}),
        )
        .await;
    assert_eq!(wrong_code.status(), StatusCode::NOT_FOUND);

    // A member cannot found or join a second family.
    let second = app
        .post_json(&kid, "/api/v1/families", json!({"name": "Another"}))
        .await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let own = app
        .post_json(&stranger, "/api/v1/families", json!({"name": "Strangers"}))
        .await;
    let own_code = own.json::<Value>().await.expect("json")["invitation_code"]
        .as_str()
        .expect("code")
        .to_owned();
    let switch = app
        .post_json(
            &kid,
            "/api/v1/families/join",
            json!({"invitation_code": own_code}),
        )
        .await;
    assert_eq!(switch.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(switch).await, "conflict");
    app.stop().await;
}

crate::on_both_backends!(families_are_created_joined_and_kept_apart);
