//! What a plain form's answer says: a status and a sentence, never the
//! API's codes and never anything the form sent.

use actix_web::ResponseError;
use actix_web::http::StatusCode;

use super::page::Page;
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

pub const INVALID_OR_EXPIRED: &str =
    "This link or code is invalid or has expired. Ask for a new email and try again.";
pub const RATE_LIMITED: &str = "Too many attempts. Wait a few minutes, then try again.";
pub const UNAVAILABLE: &str = "The service is unavailable right now. Please try again in a minute.";
pub const FAILED: &str = "Something went wrong on our side. Please try again later.";
pub const PASSWORDS_DIFFER: &str = "The two passwords do not match. Type the same password twice.";

impl Outcome {
    pub fn success(page: Page) -> Self {
        let message = match page {
            Page::VerifyEmail => "Your email address is confirmed. You can close this page.",
            Page::ResetPassword => {
                "Your password was changed. Every session has been ended; log in with the new password."
            }
            Page::ConfirmEmailChange => {
                "Your email address is changed. Log in with the new address from now on."
            }
            Page::UndoEmailChange => {
                "The change is undone: your account uses its previous email address again. \
                 Every session has been ended; log in again, and change your password if you \
                 did not ask for the change."
            }
        };
        Self {
            status: StatusCode::OK,
            title: "Done",
            message: message.to_owned(),
        }
    }

    /// A form the server cannot use (a field missing, the passwords
    /// differ, a password the policy refuses): `422` with what to fix.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: "Please check the form",
            message: message.into(),
        }
    }

    /// Over a rate limit (the limits answer before the form is read).
    pub fn rate_limited() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            title: "Too many attempts",
            message: RATE_LIMITED.to_owned(),
        }
    }

    /// A refusal or failure of the use case, in words. Its cause is logged
    /// as the JSON routes log it (5xx and unavailable dependencies).
    pub fn failed(page: Page, error: &ApiError) -> Self {
        // Logs as the JSON answer would; its body is not used.
        let status = error.error_response().status();
        let (code, fields) = error.code_and_fields();
        let message = match (status, code) {
            (_, "invalid_or_expired_token") => INVALID_OR_EXPIRED.to_owned(),
            (_, "email_taken") => match page {
                Page::UndoEmailChange => {
                    "Another account now uses your previous address, so the change could not be undone."
                }
                _ => "Another account now uses the new address, so your address was not changed.",
            }
            .to_owned(),
            (StatusCode::TOO_MANY_REQUESTS, _) => RATE_LIMITED.to_owned(),
            (StatusCode::UNPROCESSABLE_ENTITY, _) => fields
                .map(|fields| fields.into_values().flatten().collect::<Vec<_>>().join(" "))
                .filter(|message| !message.is_empty())
                .unwrap_or_else(|| "Please check the form and try again.".to_owned()),
            (StatusCode::SERVICE_UNAVAILABLE, _) => UNAVAILABLE.to_owned(),
            _ => FAILED.to_owned(),
        };
        Self {
            status,
            title: if status.is_client_error() {
                "That did not work"
            } else {
                "Something went wrong"
            },
            message,
        }
    }
}
