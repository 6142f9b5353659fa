//! No response body ever carries the JWT secret, a password or its hash.

use integration_tests::{TestApp, spawn_app};
use reqwest::{Method, RequestBuilder};
use serde_json::json;

async fn text(request: RequestBuilder) -> String {
    request.send().await.unwrap().text().await.unwrap()
}

fn assert_clean(app: &TestApp, password: &str, body: &str) {
    assert!(
        !body.contains(&app.jwt_secret),
        "the JWT secret leaked: {body}"
    );
    assert!(!body.contains(password), "a password leaked: {body}");
    assert!(!body.contains("$argon2"), "a hash leaked: {body}");
}

#[tokio::test]
async fn no_body_carries_the_secret_a_password_or_a_hash() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    app.make_admin(&user.email).await;
    let admin = app.login_tokens(&user).await;

    let mut bodies = vec![
        text(app.request(Method::POST, "/register", None).json(&json!({
            "username": "grace", "email": "grace@example.com", "password": user.password
        })))
        .await,
        text(app.request(Method::POST, "/register", None).json(&json!({
            "username": "x", "email": user.email, "password": user.password
        })))
        .await,
        text(app.request(Method::POST, "/login", None).json(&json!({
            "email": user.email, "password": "wrong one"
        })))
        .await,
        text(app.request(Method::POST, "/login", None).json(&json!({
            "email": user.email, "password": user.password
        })))
        .await,
        text(app.request(Method::POST, "/refresh", Some(&tokens.refresh))).await,
        text(app.request(Method::GET, "/openapi.json", None)).await,
        text(app.request(Method::GET, "/health/ready", None)).await,
    ];
    for path in [
        "/users/me",
        &format!("/users/{}", user.id),
        "/protected",
        "/nope",
    ] {
        bodies.push(text(app.request(Method::GET, path, Some(&admin.access))).await);
        bodies.push(text(app.request(Method::GET, path, Some(&tokens.refresh))).await);
    }
    for body in &bodies {
        assert_clean(&app, &user.password, body);
    }
}
