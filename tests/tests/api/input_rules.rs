//! What text the auth routes accept: hidden
//! characters never reach a `500`, email addresses are compared by one
//! normal form, internationalised domains work in either spelling.

use std::time::Duration;

use integration_tests::{PASSWORD, TestApp, assert_error, json_body, spawn_app};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const EMAIL_SYNTAX: &str = "Not a valid email address.";

/// One of each kind of character a text field must not smuggle in.
const HIDDEN: [(&str, char); 14] = [
    ("NUL", '\u{0}'),
    ("escape (C0)", '\u{1b}'),
    ("delete", '\u{7f}'),
    ("next line (C1)", '\u{85}'),
    ("control sequence introducer (C1)", '\u{9b}'),
    ("right-to-left override", '\u{202E}'),
    ("first strong isolate", '\u{2068}'),
    ("right-to-left mark", '\u{200F}'),
    ("zero width space", '\u{200B}'),
    ("byte order mark", '\u{FEFF}'),
    ("line separator", '\u{2028}'),
    ("paragraph separator", '\u{2029}'),
    ("left-to-right embedding", '\u{202A}'),
    ("arabic letter mark", '\u{061C}'),
];

/// `valid` with `hidden` inserted after its first character, where no
/// trimming can remove it.
fn smuggle(valid: &str, hidden: char) -> String {
    let mut chars = valid.chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    format!("{first}{hidden}{}", chars.as_str())
}

/// A clean rejection: `401 invalid_credentials` or `422 validation_error`,
/// in the error envelope; never a `500`.
async fn assert_clean_rejection(response: Response, case: &str) -> Value {
    let status = response.status();
    let body = json_body(response).await;
    let code = match status {
        StatusCode::UNAUTHORIZED => "invalid_credentials",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_error",
        other => panic!("{case}: {other} {body}"),
    };
    assert_eq!(body["error"], code, "{case}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}: {body}"
    );
    body
}

/// Registers with `field` set to a valid value holding each hidden
/// character: always a 422 naming that field alone.
async fn register_refuses_hidden_characters_in(field: &str, valid: &str) {
    let app = spawn_app().await;
    for (name, hidden) in HIDDEN {
        let mut body = json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD});
        body[field] = json!(smuggle(valid, hidden));
        let response = app.post_json("/register", &body).await;
        let case = format!("{field} with {name}");
        let error = assert_clean_rejection(response, &case).await;
        let fields: Vec<&String> = error["errors"]
            .as_object()
            .map(|errors| errors.keys().collect())
            .unwrap_or_default();
        assert_eq!(fields, [field], "{case}: {error}");
    }
    // Nothing above created the account.
    let response = app.register("ada", "ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn register_refuses_hidden_characters_in_the_username() {
    register_refuses_hidden_characters_in("username", "ada lovelace").await;
}

#[tokio::test]
async fn register_refuses_hidden_characters_in_the_email() {
    register_refuses_hidden_characters_in("email", "ada@example.com").await;
}

#[tokio::test]
async fn register_refuses_hidden_characters_in_the_password() {
    register_refuses_hidden_characters_in("password", PASSWORD).await;
}

/// Logs in as a registered user with `field` holding each hidden
/// character: always refused cleanly, never a token and never a 500.
async fn login_refuses_hidden_characters_in(field: &str) {
    let app = spawn_app().await;
    let user = app.register_user().await;
    for (name, hidden) in HIDDEN {
        let (email, password) = match field {
            "email" => (smuggle(&user.email, hidden), user.password.clone()),
            _ => (user.email.clone(), smuggle(&user.password, hidden)),
        };
        let response = app.login(&email, &password).await;
        assert_clean_rejection(response, &format!("login {field} with {name}")).await;
    }
    // The account itself still logs in.
    let response = app.login(&user.email, &user.password).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// Fails until the application layer refuses a NUL in the login email
/// before it reaches PostgreSQL (see hostile_input.rs).
#[tokio::test]
async fn login_refuses_hidden_characters_in_the_email() {
    login_refuses_hidden_characters_in("email").await;
}

#[tokio::test]
async fn login_refuses_hidden_characters_in_the_password() {
    login_refuses_hidden_characters_in("password").await;
}

#[tokio::test]
async fn quoted_local_parts_are_refused() {
    let app = spawn_app().await;
    for email in [
        r#""a,b <x@evil>"@example.com"#,
        r#""ada"@example.com"#,
        r#""a b"@example.com"#,
    ] {
        let response = app.register("ada", email, PASSWORD).await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert_eq!(body["errors"], json!({"email": [EMAIL_SYNTAX]}), "{email}");
    }
}

async fn register_created(app: &TestApp, username: &str, email: &str) -> Value {
    let response = app.register(username, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{email}");
    json_body(response).await
}

async fn assert_email_taken(app: &TestApp, email: &str) {
    let response = app.register("someone else", email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CONFLICT, "{email}");
    assert_eq!(
        json_body(response).await,
        json!({"message": "A user with that email already exists.", "error": "email_taken"}),
        "{email}"
    );
}

#[tokio::test]
async fn a_kelvin_sign_k_is_the_same_account_as_k() {
    let app = spawn_app().await;
    // U+212A KELVIN SIGN looks like K and lower-cases to k.
    let body = register_created(&app, "kate", "\u{212A}ate@example.com").await;
    assert_eq!(body["user"]["email"], "Kate@example.com", "stored in NFC");

    assert_email_taken(&app, "kate@example.com").await;
    assert_email_taken(&app, "KATE@example.com").await;
    let response = app.login("kate@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK, "one account");
}

#[tokio::test]
async fn a_composed_and_a_decomposed_accent_are_the_same_account() {
    let app = spawn_app().await;
    // é as one code point, then as e + COMBINING ACUTE ACCENT.
    register_created(&app, "josé", "jos\u{e9}@example.com").await;
    assert_email_taken(&app, "jose\u{301}@example.com").await;
    let response = app.login("JOSE\u{301}@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_idn_domain_registers_and_logs_in_with_either_spelling() {
    let app = spawn_app().await;
    let body = register_created(&app, "ada", "Ada@München.de").await;
    assert_eq!(body["user"]["email"], "Ada@münchen.de");

    for spelling in [
        "ada@münchen.de",
        "ADA@MÜNCHEN.DE",
        "ada@xn--mnchen-3ya.de",
        "ada@XN--MNCHEN-3YA.DE",
    ] {
        let response = app.login(spelling, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{spelling}");
    }
    assert_email_taken(&app, "ada@xn--mnchen-3ya.de").await;

    // The welcome email goes to the readable Unicode domain, the form
    // Mailgun takes for internationalised domains.
    let jobs = app.wait_for_email_jobs(1, Duration::from_secs(10)).await;
    assert_eq!(jobs[0]["to"], "Ada@münchen.de", "{jobs:?}");
}

#[tokio::test]
async fn a_punycode_domain_registers_and_logs_in_with_the_unicode_spelling() {
    let app = spawn_app().await;
    let body = register_created(&app, "ada", "ada@xn--mnchen-3ya.de").await;
    assert_eq!(body["user"]["email"], "ada@münchen.de", "readable form");

    let response = app.login("ada@münchen.de", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_email_taken(&app, "ADA@München.de").await;
}
