//! v3 "An ended session cannot act": routes that change an account check
//! the token's session in PostgreSQL, not only in Redis, and revocation
//! marks that Redis could not take are written later by any instance.

use std::time::Duration;

use integration_tests::token_errors::REVOKED;
use integration_tests::{
    TestApp, Tokens, assert_token_rejected, json_body, jwt, spawn_app, spawn_peer,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// The bound (`docs/http-api.md#revocation`) for a queued mark to reach Redis once it answers.
const REPLAY_BOUND: Duration = Duration::from_secs(15);

fn sid(tokens: &Tokens) -> String {
    jwt::claims(&tokens.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post(app: &TestApp, path: &str, access: &str, body: Value) -> Response {
    app.request(Method::POST, path, Some(access))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Every account-changing route the token of `tokens` may call (on the
/// user's own account), each with a body it would accept.
async fn account_changes(app: &TestApp, user_id: i64, tokens: &Tokens) -> Vec<(String, Response)> {
    let access = tokens.access.as_str();
    let own = sid(tokens);
    let mut answers = Vec::new();
    let email = json!({
        "new_email": "elsewhere@example.com",
        "current_password": integration_tests::PASSWORD,
    });
    answers.push((
        "POST /users/me/email".to_owned(),
        post(app, "/users/me/email", access, email).await,
    ));
    let password = json!({
        "current_password": integration_tests::PASSWORD,
        "new_password": NEW_PASSWORD,
    });
    answers.push((
        "POST /users/me/password".to_owned(),
        post(app, "/users/me/password", access, password).await,
    ));
    for (method, path) in [
        (Method::GET, "/users/me/sessions".to_owned()),
        (Method::DELETE, format!("/users/me/sessions/{own}")),
        (Method::GET, format!("/users/{user_id}/sessions")),
        (Method::DELETE, format!("/users/{user_id}/sessions")),
        (Method::DELETE, format!("/users/{user_id}")),
        (Method::DELETE, format!("/user/{user_id}")),
    ] {
        let response = app
            .request(method.clone(), &path, Some(access))
            .send()
            .await
            .unwrap();
        answers.push((format!("{method} {path}"), response));
    }
    answers
}

/// The reset secret of `user`, read out of the reset email (which `app`'s
/// relay queued).
async fn reset_token(app: &TestApp, email: &str) -> String {
    let response = app
        .post_json("/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let jobs = app.wait_for_email_jobs(2, Duration::from_secs(10)).await;
    let job = jobs
        .iter()
        .find(|job| job["kind"] == "password_reset" && job["to"] == email)
        .expect("a reset email");
    let link = job["link"].as_str().unwrap();
    link.split_once("#token=").unwrap().1.to_owned()
}

async fn queued_marks(app: &TestApp) -> i64 {
    app.query_scalar("SELECT count(*) AS value FROM pending_revocation_marks")
        .await
}

/// The finding: a reset answered by an instance whose Redis could not take
/// the marks left the old session able to act on another instance. Now
/// the reset still succeeds, the old session cannot change the account at
/// once (PostgreSQL says it ended), and the other instance writes the
/// queued marks, so even `/protected` refuses it within 15 s.
#[tokio::test(flavor = "multi_thread")]
async fn a_reset_on_an_instance_without_redis_ends_the_old_session_on_every_instance() {
    let a = spawn_app().await;
    let b = spawn_peer(&a, |settings| {
        settings.redis_down();
    })
    .await;
    let user = a.register_user().await;
    let old = a.login_tokens(&user).await;
    // A second old session that only ever meets the ordinary token check:
    // nothing but the replay can write its marks.
    let idle = a.login_tokens(&user).await;
    // Known good on A, and in A's revocation cache.
    for tokens in [&old, &idle] {
        assert_eq!(
            a.get("/protected", Some(&tokens.access)).await.status(),
            StatusCode::OK
        );
    }

    let token = reset_token(&a, &user.email).await;
    let response = b
        .post_json(
            "/password/reset",
            &json!({ "token": token, "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "the reset stands");
    assert_eq!(
        json_body(response).await,
        json!({ "message": "Password updated." })
    );

    let email = json!({
        "new_email": "attacker@example.com",
        "current_password": integration_tests::PASSWORD,
    });
    assert_token_rejected(
        post(&a, "/users/me/email", &old.access, email).await,
        REVOKED,
    )
    .await;
    let password = json!({
        "current_password": integration_tests::PASSWORD,
        "new_password": "the attacker's choice",
    });
    assert_token_rejected(
        post(&a, "/users/me/password", &old.access, password).await,
        REVOKED,
    )
    .await;

    // A's replay writes the marks B could not: every token check refuses
    // the old sessions, and the queue empties.
    let deadline = tokio::time::Instant::now() + REPLAY_BOUND;
    let mut status = a.get("/protected", Some(&idle.access)).await.status();
    while status == StatusCode::OK && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = a.get("/protected", Some(&idle.access)).await.status();
    }
    for tokens in [&idle, &old] {
        assert_token_rejected(a.get("/protected", Some(&tokens.access)).await, REVOKED).await;
        assert_token_rejected(a.refresh(&tokens.refresh).await, REVOKED).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while queued_marks(&a).await > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(queued_marks(&a).await, 0, "written marks leave the queue");

    // The new password works, on either instance's answer.
    let renewed = integration_tests::TestUser {
        password: NEW_PASSWORD.to_owned(),
        ..user
    };
    a.login_tokens(&renewed).await;
}

/// A session ended in PostgreSQL with no mark in Redis (lost, or not
/// written yet): every account-changing route refuses its token, while
/// the ordinary token check, which reads Redis only, still lets it by
/// until the marks are written again.
#[tokio::test]
async fn account_routes_refuse_a_session_ended_only_in_postgres() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let ended = app
        .query_scalar(&format!(
            "WITH ended AS (UPDATE sessions SET revoked_at = now() WHERE id = '{}' RETURNING 1) \
             SELECT count(*) AS value FROM ended",
            sid(&tokens)
        ))
        .await;
    assert_eq!(ended, 1);

    // The ordinary token check pays no PostgreSQL read.
    assert_eq!(
        app.get("/protected", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/users/me", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );

    for (route, response) in account_changes(&app, user.id, &tokens).await {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");
        assert_token_rejected(response, REVOKED).await;
    }
    // Nothing changed: the account, its password and email are intact.
    let me = app
        .get("/users/me", Some(&app.login_tokens(&user).await.access))
        .await;
    assert_eq!(json_body(me).await["email"], user.email);

    // The refusal wrote the missing marks: now every check refuses it.
    assert_token_rejected(app.get("/protected", Some(&tokens.access)).await, REVOKED).await;
}

/// An expired session is no better than an ended one.
#[tokio::test]
async fn account_routes_refuse_a_session_expired_in_postgres() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    app.query_scalar(&format!(
        "WITH expired AS (UPDATE sessions SET expires_at = now() - interval '1 second' \
         WHERE id = '{}' RETURNING 1) SELECT count(*) AS value FROM expired",
        sid(&tokens)
    ))
    .await;
    assert_eq!(
        app.get("/protected", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    let response = app
        .delete(&format!("/users/{}", user.id), Some(&tokens.access))
        .await;
    assert_token_rejected(response, REVOKED).await;
    let response = app.get("/users/me/sessions", Some(&tokens.access)).await;
    assert_token_rejected(response, REVOKED).await;
}

/// A live session keeps every account route (the check refuses only what
/// PostgreSQL ended), and deleting the user queues no mark for long.
#[tokio::test]
async fn a_live_session_still_changes_its_account() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let response = app.get("/users/me/sessions", Some(&tokens.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .delete(&format!("/users/{}", user.id), Some(&tokens.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_token_rejected(app.get("/protected", Some(&tokens.access)).await, REVOKED).await;
    assert_eq!(
        queued_marks(&app).await,
        0,
        "the request took its written mark off the queue"
    );
}
