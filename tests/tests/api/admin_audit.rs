//! `GET /admin/audit` on real PostgreSQL: admins only, the filters
//! (subject, type, time), keyset pages that visit each event once, and a
//! `422` naming each bad parameter. The events each flow writes are
//! checked in `audit_events`.

use integration_tests::{
    TestApp, assert_error, assert_token_rejected, json_body, spawn_app, token_errors,
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::mfa::enrolled;

/// Registers a user, makes it an admin and logs it in again.
pub(crate) async fn admin(app: &TestApp) -> String {
    let admin = app.register_user().await;
    app.make_admin(&admin.email).await;
    app.login_tokens(&admin).await.access
}

/// One page of `GET /admin/audit?{query}`, which must answer `200`.
pub(crate) async fn audit(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/admin/audit?{query}"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    json_body(response).await
}

pub(crate) fn events(page: &Value) -> &Vec<Value> {
    page["events"].as_array().expect("events")
}

pub(crate) fn types(page: &Value) -> Vec<&str> {
    events(page)
        .iter()
        .map(|event| event["type"].as_str().expect("type"))
        .collect()
}

#[tokio::test]
async fn only_admins_read_the_log_and_an_admin_with_totp_needs_aal2() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let response = app.get("/admin/audit", Some(&tokens.access)).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = app.get("/admin/audit", None).await;
    assert_token_rejected(response, token_errors::MISSING).await;

    // An admin whose token's login did not pass its TOTP.
    let enrolled = enrolled(&app).await;
    app.make_admin(&enrolled.user.email).await;
    let response = app
        .get("/admin/audit", Some(&enrolled.enabling.access))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "mfa_required").await;
}

#[tokio::test]
async fn user_id_type_since_and_until_filter_the_events() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let ada = app.register_user().await;
    let bob = app.register_user().await;
    app.login_tokens(&ada).await;
    let wrong = app.login(&ada.email, "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    app.login_tokens(&bob).await;

    let page = audit(&app, &token, &format!("user_id={}", ada.id)).await;
    assert_eq!(
        types(&page),
        [
            "user.login_failed",
            "user.login_succeeded",
            "user.registered"
        ]
    );
    for event in events(&page) {
        assert_eq!(event["subject_id"], ada.id, "{event}");
        assert_eq!(event["actor_id"], ada.id, "{event}");
    }
    let failed = &events(&page)[0];
    assert_eq!(failed["data"]["reason"], "invalid_credentials");
    assert!(failed["id"].is_i64() && failed["at"].as_str().unwrap().ends_with('Z'));

    let page = audit(
        &app,
        &token,
        &format!("user_id={}&type=user.login_succeeded", ada.id),
    )
    .await;
    assert_eq!(types(&page), ["user.login_succeeded"]);
    // A type alone: only that type, whoever the subject.
    let page = audit(&app, &token, "type=user.login_failed&limit=200").await;
    assert!(!events(&page).is_empty());
    assert!(types(&page).iter().all(|kind| *kind == "user.login_failed"));

    // since is inclusive, until exclusive: the failed login's own instant
    // splits ada's events.
    let at = failed["at"].as_str().unwrap().replace('+', "%2B");
    let page = audit(&app, &token, &format!("user_id={}&since={at}", ada.id)).await;
    assert_eq!(types(&page), ["user.login_failed"]);
    let page = audit(&app, &token, &format!("user_id={}&until={at}", ada.id)).await;
    assert_eq!(types(&page), ["user.login_succeeded", "user.registered"]);
    let page = audit(
        &app,
        &token,
        &format!(
            "user_id={}&since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00%2B02:00",
            ada.id
        ),
    )
    .await;
    assert!(events(&page).is_empty());
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn pages_visit_each_event_once_newest_first() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let user = app.register_user().await;
    for _ in 0..4 {
        app.login_tokens(&user).await;
        let wrong = app.login(&user.email, "not the password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // user.registered, then 4 logins and 4 failures: 9 events.
    let mut seen = Vec::new();
    let mut query = format!("user_id={}&limit=2", user.id);
    let mut pages = 0;
    loop {
        let page = audit(&app, &token, &query).await;
        pages += 1;
        let list = events(&page);
        assert!(list.len() <= 2);
        for event in list {
            seen.push((
                event["at"].as_str().unwrap().to_owned(),
                event["id"].as_i64().unwrap(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("user_id={}&limit=2&cursor={cursor}", user.id),
            None => break,
        }
    }
    assert!(pages >= 5, "{pages} pages");
    assert_eq!(seen.len(), 9, "{seen:?}");
    let mut newest_first = seen.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, newest_first);
    let all = audit(&app, &token, &format!("user_id={}&limit=200", user.id)).await;
    let ids: Vec<_> = events(&all)
        .iter()
        .map(|event| event["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, seen.iter().map(|(_, id)| *id).collect::<Vec<_>>());
}

#[tokio::test]
async fn each_bad_parameter_is_422_naming_it() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage!", "cursor"),
        ("cursor=AAAA", "cursor"),
        ("type=user.nothing", "type"),
        ("type=", "type"),
        ("since=yesterday", "since"),
        ("since=2026-12-01", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("user_id=ada", "user_id"),
        ("limit=1&limit=2", "query"),
    ] {
        let response = app
            .get(&format!("/admin/audit?{query}"), Some(&token))
            .await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(body["errors"][field].is_array(), "{query}: {body}");
    }
    for query in ["limit=1", "limit=200", "type=keys.generated", "user_id=0"] {
        audit(&app, &token, query).await;
    }
}
