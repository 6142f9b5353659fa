//! Health checks, the OpenAPI document and Swagger UI. Metrics live on
//! their own listener: `edge_metrics.rs`.

use integration_tests::{assert_unavailable, json_body, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

#[tokio::test]
async fn liveness_is_ok() {
    let app = spawn_app().await;
    let response = app.get("/health/live", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await, json!({"status": "ok"}));
}

#[tokio::test]
async fn readiness_is_ok_when_both_dependencies_answer() {
    let app = spawn_app().await;
    let response = app.get("/health/ready", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(json_body(response).await.is_object());
}

#[tokio::test]
async fn readiness_is_503_naming_redis_when_redis_is_down() {
    let app = spawn_app_with(|settings| {
        settings.redis_down();
    })
    .await;
    let body = assert_unavailable(app.get("/health/ready", None).await).await;
    let message = body["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("redis"), "{body}");
    assert!(!message.contains("postgres"), "{body}");
    // Liveness does not depend on anything.
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_is_503_naming_postgres_when_postgres_is_down() {
    let app = spawn_app_with(|settings| {
        settings.postgres_down();
    })
    .await;
    let body = assert_unavailable(app.get("/health/ready", None).await).await;
    let message = body["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("postgres"), "{body}");
    assert!(!message.contains("redis"), "{body}");
    // No internal address in the body.
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let spec = json_body(response).await;

    let version = spec["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "openapi: {version}");
    assert!(spec["info"]["title"].is_string());
    let paths = spec["paths"].as_object().expect("paths");
    for (path, methods) in [
        ("/register", &["post"][..]),
        ("/login", &["post"]),
        ("/refresh", &["post"]),
        ("/logout", &["post"]),
        ("/guest", &["get"]),
        ("/protected", &["get"]),
        ("/fresh-protected", &["get"]),
        ("/users/me", &["get"]),
        ("/users/{id}", &["get", "delete"]),
        ("/user/{id}", &["get", "delete"]),
        ("/health/live", &["get"]),
        ("/health/ready", &["get"]),
    ] {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from {:?}", paths.keys()));
        for method in methods {
            assert!(item.get(*method).is_some(), "{method} {path}: {item}");
        }
    }
    // Request bodies document their required fields.
    let schemas = &spec["components"]["schemas"];
    for (schema, fields) in [
        ("RegisterRequest", &["email", "password", "username"][..]),
        ("LoginRequest", &["email", "password"]),
    ] {
        let mut required: Vec<&str> = schemas[schema]["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}: {}", schemas[schema]))
            .iter()
            .filter_map(|field| field.as_str())
            .collect();
        required.sort_unstable();
        assert_eq!(required, fields, "{schema}");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_locally_and_survives_unknown_files() {
    let app = spawn_app().await;

    // The bare path redirects to the UI; the client follows.
    let response = app.get("/swagger-ui", None).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.url());
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "{html}");
    // Served without any CDN: scripts and styles come from this server.
    for cdn in ["unpkg.com", "cdnjs", "jsdelivr"] {
        assert!(!html.contains(cdn), "{cdn} in {html}");
    }
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        let response = app.get(&format!("/swagger-ui/{asset}"), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }

    // An unknown file is a 404, and the (single) worker lives on.
    for path in [
        "/swagger-ui/does-not-exist",
        "/swagger-ui/nested/index.html",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(json_body(response).await["error"], "not_found");
    }
    assert_eq!(app.get("/guest", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/swagger-ui/index.html", None).await.status(),
        StatusCode::OK
    );
}

#[test]
fn the_server_refuses_a_short_secret_or_a_malformed_url_naming_the_variable() {
    use api_server::Config;

    let load = |secret: &str, database_url: &str| {
        let (secret, database_url) = (secret.to_owned(), database_url.to_owned());
        Config::from_lookup(move |name: &str| match name {
            "DATABASE_URL" => Some(database_url.clone()),
            "REDIS_URL" => Some("redis://127.0.0.1:6379".to_owned()),
            "JWT_SECRET_KEY" => Some(secret.clone()),
            "MFA_ENCRYPTION_KEY" => Some(test_support::MFA_ENCRYPTION_KEY.to_owned()),
            _ => None,
        })
    };
    let good_url = "postgres://postgres@127.0.0.1:5432/auth";

    let error = load("too-short-a-secret", good_url)
        .unwrap_err()
        .to_string();
    assert!(error.contains("JWT_SECRET_KEY"), "{error}");
    assert!(!error.contains("too-short-a-secret"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");

    let error = load("", good_url).unwrap_err().to_string();
    assert!(error.contains("JWT_SECRET_KEY"), "{error}");

    let key = "0123456789abcdef".repeat(2);
    let error = load(&key, "postgres//user:hunter2@nowhere")
        .unwrap_err()
        .to_string();
    assert!(error.contains("DATABASE_URL"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");

    assert!(load(&key, good_url).is_ok());
}
