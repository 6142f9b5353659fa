//! Login side: control characters in the login email
//! never reach PostgreSQL; the answer is the usual `401`, never a `500`.

use integration_tests::{assert_error, spawn_app};
use reqwest::StatusCode;

#[tokio::test]
async fn a_nul_or_control_character_in_the_login_email_is_invalid_credentials() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let with_nul = format!("{}\u{0}", user.email);
    let cases = [
        with_nul.as_str(),
        "\u{0}",
        "ada\u{0}@example.com",
        "ada\u{7}@example.com",
        "ada@example.com\u{1b}",
        "ada\u{85}@example.com",
    ];
    for email in cases {
        let response = app.login(email, &user.password).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

/// The control for the cases above: the same account logs in normally.
#[tokio::test]
async fn the_same_account_logs_in_without_the_control_character() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let response = app.login(&user.email, &user.password).await;
    assert_eq!(response.status(), StatusCode::OK);
}
