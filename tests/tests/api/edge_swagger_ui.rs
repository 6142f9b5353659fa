//! Swagger UI 5, offline: no panic path under the UI, our own page with a
//! Content-Security-Policy, no query configuration, and (when Chromium is
//! installed) a real browser rendering our operations only.

use std::process::Command;

use integration_tests::{TestApp, assert_error, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};

#[tokio::test]
async fn no_path_under_the_ui_panics() {
    let app = spawn_app().await;
    for path in [
        "/swagger-ui//index.html",
        "/swagger-ui//",
        "/swagger-ui///swagger-ui.css",
        "/swagger-ui/a/../index.html.map",
        "/swagger-ui/openapi.json",
        "/swagger-ui/index.html/",
    ] {
        let response = app.get(path, None).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // The single worker is alive.
    assert_eq!(app.get("/guest", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_bare_path_redirects_to_our_page_without_the_query() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/swagger-ui",
        "/swagger-ui/",
        "/swagger-ui?url=http://evil.example/spec.json",
        "/swagger-ui/?configUrl=http://evil.example/c.json",
    ] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert!(response.status().is_redirection(), "{path}");
        assert_eq!(
            response.headers()[LOCATION],
            "/swagger-ui/index.html",
            "{path}"
        );
    }
}

#[tokio::test]
async fn our_page_has_a_csp_and_reflects_nothing() {
    let app = spawn_app().await;
    let response = app
        .get(
            "/swagger-ui/index.html?url=http://evil.example/spec.json&x=%3Cscript%3Ealert(1)%3C/script%3E",
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("http"), "a foreign origin in {csp}");
    let html = response.text().await.unwrap();
    assert!(!html.contains("evil.example"), "{html}");
    assert!(!html.contains("alert(1)"), "{html}");
    assert!(!html.contains("petstore"), "{html}");
    let script = app
        .get("/swagger-ui/swagger-initializer.js", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(script.contains("queryConfigEnabled: false"), "{script}");
    // Swagger UI 5 assets, from this server.
    let bundle = app.get("/swagger-ui/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    let bundle = bundle.text().await.unwrap();
    assert!(bundle.len() > 100_000);
}

/// `chromium --dump-dom` of a page, or `None` when Chromium is missing.
fn dump_dom(app: &TestApp, path: &str) -> Option<String> {
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=8000",
            "--dump-dom",
        ])
        .arg(app.url(path))
        .output();
    match output {
        Ok(output) => Some(String::from_utf8_lossy(&output.stdout).into_owned()),
        Err(error) => {
            eprintln!("SKIPPED: chromium is not installed ({error}); apt-get install chromium");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_browser_renders_our_operations_and_ignores_a_foreign_url() {
    let app = spawn_app().await;
    for path in [
        "/swagger-ui/index.html",
        "/swagger-ui/index.html?url=http://evil.example/spec.json",
        "/swagger-ui/index.html?configUrl=http://evil.example/config.json",
    ] {
        let dom = {
            let app = &app;
            tokio::task::block_in_place(|| dump_dom(app, path))
        };
        let Some(dom) = dom else { return };
        for operation in ["/login", "/register", "/users/{id}", "/health/ready"] {
            assert!(dom.contains(operation), "{path}: {operation} not rendered");
        }
        assert!(dom.contains("Auth service"), "{path}: our title");
        assert!(
            !dom.contains("evil.example"),
            "{path}: the foreign URL shown"
        );
        assert!(!dom.contains("Petstore"), "{path}");
    }
}
