//! Helpers for the hosted pages' tests (`tests/tests/api/pages.rs` and the
//! browser tests): the emailed links and codes, the plain forms, an email
//! change in progress.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{PASSWORD, TestApp, TestUser};

/// The policy every page answer carries, to the character.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// A queued email's link (under `field`) and code.
#[derive(Debug, Clone)]
pub struct Emailed {
    pub link: String,
    pub token: String,
    pub code: Option<String>,
}

impl Emailed {
    fn of(job: &Value, field: &str) -> Self {
        let link = job[field].as_str().expect("a link").to_owned();
        let token = link
            .split_once("#token=")
            .expect("the token in the fragment")
            .1
            .to_owned();
        Self {
            link,
            token,
            code: job["code"].as_str().map(str::to_owned),
        }
    }

    pub fn code(&self) -> &str {
        self.code.as_deref().expect("a code")
    }
}

/// A new, unused address.
pub fn fresh_address() -> String {
    format!(
        "new-{}@example.org",
        &Uuid::new_v4().simple().to_string()[..12]
    )
}

impl TestApp {
    /// POSTs `fields` as `application/x-www-form-urlencoded`, as a browser
    /// without JavaScript sends a form.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.request(Method::POST, path, None)
            .form(fields)
            .send()
            .await
            .expect("POST answered")
    }

    /// The newest queued email of `kind` to `to` (waiting for it), with its
    /// link under `field`.
    pub async fn emailed(&self, kind: &str, to: &str, field: &str) -> Emailed {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let jobs = self.email_jobs().await;
            if let Some(job) = jobs
                .iter()
                .rev()
                .find(|job| job["kind"] == kind && job["to"] == to)
            {
                return Emailed::of(job, field);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {kind} email to {to}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The welcome email's verification link and code.
    pub async fn welcome(&self, user: &TestUser) -> Emailed {
        self.emailed("welcome", &user.email, "verification_link")
            .await
    }

    /// Asks for a password reset of `user`; its link and code.
    pub async fn reset_email(&self, user: &TestUser) -> Emailed {
        let response = self
            .post_json("/password/forgot", &json!({ "email": user.email }))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        self.emailed("password_reset", &user.email, "link").await
    }

    /// Asks to move `user` to `new_email`; the confirmation sent to the new
    /// address and the undo link sent to the old one.
    pub async fn email_change(&self, user: &TestUser, new_email: &str) -> (Emailed, Emailed) {
        let tokens = self.login_tokens(user).await;
        let response = self
            .request(Method::POST, "/users/me/email", Some(&tokens.access))
            .json(&json!({ "new_email": new_email, "current_password": PASSWORD }))
            .send()
            .await
            .expect("POST answered");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let confirm = self
            .emailed("confirm_email_change", new_email, "link")
            .await;
        let undo = self
            .emailed("email_changing", &user.email, "undo_link")
            .await;
        (confirm, undo)
    }
}
