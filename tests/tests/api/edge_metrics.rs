//! Metrics: never on the public port, and a bounded label set.

use std::net::TcpListener;

use integration_tests::{assert_error, spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn metrics_are_not_served_on_the_public_port() {
    let app = spawn_app().await;
    for method in [Method::GET, Method::POST] {
        let response = app.request(method, "/metrics", None).send().await.unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

/// The API's metrics listener, as the binary starts it on `METRICS_ADDR`.
/// The recorder is per process, so it sees the test app's requests.
async fn scrape() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = http_api::serve_metrics(listener, Vec::new()).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    handle.stop(false).await;
    text
}

#[tokio::test]
async fn invented_methods_do_not_grow_the_label_set() {
    let app = spawn_app().await;
    let invented: Vec<String> = (0..40).map(|n| format!("INVENTED{n}")).collect();
    for method in &invented {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = app.request(method, "/guest", None).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let text = scrape().await;
    assert!(!text.contains("INVENTED"), "a raw method became a label");
    assert!(
        text.contains(r#"http_requests_total{method="OTHER",route="/guest",status="405"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_metrics_listener_counts_by_route_and_reports_pools() {
    let app = spawn_app().await;
    assert_eq!(app.get("/guest", None).await.status(), StatusCode::OK);
    let user = app.get("/users/12345", None).await;
    assert_eq!(user.status(), StatusCode::UNAUTHORIZED);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pools = vec![http_api::metrics::PoolGauge {
        name: "test-pool",
        status: std::sync::Arc::new(|| http_api::metrics::PoolStatus {
            max_size: 7,
            size: 3,
            available: 1,
            waiting: 0,
        }),
    }];
    let server = http_api::serve_metrics(listener, pools).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    let url = format!("http://127.0.0.1:{port}");
    let response = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/guest",status="200"}"#,
        r#"http_requests_total{method="GET",route="/users/{id}",status="401"}"#,
        "http_request_duration_seconds_bucket",
        r#"pool_connections{pool="test-pool",state="max"} 7"#,
        r#"pool_connections{pool="test-pool",state="in_use"} 2"#,
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    assert!(
        !text.contains("/users/12345"),
        "raw paths must not be labels"
    );
    // The listener serves metrics and nothing else.
    let other = reqwest::get(format!("{url}/guest")).await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    handle.stop(false).await;
}

#[tokio::test]
async fn the_server_serves_metrics_on_metrics_addr_only() {
    let app = spawn_app_with(|settings| {
        settings.set("METRICS_ADDR", "127.0.0.1:0");
    })
    .await;
    assert_eq!(app.get("/guest", None).await.status(), StatusCode::OK);
    let port = app.metrics_port.expect("a metrics listener");
    assert_ne!(port, app.port);
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"pool_connections{pool="postgres""#),
        "{text}"
    );
    assert!(text.contains(r#"route="/guest""#), "{text}");
    let public = app.get("/metrics", None).await;
    assert_error(public, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn without_metrics_addr_there_is_no_metrics_listener() {
    let app = spawn_app().await;
    assert_eq!(app.metrics_port, None);
}
