//! The audit events each flow writes, read back from `GET /admin/audit`
//! and `GET /users/me/security-events`: kind, actor, subject, data.

use std::time::Duration;

use integration_tests::{PASSWORD, TestApp, json_body, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin_audit::{admin, audit, events, types};

/// The token in the link of the newest queued email of `kind` to `to`.
async fn link_token(app: &TestApp, count: usize, kind: &str, to: &str, field: &str) -> String {
    let jobs = app
        .wait_for_email_jobs(count, Duration::from_secs(10))
        .await;
    let job = jobs
        .iter()
        .rev()
        .find(|job| job["kind"] == kind && job["to"] == to)
        .unwrap_or_else(|| panic!("no {kind} email to {to}: {jobs:?}"));
    let link = job[field].as_str().expect("a link");
    link.split_once("#token=").expect("a token").1.to_owned()
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Every event about `user_id`, newest first.
async fn about(app: &TestApp, admin: &str, user_id: i64) -> Value {
    audit(app, admin, &format!("user_id={user_id}&limit=200")).await
}

#[tokio::test]
async fn account_flows_write_their_events_with_the_user_as_actor_and_subject() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let user = app.register_user().await;
    // The welcome email's link verifies the address.
    let token = link_token(&app, 2, "welcome", &user.email, "verification_link").await;
    let response = app
        .post_json("/verify-email", &json!({ "token": token }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A password change, then a reset.
    let tokens = app.login_tokens(&user).await;
    let changed = "a changed passphrase";
    let response = post(
        &app,
        "/users/me/password",
        &tokens.access,
        json!({ "current_password": PASSWORD, "new_password": changed }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .post_json("/password/forgot", &json!({ "email": user.email }))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let token = link_token(&app, 4, "password_reset", &user.email, "link").await;
    let response = app
        .post_json(
            "/password/reset",
            &json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // An unknown address asks for a reset: nothing is written about it.
    let nobody = format!("nobody-{}@example.io", uuid::Uuid::new_v4().simple());
    let response = app
        .post_json("/password/forgot", &json!({ "email": nobody }))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let page = about(&app, &admin, user.id).await;
    assert_eq!(
        types(&page),
        [
            "user.password_reset",
            "user.password_reset_requested",
            "user.password_changed",
            "user.login_succeeded",
            "user.email_verified",
            "user.registered",
        ]
    );
    for event in events(&page) {
        assert_eq!(event["actor_id"], user.id, "{event}");
        assert_eq!(event["subject_id"], user.id, "{event}");
    }
    // The change names the session that made it, as its login does.
    let list = events(&page);
    assert_eq!(list[2]["session_id"], list[3]["session_id"]);
    // The registration has the client's address.
    assert!(list[5]["ip"].is_string(), "{}", list[5]);
    let local = nobody.split('@').next().unwrap();
    let in_clear = app
        .query_scalar(&format!(
            "SELECT count(*) AS value FROM audit_events WHERE data::text LIKE '%{local}%'"
        ))
        .await;
    assert_eq!(in_clear, 0);
}

#[tokio::test]
async fn an_email_change_its_confirmation_and_its_undo_are_written() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let new_email = format!("new-{}@example.org", uuid::Uuid::new_v4().simple());
    let response = post(
        &app,
        "/users/me/email",
        &tokens.access,
        json!({ "new_email": new_email, "current_password": PASSWORD }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    // Welcome (both users), the confirmation and the notice.
    let token = link_token(&app, 4, "confirm_email_change", &new_email, "link").await;
    let undo = link_token(&app, 4, "email_changing", &user.email, "undo_link").await;
    let response = app
        .post_json("/users/me/email/confirm", &json!({ "token": token }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .post_json("/email-change/undo", &json!({ "token": undo }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let page = about(&app, &admin, user.id).await;
    assert_eq!(
        types(&page),
        [
            "user.email_change_undone",
            "user.email_changed",
            "user.email_change_requested",
            "user.login_succeeded",
            "user.registered",
        ]
    );
    let list = events(&page);
    // The request and its confirmation name the session that asked.
    assert_eq!(list[2]["session_id"], list[3]["session_id"]);
    assert_eq!(list[1]["session_id"], list[3]["session_id"]);
    // No address in clear in any of them.
    for event in list {
        assert!(!event.to_string().contains(&new_email), "{event}");
        assert!(!event.to_string().contains(&user.email), "{event}");
    }
}

#[tokio::test]
async fn logouts_revocations_and_reuse_are_written_with_their_data() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    // Logout of this session, then of the others.
    let first = app.login_tokens(&user).await;
    assert_eq!(app.logout(&first.refresh).await.status(), StatusCode::OK);
    app.login_tokens(&user).await;
    let third = app.login_tokens(&user).await;
    let response = app.logout_scope(&third.refresh, "others").await;
    assert_eq!(response.status(), StatusCode::OK);
    // A session revoked by id.
    app.login_tokens(&user).await;
    let sessions = json_body(app.get("/users/me/sessions", Some(&third.access)).await).await;
    let other = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == false)
        .expect("the fourth session")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .delete(&format!("/users/me/sessions/{other}"), Some(&third.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A refresh token two rotations old: reuse, whatever the interval.
    let once = app.rotated(&third.refresh).await;
    let _twice = app.rotated(&once.refresh).await;
    let response = app.refresh(&third.refresh).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let me = app.login_tokens(&user).await;
    let page = json_body(
        app.get("/users/me/security-events?limit=200", Some(&me.access))
            .await,
    )
    .await;
    let list = events(&page);
    let find =
        |kind: &str| -> Vec<&Value> { list.iter().filter(|event| event["type"] == kind).collect() };
    let logouts = find("user.logged_out");
    assert_eq!(logouts.len(), 2, "{list:?}");
    assert_eq!(logouts[0]["data"], json!({ "scope": "others" }));
    assert_eq!(logouts[1]["data"], json!({ "scope": "local" }));
    let revoked = find("session.revoked");
    assert_eq!(revoked.len(), 1, "{list:?}");
    assert_eq!(revoked[0]["data"]["revoked_session_id"], other);
    assert_eq!(revoked[0]["actor_id"], user.id);
    let reuse = find("session.reuse_detected");
    assert_eq!(reuse.len(), 1, "{list:?}");
    assert_eq!(reuse[0]["actor_id"], Value::Null);
    assert_eq!(reuse[0]["subject_id"], user.id);
    assert_eq!(reuse[0]["data"]["presented_generation"], 0);
}

#[tokio::test]
async fn a_deletion_names_the_admin_as_actor_and_outlives_the_user() {
    let app = spawn_app().await;
    let admin_user = app.register_user().await;
    app.make_admin(&admin_user.email).await;
    let admin_token = app.login_tokens(&admin_user).await.access;
    let user = app.register_user().await;
    let response = app
        .delete(&format!("/users/{}", user.id), Some(&admin_token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Self-deletion: the user is its own actor.
    let own = app.register_user().await;
    let tokens = app.login_tokens(&own).await;
    let response = app
        .delete(&format!("/users/{}", own.id), Some(&tokens.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let page = audit(
        &app,
        &admin_token,
        &format!("user_id={}&type=user.deleted", user.id),
    )
    .await;
    let list = events(&page);
    assert_eq!(list.len(), 1, "{page}");
    assert_eq!(list[0]["actor_id"], admin_user.id);
    assert_eq!(list[0]["subject_id"], user.id);
    let page = audit(
        &app,
        &admin_token,
        &format!("user_id={}&type=user.deleted", own.id),
    )
    .await;
    assert_eq!(events(&page)[0]["actor_id"], own.id);
}
