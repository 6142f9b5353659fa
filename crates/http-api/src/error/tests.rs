use actix_web::body::to_bytes;
use application::Dependency;
use application::ports::{HashError, RepositoryError, RevocationError};

use application::{
    AuthenticateError, LoginError, RateLimited, RefreshError, RegisterError,
    RequestEmailChangeError, UndoEmailChangeError, UserAccessError,
};
use domain::TokenRejection;

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
    let error = ApiError::from(AuthenticateError::Dependency(
        RevocationError::Unavailable("connection refused 10.0.0.7:6379".into()).into(),
    ));
    let (status, json, head) = body(error).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["error"], "service_unavailable");
    assert!(!json.to_string().contains("10.0.0.7"));
    assert_eq!(head.headers().get(header::RETRY_AFTER).unwrap(), "5");
}

#[tokio::test]
async fn internal_errors_say_nothing_more() {
    let failures = [
        ApiError::from(UserAccessError::Dependency(
            RepositoryError::Unexpected("SELECT secret".into()).into(),
        )),
        ApiError::from(RegisterError::Dependency(
            HashError::Unexpected("SELECT secret".into()).into(),
        )),
        ApiError::internal("SELECT secret"),
    ];
    for error in failures {
        let (status, json, _) = body(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            json,
            serde_json::json!({"message": "Internal server error.", "error": "internal_error"})
        );
    }
}

#[tokio::test]
async fn each_use_case_error_keeps_its_contract_status() {
    let cases = [
        (
            ApiError::from(LoginError::InvalidCredentials),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
        (
            ApiError::from(RegisterError::EmailTaken),
            StatusCode::CONFLICT,
            "email_taken",
        ),
        (
            ApiError::from(UserAccessError::Forbidden),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            ApiError::from(UserAccessError::UserNotFound),
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
        (
            ApiError::from(RefreshError::Token(TokenRejection::Revoked)),
            StatusCode::UNAUTHORIZED,
            "token_revoked",
        ),
        (
            ApiError::from(RegisterError::InvalidInput(RepositoryError::InvalidInput(
                "NUL".into(),
            ))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            ApiError::from(LoginError::Dependency(HashError::Busy.into())),
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
        ),
    ];
    for (error, status, code) in cases {
        let (actual, json, _) = body(error).await;
        assert_eq!((actual, json["error"].as_str()), (status, Some(code)));
    }
}

#[test]
fn the_log_line_shows_every_cause() {
    let error = ApiError::from(LoginError::Dependency(
        RepositoryError::Unavailable("connection refused".into()).into(),
    ));
    let line = ErrorChain(&error).to_string();
    assert!(line.starts_with("login failed: "), "{line}");
    assert!(line.ends_with(": connection refused"), "{line}");
    assert!(line.contains(Dependency::UserStore.as_str()), "{line}");
}

#[tokio::test]
async fn validation_lists_field_errors() {
    let (status, json, _) = body(ApiError::validation("email", "Not a valid email address.")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"],
        serde_json::json!({"email": ["Not a valid email address."]})
    );
}

#[tokio::test]
async fn method_not_allowed_names_the_allowed_methods() {
    let (status, _, head) = body(ApiError::MethodNotAllowed {
        allow: "POST".into(),
    })
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(head.headers().get(header::ALLOW).unwrap(), "POST");
}

#[tokio::test]
async fn email_change_errors_use_the_contract_answers() {
    let (status, json, _) = body(RequestEmailChangeError::InvalidCurrentPassword.into()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json,
        serde_json::json!({
            "message": "The current password is incorrect.",
            "error": "invalid_current_password",
        })
    );
    let limited = RateLimited {
        rule: application::rate_limits::Rule::FailedLogins,
        quota: application::rate_limits::RateLimit::per_secs(5, 900),
        retry_after: std::time::Duration::from_secs(3),
    };
    let (status, json, head) = body(RequestEmailChangeError::RateLimited(limited).into()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json["error"], "rate_limited");
    assert_eq!(head.headers().get(header::RETRY_AFTER).unwrap(), "3");
    let (status, json, _) = body(UndoEmailChangeError::EmailTaken.into()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json["message"], "A user with that email already exists.");
    let (status, json, _) = body(UndoEmailChangeError::InvalidOrExpired.into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "invalid_or_expired_token");
}

#[tokio::test]
async fn a_rule_refusing_a_valid_value_names_the_field() {
    let (status, json, _) = body(application::ChangePasswordError::SamePassword.into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"],
        serde_json::json!({"new_password": ["The new password must differ from the current one."]})
    );
    let (status, json, _) = body(RequestEmailChangeError::SameAddress.into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"],
        serde_json::json!({"new_email": ["This is already the email address of the account."]})
    );
}

#[tokio::test]
async fn a_throttled_login_is_a_429_with_retry_after() {
    let limited = RateLimited {
        rule: application::rate_limits::Rule::FailedLogins,
        quota: application::rate_limits::RateLimit::per_secs(5, 900),
        retry_after: std::time::Duration::from_secs(7),
    };
    let (status, json, head) = body(LoginError::Throttled(limited).into()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json["error"], "rate_limited");
    assert_eq!(head.headers().get(header::RETRY_AFTER).unwrap(), "7");
}
