//! v2 email verification: `POST /verify-email`, `POST /verify-email/resend`,
//! `REQUIRE_VERIFIED_EMAIL`, and the link and code in the welcome email.

use std::time::Duration;

use integration_tests::{
    PASSWORD, TestApp, TestUser, assert_error, json_body, spawn_app, spawn_app_with,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const INVALID_MESSAGE: &str = "The link or code is invalid or has expired.";
const RESEND_MESSAGE: &str =
    "If an unverified account uses that address, a new email is on its way.";

/// The token and code of the newest email to `to` that carries them.
async fn secret_of(app: &TestApp, to: &str, count: usize) -> (String, String) {
    let jobs = app
        .wait_for_email_jobs(count, Duration::from_secs(10))
        .await;
    let job = jobs
        .iter()
        .rev()
        .find(|job| job["to"] == to && (job["kind"] == "welcome" || job["kind"] == "verify_email"))
        .expect("a verification email");
    let link = job["verification_link"]
        .as_str()
        .or_else(|| job["link"].as_str())
        .unwrap();
    let token = link
        .split_once("#token=")
        .expect("the token in the fragment")
        .1;
    (token.to_owned(), job["code"].as_str().unwrap().to_owned())
}

async fn verify(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/verify-email", &body).await
}

async fn assert_invalid(response: reqwest::Response) {
    let body = assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_or_expired_token",
    )
    .await;
    assert_eq!(body["message"], INVALID_MESSAGE);
}

async fn me(app: &TestApp, user: &TestUser) -> Value {
    let tokens = app.login_tokens(user).await;
    json_body(app.get("/users/me", Some(&tokens.access)).await).await
}

#[tokio::test]
async fn the_welcome_link_verifies_the_address_once() {
    let app = spawn_app_with(|settings| {
        settings.set("PUBLIC_APP_URL", "https://app.example/");
    })
    .await;
    let user = app.register_user().await;
    let jobs = app.wait_for_email_jobs(1, Duration::from_secs(10)).await;
    let link = jobs[0]["verification_link"].as_str().unwrap();
    assert!(
        link.starts_with("https://app.example/verify-email#token="),
        "{link}"
    );
    let (token, code) = secret_of(&app, &user.email, 1).await;
    assert_eq!(token.len(), 43);
    assert_eq!(code.len(), 6);
    assert_eq!(me(&app, &user).await["email_verified"], false);

    let response = verify(&app, json!({"token": token})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_body(response).await;
    assert_eq!(body["message"], "Email verified.");
    assert_eq!(body["user"]["email"], user.email);
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(me(&app, &user).await["email_verified"], true);

    assert_invalid(verify(&app, json!({"token": token})).await).await;
    // The code of a used pair is dead too.
    assert_invalid(verify(&app, json!({"email": user.email, "code": code})).await).await;
}

#[tokio::test]
async fn the_code_verifies_and_five_wrong_codes_kill_it() {
    let app = spawn_app().await;
    let ada = app.register_user().await;
    let bob = app.register_user().await;
    let (_, ada_code) = secret_of(&app, &ada.email, 2).await;
    let (bob_token, bob_code) = secret_of(&app, &bob.email, 2).await;

    let response = verify(
        &app,
        json!({"email": ada.email.to_uppercase(), "code": ada_code}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let wrong = if bob_code == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..5 {
        assert_invalid(verify(&app, json!({"email": bob.email, "code": wrong})).await).await;
    }
    assert_invalid(verify(&app, json!({"email": bob.email, "code": bob_code})).await).await;
    // The link itself still works.
    assert_eq!(
        verify(&app, json!({"token": bob_token})).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_proofs_are_the_same_400_and_missing_fields_a_422() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    for body in [
        json!({"token": "x".repeat(43)}),
        json!({"token": "short"}),
        json!({"token": ""}),
        json!({"email": user.email, "code": "12345"}),
        json!({"email": "nobody@example.com", "code": "123456"}),
    ] {
        assert_invalid(verify(&app, body).await).await;
    }
    for (body, field) in [
        (json!({}), "token"),
        (json!({"email": user.email}), "code"),
        (json!({"code": "123456"}), "email"),
        (json!({"token": 12}), "token"),
    ] {
        let response = verify(&app, body).await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(body["errors"][field].is_array(), "{body}");
    }
    // A GET never consumes: it is the hosted page (tests/tests/api/pages.rs),
    // which reads nothing but its path.
    let response = app.get("/verify-email", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
}

#[tokio::test]
async fn resend_always_answers_202_and_sends_at_most_once_a_minute() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let (first_token, _) = secret_of(&app, &user.email, 1).await;

    for email in [user.email.as_str(), "nobody@example.com", "not an email"] {
        let response = app
            .post_json("/verify-email/resend", &json!({ "email": email }))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(
            json_body(response).await,
            json!({"message": RESEND_MESSAGE})
        );
    }
    // The welcome email went out less than a minute ago: nothing new.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.email_jobs().await.len(), 1);

    // A minute later (the secret's send time moved back), one new email,
    // and the welcome link is dead.
    app.query_scalar(
        "WITH moved AS (UPDATE one_time_secrets SET created_at = created_at - interval '2 minutes' \
         RETURNING 1) SELECT count(*) AS value FROM moved",
    )
    .await;
    let response = app
        .post_json("/verify-email/resend", &json!({ "email": user.email }))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let jobs = app.wait_for_email_jobs(2, Duration::from_secs(10)).await;
    assert_eq!(jobs[1]["kind"], "verify_email");
    let (token, _) = secret_of(&app, &user.email, 2).await;
    assert_ne!(token, first_token);
    assert_invalid(verify(&app, json!({"token": first_token})).await).await;
    assert_eq!(
        verify(&app, json!({"token": token})).await.status(),
        StatusCode::OK
    );

    // A verified account gets nothing more.
    app.query_scalar(
        "WITH moved AS (UPDATE one_time_secrets SET created_at = created_at - interval '2 minutes' \
         RETURNING 1) SELECT count(*) AS value FROM moved",
    )
    .await;
    app.post_json("/verify-email/resend", &json!({ "email": user.email }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.email_jobs().await.len(), 2);
}

#[tokio::test]
async fn with_verification_required_an_unverified_login_is_403_until_verified() {
    let app = spawn_app_with(|settings| {
        settings.set("REQUIRE_VERIFIED_EMAIL", "true");
    })
    .await;
    let user = app.register_user().await;
    let (token, _) = secret_of(&app, &user.email, 1).await;

    let response = app.login(&user.email, PASSWORD).await;
    let body = assert_error(response, StatusCode::FORBIDDEN, "email_not_verified").await;
    assert_eq!(
        body["message"],
        "Confirm your email address first; a new email is on its way."
    );
    let response = app.login(&user.email, "wrong password").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    assert_eq!(
        verify(&app, json!({"token": token})).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn verification_works_while_redis_is_down() {
    let app = spawn_app_with(|settings| {
        settings.redis_down();
    })
    .await;
    let response = app.register("ada", "ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app
        .post_json("/verify-email/resend", &json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    // The welcome email waits in the outbox, with its secret.
    assert_eq!(app.outbox_len().await, 1);
}
