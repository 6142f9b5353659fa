//! `POST /register`.

use std::time::Duration;

use futures_util::future::join_all;
use integration_tests::{PASSWORD, assert_error, json_body, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MISSING: &str = "Missing data for required field.";
const USERNAME_LENGTH: &str = "Username must be between 3 and 80 characters long.";
const USERNAME_CONTROL: &str = "Username must not contain control characters.";
const EMAIL_SYNTAX: &str = "Not a valid email address.";
const EMAIL_LENGTH: &str = "Email must be at most 254 characters long.";
const PASSWORD_LONG: &str = "Password must be at most 128 characters long.";

fn password_short(min: usize) -> String {
    format!("Password must be at least {min} characters long.")
}

/// A deliverable-looking address of exactly `chars` characters (at least
/// 80): a local part of at most 64 and domain labels of at most 63, as RFC
/// 5321 wants.
fn email_of_length(chars: usize) -> String {
    let local = "l".repeat(64);
    let mut domain = String::new();
    let mut left = chars - local.len() - 1 - ".com".len();
    for label in ['a', 'b', 'c', 'd'] {
        if left == 0 {
            break;
        }
        if !domain.is_empty() {
            domain.push('.');
            left -= 1;
        }
        let take = left.min(63);
        domain.push_str(&label.to_string().repeat(take));
        left -= take;
    }
    let email = format!("{local}@{domain}.com");
    assert_eq!(email.chars().count(), chars);
    email
}

#[tokio::test]
async fn register_returns_201_with_the_user_and_nothing_secret() {
    let app = spawn_app().await;

    let response = app
        .register("  Ada Lovelace ", " Ada.Lovelace@Example.com ", PASSWORD)
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json_body(response).await;
    assert_eq!(body["message"], "User created successfully.");
    let user = body["user"].as_object().expect("a user object");
    let mut keys: Vec<&str> = user.keys().map(String::as_str).collect();
    keys.sort_unstable();
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
    assert_eq!(user["email_verified"], false);
    assert!(user["id"].as_i64().is_some_and(|id| id > 0), "{body}");
    assert_eq!(user["username"], "Ada Lovelace", "trimmed");
    assert_eq!(
        user["email"], "Ada.Lovelace@Example.com",
        "trimmed, as typed"
    );
    assert_eq!(user["role"], "user");
    let created_at = user["created_at"].as_str().expect("a string");
    chrono::DateTime::parse_from_rfc3339(created_at).expect("RFC 3339");
    let text = body.to_string();
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(!text.contains("argon2") && !text.contains("hash"), "{text}");
}

#[tokio::test]
async fn an_email_in_another_case_or_with_spaces_is_taken() {
    let app = spawn_app().await;
    let first = app.register("ada", "ada@example.com", PASSWORD).await;
    assert_eq!(first.status(), StatusCode::CREATED);

    for email in ["ada@example.com", "ADA@Example.COM", "  ada@example.com  "] {
        let response = app.register("other", email, "another password").await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{email}");
        assert_eq!(
            json_body(response).await,
            json!({"message": "A user with that email already exists.", "error": "email_taken"}),
            "{email}"
        );
    }
}

fn valid_body() -> Value {
    json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD})
}

fn body_with(field: &str, value: Value) -> Value {
    let mut body = valid_body();
    body[field] = value;
    body
}

fn body_without(field: &str) -> Value {
    let mut body = valid_body();
    body.as_object_mut().unwrap().remove(field);
    body
}

/// Posts `body` to a fresh app: a 422 whose only field error is `message`
/// for `field`. The valid body then registers, so the 422 created nothing.
async fn assert_only_field_error(body: Value, field: &str, message: &str) {
    let app = spawn_app().await;
    let response = app.post_json("/register", &body).await;
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert_eq!(
        error["errors"],
        json!({field: [message]}),
        "{body}: {error}"
    );
    let response = app.post_json("/register", &valid_body()).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "nothing was created"
    );
}

/// A wrong JSON type names the field, whatever serde's exact wording.
async fn assert_wrong_type_names_the_field(field: &str, value: Value) {
    let app = spawn_app().await;
    let response = app
        .post_json("/register", &body_with(field, value.clone()))
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    let messages = body["errors"][field].as_array();
    assert!(
        messages.is_some_and(|m| !m.is_empty()),
        "{field} = {value}: {body}"
    );
}

#[tokio::test]
async fn a_username_under_3_characters_is_422() {
    assert_only_field_error(
        body_with("username", json!("ab")),
        "username",
        USERNAME_LENGTH,
    )
    .await;
}

#[tokio::test]
async fn a_username_under_3_characters_once_trimmed_is_422() {
    assert_only_field_error(
        body_with("username", json!("  ab   ")),
        "username",
        USERNAME_LENGTH,
    )
    .await;
}

#[tokio::test]
async fn a_username_over_80_characters_is_422() {
    assert_only_field_error(
        body_with("username", json!("u".repeat(81))),
        "username",
        USERNAME_LENGTH,
    )
    .await;
}

#[tokio::test]
async fn a_username_with_a_control_character_is_422() {
    assert_only_field_error(
        body_with("username", json!("ad\u{7}a")),
        "username",
        USERNAME_CONTROL,
    )
    .await;
}

#[tokio::test]
async fn a_username_with_a_newline_is_422() {
    assert_only_field_error(
        body_with("username", json!("ada\nlovelace")),
        "username",
        USERNAME_CONTROL,
    )
    .await;
}

