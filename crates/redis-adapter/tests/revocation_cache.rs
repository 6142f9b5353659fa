#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The revocation cache against the real Redis at 127.0.0.1:6379: a store
//! with the cache reads marks another store (another instance) writes.

use std::num::NonZeroUsize;
use std::time::Duration;

use application::ports::{Revocation, TokenRevocations};
use chrono::Utc;
use domain::TokenClaims;
use redis_adapter::{
    RedisSettings, RedisTokenRevocations, RevocationCacheSettings, connect, connect_shared, keys,
    redis,
};
use test_support::{REDIS_URL, fixtures::access_claims, redis_prefix};

const TIMEOUT: Duration = Duration::from_secs(2);

fn plain(prefix: &str) -> RedisTokenRevocations {
    let shared = connect_shared(REDIS_URL, &RedisSettings::default()).unwrap();
    RedisTokenRevocations::new(shared, prefix, TIMEOUT)
}

fn cached(prefix: &str, capacity: usize) -> RedisTokenRevocations {
    let settings = RevocationCacheSettings::new(
        NonZeroUsize::new(capacity).unwrap(),
        &RedisSettings::default(),
    );
    plain(prefix).with_cache(REDIS_URL, settings).unwrap()
}

fn claims(user: i64, token: &str, session: &str) -> TokenClaims {
    access_claims(
        user,
        token,
        session,
        Utc::now(),
        chrono::Duration::seconds(300),
    )
}

/// Checks until one is answered from the cache: its connection is up.
async fn warmed_up(store: &RedisTokenRevocations, claims: &TokenClaims) {
    for _ in 0..200 {
        assert!(!store.is_revoked(claims).await.unwrap());
        if store.cache_stats().unwrap().hits > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the cache never served a hit");
}

#[tokio::test]
async fn a_mark_written_elsewhere_is_seen_by_the_very_next_check() {
    let prefix = redis_prefix();
    let reader = cached(&prefix, 1024);
    let writer = plain(&prefix);
    warmed_up(&reader, &claims(1, "warm", "warm")).await;

    for round in 0..200 {
        let token = claims(1_000 + round, &format!("t{round}"), &format!("s{round}"));
        // Twice: the second answer is a hit.
        assert!(!reader.is_revoked(&token).await.unwrap());
        assert!(!reader.is_revoked(&token).await.unwrap());
        let revocation = match round % 2 {
            0 => Revocation::Session {
                id: token.session_id.clone(),
                user: token.user_id,
                ttl_secs: 60,
            },
            _ => Revocation::User {
                id: token.user_id,
                ttl_secs: 60,
            },
        };
        writer.revoke(vec![revocation]).await.unwrap();
        assert!(
            reader.is_revoked(&token).await.unwrap(),
            "round {round}: stale answer after the write"
        );
    }
    let stats = reader.cache_stats().unwrap();
    assert!(stats.hits >= 200, "{stats:?}");
    assert!(stats.invalidations >= 200, "{stats:?}");
}

#[tokio::test]
async fn a_deleted_mark_stops_revoking_at_once() {
    let prefix = redis_prefix();
    let reader = cached(&prefix, 1024);
    let writer = plain(&prefix);
    let token = claims(3, "t", "s");
    warmed_up(&reader, &token).await;
    writer
        .revoke(vec![Revocation::Session {
            id: token.session_id.clone(),
            user: token.user_id,
            ttl_secs: 60,
        }])
        .await
        .unwrap();
    assert!(reader.is_revoked(&token).await.unwrap());
    assert!(reader.is_revoked(&token).await.unwrap());

    let pool = connect(REDIS_URL, &RedisSettings::default()).unwrap();
    let mut connection = pool.get().await.unwrap();
    let () = redis::cmd("DEL")
        .arg(keys::revoked_session(
            &prefix,
            token.user_id,
            &token.session_id,
        ))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(!reader.is_revoked(&token).await.unwrap());
}

#[tokio::test]
async fn a_cache_of_one_entry_still_answers_right() {
    // Two keys per check and room for one: every check misses, and
    // eviction never loses a revocation.
    let prefix = redis_prefix();
    let reader = cached(&prefix, 1);
    let writer = plain(&prefix);
    let token = claims(4, "t", "s");
    for _ in 0..3 {
        assert!(!reader.is_revoked(&token).await.unwrap());
    }
    writer
        .revoke(vec![Revocation::Session {
            id: token.session_id.clone(),
            user: token.user_id,
            ttl_secs: 60,
        }])
        .await
        .unwrap();
    assert!(reader.is_revoked(&token).await.unwrap());
    assert!(reader.cache_stats().unwrap().entries <= 1);
}

#[tokio::test]
async fn while_redis_is_unreachable_checks_fail_closed() {
    let settings =
        RevocationCacheSettings::new(NonZeroUsize::new(16).unwrap(), &RedisSettings::default());
    let shared = connect_shared("redis://127.0.0.1:1", &RedisSettings::default()).unwrap();
    let store = RedisTokenRevocations::new(shared, redis_prefix(), TIMEOUT)
        .with_cache("redis://127.0.0.1:1", settings)
        .unwrap();
    for _ in 0..3 {
        let check = store.is_revoked(&claims(1, "t", "s")).await;
        assert!(
            matches!(
                check,
                Err(application::ports::RevocationError::Unavailable(_))
            ),
            "{check:?}"
        );
    }
    assert_eq!(store.cache_stats().unwrap().hits, 0);
}

#[tokio::test]
async fn only_a_tcp_url_can_carry_the_cache() {
    let settings =
        RevocationCacheSettings::new(NonZeroUsize::new(16).unwrap(), &RedisSettings::default());
    let result = plain(&redis_prefix()).with_cache("redis+unix:///tmp/redis.sock", settings);
    assert!(result.is_err());
}
