//! v2 password reset and change: `POST /password/forgot`,
//! `POST /password/reset`, `POST /users/me/password`, on real PostgreSQL
//! and Redis, the token and code read out of the queued emails.

use std::time::Duration;

use integration_tests::{
    PASSWORD, TestApp, TestUser, assert_error, json_body, spawn_app, spawn_app_with, spawn_peer,
    token_errors,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const FORGOT_MESSAGE: &str =
    "If an account uses that address, a password reset email is on its way.";
const INVALID_MESSAGE: &str = "The link or code is invalid or has expired.";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// The queued emails of `kind` to `to`, waiting until `count` jobs exist.
async fn emails_of(app: &TestApp, count: usize, kind: &str, to: &str) -> Vec<Value> {
    app.wait_for_email_jobs(count, Duration::from_secs(10))
        .await
        .into_iter()
        .filter(|job| job["kind"] == kind && job["to"] == to)
        .collect()
}

/// The token (from the link's fragment) and code of an email.
fn secret_in(job: &Value) -> (String, String) {
    let link = job["link"].as_str().expect("a link");
    let token = link.split_once("#token=").expect("token in fragment").1;
    (token.to_owned(), job["code"].as_str().unwrap().to_owned())
}

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/password/forgot", &json!({ "email": email }))
        .await
}

/// Asks for a reset of `user` and returns its token and code (the reset
/// email is job number `count`).
async fn reset_secret(app: &TestApp, user: &TestUser, count: usize) -> (String, String) {
    let response = forgot(app, &user.email).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let emails = emails_of(app, count, "password_reset", &user.email).await;
    secret_in(emails.last().expect("a reset email"))
}

async fn reset(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/password/reset", &body).await
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

async fn change_password(app: &TestApp, access: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/users/me/password", Some(access))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn forgot_answers_the_same_202_for_every_address_and_sends_once_a_minute() {
    let app = spawn_app_with(|settings| {
        settings.set("PUBLIC_APP_URL", "https://app.example");
    })
    .await;
    let user = app.register_user().await;
    app.wait_for_email_jobs(1, Duration::from_secs(10)).await;

    for email in [
        user.email.as_str(),
        "nobody@example.com",
        "not an email",
        &user.email.to_uppercase(),
    ] {
        let response = forgot(&app, email).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(
            json_body(response).await,
            json!({ "message": FORGOT_MESSAGE })
        );
    }
    let emails = emails_of(&app, 2, "password_reset", &user.email).await;
    assert_eq!(emails.len(), 1, "at most one reset email a minute");
    let link = emails[0]["link"].as_str().unwrap();
    assert!(
        link.starts_with("https://app.example/reset-password#token="),
        "{link}"
    );
    let (token, code) = secret_in(&emails[0]);
    assert_eq!(token.len(), 43);
    assert_eq!(code.len(), 6);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.email_jobs().await.len(), 2, "welcome + one reset");

    // Missing or mistyped: 422.
    let response = app.post_json("/password/forgot", &json!({})).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
}

#[tokio::test]
async fn three_parallel_forgots_for_a_new_account_send_one_email() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

    let app = spawn_app().await;
    let user = app.register_user().await;
    app.wait_for_email_jobs(1, Duration::from_secs(10)).await;

    // Writes to the outbox wait behind this lock, so the three issuing
    // transactions surely overlap instead of running one after the other.
    let mut lock = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    lock.batch_execute("BEGIN; LOCK TABLE email_outbox IN EXCLUSIVE MODE")
        .await
        .unwrap();
    // The account has no reset secret yet: the three race to create it.
    let (a, b, c) = tokio::join!(
        forgot(&app, &user.email),
        forgot(&app, &user.email),
        forgot(&app, &user.email),
    );
    for response in [a, b, c] {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let blocked_inserts = "SELECT count(*) AS value FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock' \
         AND query ILIKE 'INSERT INTO%'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while app.query_scalar(blocked_inserts).await < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    lock.batch_execute("COMMIT").await.unwrap();

    let emails = emails_of(&app, 2, "password_reset", &user.email).await;
    assert_eq!(emails.len(), 1, "one reset email");
    // Give a wrongly issued second email the time to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued = emails_of(&app, 2, "password_reset", &user.email)
        .await
        .len();
    let waiting = app
        .query_scalar(
            "SELECT count(*) AS value FROM email_outbox \
             WHERE payload::jsonb ->> 'kind' = 'password_reset'",
        )
        .await;
    assert_eq!(queued as i64 + waiting, 1, "exactly one reset email");
}

