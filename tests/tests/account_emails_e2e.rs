#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Account emails end to end: the built `api-server` and
//! `email-worker` binaries as real processes, real PostgreSQL and Redis, and
//! a fake Mailgun on loopback. Every token and code a test uses is read out
//! of an email as it reached Mailgun (the whole path: API transaction,
//! outbox, relay, Redis stream, worker, templates, Mailgun's HTTP API), not
//! out of the outbox.
//!
//! Needs `cargo build --bins` first (scripts/test.sh does it).

use std::time::Duration;

use integration_tests::PASSWORD;
use integration_tests::deployment::{ApiProcess, Deployment, unique_tag, wait_until};
use integration_tests::fake_mailgun::{FakeMailgun, Received};
use integration_tests::processes::Process;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Bound on waiting for an email: generous, the usual wait is well under
/// a second.
const DELIVERY_LIMIT: Duration = Duration::from_secs(60);
/// Where the links in the emails must point.
const APP_URL: &str = "https://app.e2e.test";
const NEW_PASSWORD: &str = "a brand new passphrase";

const WELCOME: &str = "Successfully signed up";
const RESET: &str = "Reset your password";
const CHANGED: &str = "Your password was changed";
const CONFIRM_CHANGE: &str = "Confirm your new email address";
const CHANGING: &str = "Your email address is changing";

const FORGOT_MESSAGE: &str =
    "If an account uses that address, a password reset email is on its way.";

/// An API and a worker on a deployment of their own, and the fake Mailgun
/// the worker sends through.
struct Stack {
    deployment: Deployment,
    mailgun: FakeMailgun,
    api: ApiProcess,
    _worker: Process,
}

async fn stack() -> Stack {
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    let api = deployment
        .start_api("api", |vars| {
            vars.insert("PUBLIC_APP_URL", APP_URL.to_owned());
            vars.insert("RATE_LIMITS", "off".to_owned());
        })
        .await;
    let worker = deployment.start_worker("worker", &mailgun, |_| {});
    Stack {
        deployment,
        mailgun,
        api,
        _worker: worker,
    }
}

impl Stack {
    /// `POST path` with a JSON body (and a bearer token): the status and
    /// the JSON answer.
    async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> (StatusCode, Value) {
        let request = self.api.client.post(self.api.url(path)).json(body);
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        answer(request.send().await.expect("the API answered")).await
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let request = self.api.client.get(self.api.url(path)).bearer_auth(token);
        answer(request.send().await.expect("the API answered")).await
    }

    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.post(
            "/login",
            &json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    /// The delivered emails to `to` with this subject, oldest first.
    fn delivered(&self, to: &str, subject: &str) -> Vec<Received> {
        self.mailgun
            .delivered()
            .into_iter()
            .filter(|email| email.to() == to && email.field("subject") == Some(subject))
            .collect()
    }

    /// Waits until `count` emails to `to` with this subject were delivered
    /// and returns the last one.
    async fn wait_for(&self, to: &str, subject: &str, count: usize) -> Received {
        wait_until(
            DELIVERY_LIMIT,
            &format!("{count} \"{subject}\" delivered to {to}"),
            || self.delivered(to, subject).len() >= count,
        )
        .await;
        self.delivered(to, subject).pop().unwrap()
    }

    /// Waits until nothing waits or runs between the outbox and Mailgun:
    /// an email that was going to be sent has been answered by then.
    async fn settle(&self) {
        let state = self.deployment.wait_until_settled(DELIVERY_LIMIT).await;
        assert!(state.settled(), "the queue never drained: {state:?}");
        assert_eq!(state.dead, 0, "dead letters: {state:?}");
    }
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn text_of(email: &Received) -> &str {
    email.field("text").unwrap_or_default()
}

fn html_of(email: &Received) -> &str {
    email.field("html").unwrap_or_default()
}

/// The token of the `{APP_URL}{page}#token=...` link in the text part: 32
/// random bytes, base64url without padding (43 characters).
fn link_token(email: &Received, page: &str) -> String {
    let text = text_of(email);
    let prefix = format!("{APP_URL}{page}#token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in the text part:\n{text}"))
        + prefix.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "not a 43-character token: {token:?}");
    // The HTML part links to the same page with the same token.
    assert!(
        html_of(email).contains(&format!("{prefix}{token}")),
        "the HTML part lacks the link:\n{}",
        html_of(email)
    );
    token
}