#[tokio::test]
async fn an_email_without_an_at_sign_is_422() {
    assert_only_field_error(
        body_with("email", json!("not-an-email")),
        "email",
        EMAIL_SYNTAX,
    )
    .await;
}

#[tokio::test]
async fn an_email_without_a_domain_is_422() {
    assert_only_field_error(body_with("email", json!("ada@")), "email", EMAIL_SYNTAX).await;
}

#[tokio::test]
async fn an_email_with_a_display_name_is_422() {
    assert_only_field_error(
        body_with("email", json!("Ada <ada@example.com>")),
        "email",
        EMAIL_SYNTAX,
    )
    .await;
}

#[tokio::test]
async fn an_empty_email_is_422() {
    assert_only_field_error(body_with("email", json!("")), "email", EMAIL_SYNTAX).await;
}

#[tokio::test]
async fn an_email_over_254_characters_is_422() {
    assert_only_field_error(
        body_with("email", json!(email_of_length(255))),
        "email",
        EMAIL_LENGTH,
    )
    .await;
}

#[tokio::test]
async fn a_password_under_the_minimum_is_422() {
    assert_only_field_error(
        body_with("password", json!("seven77")),
        "password",
        &password_short(8),
    )
    .await;
}

#[tokio::test]
async fn a_password_over_128_characters_is_422() {
    assert_only_field_error(
        body_with("password", json!("p".repeat(129))),
        "password",
        PASSWORD_LONG,
    )
    .await;
}

#[tokio::test]
async fn a_missing_username_is_422() {
    assert_only_field_error(body_without("username"), "username", MISSING).await;
}

#[tokio::test]
async fn a_missing_email_is_422() {
    assert_only_field_error(body_without("email"), "email", MISSING).await;
}

#[tokio::test]
async fn a_missing_password_is_422() {
    assert_only_field_error(body_without("password"), "password", MISSING).await;
}

#[tokio::test]
async fn a_null_email_is_missing() {
    assert_only_field_error(body_with("email", Value::Null), "email", MISSING).await;
}

#[tokio::test]
async fn a_number_for_the_username_names_the_field() {
    assert_wrong_type_names_the_field("username", json!(5)).await;
}

#[tokio::test]
async fn an_array_for_the_email_names_the_field() {
    assert_wrong_type_names_the_field("email", json!(["ada@example.com"])).await;
}

#[tokio::test]
async fn an_object_for_the_password_names_the_field() {
    assert_wrong_type_names_the_field("password", json!({"plain": "text"})).await;
}

#[tokio::test]
async fn a_boolean_for_the_password_names_the_field() {
    assert_wrong_type_names_the_field("password", json!(true)).await;
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_422() {
    let app = spawn_app().await;
    let response = app.post_json("/register", &json!(["ada"])).await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert!(body["errors"].is_object(), "{body}");
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = spawn_app().await;
    let response = app
        .post_json("/register", &json!({"username": "a", "email": "x"}))
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert_eq!(
        body["errors"],
        json!({
            "username": [USERNAME_LENGTH],
            "email": [EMAIL_SYNTAX],
            "password": [MISSING],
        })
    );
}

#[tokio::test]
async fn values_at_the_limits_are_accepted() {
    let app = spawn_app().await;
    let longest = app
        .register(&"u".repeat(80), &email_of_length(254), &"p".repeat(128))
        .await;
    assert_eq!(longest.status(), StatusCode::CREATED);
    let shortest = app.register("abc", "a@b.io", "eight888").await;
    assert_eq!(shortest.status(), StatusCode::CREATED);
    // Characters, not bytes: three characters of three bytes each.
    let unicode = app
        .register("日本語", "nihon@example.com", "pässwörd")
        .await;
    assert_eq!(unicode.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_password_minimum_follows_password_min_length() {
    let app = spawn_app_with(|settings| {
        settings.set("PASSWORD_MIN_LENGTH", "12");
    })
    .await;

    let response = app.register("ada", "ada@example.com", "elevenchars").await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert_eq!(body["errors"], json!({"password": [password_short(12)]}));

    let response = app.register("ada", "ada@example.com", "twelve chars").await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_concurrent_registrations_of_one_email_have_one_winner() {
    let app = spawn_app_with(|settings| {
        settings.set("HTTP_WORKERS", "2");
    })
    .await;

    let attempts = (0..10).map(|n| {
        let app = &app;
        async move {
            // The same account, spelled differently by each racer.
            let email = if n % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@example.com"
            };
            let response = app.register(&format!("racer-{n}"), email, PASSWORD).await;
            let status = response.status();
            (status, json_body(response).await)
        }
    });
    let results = join_all(attempts).await;

    let winners: Vec<&Value> = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let losers = results
        .iter()
        .filter(|(status, body)| *status == StatusCode::CONFLICT && body["error"] == "email_taken")
        .count();
    assert_eq!(losers, 9, "{results:?}");

    // The winner's welcome email reaches the queue, and only the winner's.
    let winner = &winners[0]["user"];
    let jobs = app.wait_for_email_jobs(1, Duration::from_secs(10)).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["kind"], "welcome");
    assert_eq!(jobs[0]["to"], winner["email"]);
    // The welcome email names no one: the address is not proven yet.
    assert!(jobs[0].get("username").is_none(), "{jobs:?}");
}
