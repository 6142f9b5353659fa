//! The client-side cache of revocation marks: two instances
//! sharing one Redis prefix, database and key, as a scaled-out deployment
//! runs them. A revocation written through one must be seen by the other
//! at once, whatever the other has cached.

use std::time::Duration;

use deadpool_redis::redis;
use domain::{SessionId, UserId};
use integration_tests::token_errors::REVOKED;
use integration_tests::{TcpProxy, TestApp, assert_token_rejected, jwt, spawn_app, spawn_app_with};
use redis_adapter::keys;
use reqwest::StatusCode;

/// A second instance of `first`'s deployment: same prefix, database and
/// JWT key; `configure` may change more (its Redis route, say).
async fn second_instance(
    first: &TestApp,
    configure: impl FnOnce(&mut integration_tests::TestSettings),
) -> TestApp {
    let prefix = first.redis_prefix.clone();
    let secret = first.jwt_secret.clone();
    let database = first.database_url.clone();
    spawn_app_with(move |settings| {
        settings.create_database = false;
        settings
            .set("REDIS_KEY_PREFIX", prefix)
            .set("JWT_SECRET_KEY", secret)
            .set("DATABASE_URL", database)
            .set("METRICS_ADDR", "127.0.0.1:0");
        configure(settings);
    })
    .await
}

async fn status(app: &TestApp, token: &str) -> StatusCode {
    app.get("/protected", Some(token)).await.status()
}

/// The value of an unlabelled series in the instance's `/metrics`. The
/// recorder is per process, and each instance adds what it counted since
/// its last scrape: counters sum every app of this test binary, so tests
/// assert lower bounds.
async fn metric(app: &TestApp, name: &str) -> u64 {
    let port = app.metrics_port.expect("a metrics listener");
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse::<f64>()
        .unwrap() as u64
}

/// Repeats `attempt` until it gives something else than 503 or `limit`
/// passes; returns every status seen. For a recovery whose moment a test
/// cannot know.
async fn statuses_until_answered(app: &TestApp, token: &str, limit: Duration) -> Vec<StatusCode> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let status = status(app, token).await;
        seen.push(status);
        if status != StatusCode::SERVICE_UNAVAILABLE || tokio::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_at_one_instance_is_seen_at_the_other_at_once_100_times() {
    let a = spawn_app().await;
    let b = second_instance(&a, |_| {}).await;
    let user = a.register_user().await;

    let mut stale = 0;
    for round in 0..100 {
        let tokens = a.login_tokens(&user).await;
        // B reads the marks (a miss), then answers from its cache.
        assert_eq!(
            status(&b, &tokens.access).await,
            StatusCode::OK,
            "round {round}"
        );
        assert_eq!(
            status(&b, &tokens.access).await,
            StatusCode::OK,
            "round {round}"
        );
        assert_eq!(a.logout(&tokens.refresh).await.status(), StatusCode::OK);
        // No pause: A has answered, so B must know.
        match status(&b, &tokens.access).await {
            StatusCode::OK => stale += 1,
            StatusCode::UNAUTHORIZED => {}
            other => panic!("round {round}: {other}"),
        }
    }
    assert_eq!(stale, 0, "stale 200s out of 100 rounds");

    // The rounds went through the cache, and Redis's pushes reached it.
    assert!(metric(&b, "revocation_cache_hits_total").await >= 100);
    assert!(metric(&b, "revocation_cache_invalidations_total").await >= 100);
    assert!(metric(&b, "revocation_cache_misses_total").await >= 200);
}

