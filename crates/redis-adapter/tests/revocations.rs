#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Against the real Redis at 127.0.0.1:6379; each test uses its own prefix.

use std::time::Duration;

use application::ports::{DependencyProbe, Revocation, RevocationError, TokenRevocations};
use chrono::{DateTime, TimeZone, Utc};
use domain::{SessionId, TokenClaims, UserId};
use redis_adapter::{
    RedisPool, RedisProbe, RedisSettings, RedisTokenRevocations, connect, connect_shared, keys,
    redis,
};
use test_support::{REDIS_URL, fixtures::access_claims, redis_prefix};

const TIMEOUT: Duration = Duration::from_secs(2);

fn pool() -> RedisPool {
    connect(REDIS_URL, &RedisSettings::default()).unwrap()
}

fn revocations(prefix: &str) -> RedisTokenRevocations {
    let shared = connect_shared(REDIS_URL, &RedisSettings::default()).unwrap();
    RedisTokenRevocations::new(shared, prefix, TIMEOUT)
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

fn claims(user: i64, token: &str, session: &str, issued_at: DateTime<Utc>) -> TokenClaims {
    access_claims(
        user,
        token,
        session,
        issued_at,
        chrono::Duration::seconds(900),
    )
}

async fn ttl(pool: &RedisPool, key: &str) -> i64 {
    let mut connection = pool.get().await.unwrap();
    redis::cmd("TTL")
        .arg(key)
        .query_async(&mut connection)
        .await
        .unwrap()
}

async fn get(pool: &RedisPool, key: &str) -> Option<String> {
    let mut connection = pool.get().await.unwrap();
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn nothing_is_revoked_in_a_fresh_store() {
    let store = revocations(&redis_prefix());
    assert!(
        !store
            .is_revoked(&claims(1, "t1", "s1", at(1_000)))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_revoked_user_is_the_only_one_revoked() {
    let pool = pool();
    let prefix = redis_prefix();
    let store = revocations(&prefix);
    store
        .revoke(vec![Revocation::User {
            id: UserId::new(1),
            ttl_secs: 300,
        }])
        .await
        .unwrap();

    assert!(
        store
            .is_revoked(&claims(1, "t1", "s1", at(1_000)))
            .await
            .unwrap()
    );
    // Same session id, other user: the user's mark marks no session.
    assert!(
        !store
            .is_revoked(&claims(2, "t2", "s1", at(1_000)))
            .await
            .unwrap()
    );
    assert_eq!(
        get(
            &pool,
            &keys::revoked_session(&prefix, UserId::new(1), &SessionId::new("s1"))
        )
        .await,
        None
    );

    let ttl = ttl(&pool, &keys::revoked_user(&prefix, UserId::new(1))).await;
    assert!(ttl > 0 && ttl <= 300, "ttl {ttl}");
}

#[tokio::test]
async fn a_revoked_session_revokes_all_its_tokens_and_no_other() {
    let pool = pool();
    let prefix = redis_prefix();
    let store = revocations(&prefix);
    store
        .revoke(vec![Revocation::Session {
            id: SessionId::new("s1"),
            user: UserId::new(1),
            ttl_secs: 600,
        }])
        .await
        .unwrap();

    assert!(
        store
            .is_revoked(&claims(1, "t1", "s1", at(1_000)))
            .await
            .unwrap()
    );
    assert!(
        store
            .is_revoked(&claims(1, "t2", "s1", at(2_000)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&claims(1, "t3", "s2", at(1_000)))
            .await
            .unwrap()
    );

    let ttl = ttl(
        &pool,
        &keys::revoked_session(&prefix, UserId::new(1), &SessionId::new("s1")),
    )
    .await;
    assert!(ttl > 0 && ttl <= 600, "ttl {ttl}");
}

/// The mark names the user, not a time, so a token
/// signed after it (by a login in flight during the deletion) is dead too.
#[tokio::test]
async fn a_revoked_user_loses_every_token_even_one_issued_after_the_mark() {
    let pool = pool();
    let prefix = redis_prefix();
    let store = revocations(&prefix);
    let deleted_at = Utc::now().timestamp();
    store
        .revoke(vec![Revocation::User {
            id: UserId::new(7),
            ttl_secs: 900,
        }])
        .await
        .unwrap();

    for (token, issued_at) in [
        ("a", deleted_at - 60),
        ("b", deleted_at),
        ("c", deleted_at + 5),
    ] {
        assert!(
            store
                .is_revoked(&claims(7, token, "s", at(issued_at)))
                .await
                .unwrap(),
            "token issued at {issued_at}, user deleted at {deleted_at}"
        );
    }
    // Another user is untouched.
    assert!(
        !store
            .is_revoked(&claims(8, "d", "s", at(deleted_at)))
            .await
            .unwrap()
    );

    let key = keys::revoked_user(&prefix, UserId::new(7));
    assert_eq!(get(&pool, &key).await, Some("1".to_owned()));
    let ttl = ttl(&pool, &key).await;
    assert!(ttl > 0 && ttl <= 900, "ttl {ttl}");
}

#[tokio::test]
async fn revocations_in_one_call_are_all_recorded() {
    let prefix = redis_prefix();
    let store = revocations(&prefix);
    store
        .revoke(vec![
            Revocation::Session {
                id: SessionId::new("s8"),
                user: UserId::new(1),
                ttl_secs: 100,
            },
            Revocation::Session {
                id: SessionId::new("s9"),
                user: UserId::new(1),
                ttl_secs: 200,
            },
            Revocation::User {
                id: UserId::new(3),
                ttl_secs: 300,
            },
        ])
        .await
        .unwrap();

    assert!(
        store
            .is_revoked(&claims(1, "w", "s8", at(1)))
            .await
            .unwrap()
    );
    assert!(
        store
            .is_revoked(&claims(1, "y", "s9", at(1)))
            .await
            .unwrap()
    );
    assert!(
        store
            .is_revoked(&claims(3, "z", "x", at(5_000)))
            .await
            .unwrap()
    );
    assert!(!store.is_revoked(&claims(1, "y", "x", at(1))).await.unwrap());
}

#[tokio::test]
async fn a_later_shorter_revocation_never_shortens_an_earlier_one() {
    let pool = pool();
    let prefix = redis_prefix();
    let store = revocations(&prefix);
    let long = vec![
        Revocation::User {
            id: UserId::new(5),
            ttl_secs: 900,
        },
        Revocation::Session {
            id: SessionId::new("s"),
            user: UserId::new(5),
            ttl_secs: 900,
        },
    ];
    store.revoke(long).await.unwrap();
    let short = vec![
        Revocation::User {
            id: UserId::new(5),
            ttl_secs: 10,
        },
        Revocation::Session {
            id: SessionId::new("s"),
            user: UserId::new(5),
            ttl_secs: 10,
        },
    ];
    store.revoke(short).await.unwrap();

    assert!(
        store
            .is_revoked(&claims(5, "u", "s", at(1_500)))
            .await
            .unwrap()
    );
    assert!(ttl(&pool, &keys::revoked_user(&prefix, UserId::new(5))).await > 10);
    assert!(
        ttl(
            &pool,
            &keys::revoked_session(&prefix, UserId::new(5), &SessionId::new("s"))
        )
        .await
            > 10
    );
}

/// A mark revokes (fails closed) whatever its value: an older release
/// stored unix seconds in the user's.
#[tokio::test]
async fn a_user_mark_of_any_value_revokes() {
    let pool = pool();
    let prefix = redis_prefix();
    let store = revocations(&prefix);
    let key = keys::revoked_user(&prefix, UserId::new(9));
    {
        let mut connection = pool.get().await.unwrap();
        let () = redis::cmd("SET")
            .arg(&key)
            .arg("1700000000")
            .arg("EX")
            .arg(60)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    assert!(
        store
            .is_revoked(&claims(9, "t", "s", at(1_800_000_000)))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_empty_revocation_list_is_accepted() {
    let store = revocations(&redis_prefix());
    store.revoke(Vec::new()).await.unwrap();
}

#[tokio::test]
async fn probe_answers_when_redis_is_up() {
    let probe = RedisProbe::new(pool(), TIMEOUT);
    assert_eq!(probe.name(), "redis");
    probe.ping().await.unwrap();
}

fn unreachable_pool() -> RedisPool {
    let settings = RedisSettings {
        max_connections: 2,
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_secs(1),
    };
    // Port 1: nothing listens there, the connection is refused.
    connect("redis://127.0.0.1:1", &settings).unwrap()
}

#[tokio::test]
async fn an_unreachable_redis_is_reported_unavailable() {
    let pool = unreachable_pool();
    let shared = connect_shared("redis://127.0.0.1:1", &RedisSettings::default()).unwrap();
    let store = RedisTokenRevocations::new(shared, redis_prefix(), TIMEOUT);

    let revoke = store
        .revoke(vec![Revocation::Session {
            id: SessionId::new("s"),
            user: UserId::new(1),
            ttl_secs: 60,
        }])
        .await;
    assert!(
        matches!(revoke, Err(RevocationError::Unavailable(_))),
        "{revoke:?}"
    );

    let check = store.is_revoked(&claims(1, "t", "s", at(1_000))).await;
    assert!(
        matches!(check, Err(RevocationError::Unavailable(_))),
        "{check:?}"
    );

    let probe = RedisProbe::new(pool, TIMEOUT);
    assert!(probe.ping().await.is_err());
}

#[test]
fn an_invalid_url_is_rejected_without_echoing_it() {
    let error = connect("http://user:hunter2@example.com", &RedisSettings::default())
        .unwrap_err()
        .to_string();
    assert!(!error.contains("hunter2"), "{error}");
}

#[test]
fn a_pool_needs_at_least_one_connection() {
    let settings = RedisSettings {
        max_connections: 0,
        ..RedisSettings::default()
    };
    assert!(connect(REDIS_URL, &settings).is_err());
}

#[tokio::test]
async fn a_silent_redis_is_reported_unavailable_instead_of_hanging() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let settings = RedisSettings {
        max_connections: 2,
        connect_timeout: Duration::from_millis(300),
        command_timeout: Duration::from_millis(300),
    };
    let pool = connect(&format!("redis://{address}"), &settings).unwrap();
    let shared = connect_shared(&format!("redis://{address}"), &settings).unwrap();
    let store = RedisTokenRevocations::new(shared, redis_prefix(), settings.command_timeout);

    let check = store.is_revoked(&claims(1, "t", "s", at(1_000))).await;
    assert!(
        matches!(check, Err(RevocationError::Unavailable(_))),
        "{check:?}"
    );
    let revoke = store
        .revoke(vec![Revocation::Session {
            id: SessionId::new("s"),
            user: UserId::new(1),
            ttl_secs: 5,
        }])
        .await;
    assert!(
        matches!(revoke, Err(RevocationError::Unavailable(_))),
        "{revoke:?}"
    );
    assert!(
        RedisProbe::new(pool, settings.command_timeout)
            .ping()
            .await
            .is_err()
    );
    silent.abort();
}
