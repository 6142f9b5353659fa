//! Security headers: `nosniff` and `Referrer-Policy` on every response,
//! `Cache-Control: no-store` on every response of the token and account
//! routes (errors included), and not elsewhere.

use integration_tests::spawn_app;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, Response};
use serde_json::json;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn assert_security_headers(response: &Response) {
    let headers = response.headers();
    let url = response.url();
    assert_eq!(
        header(headers, "x-content-type-options"),
        Some("nosniff"),
        "{url}"
    );
    assert_eq!(
        header(headers, "referrer-policy"),
        Some("no-referrer"),
        "{url}"
    );
}

#[tokio::test]
async fn every_response_has_nosniff_and_a_referrer_policy() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let requests = [
        app.request(Method::GET, "/guest", None),
        app.request(Method::GET, "/protected", Some(&tokens.access)),
        app.request(Method::GET, "/protected", None),
        app.request(Method::GET, "/nope", None),
        app.request(Method::PUT, "/login", None),
        app.request(Method::POST, "/register", None).body("x"),
        app.request(Method::GET, "/health/live", None),
        app.request(Method::GET, "/openapi.json", None),
        app.request(Method::GET, "/swagger-ui/index.html", None),
        app.request(Method::GET, "/swagger-ui/swagger-ui.css", None),
        app.request(Method::GET, "/swagger-ui/nope", None),
        app.request(Method::OPTIONS, "/nope", None),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_security_headers(&response);
    }
}

#[tokio::test]
async fn token_and_account_routes_are_never_cached() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let login = app.login(&user.email, &user.password).await;
    let requests = [
        app.request(Method::POST, "/login", None)
            .json(&json!({"email": user.email, "password": user.password})),
        app.request(Method::POST, "/login", None)
            .json(&json!({"email": user.email, "password": "wrong password"})),
        app.request(Method::POST, "/login", None)
            .header(CONTENT_TYPE, "application/json")
            .body("{"),
        app.request(Method::GET, "/login", None),
        app.request(Method::POST, "/refresh", Some(&tokens.refresh)),
        app.request(Method::POST, "/refresh", None),
        app.request(Method::POST, "/logout", Some(&tokens.refresh)),
        app.request(Method::GET, "/users/me", Some(&tokens.access)),
        app.request(Method::GET, "/users/me", None),
    ];
    assert_eq!(
        header(login.headers(), "cache-control"),
        Some("no-store"),
        "a successful login"
    );
    for request in requests {
        let response = request.send().await.unwrap();
        let url = response.url().clone();
        let status = response.status();
        assert_eq!(
            header(response.headers(), CACHE_CONTROL.as_str()),
            Some("no-store"),
            "{url} {status}"
        );
        assert_security_headers(&response);
    }
    // Routes without tokens or account data are left alone.
    for path in ["/guest", "/health/live"] {
        let response = app.get(path, None).await;
        assert_eq!(response.headers().get(CACHE_CONTROL), None, "{path}");
    }
}
