//! `/users/me`, `GET` and `DELETE` of `/user/{id}` and `/users/{id}`.

use integration_tests::token_errors::{NOT_FRESH, REVOKED};
use integration_tests::{
    PASSWORD, TestApp, TestUser, assert_error, assert_token_rejected, json_body, spawn_app,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An id no user has.
const UNKNOWN_ID: i64 = 987_654_321;

fn user_not_found() -> Value {
    json!({"message": "User not found.", "error": "user_not_found"})
}

async fn me(app: &TestApp, access: &str) -> Value {
    let response = app.get("/users/me", Some(access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

/// Registers a user, makes it an admin and logs it in again.
async fn admin(app: &TestApp) -> (TestUser, String) {
    let admin = app.register_user().await;
    app.make_admin(&admin.email).await;
    let tokens = app.login_tokens(&admin).await;
    (admin, tokens.access)
}

#[tokio::test]
async fn users_me_is_the_caller() {
    let app = spawn_app().await;
    let response = app.register("grace", "Grace@Example.com", PASSWORD).await;
    let registered = json_body(response).await["user"].clone();
    let user = TestUser {
        id: registered["id"].as_i64().unwrap(),
        username: "grace".into(),
        email: "grace@example.com".into(),
        password: PASSWORD.into(),
    };
    let tokens = app.login_tokens(&user).await;

    assert_eq!(me(&app, &tokens.access).await, registered);
    // A refreshed (non-fresh) token reads it too.
    let refreshed = app.refreshed_access(&tokens.refresh).await;
    assert_eq!(me(&app, &refreshed).await, registered);
}

#[tokio::test]
async fn a_user_reads_itself_and_nobody_else() {
    let app = spawn_app().await;
    let ada = app.register_user().await;
    let bob = app.register_user().await;
    let tokens = app.login_tokens(&ada).await;
    let myself = me(&app, &tokens.access).await;

    for prefix in ["/user", "/users"] {
        let response = app
            .get(&format!("{prefix}/{}", ada.id), Some(&tokens.access))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{prefix}");
        assert_eq!(json_body(response).await, myself);

        for other in [bob.id, UNKNOWN_ID] {
            let response = app
                .get(&format!("{prefix}/{other}"), Some(&tokens.access))
                .await;
            assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    // Non-fresh tokens may read.
    let refreshed = app.refreshed_access(&tokens.refresh).await;
    let response = app
        .get(&format!("/users/{}", ada.id), Some(&refreshed))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_non_integer_id_is_not_found() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;

    for prefix in ["/user", "/users"] {
        for id in ["abc", "1.5", "-", "1e3", "99999999999999999999999"] {
            let path = format!("{prefix}/{id}");
            let response = app.get(&path, Some(&tokens.access)).await;
            assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
            let response = app.delete(&path, Some(&tokens.access)).await;
            assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
}

#[tokio::test]
async fn an_admin_reads_anyone() {
    let app = spawn_app().await;
    let (admin, access) = admin(&app).await;
    let bob = app.register_user().await;
    let bob_tokens = app.login_tokens(&bob).await;
    let bob_body = me(&app, &bob_tokens.access).await;

    assert_eq!(me(&app, &access).await["role"], "admin");
    assert_eq!(me(&app, &access).await["id"], admin.id);
    for prefix in ["/user", "/users"] {
        let response = app
            .get(&format!("{prefix}/{}", bob.id), Some(&access))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json_body(response).await, bob_body);

        let response = app
            .get(&format!("{prefix}/{UNKNOWN_ID}"), Some(&access))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_body(response).await, user_not_found());

        let response = app
            .delete(&format!("{prefix}/{UNKNOWN_ID}"), Some(&access))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_body(response).await, user_not_found());
    }
    // An admin is not visible as such to others: bob still sees only bob.
    let response = app
        .get(&format!("/users/{}", admin.id), Some(&bob_tokens.access))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn deleting_needs_a_fresh_token_and_the_right_caller() {
    let app = spawn_app().await;
    let ada = app.register_user().await;
    let bob = app.register_user().await;
    let tokens = app.login_tokens(&ada).await;
    let refreshed = app.refreshed_access(&tokens.refresh).await;

    for prefix in ["/user", "/users"] {
        let response = app
            .delete(&format!("{prefix}/{}", ada.id), Some(&refreshed))
            .await;
        assert_token_rejected(response, NOT_FRESH).await;

        for other in [bob.id, UNKNOWN_ID] {
            let response = app
                .delete(&format!("{prefix}/{other}"), Some(&tokens.access))
                .await;
            assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    // Nobody was deleted.
    me(&app, &tokens.access).await;
    let bob_tokens = app.login_tokens(&bob).await;
    me(&app, &bob_tokens.access).await;
}

#[tokio::test]
async fn a_user_deletes_itself_and_every_token_it_held_dies() {
    let app = spawn_app().await;
    let ada = app.register_user().await;
    let first = app.login_tokens(&ada).await;
    let refreshed = app.refreshed_access(&first.refresh).await;
    let second = app.login_tokens(&ada).await;
    let bob = app.register_user().await;
    let bob_tokens = app.login_tokens(&bob).await;

    let response = app
        .delete(&format!("/user/{}", ada.id), Some(&first.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "User deleted."})
    );

    for access in [&first.access, &refreshed, &second.access] {
        for path in ["/protected", "/users/me"] {
            assert_token_rejected(app.get(path, Some(access)).await, REVOKED).await;
        }
    }
    for refresh in [&first.refresh, &second.refresh] {
        assert_token_rejected(app.refresh(refresh).await, REVOKED).await;
        assert_token_rejected(app.logout(refresh).await, REVOKED).await;
    }
    let response = app.login(&ada.email, &ada.password).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Other users are untouched.
    me(&app, &bob_tokens.access).await;

    // The email is free again, for a new account with new tokens.
    let response = app
        .register("ada again", &ada.email, "a new password")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let new_id = json_body(response).await["user"]["id"].as_i64().unwrap();
    assert_ne!(new_id, ada.id);
    let reborn = TestUser {
        id: new_id,
        password: "a new password".into(),
        ..ada.clone()
    };
    let tokens = app.login_tokens(&reborn).await;
    assert_eq!(me(&app, &tokens.access).await["id"], new_id);
    assert_eq!(
        app.get("/protected", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_deletes_another_user_and_its_tokens_die() {
    let app = spawn_app().await;
    let (_, access) = admin(&app).await;
    let bob = app.register_user().await;
    let bob_tokens = app.login_tokens(&bob).await;

    let response = app
        .delete(&format!("/users/{}", bob.id), Some(&access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "User deleted."})
    );

    assert_token_rejected(
        app.get("/protected", Some(&bob_tokens.access)).await,
        REVOKED,
    )
    .await;
    assert_token_rejected(app.refresh(&bob_tokens.refresh).await, REVOKED).await;
    let response = app.get(&format!("/users/{}", bob.id), Some(&access)).await;
    assert_eq!(json_body(response).await, user_not_found());
    let response = app
        .delete(&format!("/user/{}", bob.id), Some(&access))
        .await;
    assert_eq!(json_body(response).await, user_not_found());

    // The admin's own session is untouched.
    me(&app, &access).await;
}
