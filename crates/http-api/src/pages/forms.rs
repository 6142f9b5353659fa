//! The plain forms of the pages, for browsers without JavaScript (or a
//! link without its fragment): `application/x-www-form-urlencoded` posts
//! to `{page}/form`, answered with an HTML outcome. They run the same use
//! cases as the JSON routes, under the same rate limits.

use actix_web::web::{Bytes, Data};
use domain::{Password, SecretProof};
use secrecy::{ExposeSecret, SecretString};

use super::outcome::Outcome;
use super::outcome::PASSWORDS_DIFFER;
use super::page::Page;
use crate::error::ApiError;
use crate::state::AppState;

/// The fields of a posted form. Values are secrets or addresses: none is
/// ever logged or shown back.
struct Form {
    email: String,
    code: String,
    token: String,
    password: SecretString,
    password_confirm: SecretString,
}

impl Form {
    fn parse(body: &[u8]) -> Self {
        let mut form = Form {
            email: String::new(),
            code: String::new(),
            token: String::new(),
            password: SecretString::from(String::new()),
            password_confirm: SecretString::from(String::new()),
        };
        for (name, value) in url::form_urlencoded::parse(body) {
            match name.as_ref() {
                "email" => form.email = value.trim().to_owned(),
                "code" => form.code = value.trim().to_owned(),
                "token" => form.token = value.trim().to_owned(),
                "password" => form.password = SecretString::from(value.into_owned()),
                "password_confirm" => {
                    form.password_confirm = SecretString::from(value.into_owned())
                }
                _ => {}
            }
        }
        form
    }

    /// The address and the code, both needed.
    fn code_proof(&self, email_label: &str) -> Result<SecretProof, Outcome> {
        if self.email.is_empty() || self.code.is_empty() {
            return Err(Outcome::invalid(format!(
                "Enter {email_label} and the 6-digit code from the email."
            )));
        }
        Ok(SecretProof::Code {
            email: self.email.clone(),
            code: self.code.clone(),
        })
    }

    /// The pasted token: the token alone, or the whole link holding it.
    fn token(&self) -> Option<String> {
        let pasted = self.token.as_str();
        let token = pasted
            .rsplit_once("token=")
            .map_or(pasted, |(_, token)| token)
            .trim();
        (!token.is_empty()).then(|| token.to_owned())
    }
}

fn settle<T, E>(page: Page, result: Result<T, E>) -> Outcome
where
    ApiError: From<E>,
{
    match result {
        Ok(_) => Outcome::success(page),
        Err(error) => Outcome::failed(page, &ApiError::from(error)),
    }
}

pub async fn verify_email(state: Data<AppState>, body: Bytes) -> Outcome {
    let page = Page::VerifyEmail;
    match Form::parse(&body).code_proof("your email address") {
        Ok(proof) => settle(page, state.verification.verify(proof).await),
        Err(outcome) => outcome,
    }
}

pub async fn confirm_email_change(state: Data<AppState>, body: Bytes) -> Outcome {
    let page = Page::ConfirmEmailChange;
    match Form::parse(&body).code_proof("your account's current email address") {
        Ok(proof) => settle(page, state.email_change.confirm(proof).await),
        Err(outcome) => outcome,
    }
}

pub async fn undo_email_change(state: Data<AppState>, body: Bytes) -> Outcome {
    let page = Page::UndoEmailChange;
    match Form::parse(&body).token() {
        Some(token) => settle(page, state.email_change.undo(token).await),
        None => Outcome::invalid("Paste the link or the token from the email."),
    }
}

pub async fn reset_password(state: Data<AppState>, body: Bytes) -> Outcome {
    let page = Page::ResetPassword;
    let form = Form::parse(&body);
    let proof = match form.code_proof("your email address") {
        Ok(proof) => proof,
        Err(outcome) => return outcome,
    };
    if form.password.expose_secret() != form.password_confirm.expose_secret() {
        return Outcome::invalid(PASSWORDS_DIFFER);
    }
    // The policy's own words, as the JSON route's 422 gives them.
    let password = match Password::parse(form.password.expose_secret(), state.password_policy) {
        Ok(password) => password,
        Err(refusal) => return Outcome::invalid(refusal.to_string()),
    };
    settle(page, state.password_reset.reset(proof, password).await)
}
