//! Cross-cutting request handling: request ids, the JSON error safety
//! net, and the Swagger UI guard.

mod json_errors;
mod request_id;
mod swagger_guard;

pub use json_errors::json_errors;
pub use request_id::{RequestId, RequestIdRootSpan, request_id};
pub use swagger_guard::{SWAGGER_UI_PATH, swagger_guard};
