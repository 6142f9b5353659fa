//! `GET/DELETE /users/me/sessions[/{id}]`, `GET/DELETE /users/{id}/sessions`,
//! the client IP and user agent a session records, and the new-device email.

use std::time::Duration;

use integration_tests::token_errors::{NOT_FRESH, REVOKED};
use integration_tests::{
    TestApp, Tokens, assert_error, assert_token_rejected, json_body, jwt, spawn_app, spawn_app_with,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn login_as(app: &TestApp, email: &str, agent: &str, forwarded_for: Option<&str>) -> Tokens {
    let mut request = app
        .request(Method::POST, "/login", None)
        .header("User-Agent", agent)
        .json(&json!({"email": email, "password": integration_tests::PASSWORD}));
    if let Some(address) = forwarded_for {
        request = request.header("X-Forwarded-For", address);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

fn sid(tokens: &Tokens) -> String {
    jwt::claims(&tokens.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sessions(app: &TestApp, path: &str, access: &str) -> Vec<Value> {
    let response = app.get(path, Some(access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "an account route"
    );
    let body = json_body(response).await;
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    body["sessions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn my_sessions_lists_live_ones_newest_first_with_their_device() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let first = login_as(&app, &user.email, "Firefox/140", None).await;
    let second = login_as(&app, &user.email, "curl/8.5", None).await;
    let ended = login_as(&app, &user.email, "Old", None).await;
    assert_eq!(app.logout(&ended.refresh).await.status(), StatusCode::OK);

    let listed = sessions(&app, "/users/me/sessions", &first.access).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["id"], sid(&second));
    assert_eq!(listed[1]["id"], sid(&first));
    assert_eq!(listed[0]["current"], false);
    assert_eq!(listed[1]["current"], true);
    assert_eq!(listed[0]["user_agent"], "curl/8.5");
    assert_eq!(listed[1]["user_agent"], "Firefox/140");
    assert_eq!(listed[1]["ip"], "127.0.0.1");
    let mut keys: Vec<_> = listed[0].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "current",
            "expires_at",
            "id",
            "ip",
            "last_used_at",
            "user_agent"
        ]
    );
    // expires_at is the current refresh token's exp.
    let exp = jwt::claims(&first.refresh)["exp"].as_i64().unwrap();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(listed[1]["expires_at"].as_str().unwrap())
            .unwrap()
            .timestamp();
    assert_eq!(expires_at, exp);
    let rotated = app.rotated(&first.refresh).await;
    let listed = sessions(&app, "/users/me/sessions", &rotated.access).await;
    let exp = jwt::claims(&rotated.refresh)["exp"].as_i64().unwrap();
    let mine = listed.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(mine["expires_at"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        exp
    );
}

#[tokio::test]
async fn the_client_ip_comes_from_forwarded_for_only_behind_a_trusted_proxy() {
    let trusting = spawn_app_with(|settings| {
        settings.set("TRUSTED_PROXIES", "127.0.0.1/32");
    })
    .await;
    let user = trusting.register_user().await;
    let tokens = login_as(
        &trusting,
        &user.email,
        "ua",
        Some("198.51.100.7, 127.0.0.1"),
    )
    .await;
    let listed = sessions(&trusting, "/users/me/sessions", &tokens.access).await;
    assert_eq!(listed[0]["ip"], "198.51.100.7");

    let untrusting = spawn_app().await;
    let user = untrusting.register_user().await;
    let tokens = login_as(&untrusting, &user.email, "ua", Some("198.51.100.7")).await;
    let listed = sessions(&untrusting, "/users/me/sessions", &tokens.access).await;
    assert_eq!(
        listed[0]["ip"], "127.0.0.1",
        "a client's own header is ignored"
    );
}

#[tokio::test]
async fn revoking_one_of_my_sessions_kills_its_tokens_at_once() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let phone = app.login_tokens(&user).await;
    let laptop = app.login_tokens(&user).await;

    let path = format!("/users/me/sessions/{}", sid(&phone));
    let response = app.delete(&path, Some(&laptop.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        json_body(response).await,
        json!({"message": "Session revoked."})
    );
    assert_token_rejected(app.get("/protected", Some(&phone.access)).await, REVOKED).await;
    assert_token_rejected(app.refresh(&phone.refresh).await, REVOKED).await;
    assert_eq!(
        app.get("/protected", Some(&laptop.access)).await.status(),
        StatusCode::OK
    );
    // Once revoked, it is no longer one of my live sessions.
    let response = app.delete(&path, Some(&laptop.access)).await;
    assert_error(response, StatusCode::NOT_FOUND, "session_not_found").await;
}

#[tokio::test]
async fn unknown_malformed_and_foreign_session_ids_are_not_found() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let other = app.register_user().await;
    let mine = app.login_tokens(&user).await;
    let theirs = app.login_tokens(&other).await;

    for id in [
        "0123456789abcdef0123456789abcdef".to_owned(),
        "not-a-session".to_owned(),
        "x".repeat(500),
        sid(&theirs),
    ] {
        let response = app
            .delete(&format!("/users/me/sessions/{id}"), Some(&mine.access))
            .await;
        let body = assert_error(response, StatusCode::NOT_FOUND, "session_not_found").await;
        assert_eq!(body["message"], "Session not found.");
    }
    // The other user's session is untouched.
    assert_eq!(
        app.get("/protected", Some(&theirs.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoking_needs_a_fresh_token() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let stale = app.rotated(&tokens.refresh).await;
    let response = app
        .delete(
            &format!("/users/me/sessions/{}", sid(&tokens)),
            Some(&stale.access),
        )
        .await;
    assert_token_rejected(response, NOT_FRESH).await;
    let response = app
        .delete(&format!("/users/{}/sessions", user.id), Some(&stale.access))
        .await;
    assert_token_rejected(response, NOT_FRESH).await;
}

#[tokio::test]
async fn users_see_their_own_sessions_and_admins_everyones() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let other = app.register_user().await;
    let admin = app.register_user().await;
    app.make_admin(&admin.email).await;
    let tokens = app.login_tokens(&user).await;
    let admin_tokens = app.login_tokens(&admin).await;
    app.login_tokens(&other).await;

    let own = sessions(
        &app,
        &format!("/users/{}/sessions", user.id),
        &tokens.access,
    )
    .await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["current"], true);

    let response = app
        .get(
            &format!("/users/{}/sessions", other.id),
            Some(&tokens.access),
        )
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;

    let seen = sessions(
        &app,
        &format!("/users/{}/sessions", other.id),
        &admin_tokens.access,
    )
    .await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["current"], false);

    let response = app
        .get("/users/999999/sessions", Some(&admin_tokens.access))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "user_not_found").await;
    let response = app
        .get("/users/abc/sessions", Some(&admin_tokens.access))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn revoking_all_sessions_of_a_user_counts_them_and_includes_the_callers() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let admin = app.register_user().await;
    app.make_admin(&admin.email).await;
    let a = app.login_tokens(&user).await;
    let b = app.login_tokens(&user).await;
    let admin_tokens = app.login_tokens(&admin).await;

    let response = app
        .delete(
            &format!("/users/{}/sessions", user.id),
            Some(&admin_tokens.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "Sessions revoked.", "revoked": 2})
    );
    for tokens in [&a, &b] {
        assert_token_rejected(app.get("/protected", Some(&tokens.access)).await, REVOKED).await;
        assert_token_rejected(app.refresh(&tokens.refresh).await, REVOKED).await;
    }
    assert_eq!(
        app.get("/protected", Some(&admin_tokens.access))
            .await
            .status(),
        StatusCode::OK
    );

    // Self: the caller's own session dies too.
    let mine = app.login_tokens(&user).await;
    let response = app
        .delete(&format!("/users/{}/sessions", user.id), Some(&mine.access))
        .await;
    assert_eq!(
        json_body(response).await,
        json!({"message": "Sessions revoked.", "revoked": 1})
    );
    assert_token_rejected(app.get("/protected", Some(&mine.access)).await, REVOKED).await;
}

fn new_device_emails(jobs: &[Value]) -> Vec<&Value> {
    jobs.iter()
        .filter(|job| job["kind"] == "new_device_login")
        .collect()
}

#[tokio::test]
async fn a_login_from_a_new_device_sends_an_email_but_never_the_first_one() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let first = login_as(&app, &user.email, "Firefox/140", None).await;
    login_as(&app, &user.email, "Firefox/140", None).await;
    // Welcome only: the first login and a known device send nothing.
    let jobs = app.wait_for_email_jobs(1, Duration::from_secs(5)).await;
    assert!(new_device_emails(&jobs).is_empty(), "{jobs:?}");

    let stranger = login_as(&app, &user.email, "Evil/1.0 <script>", None).await;
    let jobs = app.wait_for_email_jobs(2, Duration::from_secs(10)).await;
    let alerts = new_device_emails(&jobs);
    assert_eq!(alerts.len(), 1, "{jobs:?}");
    let alert = alerts[0];
    assert_eq!(alert["to"], user.email);
    assert_eq!(alert["ip"], "127.0.0.1");
    assert_eq!(alert["user_agent"], "Evil/1.0 <script>");
    assert_eq!(alert["session_id"], sid(&stranger));
    assert_ne!(alert["session_id"], sid(&first));
}

#[tokio::test]
async fn new_device_emails_can_be_turned_off() {
    let app = spawn_app_with(|settings| {
        settings.set("NOTIFY_NEW_DEVICE_LOGIN", "false");
    })
    .await;
    let user = app.register_user().await;
    login_as(&app, &user.email, "A", None).await;
    login_as(&app, &user.email, "B", None).await;
    login_as(&app, &user.email, "C", None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs = app.email_jobs().await;
    assert!(new_device_emails(&jobs).is_empty(), "{jobs:?}");
    assert_eq!(app.outbox_len().await, 0);
}
