//! The one place where errors become HTTP responses: every non-2xx body is
//! the contract's envelope `{"message", "error"[, "errors"]}`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use application::AuthError;
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
    code = 409,
    description = "Conflict",
    code = 408,
    description = "The body arrived too slowly",
    code = 413,
    description = "Body over 16 KiB",
    code = 415,
    description = "Body is not application/json",
    code = 422,
    description = "Validation failed",
    code = 500,
    description = "Internal server error",
    code = 503,
    description = "A dependency is unavailable; retry after the Retry-After delay",
    default_schema = "ErrorBody"
)]
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AuthError),
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
}

impl From<TokenRejection> for ApiError {
    fn from(rejection: TokenRejection) -> Self {
        ApiError::App(AuthError::Token(rejection))
    }
}

impl ApiError {
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
            ApiError::App(error) => match error {
                AuthError::InvalidCredentials => (
                    S::UNAUTHORIZED,
                    "invalid_credentials",
                    "Invalid credentials.",
                ),
                AuthError::EmailTaken => (
                    S::CONFLICT,
                    "email_taken",
                    "A user with that email already exists.",
                ),
                AuthError::Forbidden => (
                    S::FORBIDDEN,
                    "forbidden",
                    "You do not have permission to access this resource.",
                ),
                AuthError::UserNotFound => (S::NOT_FOUND, "user_not_found", "User not found."),
                AuthError::Unavailable { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "The service is temporarily unavailable. Please retry later.",
                ),
                AuthError::Internal(_) => (
                    S::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "Internal server error.",
                ),
                AuthError::Token(rejection) => {
                    let (code, message) = token_rejection(*rejection);
                    (S::UNAUTHORIZED, code, message)
                }
            },
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
        match self {
            ApiError::App(AuthError::Internal(detail)) => {
                tracing::error!(error.detail = %detail, "request failed unexpectedly");
            }
            ApiError::App(error @ AuthError::Unavailable { .. }) => {
                tracing::warn!(%error, "dependency unavailable");
            }
            _ => {}
        }
        let errors = match self {
            ApiError::Validation(fields) => Some(fields.clone()),
            _ => None,
        };
        let mut response = envelope(status, code, message, errors);
        if let ApiError::MethodNotAllowed { allow } = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use application::Dependency;

    use super::*;

    async fn body(error: ApiError) -> (StatusCode, serde_json::Value, HttpResponse<()>) {
        let response = error.error_response();
        let (head, body) = response.into_parts();
        let bytes = to_bytes(body).await.unwrap();
        (head.status(), serde_json::from_slice(&bytes).unwrap(), head)
    }

    #[tokio::test]
    async fn token_errors_use_the_contract_messages() {
        let cases = [
            (
                TokenRejection::Missing,
                "authorization_required",
                "Request does not contain an access token.",
            ),
            (
                TokenRejection::Invalid,
                "invalid_token",
                "Signature verification failed.",
            ),
            (
                TokenRejection::Expired,
                "token_expired",
                "The token has expired.",
            ),
            (
                TokenRejection::Revoked,
                "token_revoked",
                "The token has been revoked.",
            ),
            (
                TokenRejection::NotFresh,
                "fresh_token_required",
                "The token is not fresh.",
            ),
            (
                TokenRejection::AccessRequired,
                "wrong_token_type",
                "Only access tokens are allowed.",
            ),
            (
                TokenRejection::RefreshRequired,
                "wrong_token_type",
                "Only refresh tokens are allowed.",
            ),
        ];
        for (rejection, code, message) in cases {
            let (status, json, _) = body(rejection.into()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(json, serde_json::json!({"message": message, "error": code}));
        }
    }

    #[tokio::test]
    async fn unavailable_says_when_to_retry_and_hides_the_detail() {
        let error = ApiError::App(AuthError::Unavailable {
            dependency: Dependency::Redis,
            detail: "connection refused 10.0.0.7:6379".into(),
        });
        let (status, json, head) = body(error).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json["error"], "service_unavailable");
        assert!(!json.to_string().contains("10.0.0.7"));
        assert_eq!(head.headers().get(header::RETRY_AFTER).unwrap(), "5");
    }

    #[tokio::test]
    async fn internal_errors_say_nothing_more() {
        let (status, json, _) =
            body(ApiError::App(AuthError::Internal("SELECT secret".into()))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            json,
            serde_json::json!({"message": "Internal server error.", "error": "internal_error"})
        );
    }

    #[tokio::test]
    async fn validation_lists_field_errors() {
        let (status, json, _) =
            body(ApiError::validation("email", "Not a valid email address.")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            json["errors"],
            serde_json::json!({"email": ["Not a valid email address."]})
        );
    }

    #[tokio::test]
    async fn method_not_allowed_names_the_allowed_methods() {
        let (status, _, head) = body(ApiError::MethodNotAllowed { allow: "POST" }).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(head.headers().get(header::ALLOW).unwrap(), "POST");
    }
}