/// The cache holds what Redis holds: a mark deleted there (by hand, or
/// expired) stops revoking at once here too.
#[tokio::test]
async fn a_mark_deleted_in_redis_stops_revoking_at_once() {
    let a = spawn_app().await;
    let b = second_instance(&a, |_| {}).await;
    let user = a.register_user().await;
    let tokens = a.login_tokens(&user).await;
    assert_eq!(status(&b, &tokens.access).await, StatusCode::OK);
    assert_eq!(a.logout(&tokens.refresh).await.status(), StatusCode::OK);
    // Twice: the second answer comes from B's cache.
    for _ in 0..2 {
        assert_token_rejected(b.get("/protected", Some(&tokens.access)).await, REVOKED).await;
    }

    let claims = jwt::claims(&tokens.access);
    let sid = claims["sid"].as_str().unwrap().to_owned();
    let user = UserId::new(claims["sub"].as_str().unwrap().parse().unwrap());
    let mark = keys::revoked_session(&a.redis_prefix, user, &SessionId::new(sid));
    let mut connection = a.redis.get().await.unwrap();
    let deleted: i64 = redis::cmd("DEL")
        .arg(&mark)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(deleted, 1, "{mark}");
    assert_eq!(status(&b, &tokens.access).await, StatusCode::OK);
}

/// A flush makes Redis forget which keys each connection read, so it
/// would never announce a later change of them: the cache must drop
/// everything it read before the flush, or a logout after it goes unseen.
#[tokio::test]
async fn after_a_redis_flush_a_logout_is_still_seen_at_once() {
    let a = spawn_app().await;
    let b = second_instance(&a, |_| {}).await;
    let user = a.register_user().await;
    let tokens = a.login_tokens(&user).await;
    for _ in 0..2 {
        assert_eq!(status(&b, &tokens.access).await, StatusCode::OK);
    }

    // A flush of any database resets tracking for all of them. This one
    // is empty and used by no test, so flushing it loses nothing.
    let spare = deadpool_redis::Config::from_url("redis://127.0.0.1:6379/15")
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let mut connection = spare.get().await.unwrap();
    let size: i64 = redis::cmd("DBSIZE")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(size, 0, "Redis database 15 is expected to be empty");
    let () = redis::cmd("FLUSHDB")
        .query_async(&mut connection)
        .await
        .unwrap();

    assert_eq!(status(&b, &tokens.access).await, StatusCode::OK);
    assert_eq!(a.logout(&tokens.refresh).await.status(), StatusCode::OK);
    assert_token_rejected(b.get("/protected", Some(&tokens.access)).await, REVOKED).await;
    assert!(metric(&b, "revocation_cache_resets_total").await >= 1);
}

/// B's connection to Redis drops while A records a logout: the push for
/// it is lost with the connection, so B must empty its cache rather than
/// answer from it, then read Redis again.
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_connection_empties_the_cache_before_any_further_hit() {
    let redis = TcpProxy::redis().await;
    let a = spawn_app().await;
    let redis_url = redis.redis_url();
    let b = second_instance(&a, move |settings| {
        settings.set("REDIS_URL", redis_url);
    })
    .await;
    let user = a.register_user().await;
    let tokens = a.login_tokens(&user).await;
    for _ in 0..3 {
        assert_eq!(status(&b, &tokens.access).await, StatusCode::OK);
    }
    assert!(metric(&b, "revocation_cache_hits_total").await >= 1);

    redis.down().await;
    assert_eq!(a.logout(&tokens.refresh).await.status(), StatusCode::OK);
    let seen = statuses_until_answered(&b, &tokens.access, Duration::from_secs(1)).await;
    assert!(!seen.contains(&StatusCode::OK), "{seen:?}");

    redis.up();
    let seen = statuses_until_answered(&b, &tokens.access, Duration::from_secs(10)).await;
    assert_eq!(seen.last(), Some(&StatusCode::UNAUTHORIZED), "{seen:?}");
    assert!(!seen.contains(&StatusCode::OK), "{seen:?}");
    assert!(metric(&b, "revocation_cache_resets_total").await >= 1);
}

#[tokio::test]
async fn with_the_cache_off_a_logout_is_seen_at_once_too() {
    let a = spawn_app().await;
    let b = second_instance(&a, |settings| {
        settings.set("REVOCATION_CACHE_SIZE", "0");
    })
    .await;
    let user = a.register_user().await;
    for _ in 0..3 {
        let tokens = a.login_tokens(&user).await;
        assert_eq!(status(&b, &tokens.access).await, StatusCode::OK);
        assert_eq!(a.logout(&tokens.refresh).await.status(), StatusCode::OK);
        assert_token_rejected(b.get("/protected", Some(&tokens.access)).await, REVOKED).await;
    }
}
