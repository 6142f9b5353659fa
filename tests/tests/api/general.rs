//! The General section: error envelope for the edge cases, content type
//! and request ids on every response.

use integration_tests::{assert_common_headers, assert_error, json_body, spawn_app};
use reqwest::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::POST, "/nope/deeper"),
        (Method::GET, "/"),
        (Method::DELETE, "/users/1/extra"),
        (Method::GET, "/openapi.yaml"),
    ] {
        let response = app
            .request(method.clone(), path, None)
            .send()
            .await
            .unwrap();
        let body = assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(
            body.as_object().unwrap().len(),
            2,
            "{method} {path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_an_allow_header() {
    let app = spawn_app().await;
    for (method, path, allowed) in [
        (Method::GET, "/register", vec!["POST"]),
        (Method::PUT, "/login", vec!["POST"]),
        (Method::GET, "/refresh", vec!["POST"]),
        (Method::DELETE, "/logout", vec!["POST"]),
        (Method::POST, "/guest", vec!["GET"]),
        (Method::POST, "/protected", vec!["GET"]),
        (Method::PATCH, "/fresh-protected", vec!["GET"]),
        (Method::POST, "/users/me", vec!["GET"]),
        (Method::PUT, "/users/1", vec!["GET", "DELETE"]),
        (Method::POST, "/user/1", vec!["GET", "DELETE"]),
        (Method::POST, "/health/live", vec!["GET"]),
        (Method::DELETE, "/health/ready", vec!["GET"]),
    ] {
        let response = app
            .request(method.clone(), path, None)
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get(ALLOW)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
        let listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        for method in allowed {
            assert!(listed.contains(&method), "{path}: Allow: {allow}");
        }
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    let app = spawn_app().await;
    for (path, raw) in [
        ("/register", r#"{"username": "ada", "#),
        ("/register", ""),
        ("/login", "not json"),
        ("/login", r#"{"email": "a@b.io", "password": "x"} trailing"#),
        ("/login", "{'email': 'a@b.io'}"),
    ] {
        let response = app
            .client
            .post(app.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_json").await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_application_json_is_415() {
    let app = spawn_app().await;
    let valid = json!({"username": "ada", "email": "ada@example.com", "password": "long enough"});
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for path in ["/register", "/login"] {
            let mut request = app.client.post(app.url(path)).body(valid.to_string());
            if let Some(content_type) = content_type {
                request = request.header(CONTENT_TYPE, content_type);
            }
            let response = request.send().await.unwrap();
            assert_error(
                response,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
        }
    }
    // A charset parameter is still JSON.
    let response = app
        .client
        .post(app.url("/register"))
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(valid.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_body_over_16_kib_is_413() {
    let app = spawn_app().await;
    let huge = json!({
        "username": "ada",
        "email": "ada@example.com",
        "password": "p".repeat(17 * 1024),
    });
    for path in ["/register", "/login"] {
        let response = app.post_json(path, &huge).await;
        assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    // Just under the limit is read (and then judged on its fields).
    let padded = json!({"email": "a@b.io", "password": "p", "pad": "x".repeat(16 * 1024 - 64)});
    let response = app.post_json("/login", &padded).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn every_response_is_json_with_a_request_id() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let requests = [
        app.request(Method::GET, "/guest", None),
        app.request(Method::GET, "/protected", Some(&tokens.access)),
        app.request(Method::GET, "/protected", None),
        app.request(Method::GET, "/protected", Some("garbage")),
        app.request(Method::GET, "/users/me", Some(&tokens.access)),
        app.request(Method::GET, "/users/abc", Some(&tokens.access)),
        app.request(Method::POST, "/refresh", Some(&tokens.refresh)),
        app.request(Method::GET, "/missing", None),
        app.request(Method::GET, "/register", None),
        app.request(Method::POST, "/login", None).body("x"),
        app.request(Method::POST, "/login", None)
            .header(CONTENT_TYPE, "application/json")
            .body("{"),
        app.request(Method::POST, "/login", None).json(&json!({})),
        app.request(Method::POST, "/login", None)
            .json(&json!({"email": "x", "password": "y"})),
        app.request(Method::POST, "/register", None).json(&json!({
            "username": "ada", "email": user.email, "password": "long enough"
        })),
        app.request(Method::GET, "/health/live", None),
        app.request(Method::GET, "/health/ready", None),
        app.request(Method::GET, "/openapi.json", None),
        app.request(Method::GET, "/swagger-ui/nope", None),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let url = response.url().clone();
        let status = response.status();
        assert_common_headers(response.headers());
        let body = response.text().await.unwrap();
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap_or_else(|_| panic!("{url} {status}: not JSON: {body}"));
    }
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_any_other_replaced() {
    let app = spawn_app().await;
    let request_id = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .expect("an X-Request-Id")
    };
    let with_id = |path: &str, id: &str| {
        app.client
            .get(app.url(path))
            .header(
                "x-request-id",
                HeaderValue::from_bytes(id.as_bytes()).expect("a header value"),
            )
            .send()
    };

    for sane in [
        "abc-123_X.y",
        "1",
        &"a".repeat(128),
        "0b6f3c2e-8d1a-4e5b-9c7d-2a1b3c4d5e6f",
    ] {
        for path in ["/guest", "/missing", "/protected"] {
            let response = with_id(path, sane).await.unwrap();
            assert_eq!(request_id(&response), sane, "{path}");
        }
    }
    for insane in [
        "has spaces",
        &"a".repeat(129),
        &"b".repeat(200),
        "<script>",
        "a/b",
        "a;b",
        "ä",
    ] {
        for path in ["/guest", "/missing"] {
            let response = with_id(path, insane).await.unwrap();
            let replaced = request_id(&response);
            assert_ne!(replaced, insane, "{path}");
            assert!((1..=128).contains(&replaced.len()), "{replaced}");
        }
    }
    // Without one, each request gets its own.
    let first = request_id(&app.get("/guest", None).await);
    let second = request_id(&app.get("/guest", None).await);
    assert_ne!(first, second);
    json_body(app.get("/guest", None).await).await;
}
