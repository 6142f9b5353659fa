use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError};

use crate::error::ApiError;

pub const SWAGGER_UI_PATH: &str = "/swagger-ui";

/// The files paperclip 0.9.7 compiles into the binary. paperclip panics on
/// any other file name under the UI path, so only these reach it.
const SWAGGER_FILES: &[&str] = &[
    "favicon-16x16.png",
    "favicon-32x32.png",
    "index.html",
    "oauth2-redirect.html",
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "swagger-ui-es-bundle-core.js",
    "swagger-ui-es-bundle-core.js.map",
    "swagger-ui-es-bundle.js",
    "swagger-ui-es-bundle.js.map",
    "swagger-ui-standalone-preset.js",
    "swagger-ui-standalone-preset.js.map",
    "swagger-ui.css",
    "swagger-ui.css.map",
    "swagger-ui.js",
    "swagger-ui.js.map",
];

pub async fn swagger_guard(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let path = request.path();
    let Some(rest) = path.strip_prefix(SWAGGER_UI_PATH) else {
        return Ok(next.call(request).await?.map_into_boxed_body());
    };
    let file = rest.trim_start_matches('/');
    if file.is_empty() && rest.len() <= 1 {
        // The bare UI path, with or without a slash or a query string.
        let location = format!("{SWAGGER_UI_PATH}/index.html?url=/openapi.json");
        let response = HttpResponse::PermanentRedirect()
            .insert_header(("Location", location))
            .finish();
        return Ok(request.into_response(response));
    }
    if rest.starts_with('/') && SWAGGER_FILES.contains(&file) {
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    let response = ApiError::NotFound.error_response();
    Ok(request.into_response(response))
}