#[tokio::test]
async fn a_reset_sets_the_password_revokes_every_session_and_verifies_the_address() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let first = app.login_tokens(&user).await;
    let second = app.login_tokens(&user).await;
    let (token, _) = reset_secret(&app, &user, 2).await;

    let response = reset(&app, json!({"token": token, "password": NEW_PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        json_body(response).await,
        json!({"message": "Password updated."})
    );

    // Every token of every session is dead at once.
    for tokens in [&first, &second] {
        let response = app.get("/protected", Some(&tokens.access)).await;
        assert_error(response, StatusCode::UNAUTHORIZED, token_errors::REVOKED.0).await;
        let response = app.refresh(&tokens.refresh).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // The old password is gone, the new one works, the address counts as
    // verified, and "Your password was changed" is queued.
    let response = app.login(&user.email, PASSWORD).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let response = app.login(&user.email, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let access = json_body(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = json_body(app.get("/users/me", Some(&access)).await).await;
    assert_eq!(me["email_verified"], true);
    let changed = emails_of(&app, 3, "password_changed", &user.email).await;
    assert_eq!(changed.len(), 1);

    // The link works once.
    assert_invalid(reset(&app, json!({"token": token, "password": "yet another one"})).await).await;
}

#[tokio::test]
async fn the_emailed_code_resets_too_and_dies_after_five_wrong_tries() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let (_, code) = reset_secret(&app, &user, 2).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        let body = json!({"email": user.email, "code": wrong, "password": NEW_PASSWORD});
        assert_invalid(reset(&app, body).await).await;
    }
    let body = json!({"email": user.email, "code": code, "password": NEW_PASSWORD});
    assert_invalid(reset(&app, body).await).await;
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );

    // A new send kills the dead pair and brings a working one.
    app.query_scalar(
        "WITH moved AS (UPDATE one_time_secrets SET created_at = created_at - interval '2 minutes' \
         RETURNING 1) SELECT count(*) AS value FROM moved",
    )
    .await;
    let (_, code) = reset_secret(&app, &user, 3).await;
    let body = json!({"email": user.email, "code": code, "password": NEW_PASSWORD});
    assert_eq!(reset(&app, body).await.status(), StatusCode::OK);
    assert_eq!(
        app.login(&user.email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

/// Lets the next `/password/forgot` send at once, as if the last reset
/// email had gone out two minutes ago.
async fn age_the_last_send(app: &TestApp) {
    app.query_scalar(
        "WITH moved AS (UPDATE one_time_secrets SET created_at = created_at - interval '2 minutes' \
         RETURNING 1) SELECT count(*) AS value FROM moved",
    )
    .await;
}

#[tokio::test]
async fn ten_wrong_codes_over_several_codes_refuse_every_reset_code_for_a_day_but_not_the_link() {
    // The budget is not a rate limit: `RATE_LIMITS=off` leaves it on.
    let app = spawn_app_with(|settings| {
        settings.set("RATE_LIMITS", "off");
    })
    .await;
    let user = app.register_user().await;
    // Fifteen wrong codes over three codes, each of which allows five.
    for round in 0..3 {
        let (_, code) = reset_secret(&app, &user, 2 + round).await;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for _ in 0..5 {
            let body = json!({"email": user.email, "code": wrong, "password": NEW_PASSWORD});
            assert_invalid(reset(&app, body).await).await;
        }
        age_the_last_send(&app).await;
    }
    // The right code of a brand new code: the same 400, and nothing changed.
    let (token, code) = reset_secret(&app, &user, 5).await;
    let body = json!({"email": user.email, "code": code, "password": NEW_PASSWORD});
    assert_invalid(reset(&app, body).await).await;
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
    // The link of that same email still works.
    let response = reset(&app, json!({"token": token, "password": NEW_PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::OK);

    // A day after the first wrong code, codes work again.
    app.query_scalar(
        "WITH moved AS (UPDATE code_failures SET window_started_at = \
         window_started_at - interval '24 hours' RETURNING 1) SELECT count(*) AS value FROM moved",
    )
    .await;
    age_the_last_send(&app).await;
    let (_, code) = reset_secret(&app, &user, 7).await;
    let body = json!({"email": user.email, "code": code, "password": "a third passphrase"});
    assert_eq!(reset(&app, body).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_address_with_a_code_is_the_same_400_whatever_the_count() {
    let app = spawn_app().await;
    for _ in 0..12 {
        let body =
            json!({"email": "nobody@example.com", "code": "123456", "password": NEW_PASSWORD});
        assert_invalid(reset(&app, body).await).await;
    }
    assert_eq!(
        app.query_scalar("SELECT count(*) AS value FROM code_failures")
            .await,
        0,
        "nothing is stored for an address no account uses"
    );
}

#[tokio::test]
async fn a_weak_password_is_a_422_and_leaves_the_link_usable() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let (token, _) = reset_secret(&app, &user, 2).await;

    let response = reset(&app, json!({"token": token, "password": "short"})).await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert!(body["errors"]["password"].is_array(), "{body}");
    let response = reset(&app, json!({"token": token})).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;

    let response = reset(&app, json!({"token": token, "password": NEW_PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn of_two_concurrent_resets_one_wins_and_the_other_is_a_400() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let (token, _) = reset_secret(&app, &user, 2).await;
    let (a, b) = tokio::join!(
        reset(
            &app,
            json!({"token": token, "password": "first new password"})
        ),
        reset(
            &app,
            json!({"token": token, "password": "second new password"})
        ),
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
}

#[tokio::test]
async fn bad_reset_proofs_are_all_the_same_400() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    // The verification secret of the welcome email opens no reset.
    let jobs = app.wait_for_email_jobs(1, Duration::from_secs(10)).await;
    let welcome_link = jobs[0]["verification_link"].as_str().unwrap();
    let welcome_token = welcome_link.split_once("#token=").unwrap().1;
    for body in [
        json!({"token": welcome_token, "password": NEW_PASSWORD}),
        json!({"token": "x".repeat(43), "password": NEW_PASSWORD}),
        json!({"token": "short", "password": NEW_PASSWORD}),
        json!({"email": user.email, "code": "123456", "password": NEW_PASSWORD}),
        json!({"email": "nobody@example.com", "code": "123456", "password": NEW_PASSWORD}),
    ] {
        assert_invalid(reset(&app, body).await).await;
    }
}

#[tokio::test]
async fn a_reset_is_503_while_postgres_is_down_and_changes_nothing() {
    let app = spawn_app_with(|settings| {
        settings.postgres_down();
    })
    .await;
    let body = json!({"token": "x".repeat(43), "password": NEW_PASSWORD});
    let response = reset(&app, body).await;
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    let response = forgot(&app, "someone@example.com").await;
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
}

#[tokio::test]
async fn forgot_and_reset_still_answer_while_redis_is_down() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let (token, _) = reset_secret(&app, &user, 2).await;
    let cut = spawn_peer(&app, |settings| {
        settings.redis_down();
    })
    .await;
    // The emails wait in the outbox; the answers are the usual ones.
    let response = forgot(&cut, "nobody@example.com").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = reset(&cut, json!({"token": token, "password": NEW_PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        app.outbox_len().await >= 1,
        "the notice waits in the outbox"
    );
    // The session ended in PostgreSQL: its refresh token is refused by the
    // instance that can reach Redis too.
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_revokes_the_others() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let current = app.login_tokens(&user).await;
    let other = app.login_tokens(&user).await;

    let response = change_password(
        &app,
        &current.access,
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        json_body(response).await,
        json!({"message": "Password updated."})
    );

    assert_eq!(
        app.get("/protected", Some(&current.access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.refresh(&current.refresh).await.status(), StatusCode::OK);
    let response = app.get("/protected", Some(&other.access)).await;
    assert_error(response, StatusCode::UNAUTHORIZED, token_errors::REVOKED.0).await;
    assert_eq!(
        app.refresh(&other.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    let changed = emails_of(&app, 2, "password_changed", &user.email).await;
    assert_eq!(changed.len(), 1);
}

#[tokio::test]
async fn a_wrong_current_password_is_403_and_the_same_password_422() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;

    let response = change_password(
        &app,
        &tokens.access,
        json!({"current_password": "not it at all", "new_password": NEW_PASSWORD}),
    )
    .await;
    let body = assert_error(response, StatusCode::FORBIDDEN, "invalid_current_password").await;
    assert_eq!(body["message"], "The current password is incorrect.");

    let response = change_password(
        &app,
        &tokens.access,
        json!({"current_password": PASSWORD, "new_password": PASSWORD}),
    )
    .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert!(body["errors"]["new_password"].is_array(), "{body}");

    let response = change_password(
        &app,
        &tokens.access,
        json!({"current_password": PASSWORD, "new_password": "short"}),
    )
    .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    // Without a token: 401.
    let response = app
        .post_json(
            "/users/me/password",
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Nothing changed.
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_current_passwords_count_as_failed_logins() {
    let app = spawn_app_with(|settings| {
        settings.set("RATE_LIMITS", "on");
    })
    .await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    for _ in 0..5 {
        let response = change_password(
            &app,
            &tokens.access,
            json!({"current_password": "not it at all", "new_password": NEW_PASSWORD}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    // The account is throttled now: the right password gets 429 too, and
    // so does a login.
    let response = change_password(
        &app,
        &tokens.access,
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    let response = assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(response["message"], "Too many requests. Try again later.");
    let response = app.login(&user.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
}
