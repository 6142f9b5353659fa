//! PostgreSQL or Redis unreachable: 503 with Retry-After, never a hang or
//! a 500; token checks fail closed; open routes keep working; emails wait.

use std::future::Future;
use std::time::Duration;

use integration_tests::{
    PASSWORD, TcpProxy, assert_unavailable, json_body, jwt, spawn_app, spawn_app_with,
};
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::json;

/// Repeats `attempt` until it gives `expected` or `limit` passes; returns
/// the last status. For recoveries, whose moment a test cannot know.
async fn eventually<F, Fut>(limit: Duration, expected: StatusCode, attempt: F) -> StatusCode
where
    F: Fn() -> Fut,
    Fut: Future<Output = reqwest::Response>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let status = attempt().await.status();
        if status == expected || tokio::time::Instant::now() >= deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn token_checks_fail_closed_while_redis_is_down_and_recover() {
    let redis = TcpProxy::redis().await;
    let app = spawn_app_with(|settings| {
        settings.set("REDIS_URL", redis.redis_url());
    })
    .await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    assert_eq!(
        app.get("/protected", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );

    // Redis dies: connections drop, new ones are closed at once.
    redis.down().await;
    for path in ["/protected", "/fresh-protected", "/users/me"] {
        assert_unavailable(app.get(path, Some(&tokens.access)).await).await;
    }
    assert_unavailable(app.refresh(&tokens.refresh).await).await;
    assert_unavailable(app.logout(&tokens.refresh).await).await;
    let response = app
        .delete(&format!("/users/{}", user.id), Some(&tokens.access))
        .await;
    assert_unavailable(response).await;
    let body = assert_unavailable(app.get("/health/ready", None).await).await;
    assert!(
        body["message"].as_str().unwrap().contains("redis"),
        "{body}"
    );
    // Open routes do not care.
    assert_eq!(app.get("/guest", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);

    // Redis hangs instead: answers are bounded in time all the same.
    redis.blackhole();
    assert_unavailable(app.get("/protected", Some(&tokens.access)).await).await;

    // Redis is back: the same token works again, nothing was revoked.
    redis.up();
    let status = eventually(Duration::from_secs(10), StatusCode::OK, || {
        app.get("/protected", Some(&tokens.access))
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get("/health/ready", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_valid_looking_token_is_503_when_redis_is_a_closed_port() {
    let app = spawn_app_with(|settings| {
        settings.redis_down();
    })
    .await;
    // Registration and login need no Redis.
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let forged = jwt::sign(
        &jwt::valid_claims(user.id, "access", 300),
        &app.jwt_secret,
        Algorithm::HS256,
    );
    for token in [&tokens.access, &forged] {
        assert_unavailable(app.get("/protected", Some(token)).await).await;
    }
    assert_unavailable(app.refresh(&tokens.refresh).await).await;
}

#[tokio::test]
async fn open_routes_work_with_postgres_and_redis_both_down() {
    let app = spawn_app_with(|settings| {
        settings.postgres_down().redis_down();
    })
    .await;

    let response = app.get("/guest", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "This endpoint is open to everyone."})
    );
    let response = app.get("/health/live", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await, json!({"status": "ok"}));

    let body = assert_unavailable(app.get("/health/ready", None).await).await;
    let message = body["message"].as_str().unwrap().to_lowercase();
    assert!(
        message.contains("postgres") && message.contains("redis"),
        "{body}"
    );

    assert_unavailable(app.register("ada", "ada@example.com", PASSWORD).await).await;
    assert_unavailable(app.login("ada@example.com", PASSWORD).await).await;
    let forged = jwt::sign(
        &jwt::valid_claims(1, "access", 300),
        &app.jwt_secret,
        Algorithm::HS256,
    );
    assert_unavailable(app.get("/protected", Some(&forged)).await).await;
    // Requests that fail before touching a dependency still fail as usual.
    let response = app.get("/protected", Some("garbage")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn register_and_login_are_503_while_postgres_is_down() {
    let app = spawn_app_with(|settings| {
        settings.postgres_down();
    })
    .await;
    let body = assert_unavailable(app.register("ada", "ada@example.com", PASSWORD).await).await;
    let text = body.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("postgres://"),
        "{text}"
    );
    assert_unavailable(app.login("ada@example.com", PASSWORD).await).await;
    // Validation still answers first, without the database.
    let response = app.register("a", "ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_dying_and_coming_back() {
    let postgres = TcpProxy::postgres().await;
    let app = spawn_app_with(|settings| {
        settings.database_port(postgres.port());
    })
    .await;
    let user = app.register_user().await;

    postgres.down().await;
    assert_unavailable(app.register("bob", "bob@example.com", PASSWORD).await).await;
    assert_unavailable(app.login(&user.email, &user.password).await).await;
    let tokens_before = {
        postgres.up();
        let status = eventually(Duration::from_secs(10), StatusCode::OK, || {
            app.login(&user.email, &user.password)
        })
        .await;
        assert_eq!(status, StatusCode::OK);
        app.login_tokens(&user).await
    };
    // Users live in PostgreSQL: /users/me cannot answer without it.
    postgres.blackhole();
    assert_unavailable(app.get("/users/me", Some(&tokens_before.access)).await).await;
    postgres.up();

    let status = eventually(Duration::from_secs(10), StatusCode::CREATED, || {
        app.register("bob", "bob@example.com", PASSWORD)
    })
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Registers while Redis is down (201), brings Redis back, and expects
/// the welcome job in the stream within `limit` and the outbox empty.
async fn welcome_job_survives_a_redis_outage(limit: Duration) {
    let redis = TcpProxy::redis().await;
    let app = spawn_app_with(|settings| {
        settings.set("REDIS_URL", redis.redis_url());
    })
    .await;
    redis.down().await;

    let response = app.register("ada", "Ada@Example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // Give the relay a moment to try (and fail) while Redis is down.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.email_jobs().await.is_empty());
    assert_eq!(app.outbox_len().await, 1, "the job waits in the outbox");

    redis.up();
    let jobs = app.wait_for_email_jobs(1, limit).await;
    assert_eq!(
        jobs.len(),
        1,
        "no job in the stream {limit:?} after Redis came back"
    );
    assert_eq!(jobs[0]["kind"], "welcome");
    assert_eq!(jobs[0]["to"], "Ada@Example.com");
    assert!(
        jobs[0].get("username").is_none(),
        "no requester text: {}",
        jobs[0]
    );
    // The relay removes the row right after Redis took the job.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.outbox_len().await > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.outbox_len().await, 0);
}

/// "The job reaches Redis when it is back": a failed push releases its
/// outbox lease, so the relay's next round (every second) delivers it.
#[tokio::test(flavor = "multi_thread")]
async fn a_welcome_job_registered_while_redis_is_down_reaches_the_queue_promptly() {
    welcome_job_survives_a_redis_outage(Duration::from_secs(15)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_is_delivered_promptly_and_the_outbox_drains() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let jobs = app.wait_for_email_jobs(1, Duration::from_secs(10)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["to"], user.email);
    assert!(
        jobs[0].get("username").is_none(),
        "no requester text: {}",
        jobs[0]
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.outbox_len().await > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.outbox_len().await, 0);
}
