//! `GET /admin/users`: the admin user search and its keyset pages.

use std::collections::HashSet;

use chrono::Utc;
use domain::{TimeStep, TotpSecret};
use integration_tests::{
    PASSWORD, TestApp, TestUser, Tokens, assert_error, assert_token_rejected, json_body, spawn_app,
    token_errors,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Registers a user, makes it an admin and logs it in again.
async fn admin(app: &TestApp) -> String {
    let admin = app.register_user().await;
    app.make_admin(&admin.email).await;
    app.login_tokens(&admin).await.access
}

/// Registers `username` at `email`.
async fn register(app: &TestApp, username: &str, email: &str) -> TestUser {
    let response = app.register(username, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED, "register");
    TestUser {
        id: json_body(response).await["user"]["id"].as_i64().unwrap(),
        username: username.to_owned(),
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
    }
}

/// A tag no other test's users start with.
fn tag() -> String {
    Uuid::new_v4().simple().to_string()[..10].to_owned()
}

async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/admin/users?{query}"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    json_body(response).await
}

fn ids(page: &Value) -> Vec<i64> {
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_non_admin_is_forbidden_and_no_token_is_401() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let response = app.get("/admin/users", Some(&tokens.access)).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = app.get("/admin/users", None).await;
    assert_token_rejected(response, token_errors::MISSING).await;
}

#[tokio::test]
async fn an_admin_pages_through_every_match_exactly_once() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let tag = tag();
    let mut registered = Vec::new();
    for n in 0..7 {
        let user = register(
            &app,
            &format!("p{tag}{n}"),
            &format!("{tag}{n}@example.com"),
        )
        .await;
        registered.push(user.id);
    }
    let mut seen = Vec::new();
    let mut query = format!("query=P{tag}&limit=3");
    let mut pages = 0;
    loop {
        let page = search(&app, &token, &query).await;
        pages += 1;
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 3);
        seen.extend(page_ids);
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("query=p{tag}&limit=3&cursor={cursor}"),
            None => break,
        }
        assert!(pages < 10, "no end");
    }
    assert_eq!(seen, registered, "in id order, each once");
    assert_eq!(pages, 3);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 7);
}

#[tokio::test]
async fn the_query_matches_the_start_of_the_email_or_the_username() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let tag = tag();
    let by_name = register(&app, &format!("Name{tag}"), &format!("x{tag}@example.com")).await;
    let by_email = register(
        &app,
        &format!("other{tag}"),
        &format!("Mail{tag}@Example.com"),
    )
    .await;

    let page = search(&app, &token, &format!("query=name{tag}")).await;
    assert_eq!(ids(&page), [by_name.id]);
    assert_eq!(page["next_cursor"], Value::Null);
    let page = search(&app, &token, &format!("query=MAIL{tag}%40example")).await;
    assert_eq!(ids(&page), [by_email.id]);
    let user = &page["users"][0];
    assert_eq!(user["username"], format!("other{tag}"));
    assert_eq!(user["email"], format!("Mail{tag}@Example.com"));
    assert_eq!(user["role"], "user");
    assert_eq!(user["status"], "active");
    assert_eq!(user["banned_until"], Value::Null);
    assert_eq!(user["last_sign_in_at"], Value::Null);
    assert_eq!(user["mfa_enabled"], false);

    // A wildcard is a character, and only the start counts.
    let page = search(&app, &token, &format!("query=%25{tag}")).await;
    assert!(ids(&page).is_empty());
    let page = search(&app, &token, &format!("query={tag}")).await;
    assert!(ids(&page).is_empty());
}

#[tokio::test]
async fn a_login_sets_last_sign_in_at_and_totp_sets_mfa_enabled() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let tag = tag();
    let user = register(&app, &format!("t{tag}"), &format!("t{tag}@example.com")).await;
    let tokens = app.login_tokens(&user).await;
    let recovery = enable_totp(&app, &tokens).await;

    let page = search(&app, &token, &format!("query=t{tag}")).await;
    let row = &page["users"][0];
    assert_eq!(row["mfa_enabled"], true);
    let last = row["last_sign_in_at"].as_str().unwrap();
    let last = chrono::DateTime::parse_from_rfc3339(last).unwrap();
    assert!((Utc::now() - last.to_utc()).num_seconds() < 60, "{last}");

    // The same user as an admin: its aal1 token is not enough.
    app.make_admin(&user.email).await;
    let response = app.get("/admin/users", Some(&tokens.access)).await;
    assert_error(response, StatusCode::FORBIDDEN, "mfa_required").await;
    let answer = json_body(app.login(&user.email, &user.password).await).await;
    let response = app
        .post_json(
            "/login/mfa",
            &json!({"mfa_token": answer["mfa_token"], "recovery_code": recovery}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let aal2 = json_body(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    search(&app, &aal2, "limit=1").await;
}

/// Enrols and confirms TOTP for the session of `tokens`; one recovery code.
async fn enable_totp(app: &TestApp, tokens: &Tokens) -> String {
    let response = app
        .post_with_token("/users/me/mfa/totp", Some(&tokens.access))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let kit = json_body(response).await;
    let secret = totp_rs::Secret::try_from_base32(kit["secret"].as_str().unwrap()).unwrap();
    let secret = TotpSecret::from_slice(secret.as_ref()).unwrap();
    let code = secret.code_at(TimeStep::at(Utc::now()));
    let response = app
        .request(
            reqwest::Method::POST,
            "/users/me/mfa/totp/verify",
            Some(&tokens.access),
        )
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage!", "cursor"),
        ("cursor=AAAA", "cursor"),
        ("role=root", "role"),
        ("status=gone", "status"),
        ("limit=1&limit=2", "query"),
    ] {
        let response = app
            .get(&format!("/admin/users?{query}"), Some(&token))
            .await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(body["errors"][field].is_array(), "{query}: {body}");
    }
    for query in ["limit=1", "limit=200", "role=admin", "status=banned"] {
        search(&app, &token, query).await;
    }
}

#[tokio::test]
async fn the_parameters_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let spec = json_body(app.get("/openapi.json", None).await).await;
    let parameters = spec["paths"]["/admin/users"]["get"]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", spec["paths"]["/admin/users"]));
    let names: HashSet<_> = parameters
        .iter()
        .filter(|parameter| parameter["in"] == "query")
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["query", "role", "status", "limit", "cursor"])
    );
}
