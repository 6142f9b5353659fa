//! The one place where errors become HTTP responses: every non-2xx body is
//! the envelope `{"message", "error"[, "errors"]}`. Use-case errors enter
//! through [`HttpMeaning`] (one impl per error, in `use_case_errors.rs`);
//! the HTTP layer's own refusals are the other variants of [`ApiError`].

mod admin_use_case_errors;
mod meaning;
mod use_case_errors;

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use application::{BoxError, ErrorChain};
use paperclip::actix::api_v2_errors;
use serde::Serialize;

pub use meaning::{HttpMeaning, Meaning};

use crate::rate_limit::headers::refusal_headers;

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
    /// A use case, the token check or a rate limit refused or failed;
    /// `meaning` is what the client is told, `source` what happened.
    #[error("{operation} failed")]
    UseCase {
        operation: &'static str,
        meaning: Meaning,
        #[source]
        source: BoxError,
    },
    /// A bug in this crate's own wiring (say, no application state).
    #[error("internal error")]
    Internal(#[source] BoxError),
    #[error("no route matches this path")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
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
}

impl<E: HttpMeaning> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError::UseCase {
            operation: E::OPERATION,
            meaning: error.meaning(),
            source: Box::new(error),
        }
    }
}

impl ApiError {
    pub fn internal(error: impl Into<BoxError>) -> Self {
        ApiError::Internal(error.into())
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(BTreeMap::from([(field.into(), vec![message.into()])]))
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::UseCase { meaning, .. } => meaning.parts(),
            ApiError::Internal(_) => Meaning::Internal.parts(),
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
        }
    }

    /// The `error` code and the bad fields, as the envelope carries them
    /// (the hosted pages turn them into sentences).
    pub fn code_and_fields(&self) -> (&'static str, Option<FieldErrors>) {
        (self.parts().1, self.field_errors())
    }

    /// The `errors` member: every bad field with its reasons.
    fn field_errors(&self) -> Option<FieldErrors> {
        match self {
            ApiError::Validation(fields) => Some(fields.clone()),
            ApiError::UseCase {
                meaning: Meaning::Invalid { field, message },
                ..
            } => Some(BTreeMap::from([(
                (*field).to_owned(),
                vec![(*message).to_owned()],
            )])),
            ApiError::UseCase {
                meaning: Meaning::UnstorableInput,
                ..
            } => Some(BTreeMap::from([(
                "body".to_owned(),
                vec!["The request holds characters that cannot be stored.".to_owned()],
            )])),
            _ => None,
        }
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
        match self {
            ApiError::UseCase {
                meaning: Meaning::Unavailable(dependency),
                ..
            } => {
                tracing::warn!(
                    error.chain = %ErrorChain(self),
                    dependency = %dependency,
                    "dependency unavailable"
                );
            }
            _ if status.is_server_error() => {
                tracing::error!(error.chain = %ErrorChain(self), "request failed unexpectedly");
            }
            _ => {}
        }
        let mut response = envelope(status, code, message, self.field_errors());
        match self {
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(allow) = HeaderValue::try_from(allow.as_str()) {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
            }
            ApiError::UseCase {
                meaning: Meaning::RateLimited(limited),
                ..
            } => refusal_headers(limited, response.headers_mut()),
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests;
