//! CORS for browser front ends served from other origins
//! (`CORS_ALLOWED_ORIGINS`).
//!
//! Only exact origins are listed: a wildcard would let any page a user
//! visits read the answers of the API with the tokens that page holds, and
//! a suffix or pattern match is how such lists usually get bypassed
//! (`evil-example.com` matching `example.com`). Credentials (cookies) are
//! never allowed: our tokens travel in `Authorization`, which a page must
//! set itself. An origin not on the list gets no CORS headers (its browser
//! then refuses to hand the answer to the page) and its preflights a `400`;
//! requests without `Origin`, and same-origin ones like the hosted pages',
//! are served as they always were.

use std::str::FromStr;

use actix_cors::Cors;
use actix_web::http::{Method, header};
use actix_web::middleware::Condition;
use url::Url;

use crate::middleware::X_REQUEST_ID;

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE_SECONDS: usize = 3600;

/// The origins allowed to call the API from a browser, each exactly as a
/// browser sends it in `Origin` (`scheme://host[:port]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOrigin {
    #[error(
        "`*` is refused: list the exact origins of your front ends, e.g. https://app.example.com"
    )]
    Wildcard,
    #[error(
        "{0:?} is not an origin: write scheme://host[:port] in lower case, without a path or a trailing slash"
    )]
    NotAnOrigin(String),
}

impl FromStr for AllowedOrigins {
    type Err = InvalidOrigin;

    /// Comma-separated origins; empty: none.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                if entry.contains('*') {
                    return Err(InvalidOrigin::Wildcard);
                }
                // What the URL parser serialises back is what a browser
                // sends; anything else would never match (a trailing
                // slash, a path, an upper-case host, a default port).
                let origin = Url::parse(entry)
                    .ok()
                    .filter(|url| matches!(url.scheme(), "http" | "https"))
                    .map(|url| url.origin().ascii_serialization());
                match origin {
                    Some(origin) if origin == entry => Ok(origin),
                    _ => Err(InvalidOrigin::NotAnOrigin(entry.to_owned())),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

impl AllowedOrigins {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The middleware answering preflights and adding the CORS headers for
    /// these origins; with none, it is not mounted at all.
    pub(crate) fn middleware(&self) -> Condition<Cors> {
        let cors = self.iter().fold(Cors::default(), Cors::allowed_origin);
        let cors = cors
            .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            // What a front end may read besides the simple headers: the id
            // to quote in a support request, and when to retry after a 429.
            .expose_headers([X_REQUEST_ID, header::RETRY_AFTER])
            .max_age(PREFLIGHT_MAX_AGE_SECONDS);
        Condition::new(!self.is_empty(), cors)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::test::{self as actix_test, TestRequest};
    use actix_web::{App, HttpResponse, web};

    use super::*;

    #[test]
    fn exact_origins_are_read_and_anything_else_refused() {
        let origins: AllowedOrigins = " https://app.example.com, http://localhost:3000 ,"
            .parse()
            .expect("origins");
        assert_eq!(
            origins.iter().collect::<Vec<_>>(),
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert!("".parse::<AllowedOrigins>().expect("none").is_empty());
        assert_eq!("*".parse::<AllowedOrigins>(), Err(InvalidOrigin::Wildcard));
        assert_eq!(
            "https://*.example.com".parse::<AllowedOrigins>(),
            Err(InvalidOrigin::Wildcard)
        );
        for refused in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://App.example.com",
            "https://app.example.com:443",
            "app.example.com",
            "ftp://app.example.com",
            "null",
        ] {
            assert_eq!(
                refused.parse::<AllowedOrigins>(),
                Err(InvalidOrigin::NotAnOrigin(refused.to_owned())),
                "{refused}"
            );
        }
    }

    async fn call(origins: &str, request: TestRequest) -> actix_web::dev::ServiceResponse {
        let origins: AllowedOrigins = origins.parse().expect("origins");
        let app = actix_test::init_service(
            App::new()
                .route("/users/me", web::get().to(HttpResponse::Ok))
                .wrap(origins.middleware()),
        )
        .await;
        actix_test::call_service(&app, request.to_request())
            .await
            .map_into_boxed_body()
    }

    fn header_of<'a>(response: &'a actix_web::dev::ServiceResponse, name: &str) -> Option<&'a str> {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    }

    fn preflight(origin: &str) -> TestRequest {
        TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/users/me")
            .insert_header((header::ORIGIN, origin))
            .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "GET"))
            .insert_header((header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization"))
    }

    #[actix_web::test]
    async fn a_listed_origin_gets_its_preflight_and_headers_without_credentials() {
        let answer = call(
            "https://app.example.com",
            preflight("https://app.example.com"),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(
            header_of(&answer, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        let allowed = header_of(&answer, "access-control-allow-headers").expect("headers");
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert_eq!(header_of(&answer, "access-control-allow-credentials"), None);

        let request = TestRequest::get()
            .uri("/users/me")
            .insert_header((header::ORIGIN, "https://app.example.com"));
        let answer = call("https://app.example.com", request).await;
        assert_eq!(
            header_of(&answer, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        let exposed = header_of(&answer, "access-control-expose-headers").expect("exposed");
        assert!(exposed.contains("x-request-id"), "{exposed}");
    }

    #[actix_web::test]
    async fn another_origin_gets_no_cors_headers_and_no_preflight() {
        let answer = call("https://app.example.com", preflight("https://evil.example")).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert_eq!(header_of(&answer, "access-control-allow-origin"), None);

        let request = TestRequest::get()
            .uri("/users/me")
            .insert_header((header::ORIGIN, "https://evil.example"));
        let answer = call("https://app.example.com", request).await;
        assert_eq!(answer.status(), StatusCode::OK, "served, but not shared");
        assert_eq!(header_of(&answer, "access-control-allow-origin"), None);
    }

    #[actix_web::test]
    async fn with_no_origins_nothing_is_added() {
        let answer = call("", preflight("https://app.example.com")).await;
        assert_eq!(header_of(&answer, "access-control-allow-origin"), None);
        assert_ne!(answer.status(), StatusCode::OK);
    }
}