/// The 6 digits of the `Code: NNNNNN` line of the text part.
fn code(email: &Received) -> String {
    let text = text_of(email);
    let line = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Code: "))
        .unwrap_or_else(|| panic!("no `Code: ` line in the text part:\n{text}"));
    let code = line.trim().to_owned();
    assert!(
        code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()),
        "not a 6-digit code: {code:?}"
    );
    code
}

fn access_of(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

fn refresh_of(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_code_verifies_and_a_delivered_reset_link_replaces_the_password() {
    let stack = stack().await;
    let tag = unique_tag();
    let email = format!("alice-{tag}@example.com");
    stack.api.register_ok(&format!("alice-{tag}"), &email).await;

    // a) The welcome email carries the verification link and code.
    let welcome = stack.wait_for(&email, WELCOME, 1).await;
    link_token(&welcome, "/verify-email");
    let welcome_code = code(&welcome);
    let (status, body) = stack
        .post(
            "/verify-email",
            &json!({"email": email, "code": welcome_code}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Email verified.", "{body}");
    assert_eq!(body["user"]["email"], email.as_str(), "{body}");
    assert_eq!(body["user"]["email_verified"], true, "{body}");

    // A session from before the reset.
    let (status, before) = stack.login(&email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{before}");

    // b) Forgot: 202, and the reset email is delivered.
    let (status, body) = stack
        .post("/password/forgot", &json!({"email": email}), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, json!({"message": FORGOT_MESSAGE}));
    let reset_email = stack.wait_for(&email, RESET, 1).await;
    let token = link_token(&reset_email, "/reset-password");
    code(&reset_email);

    // A second request within the minute sends nothing, and leaves the
    // first link working.
    let (status, again) = stack
        .post("/password/forgot", &json!({"email": email}), None)
        .await;
    assert_eq!((status, &again), (StatusCode::ACCEPTED, &body));
    // An unknown address: the same answer, and no email to it.
    let unknown = format!("nobody-{tag}@example.com");
    let (status, for_unknown) = stack
        .post("/password/forgot", &json!({"email": unknown}), None)
        .await;
    assert_eq!((status, &for_unknown), (StatusCode::ACCEPTED, &body));
    stack.settle().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.settle().await;
    assert_eq!(
        stack.delivered(&email, RESET).len(),
        1,
        "a second reset email within 60 s"
    );
    let to_unknown: Vec<_> = stack
        .mailgun
        .received()
        .into_iter()
        .filter(|request| request.to() == unknown)
        .collect();
    assert!(
        to_unknown.is_empty(),
        "email to an unknown address: {to_unknown:?}"
    );

    // The delivered token sets the new password.
    let (status, body) = stack
        .post(
            "/password/reset",
            &json!({"token": token, "password": NEW_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"message": "Password updated."}));
    // It worked once.
    let (status, body) = stack
        .post(
            "/password/reset",
            &json!({"token": token, "password": "yet another passphrase"}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_or_expired_token", "{body}");

    // Every token of the earlier session is dead.
    let (status, body) = stack
        .post("/refresh", &json!({}), Some(&refresh_of(&before)))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "old refresh token: {body}"
    );
    let (status, body) = stack.get("/protected", &access_of(&before)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "old access token: {body}");
    // Only the new password opens the account.
    let (status, body) = stack.login(&email, PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "old password: {body}");
    assert_eq!(body["error"], "invalid_credentials", "{body}");
    let (status, body) = stack.login(&email, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "new password: {body}");

    let changed = stack.wait_for(&email, CHANGED, 1).await;
    let text = text_of(&changed);
    assert!(text.contains("Hello,"), "{changed:?}");
    assert!(!text.contains(&format!("alice-{tag}")), "{changed:?}");

    // Still within the minute of the first send: nothing more.
    let (status, _) = stack
        .post("/password/forgot", &json!({"email": email}), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    stack.settle().await;
    assert_eq!(stack.delivered(&email, RESET).len(), 1);
    assert_eq!(stack.delivered(&email, CHANGED).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_is_confirmed_with_the_token_delivered_to_the_new_address() {
    let stack = stack().await;
    let tag = unique_tag();
    let old = format!("carol-{tag}@example.com");
    let new = format!("carol-new-{tag}@example.com");
    stack.api.register_ok(&format!("carol-{tag}"), &old).await;
    stack.wait_for(&old, WELCOME, 1).await;

    // c) A fresh access token asks for the change.
    let (status, tokens) = stack.login(&old, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, body) = stack
        .post(
            "/users/me/email",
            &json!({"new_email": new, "current_password": PASSWORD}),
            Some(&access_of(&tokens)),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"message": "Confirm the change from the new address."})
    );

    let confirm = stack.wait_for(&new, CONFIRM_CHANGE, 1).await;
    let token = link_token(&confirm, "/confirm-email-change");
    code(&confirm);
    assert!(text_of(&confirm).contains(&new), "{confirm:?}");
    let changing = stack.wait_for(&old, CHANGING, 1).await;
    assert!(text_of(&changing).contains(&new), "{changing:?}");
    // With the link that undoes the change.
    link_token(&changing, "/undo-email-change");
    // The old address gets no link that would complete the change.
    assert!(
        !text_of(&changing).contains(&token),
        "the confirmation token went to the old address"
    );

    let (status, body) = stack
        .post("/users/me/email/confirm", &json!({"token": token}), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Email address changed.", "{body}");
    assert_eq!(body["user"]["email"], new.as_str(), "{body}");
    assert_eq!(body["user"]["email_verified"], true, "{body}");

    let (status, body) = stack.login(&new, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "login with the new address: {body}");
    let (status, me) = stack.get("/users/me", &access_of(&body)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email"], new.as_str(), "{me}");
    let (status, body) = stack.login(&old, PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "login with the old address: {body}"
    );

    stack.settle().await;
    assert_eq!(stack.delivered(&new, CONFIRM_CHANGE).len(), 1);
    assert_eq!(stack.delivered(&old, CHANGING).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_never_reaches_the_reset_email_and_the_code_resets() {
    let stack = stack().await;
    let tag = unique_tag();
    let email = format!("eve-{tag}@example.com");
    stack.api.register_ok("<b>eve</b>", &email).await;
    stack.wait_for(&email, WELCOME, 1).await;

    let (status, body) = stack
        .post("/password/forgot", &json!({"email": email}), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let reset_email = stack.wait_for(&email, RESET, 1).await;

    // d) The address may be a stranger's: what its registrant chose
    //    appears nowhere in the email, escaped or not.
    let html = html_of(&reset_email);
    let text = text_of(&reset_email);
    for part in [&html, &text] {
        assert!(!part.contains("eve</b>"), "username in the email:\n{part}");
        assert!(!part.contains("eve&lt;"), "username in the email:\n{part}");
    }

    // The emailed code (with the address) works as well as the link, and
    // makes the never-verified address count as verified.
    let (status, body) = stack
        .post(
            "/password/reset",
            &json!({"email": email, "code": code(&reset_email), "password": NEW_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, tokens) = stack.login(&email, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, me) = stack.get("/users/me", &access_of(&tokens)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email_verified"], true, "{me}");

    let changed = stack.wait_for(&email, CHANGED, 1).await;
    for part in [html_of(&changed), text_of(&changed)] {
        assert!(
            !part.contains("eve</b>") && !part.contains("eve&lt;"),
            "{part}"
        );
    }
}
