//! Swagger UI 5, served offline: the assets come from the `swagger-ui-dist`
//! crate, the page and its start-up script are ours. That crate's own index
//! handler writes the request URI into the HTML unescaped, so no request
//! ever reaches it: [`guard`] lets through only the files listed here.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};
use swagger_ui_dist::{ApiDefinition, OpenApiSource};

use crate::error::ApiError;

pub const SWAGGER_UI_PATH: &str = "/swagger-ui";
pub const INDEX_PATH: &str = "/swagger-ui/index.html";
/// The only document the UI shows.
pub const SPEC_PATH: &str = "/openapi.json";

const INDEX_HTML: &str = include_str!("index.html");
const INITIALIZER_JS: &str = include_str!("swagger-initializer.js");

/// Nothing from another origin, no inline script; Swagger UI 5 sets inline
/// styles and uses `data:` images in its stylesheet.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; \
     script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Our files, then the crate's assets (its scope is mounted last so that
/// our index wins; the guard keeps its index route unreachable anyway).
const FILES: &[&str] = &[
    "index.html",
    "swagger-initializer.js",
    "swagger-ui.css",
    "swagger-ui.css.map",
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "oauth2-redirect.html",
    "oauth2-redirect.js",
];

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route(INDEX_PATH, web::get().to(index))
        .route(
            "/swagger-ui/swagger-initializer.js",
            web::get().to(initializer),
        )
        .service(swagger_ui_dist::generate_scope(ApiDefinition {
            uri_prefix: SWAGGER_UI_PATH,
            api_definition: OpenApiSource::Uri(SPEC_PATH),
            title: None,
        }));
}

async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE))
        .body(INDEX_HTML)
}

async fn initializer() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .body(INITIALIZER_JS)
}

/// What a path under the UI may be: the bare UI path (redirected to our
/// index), one of [`FILES`], or nothing (a 404 envelope).
#[derive(Debug, PartialEq, Eq)]
enum UiPath {
    NotUi,
    Bare,
    File,
    Unknown,
}

fn classify(path: &str) -> UiPath {
    let Some(rest) = path.strip_prefix(SWAGGER_UI_PATH) else {
        return UiPath::NotUi;
    };
    match rest.strip_prefix('/') {
        None if rest.is_empty() => UiPath::Bare,
        // `/swagger-uiX`: another path altogether.
        None => UiPath::NotUi,
        Some("") => UiPath::Bare,
        Some(file) if FILES.contains(&file) => UiPath::File,
        Some(_) => UiPath::Unknown,
    }
}

/// Redirects the bare UI path to our index (any query string dropped) and
/// answers `404` for any path under it that is not one of our files.
pub async fn guard(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    match classify(request.path()) {
        UiPath::NotUi | UiPath::File => Ok(next.call(request).await?.map_into_boxed_body()),
        UiPath::Bare => {
            let response = HttpResponse::PermanentRedirect()
                .insert_header((LOCATION, INDEX_PATH))
                .finish();
            Ok(request.into_response(response))
        }
        UiPath::Unknown => Ok(request.into_response(ApiError::NotFound.error_response())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_files_reach_the_ui() {
        assert_eq!(classify("/swagger-ui"), UiPath::Bare);
        assert_eq!(classify("/swagger-ui/"), UiPath::Bare);
        assert_eq!(classify("/swagger-ui/index.html"), UiPath::File);
        assert_eq!(classify("/swagger-ui/swagger-ui-bundle.js"), UiPath::File);
        for path in [
            "/swagger-ui//index.html",
            "/swagger-ui//",
            "/swagger-ui/a/index.html",
            "/swagger-ui/openapi.json",
            "/swagger-ui/index.html/",
            "/swagger-ui/nope",
        ] {
            assert_eq!(classify(path), UiPath::Unknown, "{path}");
        }
        assert_eq!(classify("/swagger-uix"), UiPath::NotUi);
        assert_eq!(classify("/guest"), UiPath::NotUi);
    }

    #[test]
    fn the_page_loads_nothing_foreign_and_no_inline_script() {
        assert!(!INDEX_HTML.contains("://"));
        assert!(!INDEX_HTML.contains("<script>"));
        assert!(INITIALIZER_JS.contains("queryConfigEnabled: false"));
        assert!(INITIALIZER_JS.contains(r#"url: "/openapi.json""#));
    }
}
