//! What a failure means for the client, and the one place each meaning
//! becomes a status, an `error` code and a message.

use actix_web::http::StatusCode;
use application::{Dependency, DependencyError, RateLimited};
use domain::TokenRejection;

/// An error the HTTP edge can answer: each use-case error says once, in
/// `use_case_errors.rs`, what each of its variants means for the client.
/// Any such error converts into [`crate::ApiError`] with `?`.
pub trait HttpMeaning: std::error::Error + Send + Sync + 'static {
    /// What failed, for the log line: `"login failed: ..."`.
    const OPERATION: &'static str;

    fn meaning(&self) -> Meaning;
}

/// What the client is told about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The token is missing or refused: `401`.
    Token(TokenRejection),
    /// A dependency is down: `503` with `Retry-After`.
    Unavailable(Dependency),
    InvalidCredentials,
    EmailTaken,
    Forbidden,
    UserNotFound,
    SessionNotFound,
    RefreshTokenReused,
    InvalidOrExpiredSecret,
    EmailNotVerified,
    /// The right password of an account an admin banned: `403`.
    UserBanned,
    InvalidCurrentPassword,
    /// An `aal1` token of a user with a second factor, on a route that
    /// changes the account: `403 mfa_required`.
    SecondFactorRequired,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    /// The store refused text the validation let through: `422` on the
    /// whole body.
    UnstorableInput,
    /// A schema-valid value the rules refuse: `422` naming the field.
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    /// Over a limit: `429` with `Retry-After` and the RateLimit headers.
    RateLimited(RateLimited),
    /// Anything else: `500`, and the whole cause in the log.
    Internal,
}

pub(crate) const INTERNAL_MESSAGE: &str = "Internal server error.";

impl Meaning {
    /// `503` when the dependency is down, else `500`.
    pub fn of_dependency(error: &DependencyError) -> Self {
        if error.is_unavailable() {
            Meaning::Unavailable(error.dependency())
        } else {
            Meaning::Internal
        }
    }

    /// The status, the `error` code and the message of the envelope.
    pub fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Meaning::Token(rejection) => {
                let (code, message) = token_rejection(rejection);
                (S::UNAUTHORIZED, code, message)
            }
            Meaning::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "The service is temporarily unavailable. Please retry later.",
            ),
            Meaning::InvalidCredentials => (
                S::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid credentials.",
            ),
            Meaning::EmailTaken => (
                S::CONFLICT,
                "email_taken",
                "A user with that email already exists.",
            ),
            Meaning::Forbidden => (
                S::FORBIDDEN,
                "forbidden",
                "You do not have permission to access this resource.",
            ),
            Meaning::UserNotFound => (S::NOT_FOUND, "user_not_found", "User not found."),
            Meaning::SessionNotFound => (S::NOT_FOUND, "session_not_found", "Session not found."),
            Meaning::RefreshTokenReused => (
                S::UNAUTHORIZED,
                "refresh_token_reused",
                "The refresh token was already used; the session has been revoked.",
            ),
            Meaning::InvalidOrExpiredSecret => (
                S::BAD_REQUEST,
                "invalid_or_expired_token",
                "The link or code is invalid or has expired.",
            ),
            Meaning::EmailNotVerified => (
                S::FORBIDDEN,
                "email_not_verified",
                "Confirm your email address first; a new email is on its way.",
            ),
            Meaning::UserBanned => (S::FORBIDDEN, "user_banned", "This account is suspended."),
            Meaning::InvalidCurrentPassword => (
                S::FORBIDDEN,
                "invalid_current_password",
                "The current password is incorrect.",
            ),
            Meaning::SecondFactorRequired => (
                S::FORBIDDEN,
                "mfa_required",
                "This action needs two-factor authentication.",
            ),
            Meaning::MfaAlreadyEnabled => (
                S::CONFLICT,
                "mfa_already_enabled",
                "Two-factor authentication is already enabled.",
            ),
            Meaning::MfaNotEnabled => (
                S::CONFLICT,
                "mfa_not_enabled",
                "Two-factor authentication is not enabled.",
            ),
            Meaning::UnstorableInput | Meaning::Invalid { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "validation_error",
                "The request body failed validation.",
            ),
            Meaning::RateLimited(_) => (
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests. Try again later.",
            ),
            Meaning::Internal => (S::INTERNAL_SERVER_ERROR, "internal_error", INTERNAL_MESSAGE),
        }
    }
}

fn token_rejection(rejection: TokenRejection) -> (&'static str, &'static str) {
    match rejection {
        TokenRejection::Missing => (
            "authorization_required",
            "Request does not contain an access token.",
        ),
        TokenRejection::Invalid => ("invalid_token", "Signature verification failed."),
        TokenRejection::Expired => ("token_expired", "The token has expired."),
        TokenRejection::Revoked => ("token_revoked", "The token has been revoked."),
        TokenRejection::NotFresh => ("fresh_token_required", "The token is not fresh."),
        TokenRejection::AccessRequired => ("wrong_token_type", "Only access tokens are allowed."),
        TokenRejection::RefreshRequired => ("wrong_token_type", "Only refresh tokens are allowed."),
    }
}
