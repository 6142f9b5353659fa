//! CORS (`CORS_ALLOWED_ORIGINS`): a listed origin gets preflight answers and
//! CORS headers on every API route, errors included, never credentials;
//! another origin gets none; with no list, nothing changes. (A real
//! browser's cross-origin `fetch` is in the pages' browser tests.)

use integration_tests::{TestApp, spawn_app, spawn_app_with};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

const FRONT_END: &str = "http://front-end.test:3000";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn with_front_end() -> TestApp {
    spawn_app_with(|settings| {
        settings.set(
            "CORS_ALLOWED_ORIGINS",
            format!("https://other.test, {FRONT_END}"),
        );
    })
    .await
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.request(Method::OPTIONS, path, None)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight")
}

#[tokio::test]
async fn a_listed_origin_is_answered_on_every_route_without_credentials() {
    let app = with_front_end().await;
    for (path, method) in [
        ("/login", "POST"),
        ("/users/me", "GET"),
        ("/users/me/sessions/abc", "DELETE"),
        ("/admin/users/7", "PATCH"),
    ] {
        let answer = preflight(&app, path, FRONT_END, method).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let headers = answer.headers();
        assert_eq!(
            header(headers, "access-control-allow-origin"),
            Some(FRONT_END)
        );
        let methods = header(headers, "access-control-allow-methods").expect("methods");
        assert!(methods.contains(method), "{path}: {methods}");
        let allowed = header(headers, "access-control-allow-headers").expect("headers");
        assert!(allowed.contains("authorization"), "{allowed}");
        assert!(allowed.contains("content-type"), "{allowed}");
        assert_eq!(header(headers, "access-control-allow-credentials"), None);
    }

    // The answers themselves, a success and an error alike.
    let user = app.register_user().await;
    let login = app
        .request(Method::POST, "/login", None)
        .header("Origin", FRONT_END)
        .json(&serde_json::json!({ "email": user.email, "password": user.password }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        header(login.headers(), "access-control-allow-origin"),
        Some(FRONT_END)
    );
    let refused = app
        .request(Method::GET, "/users/me", None)
        .header("Origin", FRONT_END)
        .send()
        .await
        .expect("users/me");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let headers = refused.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        Some(FRONT_END)
    );
    let exposed = header(headers, "access-control-expose-headers").expect("exposed");
    assert!(exposed.contains("x-request-id"), "{exposed}");
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers_and_a_refused_preflight() {
    let app = with_front_end().await;
    for origin in [
        "http://front-end.test:3001",
        "http://evil-front-end.test:3000",
        "null",
    ] {
        let answer = preflight(&app, "/users/me", origin, "GET").await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{origin}");
        assert_eq!(
            header(answer.headers(), "access-control-allow-origin"),
            None
        );
        let body: serde_json::Value = answer.json().await.expect("envelope");
        assert_eq!(body["error"], "bad_request", "{body}");

        let answer = app
            .request(Method::GET, "/guest", None)
            .header("Origin", origin)
            .send()
            .await
            .expect("guest");
        assert_eq!(answer.status(), StatusCode::OK, "served, not shared");
        assert_eq!(
            header(answer.headers(), "access-control-allow-origin"),
            None
        );
    }
}

#[tokio::test]
async fn without_a_list_no_origin_gets_cors_headers() {
    let app = spawn_app().await;
    let answer = preflight(&app, "/users/me", FRONT_END, "GET").await;
    assert_ne!(answer.status(), StatusCode::OK);
    assert_eq!(
        header(answer.headers(), "access-control-allow-origin"),
        None
    );
    let answer = app
        .request(Method::GET, "/guest", None)
        .header("Origin", FRONT_END)
        .send()
        .await
        .expect("guest");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        header(answer.headers(), "access-control-allow-origin"),
        None
    );
}
