//! Email change: `POST /users/me/email` (fresh token and the current
//! password, 3 a user an hour), `POST /users/me/email/confirm` (the token
//! is the proof; other sessions end) and `POST /email-change/undo` (the
//! link sent to the old address), on real PostgreSQL and Redis, the tokens
//! read out of the queued emails.

use std::time::Duration;

use integration_tests::{
    PASSWORD, TestApp, Tokens, assert_error, json_body, spawn_app, spawn_app_with, token_errors,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const REQUESTED: &str = "Confirm the change from the new address.";

async fn request_change(app: &TestApp, access: &str, new_email: &str) -> reqwest::Response {
    request_with(
        app,
        access,
        json!({ "new_email": new_email, "current_password": PASSWORD }),
    )
    .await
}

async fn request_with(app: &TestApp, access: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/users/me/email", Some(access))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn undo(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/email-change/undo", &body).await
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
    // The old address can take the change back.
    let undo_link = notices[0]["undo_link"].as_str().unwrap();
    let undo_token = undo_link
        .strip_prefix("https://app.example/undo-email-change#token=")
        .unwrap_or_else(|| panic!("{undo_link}"));
    assert_eq!(undo_token.len(), 43);
    assert_ne!(undo_token, token_in(&confirmations[0]));

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
        .json(&json!({ "new_email": fresh_address(), "current_password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    for bad in [
        json!({"current_password": PASSWORD}),
        json!({"new_email": "not an address", "current_password": PASSWORD}),
        json!({"new_email": 5, "current_password": PASSWORD}),
    ] {
        let response = request_with(&app, &tokens.access, bad).await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(body["errors"]["new_email"].is_array(), "{body}");
    }
    // The current password is required too.
    for bad in [
        json!({"new_email": fresh_address()}),
        json!({"new_email": fresh_address(), "current_password": 5}),
        json!({}),
    ] {
        let response = request_with(&app, &tokens.access, bad.clone()).await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(
            body["errors"]["current_password"].is_array(),
            "{bad}: {body}"
        );
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

/// The undo token of the `index`th "Your email address is changing" once
/// `count` jobs are queued.
async fn undo_token(app: &TestApp, count: usize, index: usize) -> String {
    let notices = emails_of(app, count, "email_changing").await;
    let link = notices[index]["undo_link"].as_str().expect("an undo link");
    link.split_once("/undo-email-change#token=")
        .expect("token in fragment")
        .1
        .to_owned()
}

#[tokio::test]
async fn a_wrong_current_password_is_403_and_counts_as_a_failed_login() {
    let app = spawn_app_with(|settings| {
        settings
            .set("RATE_LIMITS", "on")
            .set("RATE_LIMIT_EMAIL_CHANGE_PER_USER", "20/3600s");
    })
    .await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    for _ in 0..5 {
        let response = request_with(
            &app,
            &tokens.access,
            json!({"new_email": fresh_address(), "current_password": "not it at all"}),
        )
        .await;
        let body = assert_error(response, StatusCode::FORBIDDEN, "invalid_current_password").await;
        assert_eq!(body["message"], "The current password is incorrect.");
    }
    // Nothing was sent: only the welcome email is queued.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.email_jobs().await.len(), 1);
    // The account is throttled now: the right password gets 429 too, and
    // so does a login.
    let response = request_change(&app, &tokens.access, &fresh_address()).await;
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let response = app.login(&user.email, PASSWORD).await;
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_user_gets_three_requests_an_hour_whatever_their_answer() {
    let app = spawn_app_with(|settings| {
        settings.set("RATE_LIMITS", "on");
    })
    .await;
    let user = app.register_user().await;
    let other = app.register_user().await;
    let tokens = app.login_tokens(&user).await;

    let response = request_with(&app, &tokens.access, json!({"new_email": fresh_address()})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = request_with(
        &app,
        &tokens.access,
        json!({"new_email": fresh_address(), "current_password": "wrong password"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = request_change(&app, &tokens.access, &fresh_address()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        response.headers()["ratelimit-policy"],
        "\"email_change_per_user\";q=3;w=3600"
    );
    let remaining = response.headers()["ratelimit"].to_str().unwrap();
    assert!(
        remaining.starts_with("\"email_change_per_user\";r=0;t="),
        "{remaining}"
    );

    // The fourth, even from a new session with the right password.
    let again = app.login_tokens(&user).await;
    let response = request_change(&app, &again.access, &fresh_address()).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(
        response.headers()["ratelimit-policy"],
        "\"email_change_per_user\";q=3;w=3600"
    );
    let body = assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(body["message"], "Too many requests. Try again later.");

    // Another user has a budget of its own.
    let other_tokens = app.login_tokens(&other).await;
    let response = request_change(&app, &other_tokens.access, &fresh_address()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn rate_limits_off_turns_the_per_user_limit_off() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    for _ in 0..4 {
        let response = request_change(&app, &tokens.access, &fresh_address()).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert!(response.headers().get("ratelimit").is_none());
    }
}

#[tokio::test]
async fn a_confirmed_change_ends_every_other_session_but_not_the_one_that_asked() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let asking = app.login_tokens(&user).await;
    let other = app.login_tokens(&user).await;
    let response = request_change(&app, &asking.access, &fresh_address()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let confirmations = emails_of(&app, 3, "confirm_email_change").await;

    let response = confirm(&app, json!({ "token": token_in(&confirmations[0]) })).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(
        app.refresh(&other.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/users/me", Some(&other.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let me = app.get("/users/me", Some(&asking.access)).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(app.refresh(&asking.refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_undo_link_restores_the_old_address_after_the_confirmation_and_ends_every_session() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let intruder = app.login_tokens(&user).await;
    let new_email = fresh_address();
    let response = request_change(&app, &intruder.access, &new_email).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let confirmations = emails_of(&app, 3, "confirm_email_change").await;
    let token = undo_token(&app, 3, 0).await;
    let response = confirm(&app, json!({ "token": token_in(&confirmations[0]) })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let owner = app.login(&new_email, PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);

    let response = undo(&app, json!({ "token": token })).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_body(response).await;
    assert_eq!(body["message"], "Email change undone.");
    assert_eq!(body["user"]["id"], user.id);
    assert_eq!(body["user"]["email"], user.email);
    assert_eq!(body["user"]["email_verified"], true);

    // Every session ended, the one that asked included.
    let revoked = app.get("/users/me", Some(&intruder.access)).await;
    assert_error(revoked, StatusCode::UNAUTHORIZED, "token_revoked").await;
    assert_eq!(
        app.refresh(&intruder.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&new_email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
    // A used link is the same 400 as an unknown one.
    let response = undo(&app, json!({ "token": token })).await;
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

#[tokio::test]
async fn an_undo_before_the_confirmation_cancels_the_change() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let response = request_change(&app, &tokens.access, &fresh_address()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let confirmations = emails_of(&app, 3, "confirm_email_change").await;
    let token = undo_token(&app, 3, 0).await;

    let response = undo(&app, json!({ "token": token })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["user"]["email"], user.email);

    let response = confirm(&app, json!({ "token": token_in(&confirmations[0]) })).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_or_expired_token",
    )
    .await;
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_undo_is_409_when_the_old_address_was_registered_meanwhile() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let new_email = fresh_address();
    let response = request_change(&app, &tokens.access, &new_email).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let confirmations = emails_of(&app, 3, "confirm_email_change").await;
    let token = undo_token(&app, 3, 0).await;
    let response = confirm(&app, json!({ "token": token_in(&confirmations[0]) })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.register("squatter", &user.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let response = undo(&app, json!({ "token": token })).await;
    let body = assert_error(response, StatusCode::CONFLICT, "email_taken").await;
    assert_eq!(body["message"], "A user with that email already exists.");
    // Nothing changed, and the session that asked is still alive.
    let me = json_body(app.get("/users/me", Some(&tokens.access)).await).await;
    assert_eq!(me["email"], new_email);
}

#[tokio::test]
async fn bad_undo_tokens_are_the_same_400() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let response = request_change(&app, &tokens.access, &fresh_address()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let confirmations = emails_of(&app, 3, "confirm_email_change").await;
    // The confirmation token undoes nothing.
    for body in [
        json!({"token": token_in(&confirmations[0])}),
        json!({"token": "x".repeat(43)}),
        json!({"token": "short"}),
    ] {
        let response = undo(&app, body).await;
        assert_error(
            response,
            StatusCode::BAD_REQUEST,
            "invalid_or_expired_token",
        )
        .await;
    }
    for body in [json!({}), json!({"token": 5})] {
        let response = undo(&app, body).await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(body["errors"]["token"].is_array(), "{body}");
    }
    let me = json_body(app.get("/users/me", Some(&tokens.access)).await).await;
    assert_eq!(me["email"], user.email);
}
