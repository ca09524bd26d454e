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

async fn members_leave_and_the_founder_removes_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mum, _) = app.register("mum", "Parent").await;
    let (dad, dad_user) = app.register("dad", "Parent").await;
    let (kid, kid_user) = app.register("kid", "Child").await;
    let family: Value = app
        .post_json(&mum, "/api/v1/families", json!({"name": "The Okafors"}))
        .await
        .json()
        .await
        .expect("json");
    let id = family["id"].as_i64().expect("id");
    let code = family["invitation_code"].as_str().expect("code");
    for token in [&dad, &kid] {
        let joined = app
            .post_json(
                token,
                "/api/v1/families/join",
                json!({"invitation_code": code}),
            )
            .await;
        assert_eq!(joined.status(), StatusCode::OK);
    }
    let kid_id = kid_user["id"].as_i64().expect("id");
    let dad_id = dad_user["id"].as_i64().expect("id");
    let remove = |token: &str, member: i64| {
        app.client
            .delete(app.url(&format!("/api/v1/families/{id}/members/{member}")))
            .bearer_auth(token)
            .send()
    };

    // Only the founder removes, and not themself.
    let by_dad = remove(&dad, kid_id).await.expect("remove");
    assert_eq!(by_dad.status(), StatusCode::FORBIDDEN);
    let self_removal = remove(&mum, mum_id(&app, &mum).await)
        .await
        .expect("remove");
    assert_eq!(self_removal.status(), StatusCode::CONFLICT);
    let removed = remove(&mum, kid_id).await.expect("remove");
    assert_eq!(removed.status(), StatusCode::OK);
    let after: Value = removed.json().await.expect("json");
    assert_eq!(after["users"].as_array().expect("users").len(), 2);
    assert_eq!(
        app.get(&kid, "/api/v1/families/mine").await.status(),
        StatusCode::NOT_FOUND
    );
    let again = remove(&mum, kid_id).await.expect("remove");
    assert_eq!(error_code(again).await, "not-found");

    // A member leaves; the family stays for the others; leaving twice is 404.
    let left = app
        .post_json(&dad, "/api/v1/families/leave", json!({}))
        .await;
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    let seen: Value = app
        .get(&mum, "/api/v1/families/mine")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(seen["users"].as_array().expect("users").len(), 1);
    let twice = app
        .post_json(&dad, "/api/v1/families/leave", json!({}))
        .await;
    assert_eq!(twice.status(), StatusCode::NOT_FOUND);
    // Whoever left may join again with the code.
    let back = app
        .post_json(
            &dad,
            "/api/v1/families/join",
            json!({"invitation_code": code}),
        )
        .await;
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(
        dad_id,
        back.json::<Value>().await.expect("json")["users"][1]["id"]
    );
    app.stop().await;
}

async fn mum_id(app: &crate::helpers::TestApp, token: &str) -> i64 {
    let me: Value = app
        .get(token, "/api/v1/me")
        .await
        .json()
        .await
        .expect("json");
    me["id"].as_i64().expect("id")
}

crate::on_both_backends!(members_leave_and_the_founder_removes_them);
