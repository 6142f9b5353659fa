//! What keeps stored data bounded, seen from HTTP: the cap on a user's
//! live sessions (`MAX_SESSIONS_PER_USER`), and revocation marks that
//! live no longer than an access token, since refresh tokens are judged
//! by the session store.

use integration_tests::token_errors::REVOKED;
use integration_tests::{TestApp, assert_token_rejected, json_body, spawn_app, spawn_app_with};
use reqwest::StatusCode;

#[tokio::test]
async fn a_login_beyond_the_cap_ends_the_least_recently_used_session() {
    let app = spawn_app_with(|settings| {
        settings.set("MAX_SESSIONS_PER_USER", "2");
    })
    .await;
    let user = app.register_user().await;
    let first = app.login_tokens(&user).await;
    let second = app.login_tokens(&user).await;
    // A refresh is a use: the second is now the least recently used.
    let first = app.rotated(&first.refresh).await;

    let third = app.login_tokens(&user).await;

    assert_token_rejected(app.get("/protected", Some(&second.access)).await, REVOKED).await;
    assert_token_rejected(app.refresh(&second.refresh).await, REVOKED).await;
    for tokens in [&first, &third] {
        let response = app.get("/protected", Some(&tokens.access)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let listed = json_body(app.get("/users/me/sessions", Some(&third.access)).await).await;
    assert_eq!(
        listed["sessions"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
}

/// Every revocation mark under the app's prefix, with its TTL in seconds.
async fn mark_ttls(app: &TestApp) -> Vec<(String, i64)> {
    let mut conn = app.redis.get().await.unwrap();
    let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
        .arg(format!("{}revoked:*", app.redis_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut ttls = Vec::new();
    for key in keys {
        let ttl: i64 = deadpool_redis::redis::cmd("TTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        ttls.push((key, ttl));
    }
    ttls
}

#[tokio::test]
async fn marks_of_logouts_and_deletions_live_no_longer_than_an_access_token() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let one = app.login_tokens(&user).await;
    let two = app.login_tokens(&user).await;
    let other = app.register_user().await;
    let doomed = app.login_tokens(&other).await;

    assert_eq!(app.logout(&one.refresh).await.status(), StatusCode::OK);
    assert_eq!(
        app.logout_scope(&two.refresh, "global").await.status(),
        StatusCode::OK
    );
    let response = app
        .delete(&format!("/users/{}", other.id), Some(&doomed.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let ttls = mark_ttls(&app).await;
    // Two session marks and one user mark; the refresh tokens (30 days)
    // do not stretch them.
    assert_eq!(ttls.len(), 3, "{ttls:?}");
    for (key, ttl) in &ttls {
        assert!((1..=301).contains(ttl), "{key}: {ttl} s");
    }
}

#[tokio::test]
async fn a_refresh_token_of_an_ended_session_is_refused_once_its_marks_are_gone() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    assert_eq!(app.logout(&tokens.refresh).await.status(), StatusCode::OK);

    // What the marks' expiry, an access-token lifetime later, leaves.
    app.delete_redis_keys().await;

    // The session store alone refuses it, for as long as the token lives.
    assert_token_rejected(app.refresh(&tokens.refresh).await, REVOKED).await;
}

/// The purge that runs at every start drops the audit log's months past
/// `AUDIT_RETENTION` and keeps the newer ones.
#[tokio::test]
async fn the_purge_drops_audit_months_past_their_retention() {
    use application::ports::{AuditLog, NewAuditEvent};

    // This instance keeps everything: only the peer's purge may drop.
    let app = integration_tests::spawn_app_with(|settings| {
        settings.set("AUDIT_RETENTION", "36500d");
    })
    .await;
    let audit = postgres_adapter::PgAuditLog::new(
        postgres_adapter::connect(&app.database_url, &postgres_adapter::PgSettings::default())
            .unwrap(),
        postgres_adapter::PgSettings::default(),
    );
    let event = |days_ago: i64| NewAuditEvent {
        at: chrono::Utc::now() - chrono::Duration::days(days_ago),
        kind: domain::AuditEventKind::UserRegistered,
        actor: None,
        subject: None,
        session: None,
        ip: None,
        user_agent: None,
        data: serde_json::json!({}),
    };
    audit.record(vec![event(400), event(10)]).await.unwrap();
    // The month of the old event, by its partition's oid.
    let old_month = app
        .query_scalar(
            "SELECT tableoid::bigint AS value FROM audit_events \
             WHERE at < now() - interval '390 days'",
        )
        .await;

    // Another instance on the same database: its start purges.
    let _peer = integration_tests::spawn_peer(&app, |settings| {
        settings.set("AUDIT_RETENTION", "365d");
    })
    .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let old = app
            .query_scalar(
                "SELECT count(*) AS value FROM audit_events WHERE at < now() - interval '390 days'",
            )
            .await;
        if old == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old month is still there"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let recent = app
        .query_scalar("SELECT count(*) AS value FROM audit_events")
        .await;
    assert_eq!(recent, 1, "the event of ten days ago stays");
    let still_there = app
        .query_scalar(&format!(
            "SELECT count(*) AS value FROM pg_class WHERE oid = {old_month}"
        ))
        .await;
    assert_eq!(
        still_there, 0,
        "the old month's partition was dropped whole"
    );
}
