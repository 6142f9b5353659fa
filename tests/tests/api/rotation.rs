//! v2 refresh-token rotation: reuse detection, concurrency, the session
//! store as the truth, and the v1 mode.

use std::collections::HashSet;
use std::time::Duration;

use integration_tests::token_errors::{EXPIRED, INVALID, REUSED, REVOKED};
use integration_tests::{
    TcpProxy, assert_token_rejected, assert_unavailable, json_body, jwt, spawn_app, spawn_app_with,
    spawn_peer,
};
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;

#[tokio::test]
async fn the_previous_token_within_the_interval_answers_the_current_generation() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;
    let current = app.rotated(&login.refresh).await;

    // A second tab, or a lost response: the same answer generation.
    let replay = app.rotated(&login.refresh).await;
    assert_eq!(jwt::claims(&replay.refresh)["gen"], 1);
    assert_eq!(
        jwt::claims(&replay.refresh)["exp"],
        jwt::claims(&current.refresh)["exp"]
    );
    // Both copies of generation 1 rotate on.
    let next = app.rotated(&replay.refresh).await;
    assert_eq!(jwt::claims(&next.refresh)["gen"], 2);
}

#[tokio::test]
async fn an_older_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;
    let second = app.rotated(&login.refresh).await;
    let third = app.rotated(&second.refresh).await;
    let other = app.login_tokens(&user).await;

    assert_token_rejected(app.refresh(&login.refresh).await, REUSED).await;
    // Every token of the session is dead at once.
    assert_token_rejected(app.refresh(&third.refresh).await, REVOKED).await;
    for access in [&login.access, &second.access, &third.access] {
        assert_token_rejected(app.get("/protected", Some(access)).await, REVOKED).await;
    }
    // Another session of the same user is untouched.
    assert_eq!(
        app.get("/protected", Some(&other.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_previous_token_after_the_interval_is_reuse_on_every_instance_at_once() {
    let app = spawn_app_with(|settings| {
        settings.set("REFRESH_REUSE_INTERVAL", "0");
    })
    .await;
    let peer = spawn_peer(&app, |settings| {
        settings.set("REFRESH_REUSE_INTERVAL", "0");
    })
    .await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;
    let rotated = app.rotated(&login.refresh).await;
    assert_eq!(
        peer.get("/protected", Some(&rotated.access)).await.status(),
        StatusCode::OK
    );

    // The thief (or the victim) comes back with the superseded token.
    assert_token_rejected(app.refresh(&login.refresh).await, REUSED).await;
    // The other instance refuses the session's tokens immediately.
    assert_token_rejected(peer.get("/protected", Some(&rotated.access)).await, REVOKED).await;
    assert_token_rejected(peer.refresh(&rotated.refresh).await, REVOKED).await;
}

#[tokio::test]
async fn sixteen_concurrent_refreshes_step_one_generation_without_errors() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;

    let refreshes = (0..16).map(|_| app.refresh(&login.refresh));
    let responses = futures_util::future::join_all(refreshes).await;
    let mut generations = HashSet::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        let body = json_body(response).await;
        generations.insert(jwt::claims(body["refresh_token"].as_str().unwrap())["gen"].clone());
    }
    assert_eq!(generations, HashSet::from([serde_json::json!(1)]));
    let generation: i64 = app
        .query_scalar(&format!(
            "SELECT generation AS value FROM sessions WHERE id = '{}'",
            jwt::claims(&login.refresh)["sid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(generation, 1);
}

#[tokio::test]
async fn a_revoked_session_stays_dead_when_redis_loses_its_marks() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;
    let rotated = app.rotated(&login.refresh).await;
    assert_eq!(app.logout(&rotated.refresh).await.status(), StatusCode::OK);

    // What FLUSHDB does to this app: every key of its prefix is gone
    // (the Redis server is shared with other tests, so only ours go).
    app.delete_redis_keys().await;
    assert_eq!(
        app.get("/protected", Some(&rotated.access)).await.status(),
        StatusCode::OK,
        "an access token outlives its lost mark (at most its 5 minutes)"
    );
    // The session store answers: revoked, and the mark is written back.
    assert_token_rejected(app.refresh(&rotated.refresh).await, REVOKED).await;
    assert_token_rejected(app.get("/protected", Some(&rotated.access)).await, REVOKED).await;
}

#[tokio::test]
async fn postgres_down_during_refresh_rotates_nothing_and_a_retry_works() {
    let postgres = TcpProxy::postgres().await;
    let app = spawn_app_with(|settings| {
        settings.database_port(postgres.port());
    })
    .await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;

    postgres.down().await;
    assert_unavailable(app.refresh(&login.refresh).await).await;
    postgres.up();
    let mut rotated = None;
    for _ in 0..50 {
        let response = app.refresh(&login.refresh).await;
        if response.status() == StatusCode::OK {
            rotated = Some(json_body(response).await);
            break;
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rotated = rotated.expect("refresh works once PostgreSQL is back");
    assert_eq!(
        jwt::claims(rotated["refresh_token"].as_str().unwrap())["gen"],
        1,
        "the failed attempt rotated nothing"
    );
}

#[tokio::test]
async fn a_refresh_token_without_a_numeric_generation_is_invalid() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;
    let mut claims = jwt::claims(&login.refresh);
    for generation in [
        None,
        Some(serde_json::json!("1")),
        Some(serde_json::json!(-1)),
    ] {
        match generation {
            Some(value) => claims["gen"] = value,
            None => {
                claims.as_object_mut().unwrap().remove("gen");
            }
        }
        let forged = jwt::sign(&claims, &app.jwt_secret, Algorithm::HS256);
        assert_token_rejected(app.refresh(&forged).await, INVALID).await;
        assert_token_rejected(app.logout(&forged).await, INVALID).await;
    }
}

#[tokio::test]
async fn a_session_never_outlives_its_maximum_lifetime() {
    let app = spawn_app_with(|settings| {
        settings.set("SESSION_MAX_LIFETIME", "2");
    })
    .await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;
    let claims = jwt::claims(&login.refresh);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 2);
    let rotated = app.rotated(&login.refresh).await;
    assert!(
        jwt::claims(&rotated.refresh)["exp"].as_i64().unwrap()
            <= claims["iat"].as_i64().unwrap() + 2
    );
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    assert_token_rejected(app.refresh(&rotated.refresh).await, EXPIRED).await;
}

#[tokio::test]
async fn without_rotation_refresh_keeps_v1_behaviour() {
    let app = spawn_app_with(|settings| {
        settings.set("REFRESH_TOKEN_ROTATION", "false");
    })
    .await;
    let user = app.register_user().await;
    let login = app.login_tokens(&user).await;
    for _ in 0..3 {
        let response = app.refresh(&login.refresh).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = json_body(response).await;
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert!(body["access_token"].is_string());
    }
    assert_eq!(app.logout(&login.refresh).await.status(), StatusCode::OK);
    assert_token_rejected(app.refresh(&login.refresh).await, REVOKED).await;
}
