use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};

use crate::error::envelope;
use crate::pages::HTML_CONTENT_TYPE as PAGE;

/// A safety net: any error response that is not already our JSON envelope
/// (one actix produced itself) is replaced by the envelope for its status.
pub fn json_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|response: ServiceResponse<B>| {
        let content_type = response.headers().get(CONTENT_TYPE);
        let is_json =
            content_type.is_some_and(|value| value == HeaderValue::from_static("application/json"));
        // A hosted page's own answer (`crate::pages`), in words for people.
        let is_page = content_type.is_some_and(|value| value == HeaderValue::from_static(PAGE));
        if is_json || is_page {
            return Ok(ErrorHandlerResponse::Response(
                response.map_into_left_body(),
            ));
        }
        let status = response.status();
        let (code, message) = describe(status);
        let (request, old) = response.into_parts();
        let mut replacement = envelope(status, code, message, None);
        // Keep headers such as Allow or Retry-After that actix set.
        for (name, value) in old.headers() {
            if name != CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
                replacement
                    .headers_mut()
                    .insert(name.clone(), value.clone());
            }
        }
        let response: ServiceResponse<EitherBody<B, BoxBody>> =
            ServiceResponse::new(request, replacement).map_into_right_body();
        Ok(ErrorHandlerResponse::Response(response))
    })
}

fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => (
            "not_found",
            "The requested URL was not found on the server.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "The method is not allowed for the requested URL.",
        ),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "The request took too long to arrive."),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "The request body is larger than 16 KiB.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "The request body must be application/json.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "service_unavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        status if status.is_client_error() => {
            ("bad_request", "The request could not be understood.")
        }
        _ => ("internal_error", "Internal server error."),
    }
}
