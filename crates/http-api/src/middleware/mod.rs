//! Cross-cutting request handling: request ids, security headers and the
//! JSON error safety net.

mod json_errors;
mod request_id;
mod security_headers;

pub use json_errors::json_errors;
pub use request_id::{RequestId, RequestIdRootSpan, X_REQUEST_ID, request_id};
pub use security_headers::security_headers;
