//! The one place where errors become HTTP responses: every non-2xx body is
//! the contract's envelope `{"message", "error"[, "errors"]}`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use application::{
    AuthenticateError, BoxError, ChangePasswordError, ConfirmEmailChangeError, DependencyError,
    ForgotPasswordError, LoginError, LogoutError, RateLimited, RefreshError, RegisterError,
    RequestEmailChangeError, ResendError, ResetPasswordError, SessionAccessError,
    UndoEmailChangeError, UserAccessError, VerifyEmailError,
};
use domain::TokenRejection;
use paperclip::actix::api_v2_errors;
use serde::Serialize;

/// Seconds a client should wait before retrying a `503`.
pub const RETRY_AFTER_SECS: &str = "5";

pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[api_v2_errors(
    code = 400,
    description = "Body is not valid JSON",
    code = 401,
    description = "Missing, invalid, expired or revoked token; or bad credentials",
    code = 403,
    description = "The caller may not act on this resource",
    code = 404,
    description = "Not found",
    code = 408,
    description = "The body arrived too slowly",
    code = 409,
    description = "Conflict",
    code = 413,
    description = "Body over 16 KiB",
    code = 415,
    description = "Body is not application/json",
    code = 422,
    description = "Validation failed",
    code = 429,
    description = "Too many requests; retry after the Retry-After delay",
    code = 500,
    description = "Internal server error",
    code = 503,
    description = "A dependency is unavailable; retry after the Retry-After delay",
    default_schema = "ErrorBody"
)]
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("registration failed")]
    Register(#[from] RegisterError),
    /// Its `Throttled` becomes [`ApiError::RateLimited`] on the way in.
    #[error("login failed")]
    Login(#[source] LoginError),
    #[error("token check failed")]
    Authenticate(#[from] AuthenticateError),
    #[error("refresh failed")]
    Refresh(#[from] RefreshError),
    #[error("logout failed")]
    Logout(#[from] LogoutError),
    #[error("user access failed")]
    UserAccess(#[from] UserAccessError),
    #[error("session access failed")]
    SessionAccess(#[from] SessionAccessError),
    #[error("email verification failed")]
    VerifyEmail(#[from] VerifyEmailError),
    #[error("resending the verification failed")]
    Resend(#[from] ResendError),
    #[error("sending a password reset failed")]
    ForgotPassword(#[from] ForgotPasswordError),
    #[error("password reset failed")]
    ResetPassword(#[from] ResetPasswordError),
    /// Its `RateLimited` and `SamePassword` become [`ApiError::RateLimited`]
    /// and [`ApiError::Validation`] (see the `From` below).
    #[error("password change failed")]
    ChangePassword(#[source] ChangePasswordError),
    /// Its `RateLimited` and `SameAddress` become [`ApiError::RateLimited`]
    /// and [`ApiError::Validation`].
    #[error("email change request failed")]
    RequestEmailChange(#[source] RequestEmailChangeError),
    #[error("email change confirmation failed")]
    ConfirmEmailChange(#[from] ConfirmEmailChangeError),
    #[error("undoing an email change failed")]
    UndoEmailChange(#[from] UndoEmailChangeError),
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    /// A bug in this crate's own wiring (say, no application state).
    #[error("internal error")]
    Internal(#[source] BoxError),
    #[error("no route matches this path")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("body is not valid JSON")]
    InvalidJson,
    #[error("body is not application/json")]
    UnsupportedMediaType,
    #[error("body too large")]
    PayloadTooLarge,
    #[error("the body arrived too slowly")]
    RequestTimeout,
    #[error("validation failed")]
    Validation(FieldErrors),
    /// Over a rate limit: `429` with `Retry-After` and `RateLimit` headers.
    #[error("too many requests")]
    RateLimited(#[from] RateLimited),
}

/// What an error means for the client; each use-case error maps to one.
enum Meaning<'a> {
    Token(TokenRejection),
    Dependency(&'a DependencyError),
    InvalidCredentials,
    EmailTaken,
    Forbidden,
    UserNotFound,
    SessionNotFound,
    RefreshTokenReused,
    InvalidOrExpiredSecret,
    EmailNotVerified,
    InvalidCurrentPassword,
    /// The store refused text the validation let through.
    UnstorableInput,
    Internal,
}

impl ApiError {
    pub fn internal(error: impl Into<BoxError>) -> Self {
        ApiError::Internal(error.into())
    }

    /// `None` for the errors of the HTTP layer itself.
    fn meaning(&self) -> Option<Meaning<'_>> {
        Some(match self {
            ApiError::Register(RegisterError::EmailTaken) => Meaning::EmailTaken,
            ApiError::Register(RegisterError::InvalidInput(_)) => Meaning::UnstorableInput,
            ApiError::Register(RegisterError::Dependency(error))
            | ApiError::Login(LoginError::Dependency(error))
            | ApiError::Authenticate(AuthenticateError::Dependency(error))
            | ApiError::Refresh(RefreshError::Dependency(error))
            | ApiError::Logout(LogoutError::Dependency(error))
            | ApiError::UserAccess(UserAccessError::Dependency(error))
            | ApiError::SessionAccess(SessionAccessError::Dependency(error))
            | ApiError::VerifyEmail(VerifyEmailError::Dependency(error))
            | ApiError::Resend(ResendError::Dependency(error))
            | ApiError::ForgotPassword(ForgotPasswordError::Dependency(error))
            | ApiError::ResetPassword(ResetPasswordError::Dependency(error))
            | ApiError::ChangePassword(ChangePasswordError::Dependency(error))
            | ApiError::RequestEmailChange(RequestEmailChangeError::Dependency(error))
            | ApiError::ConfirmEmailChange(ConfirmEmailChangeError::Dependency(error))
            | ApiError::UndoEmailChange(UndoEmailChangeError::Dependency(error)) => {
                Meaning::Dependency(error)
            }
            ApiError::Login(LoginError::InvalidCredentials) => Meaning::InvalidCredentials,
            ApiError::Login(LoginError::EmailNotVerified) => Meaning::EmailNotVerified,
            ApiError::VerifyEmail(VerifyEmailError::InvalidOrExpired)
            | ApiError::ResetPassword(ResetPasswordError::InvalidOrExpired)
            | ApiError::ConfirmEmailChange(ConfirmEmailChangeError::InvalidOrExpired)
            | ApiError::UndoEmailChange(UndoEmailChangeError::InvalidOrExpired) => {
                Meaning::InvalidOrExpiredSecret
            }
            ApiError::ConfirmEmailChange(ConfirmEmailChangeError::EmailTaken)
            | ApiError::UndoEmailChange(UndoEmailChangeError::EmailTaken) => Meaning::EmailTaken,
            ApiError::ChangePassword(ChangePasswordError::InvalidCurrentPassword)
            | ApiError::RequestEmailChange(RequestEmailChangeError::InvalidCurrentPassword) => {
                Meaning::InvalidCurrentPassword
            }
            // Turned into `RateLimited` and `Validation` on the way in.
            ApiError::ChangePassword(
                ChangePasswordError::RateLimited(_) | ChangePasswordError::SamePassword,
            )
            | ApiError::Login(LoginError::Throttled(_))
            | ApiError::RequestEmailChange(
                RequestEmailChangeError::RateLimited(_) | RequestEmailChangeError::SameAddress,
            ) => Meaning::Internal,
            ApiError::Authenticate(AuthenticateError::Token(rejection))
            | ApiError::Refresh(RefreshError::Token(rejection))
            | ApiError::Logout(LogoutError::Token(rejection))
            | ApiError::UserAccess(UserAccessError::Token(rejection))
            | ApiError::SessionAccess(SessionAccessError::Token(rejection))
            | ApiError::ChangePassword(ChangePasswordError::Token(rejection))
            | ApiError::RequestEmailChange(RequestEmailChangeError::Token(rejection))
            | ApiError::Token(rejection) => Meaning::Token(*rejection),
            ApiError::Refresh(RefreshError::Reused) => Meaning::RefreshTokenReused,
            ApiError::UserAccess(UserAccessError::Forbidden)
            | ApiError::SessionAccess(SessionAccessError::Forbidden) => Meaning::Forbidden,
            ApiError::UserAccess(UserAccessError::UserNotFound)
            | ApiError::SessionAccess(SessionAccessError::UserNotFound) => Meaning::UserNotFound,
            ApiError::SessionAccess(SessionAccessError::SessionNotFound) => {
                Meaning::SessionNotFound
            }
            ApiError::Internal(_) => Meaning::Internal,
            ApiError::NotFound
            | ApiError::MethodNotAllowed { .. }
            | ApiError::InvalidJson
            | ApiError::UnsupportedMediaType
            | ApiError::PayloadTooLarge
            | ApiError::RequestTimeout
            | ApiError::Validation(_)
            | ApiError::RateLimited(_) => return None,
        })
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(BTreeMap::from([(field.into(), vec![message.into()])]))
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::NotFound => (
                S::NOT_FOUND,
                "not_found",
                "The requested URL was not found on the server.",
            ),
            ApiError::MethodNotAllowed { .. } => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "The method is not allowed for the requested URL.",
            ),
            ApiError::InvalidJson => (
                S::BAD_REQUEST,
                "invalid_json",
                "The request body is not valid JSON.",
            ),
            ApiError::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The request body must be application/json.",
            ),
            ApiError::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than 16 KiB.",
            ),
            ApiError::RequestTimeout => (
                S::REQUEST_TIMEOUT,
                "request_timeout",
                "The request body took too long to arrive.",
            ),
            ApiError::Validation(_) => (
                S::UNPROCESSABLE_ENTITY,
                "validation_error",
                "The request body failed validation.",
            ),
            ApiError::RateLimited(_) => (
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests. Try again later.",
            ),
            _ => match self.meaning() {
                Some(meaning) => meaning_parts(meaning),
                None => (S::INTERNAL_SERVER_ERROR, "internal_error", INTERNAL_MESSAGE),
            },
        }
    }
}

const INTERNAL_MESSAGE: &str = "Internal server error.";

fn meaning_parts(meaning: Meaning<'_>) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match meaning {
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
        Meaning::InvalidCurrentPassword => (
            S::FORBIDDEN,
            "invalid_current_password",
            "The current password is incorrect.",
        ),
        Meaning::RefreshTokenReused => (
            S::UNAUTHORIZED,
            "refresh_token_reused",
            "The refresh token was already used; the session has been revoked.",
        ),
        Meaning::UnstorableInput => (
            S::UNPROCESSABLE_ENTITY,
            "validation_error",
            "The request body failed validation.",
        ),
        Meaning::Dependency(error) if error.is_unavailable() => (
            S::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        Meaning::Dependency(_) | Meaning::Internal => {
            (S::INTERNAL_SERVER_ERROR, "internal_error", INTERNAL_MESSAGE)
        }
        Meaning::Token(rejection) => {
            let (code, message) = token_rejection(rejection);
            (S::UNAUTHORIZED, code, message)
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

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Throttled(limited) => ApiError::RateLimited(limited),
            other => ApiError::Login(other),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(error: ChangePasswordError) -> Self {
        match error {
            ChangePasswordError::RateLimited(limited) => ApiError::RateLimited(limited),
            ChangePasswordError::SamePassword => ApiError::validation(
                "new_password",
                "The new password must differ from the current one.",
            ),
            other => ApiError::ChangePassword(other),
        }
    }
}

impl From<RequestEmailChangeError> for ApiError {
    fn from(error: RequestEmailChangeError) -> Self {
        match error {
            RequestEmailChangeError::RateLimited(limited) => ApiError::RateLimited(limited),
            RequestEmailChangeError::SameAddress => ApiError::validation(
                "new_email",
                "This is already the email address of the account.",
            ),
            other => ApiError::RequestEmailChange(other),
        }
    }
}

/// Shows an error and each of its sources, `outer: inner: root`, for the
/// one log line an error gets.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// The error envelope, as documented in the OpenAPI spec.
#[derive(Debug, Serialize, paperclip::actix::Apiv2Schema)]
pub struct ErrorBody {
    pub message: String,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<FieldErrors>,
}

/// Builds an envelope response; also used for errors actix produces itself.
pub fn envelope(
    status: StatusCode,
    error: &str,
    message: &str,
    errors: Option<FieldErrors>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
    }
    response.json(ErrorBody {
        message: message.to_owned(),
        error: error.to_owned(),
        errors,
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, message) = self.parts();
        // The whole chain, once, here; the body stays redacted.
        match self.meaning() {
            Some(Meaning::Dependency(dependency)) if dependency.is_unavailable() => {
                tracing::warn!(
                    error.chain = %ErrorChain(self),
                    dependency = %dependency.dependency(),
                    "dependency unavailable"
                );
            }
            _ if status.is_server_error() => {
                tracing::error!(error.chain = %ErrorChain(self), "request failed unexpectedly");
            }
            _ => {}
        }
        let errors = match self {
            ApiError::Validation(fields) => Some(fields.clone()),
            ApiError::Register(RegisterError::InvalidInput(_)) => Some(BTreeMap::from([(
                "body".to_owned(),
                vec!["The request holds characters that cannot be stored.".to_owned()],
            )])),
            _ => None,
        };
        let mut response = envelope(status, code, message, errors);
        if let ApiError::MethodNotAllowed { allow } = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let ApiError::RateLimited(limited) = self {
            crate::rate_limit::refusal_headers(limited, response.headers_mut());
        }
        response
    }
}

#[cfg(test)]
mod tests;
