#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The revocation cache over TLS, against a TLS-only Redis this test
//! starts (test-support's `TlsRedis`, with a CA of its own): the cache's
//! connection decrypts what it drains (rustls's `ClientConnection`), so a
//! mark another instance writes is still seen by the very next check.

use std::num::NonZeroUsize;
use std::time::Duration;

use application::ports::{Revocation, TokenRevocations};
use chrono::Utc;
use domain::TokenClaims;
use redis_adapter::{
    RedisEndpoint, RedisSettings, RedisTokenRevocations, RevocationCacheSettings,
    connect_shared_endpoint,
};
use test_support::redis_prefix;
use test_support::redis_servers::TlsRedis;

const TIMEOUT: Duration = Duration::from_secs(2);

fn endpoint(redis: &TlsRedis) -> RedisEndpoint {
    RedisEndpoint::single(redis.url().parse().unwrap())
        .with_ca_cert(redis.ca.cert_pem().into_bytes())
        .unwrap()
}

fn plain(endpoint: &RedisEndpoint, prefix: &str) -> RedisTokenRevocations {
    let shared = connect_shared_endpoint(endpoint, &RedisSettings::default()).unwrap();
    RedisTokenRevocations::new(shared, prefix, TIMEOUT)
}

fn claims(user: i64, session: &str) -> TokenClaims {
    test_support::fixtures::access_claims(
        user,
        "t",
        session,
        Utc::now(),
        chrono::Duration::seconds(300),
    )
}

#[tokio::test]
async fn a_mark_written_elsewhere_is_seen_by_the_very_next_check_over_tls() {
    let redis = TlsRedis::start();
    let endpoint = endpoint(&redis);
    let prefix = redis_prefix();
    let settings =
        RevocationCacheSettings::new(NonZeroUsize::new(1024).unwrap(), &RedisSettings::default());
    let reader = plain(&endpoint, &prefix)
        .with_cache_on(&endpoint, settings)
        .unwrap();
    let writer = plain(&endpoint, &prefix);

    // Until the cache's TLS connection is up, checks read Redis directly.
    let warm = claims(1, "warm");
    let mut warmed = false;
    for _ in 0..300 {
        assert!(!reader.is_revoked(&warm).await.unwrap());
        if reader.cache_stats().unwrap().hits > 0 {
            warmed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(warmed, "the cache never served a hit over TLS");

    for round in 0..100 {
        let token = claims(1_000 + round, &format!("s{round}"));
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
    assert!(stats.hits >= 100, "{stats:?}");
    assert!(stats.invalidations >= 100, "{stats:?}");
}
