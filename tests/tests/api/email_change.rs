//! v2 email change: `POST /users/me/email` (fresh token) and
//! `POST /users/me/email/confirm` (the token is the proof), on real
//! PostgreSQL and Redis, the token read out of the queued email.

use std::time::Duration;

use integration_tests::{
    PASSWORD, TestApp, Tokens, assert_error, json_body, spawn_app, spawn_app_with, token_errors,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const REQUESTED: &str = "Confirm the change from the new address.";

async fn request_change(app: &TestApp, access: &str, new_email: &str) -> reqwest::Response {
    app.request(Method::POST, "/users/me/email", Some(access))
        .json(&json!({ "new_email": new_email }))
        .send()
        .await
        .unwrap()
}

async fn confirm(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/users/me/email/confirm", &body).await
}

/// The queued emails of `kind`, waiting until `count` jobs exist.
async fn emails_of(app: &TestApp, count: usize, kind: &str) -> Vec<Value> {
    app.wait_for_email_jobs(count, Duration::from_secs(10))
        .await
        .into_iter()
        .filter(|job| job["kind"] == kind)
        .collect()
}

fn token_in(job: &Value) -> String {
    let link = job["link"].as_str().expect("a link");
    link.split_once("#token=")
        .expect("token in fragment")
        .1
        .to_owned()
}

fn fresh_address() -> String {
    format!(
        "new-{}@example.org",
        &Uuid::new_v4().simple().to_string()[..12]
    )
}

#[tokio::test]
async fn a_confirmed_change_moves_the_account_to_the_new_verified_address() {
    let app = spawn_app_with(|settings| {
        settings.set("PUBLIC_APP_URL", "https://app.example");
    })
    .await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let new_email = fresh_address();

    let response = request_change(&app, &tokens.access, &new_email).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(json_body(response).await, json!({ "message": REQUESTED }));

    // Welcome, then the confirmation to the new address and the notice to
    // the old one.
    let confirmations = emails_of(&app, 3, "confirm_email_change").await;
    assert_eq!(confirmations.len(), 1);
    assert_eq!(confirmations[0]["to"], new_email);
    let link = confirmations[0]["link"].as_str().unwrap();
    assert!(
        link.starts_with("https://app.example/confirm-email-change#token="),
        "{link}"
    );
    assert_eq!(confirmations[0]["code"].as_str().unwrap().len(), 6);
    let notices = emails_of(&app, 3, "email_changing").await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["to"], user.email);
    assert_eq!(notices[0]["new_email"], new_email);

    // Nothing changes before the confirmation.
    let me = json_body(app.get("/users/me", Some(&tokens.access)).await).await;
    assert_eq!(me["email"], user.email);

    let token = token_in(&confirmations[0]);
    let response = confirm(&app, json!({ "token": token })).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_body(response).await;
    assert_eq!(body["message"], "Email address changed.");
    assert_eq!(body["user"]["email"], new_email);
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(body["user"]["id"], user.id);

    assert_eq!(
        app.login(&new_email, PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The link works once.
    let response = confirm(&app, json!({ "token": token })).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_or_expired_token",
    )
    .await;
}

#[tokio::test]
async fn a_taken_address_gets_the_same_202_and_no_email() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let other = app.register_user().await;
    let tokens = app.login_tokens(&user).await;

    let response = request_change(&app, &tokens.access, &other.email.to_uppercase()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(json_body(response).await, json!({ "message": REQUESTED }));
    // Two welcomes and the notice to the old address; nothing to the taken
    // one.
    app.wait_for_email_jobs(3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let jobs = app.email_jobs().await;
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    assert!(jobs.iter().all(|job| job["kind"] != "confirm_email_change"));
    assert_eq!(jobs[2]["kind"], "email_changing");
    assert_eq!(jobs[2]["to"], user.email);
}

#[tokio::test]
async fn an_address_taken_before_the_confirmation_is_a_409() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let new_email = fresh_address();
    assert_eq!(
        request_change(&app, &tokens.access, &new_email)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let confirmations = emails_of(&app, 3, "confirm_email_change").await;
    let token = token_in(&confirmations[0]);
    // Someone registers the address meanwhile.
    let response = app.register("squatter", &new_email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let response = confirm(&app, json!({ "token": token })).await;
    let body = assert_error(response, StatusCode::CONFLICT, "email_taken").await;
    assert_eq!(body["message"], "A user with that email already exists.");
    let me = json_body(app.get("/users/me", Some(&tokens.access)).await).await;
    assert_eq!(me["email"], user.email);
}

#[tokio::test]
async fn the_request_needs_a_fresh_token_and_a_valid_new_address() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens: Tokens = app.login_tokens(&user).await;
    let refreshed = app.refreshed_access(&tokens.refresh).await;

    let response = request_change(&app, &refreshed, &fresh_address()).await;
    assert_error(
        response,
        StatusCode::UNAUTHORIZED,
        token_errors::NOT_FRESH.0,
    )
    .await;
    let response = app
        .request(Method::POST, "/users/me/email", None)
        .json(&json!({ "new_email": fresh_address() }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    for bad in [
        json!({}),
        json!({"new_email": "not an address"}),
        json!({"new_email": 5}),
    ] {
        let response = app
            .request(Method::POST, "/users/me/email", Some(&tokens.access))
            .json(&bad)
            .send()
            .await
            .unwrap();
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(body["errors"]["new_email"].is_array(), "{body}");
    }
    // The current address is no change.
    let response = request_change(&app, &tokens.access, &user.email.to_uppercase()).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
}

#[tokio::test]
async fn bad_confirmations_are_the_same_400() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let jobs = app.wait_for_email_jobs(1, Duration::from_secs(10)).await;
    // A verification token confirms no email change.
    let welcome = jobs[0]["verification_link"].as_str().unwrap();
    let welcome_token = welcome.split_once("#token=").unwrap().1;
    for body in [
        json!({"token": welcome_token}),
        json!({"token": "x".repeat(43)}),
        json!({"token": "short"}),
        json!({"email": user.email, "code": "123456"}),
    ] {
        let response = confirm(&app, body).await;
        let body = assert_error(
            response,
            StatusCode::BAD_REQUEST,
            "invalid_or_expired_token",
        )
        .await;
        assert_eq!(
            body["message"],
            "The link or code is invalid or has expired."
        );
    }
    let response = confirm(&app, json!({})).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
}
