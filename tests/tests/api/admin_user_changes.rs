//! The admin writes on `/admin/users*` (issue 23) on real PostgreSQL and
//! Redis: creating (with a password, or by invitation), updating, banning
//! (seen at once by a second instance) and unbanning, ending sessions,
//! resetting the second factor; the self-protection rules and the last
//! admin under a race; who may call them; and their audit events.

use std::time::Duration;

use chrono::Utc;
use integration_tests::{
    PASSWORD, TestApp, TestUser, Tokens, assert_error, assert_token_rejected, json_body, spawn_app,
    spawn_peer, token_errors,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::mfa::{enrolled, first_step};

/// A registered user made admin, with a fresh login.
async fn admin(app: &TestApp) -> (TestUser, Tokens) {
    let admin = app.register_user().await;
    app.make_admin(&admin.email).await;
    let tokens = app.login_tokens(&admin).await;
    (admin, tokens)
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let request = app.request(method, path, Some(token));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.expect("answered")
}

async fn ban(app: &TestApp, token: &str, id: i64, until: Value) -> Response {
    send(
        app,
        Method::POST,
        &format!("/admin/users/{id}/ban"),
        token,
        Some(json!({"until": until, "reason": "spam"})),
    )
    .await
}

async fn events(app: &TestApp, kind: &str, actor: i64, subject: i64) -> i64 {
    app.query_scalar(&format!(
        "SELECT count(*) AS value FROM audit_events WHERE type = '{kind}' \
         AND actor_id = {actor} AND subject_id = {subject} \
         AND session_id IS NOT NULL AND ip IS NOT NULL"
    ))
    .await
}

fn tag() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// The search's row of `user`.
async fn listed(app: &TestApp, token: &str, user: &TestUser) -> Value {
    let response = app
        .get(&format!("/admin/users?query={}", user.email), Some(token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await["users"][0].clone()
}

#[tokio::test]
async fn an_admin_creates_a_user_with_a_password_who_can_log_in() {
    let app = spawn_app().await;
    let (admin, tokens) = admin(&app).await;
    let email = format!("{}@example.com", tag());
    let response = send(
        &app,
        Method::POST,
        "/admin/users",
        &tokens.access,
        Some(
            json!({"username": "  grace ", "email": email, "password": PASSWORD,
                    "role": "admin", "email_verified": true}),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = json_body(response).await;
    let id = user["id"].as_i64().unwrap();
    let keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "email_verified",
            "id",
            "role",
            "username"
        ]
    );
    assert_eq!(user["username"], "grace");
    assert_eq!(user["role"], "admin");
    assert_eq!(user["email_verified"], true);
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);

    assert_eq!(events(&app, "admin.user_created", admin.id, id).await, 1);
    let leaked = app
        .query_scalar(&format!(
            "SELECT count(*) AS value FROM audit_events WHERE subject_id = {id} \
             AND (data::text LIKE '%{PASSWORD}%' OR data::text LIKE '%argon2%')"
        ))
        .await;
    assert_eq!(leaked, 0, "no password in the audit log");
}

#[tokio::test]
async fn creation_has_the_register_rules_and_conflict() {
    let app = spawn_app().await;
    let (_, tokens) = admin(&app).await;
    let response = send(
        &app,
        Method::POST,
        "/admin/users",
        &tokens.access,
        Some(json!({"username": "x", "email": "not an address", "password": "short", "role": "root"})),
    )
    .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    for field in ["username", "email", "password", "role"] {
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }
    let taken = app.register_user().await;
    let response = send(
        &app,
        Method::POST,
        "/admin/users",
        &tokens.access,
        Some(json!({"username": "other", "email": taken.email.to_uppercase()})),
    )
    .await;
    let body = assert_error(response, StatusCode::CONFLICT, "email_taken").await;
    assert_eq!(body["message"], "A user with that email already exists.");
}

#[tokio::test]
async fn an_invited_user_cannot_log_in_until_its_link_sets_a_password() {
    let app = spawn_app().await;
    let (_, tokens) = admin(&app).await;
    let email = format!("{}@example.com", tag());
    let response = send(
        &app,
        Method::POST,
        "/admin/users",
        &tokens.access,
        Some(json!({"username": "invited", "email": email})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = json_body(response).await["id"].as_i64().unwrap();
    for password in [PASSWORD, "", "anything at all"] {
        let response = app.login(&email, password).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let lifetime = app
        .query_scalar(&format!(
            "SELECT extract(epoch FROM expires_at - created_at)::bigint AS value \
             FROM one_time_secrets WHERE user_id = {id} AND purpose = 'reset_password'"
        ))
        .await;
    assert_eq!(lifetime, 7 * 24 * 3600);

    let jobs = app.wait_for_email_jobs(1, Duration::from_secs(10)).await;
    let invitation = jobs
        .iter()
        .find(|job| job["kind"] == "invitation" && job["to"] == email.as_str())
        .expect("an invitation");
    let link = invitation["link"].as_str().unwrap();
    let (page, token) = link.split_once("#token=").expect("a token in the fragment");
    assert!(page.ends_with("/reset-password"), "{link}");
    let response = app
        .post_json(
            "/password/reset",
            &json!({"token": token, "password": "a brand new password"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.login(&email, "a brand new password").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_updates_a_user_and_unknown_ids_are_404() {
    let app = spawn_app().await;
    let (admin, tokens) = admin(&app).await;
    let user = app.register_user().await;
    let path = format!("/admin/users/{}", user.id);
    let response = send(
        &app,
        Method::PATCH,
        &path,
        &tokens.access,
        Some(json!({"username": "renamed", "email_verified": true})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["username"], "renamed");
    assert_eq!(body["email_verified"], true);
    assert_eq!(body["role"], "user");
    assert_eq!(body["email"], user.email.as_str());
    assert_eq!(
        events(&app, "admin.user_updated", admin.id, user.id).await,
        1
    );

    let response = send(
        &app,
        Method::PATCH,
        &path,
        &tokens.access,
        Some(json!({"role": "boss"})),
    )
    .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    for path in ["/admin/users/999999", "/admin/users/abc"] {
        let response = send(&app, Method::PATCH, path, &tokens.access, Some(json!({}))).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = send(
        &app,
        Method::PATCH,
        "/admin/users/999999",
        &tokens.access,
        Some(json!({})),
    )
    .await;
    assert_error(response, StatusCode::NOT_FOUND, "user_not_found").await;
    for action in ["ban", "unban"] {
        let body = (action == "ban").then(|| json!({"until": null, "reason": "x"}));
        let response = send(
            &app,
            Method::POST,
            &format!("/admin/users/999999/{action}"),
            &tokens.access,
            body,
        )
        .await;
        assert_error(response, StatusCode::NOT_FOUND, "user_not_found").await;
    }
    for action in ["sessions", "mfa"] {
        let response = send(
            &app,
            Method::DELETE,
            &format!("/admin/users/999999/{action}"),
            &tokens.access,
            None,
        )
        .await;
        assert_error(response, StatusCode::NOT_FOUND, "user_not_found").await;
    }
}

#[tokio::test]
async fn an_admin_cannot_ban_or_demote_itself() {
    let app = spawn_app().await;
    let (admin, tokens) = admin(&app).await;
    // Another admin, so that "last admin" is not why.
    let _other = self::admin(&app).await;
    let response = ban(&app, &tokens.access, admin.id, Value::Null).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    let response = send(
        &app,
        Method::PATCH,
        &format!("/admin/users/{}", admin.id),
        &tokens.access,
        Some(json!({"role": "user"})),
    )
    .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    let response = app.get("/admin/users", Some(&tokens.access)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "still an admin, not banned"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let (a, a_tokens) = admin(&app).await;
    let (b, b_tokens) = admin(&app).await;
    for round in 0..5 {
        let (a_path, b_path) = (
            format!("/admin/users/{}", a.id),
            format!("/admin/users/{}", b.id),
        );
        let demote = Some(json!({"role": "user"}));
        let (first, second) = tokio::join!(
            send(
                &app,
                Method::PATCH,
                &b_path,
                &a_tokens.access,
                demote.clone()
            ),
            send(
                &app,
                Method::PATCH,
                &a_path,
                &b_tokens.access,
                demote.clone()
            ),
        );
        let mut statuses = [first.status(), second.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::UNPROCESSABLE_ENTITY],
            "round {round}"
        );
        let admins = app
            .query_scalar("SELECT count(*) AS value FROM users WHERE role = 'admin'")
            .await;
        assert_eq!(admins, 1, "round {round}");
        // Both admins again for the next round.
        app.make_admin(&a.email).await;
        app.make_admin(&b.email).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ban_kills_every_token_at_once_on_another_instance_and_refuses_logins() {
    let app = spawn_app().await;
    let peer = spawn_peer(&app, |_| {}).await;
    let (admin, tokens) = admin(&app).await;
    let user = app.register_user().await;
    let victim = app.login_tokens(&user).await;
    // Known good on the peer, and in its revocation cache.
    assert_eq!(
        peer.get("/protected", Some(&victim.access)).await.status(),
        StatusCode::OK
    );

    let response = ban(&app, &tokens.access, user.id, Value::Null).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "User banned."})
    );
    assert_token_rejected(
        peer.get("/protected", Some(&victim.access)).await,
        token_errors::REVOKED,
    )
    .await;
    assert_token_rejected(app.refresh(&victim.refresh).await, token_errors::REVOKED).await;

    let response = app.login(&user.email, &user.password).await;
    let body = assert_error(response, StatusCode::FORBIDDEN, "user_banned").await;
    assert_eq!(body["message"], "This account is suspended.");
    let response = peer.login(&user.email, "not the password").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let banned_logins = app
        .query_scalar(&format!(
            "SELECT count(*) AS value FROM audit_events WHERE type = 'user.login_failed' \
             AND subject_id = {} AND data->>'reason' = 'banned'",
            user.id
        ))
        .await;
    assert_eq!(banned_logins, 1);
    assert_eq!(
        events(&app, "admin.user_banned", admin.id, user.id).await,
        1
    );
    let reason = app
        .query_scalar(&format!(
            "SELECT count(*) AS value FROM audit_events WHERE type = 'admin.user_banned' \
             AND subject_id = {} AND data->>'reason' = 'spam' AND data->'until' = 'null'::jsonb",
            user.id
        ))
        .await;
    assert_eq!(reason, 1);

    let row = listed(&app, &tokens.access, &user).await;
    assert_eq!(row["status"], "banned");
    assert_eq!(row["banned_until"], Value::Null, "indefinite");

    let response = send(
        &app,
        Method::POST,
        &format!("/admin/users/{}/unban", user.id),
        &tokens.access,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "User unbanned."})
    );
    assert_eq!(
        events(&app, "admin.user_unbanned", admin.id, user.id).await,
        1
    );
    assert_token_rejected(
        app.get("/protected", Some(&victim.access)).await,
        token_errors::REVOKED,
    )
    .await;
    assert_token_rejected(app.refresh(&victim.refresh).await, token_errors::REVOKED).await;
    assert_eq!(
        listed(&app, &tokens.access, &user).await["status"],
        "active"
    );
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_ban_ends_by_itself_and_cannot_end_in_the_past() {
    let app = spawn_app().await;
    let (_, tokens) = admin(&app).await;
    let user = app.register_user().await;
    let past = (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let response = ban(&app, &tokens.access, user.id, json!(past)).await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert!(body["errors"]["until"].is_array(), "{body}");
    let response = ban(&app, &tokens.access, user.id, json!("tomorrow")).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;

    let until = Utc::now() + chrono::Duration::seconds(2);
    let response = ban(&app, &tokens.access, user.id, json!(until.to_rfc3339())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let row = listed(&app, &tokens.access, &user).await;
    assert_eq!(row["status"], "banned");
    assert!(row["banned_until"].is_string(), "{row}");
    let response = app.login(&user.email, &user.password).await;
    assert_error(response, StatusCode::FORBIDDEN, "user_banned").await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        listed(&app, &tokens.access, &user).await["status"],
        "active"
    );
}

#[tokio::test]
async fn an_admin_ends_every_session_of_a_user() {
    let app = spawn_app().await;
    let (admin, tokens) = admin(&app).await;
    let user = app.register_user().await;
    let one = app.login_tokens(&user).await;
    let two = app.login_tokens(&user).await;
    let response = send(
        &app,
        Method::DELETE,
        &format!("/admin/users/{}/sessions", user.id),
        &tokens.access,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["message"], "Sessions revoked.");
    assert_eq!(body["revoked"], 2);
    for tokens in [&one, &two] {
        assert_token_rejected(
            app.get("/protected", Some(&tokens.access)).await,
            token_errors::REVOKED,
        )
        .await;
        assert_token_rejected(app.refresh(&tokens.refresh).await, token_errors::REVOKED).await;
    }
    assert_eq!(
        events(&app, "admin.sessions_revoked", admin.id, user.id).await,
        1
    );
    // Not a ban: the user logs in again.
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_resets_the_second_factor_of_a_user() {
    let app = spawn_app().await;
    let (admin, tokens) = admin(&app).await;
    let enrolled = enrolled(&app).await;
    assert_eq!(first_step(&app, &enrolled.user).await["mfa_required"], true);
    let response = send(
        &app,
        Method::DELETE,
        &format!("/admin/users/{}/mfa", enrolled.user.id),
        &tokens.access,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "Two-factor authentication reset."})
    );
    let answer = first_step(&app, &enrolled.user).await;
    assert!(answer["access_token"].is_string(), "one step: {answer}");
    let codes = app
        .query_scalar(&format!(
            "SELECT count(*) AS value FROM recovery_codes WHERE user_id = {}",
            enrolled.user.id
        ))
        .await;
    assert_eq!(codes, 0);
    assert_eq!(
        events(&app, "admin.mfa_reset", admin.id, enrolled.user.id).await,
        1
    );
}

/// Every write: its method, path and body.
fn writes(id: i64) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            "/admin/users".to_owned(),
            Some(json!({"username": "someone", "email": format!("{}@example.com", tag())})),
        ),
        (
            Method::PATCH,
            format!("/admin/users/{id}"),
            Some(json!({"email_verified": true})),
        ),
        (
            Method::POST,
            format!("/admin/users/{id}/ban"),
            Some(json!({"until": null, "reason": "spam"})),
        ),
        (Method::POST, format!("/admin/users/{id}/unban"), None),
        (Method::DELETE, format!("/admin/users/{id}/sessions"), None),
        (Method::DELETE, format!("/admin/users/{id}/mfa"), None),
    ]
}

#[tokio::test]
async fn writes_need_an_admin_with_a_fresh_token_that_passed_its_totp() {
    let app = spawn_app().await;
    let target = app.register_user().await;

    let user = app.register_user().await;
    let user_tokens = app.login_tokens(&user).await;
    for (method, path, body) in writes(target.id) {
        let response = send(&app, method, &path, &user_tokens.access, body).await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }

    let (_, tokens) = admin(&app).await;
    let stale = app.refreshed_access(&tokens.refresh).await;
    for (method, path, body) in writes(target.id) {
        let response = send(&app, method, &path, &stale, body).await;
        assert_token_rejected(response, token_errors::NOT_FRESH).await;
    }

    // An admin with TOTP on, holding the aal1 session that enabled it.
    let enrolled = enrolled(&app).await;
    app.make_admin(&enrolled.user.email).await;
    for (method, path, body) in writes(target.id) {
        let response = send(&app, method, &path, &enrolled.enabling.access, body).await;
        assert_error(response, StatusCode::FORBIDDEN, "mfa_required").await;
    }
    let no_token = app
        .request(
            Method::DELETE,
            &format!("/admin/users/{}/mfa", target.id),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_token_rejected(no_token, token_errors::MISSING).await;
}

#[tokio::test]
async fn a_user_demoting_the_only_admin_is_just_not_an_admin() {
    let app = spawn_app().await;
    let (only_admin, _) = admin(&app).await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    // 403 like any other write of a non-admin: the last-admin rule (422)
    // would tell it who the only admin is.
    let response = send(
        &app,
        Method::PATCH,
        &format!("/admin/users/{}", only_admin.id),
        &tokens.access,
        Some(json!({"role": "user"})),
    )
    .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let admins = app
        .query_scalar("SELECT count(*) AS value FROM users WHERE role = 'admin'")
        .await;
    assert_eq!(admins, 1);
}
