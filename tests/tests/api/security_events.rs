//! `GET /users/me/security-events` on real PostgreSQL: the events of
//! logins and of the second factor, newest first, pages that visit each
//! event once, only the caller's, and no address of an unknown account
//! stored in clear.

use integration_tests::{TestApp, assert_error, json_body, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::mfa::{enrolled, first_step, mfa_token, second_step, tokens_of};

async fn events(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app
        .get(&format!("/users/me/security-events{query}"), Some(token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

fn types(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn logins_and_the_second_factor_show_newest_first_with_their_reasons() {
    let app = spawn_app().await;
    // A login (user.login_succeeded) and TOTP turned on (mfa.enabled).
    let enrolled = enrolled(&app).await;
    let user = &enrolled.user;
    let wrong = app.login(&user.email, "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // A wrong second step, then one with a recovery code.
    let challenge = first_step(&app, user).await;
    let refused = second_step(
        &app,
        json!({ "mfa_token": mfa_token(&challenge), "code": "000000" }),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let challenge = first_step(&app, user).await;
    let signed_in = second_step(
        &app,
        json!({
            "mfa_token": mfa_token(&challenge),
            "recovery_code": enrolled.recovery_codes[0],
        }),
    )
    .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let tokens = tokens_of(&json_body(signed_in).await);

    let page = events(&app, &tokens.access, "").await;
    assert_eq!(
        types(&page),
        [
            "user.login_succeeded",
            "mfa.recovery_code_used",
            "user.login_failed",
            "user.login_failed",
            "mfa.enabled",
            "user.login_succeeded",
            "user.registered",
        ]
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let list = page["events"].as_array().unwrap();
    for event in list {
        assert_eq!(event["actor_id"], user.id, "{event}");
        assert_eq!(event["subject_id"], user.id, "{event}");
        assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
    }
    assert_eq!(list[0]["data"]["amr"], json!(["pwd", "rc"]));
    assert_eq!(list[1]["data"], json!({}));
    assert_eq!(list[2]["data"]["reason"], "mfa_failed");
    assert_eq!(list[3]["data"]["reason"], "invalid_credentials");
    assert_eq!(list[5]["data"]["amr"], json!(["pwd"]));
    // The session that turned TOTP on is named by its event and its login.
    assert_eq!(list[4]["session_id"], list[5]["session_id"]);
    assert!(list[5]["session_id"].is_string());
}

#[tokio::test]
async fn pages_visit_each_event_once_and_never_show_another_users() {
    let app = spawn_app().await;
    let ada = app.register_user().await;
    let bob = app.register_user().await;
    for _ in 0..3 {
        app.login_tokens(&bob).await;
        app.login_tokens(&ada).await;
    }
    let wrong = app.login(&bob.email, "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let tokens = app.login_tokens(&ada).await;

    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = events(&app, &tokens.access, &query).await;
        let list = page["events"].as_array().unwrap();
        assert!(list.len() <= 2);
        for event in list {
            assert_eq!(event["subject_id"], ada.id, "{event}");
            seen.push(event["id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        5,
        "ada's registration and four logins: {seen:?}"
    );
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "{seen:?}");
    let all = events(&app, &tokens.access, "?limit=200").await;
    let ids: Vec<_> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, seen, "pages follow one order");
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_422_naming_it() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=not-a-cursor", "cursor"),
    ] {
        let response = app
            .get(
                &format!("/users/me/security-events{query}"),
                Some(&tokens.access),
            )
            .await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(body["errors"][field].is_array(), "{query}: {body}");
    }
    let response = app.get("/users/me/security-events", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_failed_login_of_an_unknown_address_stores_no_address_in_clear() {
    let app = spawn_app().await;
    let address = format!("nobody-{}@example.io", uuid::Uuid::new_v4().simple());
    let response = app.login(&address, "whatever password").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let stored = app
        .query_scalar(
            "SELECT count(*) AS value FROM audit_events \
             WHERE type = 'user.login_failed' AND subject_id IS NULL AND actor_id IS NULL \
             AND data->>'reason' = 'invalid_credentials' \
             AND length(data->>'email_sha256') = 64",
        )
        .await;
    assert_eq!(stored, 1);
    let local = address.split('@').next().unwrap();
    let in_clear = app
        .query_scalar(&format!(
            "SELECT count(*) AS value FROM audit_events \
             WHERE data::text LIKE '%{local}%' OR user_agent LIKE '%{local}%'"
        ))
        .await;
    assert_eq!(in_clear, 0);
}
