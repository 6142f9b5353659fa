//! Assertions on responses: the headers every response carries, the error
//! envelope, the token errors of `docs/http-api.md#error-codes`, `503`s.

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// The body as JSON, after checking the headers every response carries.
pub async fn json_body(response: Response) -> Value {
    assert_common_headers(response.headers());
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Every response (errors included) is JSON and has a request id.
pub fn assert_common_headers(headers: &HeaderMap) {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    assert_eq!(content_type, Some("application/json"), "{headers:?}");
    let request_id = headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(!request_id.is_empty(), "no X-Request-Id in {headers:?}");
}

/// Asserts the status and the error envelope; returns the body for more
/// checks (field errors, say).
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    let actual = response.status();
    let body = json_body(response).await;
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message in {body}"
    );
    body
}

/// Asserts a token error: `401` with exactly the body `docs/http-api.md#error-codes` gives.
pub async fn assert_token_error(response: Response, code: &str, message: &str) {
    let status = response.status();
    let body = json_body(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body, json!({"message": message, "error": code}));
}

/// The token error bodies (`docs/http-api.md#error-codes`).
pub mod token_errors {
    pub const MISSING: (&str, &str) = (
        "authorization_required",
        "Request does not contain an access token.",
    );
    pub const INVALID: (&str, &str) = ("invalid_token", "Signature verification failed.");
    pub const EXPIRED: (&str, &str) = ("token_expired", "The token has expired.");
    pub const REVOKED: (&str, &str) = ("token_revoked", "The token has been revoked.");
    pub const NOT_FRESH: (&str, &str) = ("fresh_token_required", "The token is not fresh.");
    pub const ACCESS_REQUIRED: (&str, &str) =
        ("wrong_token_type", "Only access tokens are allowed.");
    pub const REFRESH_REQUIRED: (&str, &str) =
        ("wrong_token_type", "Only refresh tokens are allowed.");
    pub const REUSED: (&str, &str) = (
        "refresh_token_reused",
        "The refresh token was already used; the session has been revoked.",
    );
}

/// Shorthand for [`assert_token_error`] with a [`token_errors`] pair.
pub async fn assert_token_rejected(response: Response, (code, message): (&str, &str)) {
    assert_token_error(response, code, message).await;
}

/// Asserts a `503` with the envelope and a `Retry-After` header.
pub async fn assert_unavailable(response: Response) -> Value {
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|secs| secs > 0),
        "Retry-After missing: {:?}",
        response.headers()
    );
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await
}
