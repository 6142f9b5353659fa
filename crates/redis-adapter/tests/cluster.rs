//! Every Redis feature on a Redis Cluster of three masters that this test
//! starts (test-support's `RedisCluster`): token marks, rate limits, the
//! email stream with its claims, retries and dead letters, and the probe.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use application::delivery::{Claim, DeadLetter, DeliveryQueue, QueueAdmin, Retry};
use application::ports::{
    DependencyProbe, EmailQueue, RateDecision, RateLimiter, Revocation, TokenRevocations,
};
use application::rate_limits::{RateLimit, Rule};
use chrono::Utc;
use domain::{SessionId, UserId};
use redis_adapter::{
    EmailStreamSettings, RedisDeliveryQueue, RedisEmailQueue, RedisEndpoint, RedisProbe,
    RedisRateLimiter, RedisSettings, RedisTokenRevocations, connect_endpoint,
    connect_shared_endpoint, keys,
};
use test_support::redis_prefix;
use test_support::redis_servers::RedisCluster;

const TIMEOUT: Duration = Duration::from_secs(5);

fn claims(user: i64, session: &str) -> domain::TokenClaims {
    test_support::fixtures::access_claims(
        user,
        "t",
        session,
        Utc::now(),
        chrono::Duration::seconds(900),
    )
}

fn endpoint(cluster: &RedisCluster) -> RedisEndpoint {
    RedisEndpoint::cluster(RedisEndpoint::parse_cluster_nodes(&cluster.nodes()).unwrap())
}

#[tokio::test]
async fn every_feature_runs_on_a_cluster() {
    let cluster = RedisCluster::start(3);
    let endpoint = endpoint(&cluster);
    let settings = RedisSettings {
        command_timeout: TIMEOUT,
        ..RedisSettings::default()
    };
    let pool = connect_endpoint(&endpoint, &settings).unwrap();
    let shared = connect_shared_endpoint(&endpoint, &settings).unwrap();
    let prefix = redis_prefix();

    // The probe PINGs every master.
    RedisProbe::new(pool.clone(), TIMEOUT).ping().await.unwrap();

    // Token marks: each user's two marks share a slot, users spread.
    let revocations = RedisTokenRevocations::new(shared.clone(), prefix.clone(), TIMEOUT)
        .with_cache_on(
            &endpoint,
            redis_adapter::RevocationCacheSettings::new(
                std::num::NonZeroUsize::new(64).unwrap(),
                &settings,
            ),
        )
        .unwrap();
    let users: Vec<UserId> = (1..=24).map(UserId::new).collect();
    let marks: Vec<Revocation> = users
        .iter()
        .flat_map(|user| {
            [
                Revocation::Session {
                    id: SessionId::new(format!("s{user}")),
                    user: *user,
                    ttl_secs: 60,
                },
                Revocation::User {
                    id: *user,
                    ttl_secs: 60,
                },
            ]
        })
        .filter(|mark| !matches!(mark, Revocation::User { id, .. } if id.get() % 2 == 0))
        .collect();
    revocations.revoke(marks).await.unwrap();
    for user in &users {
        let own = claims(user.get(), &format!("s{user}"));
        let other = claims(user.get(), "other");
        assert!(revocations.is_revoked(&own).await.unwrap(), "{user}");
        assert_eq!(
            revocations.is_revoked(&other).await.unwrap(),
            user.get() % 2 == 1,
            "{user}"
        );
    }
    let shards: HashSet<u16> = users
        .iter()
        .map(|user| cluster.owner_of(&keys::revoked_user(&prefix, *user)))
        .collect();
    assert_eq!(shards.len(), 3, "users' marks land on every shard");
    for user in &users {
        let session = keys::revoked_session(&prefix, *user, &SessionId::new("s"));
        assert_eq!(
            cluster.owner_of(&session),
            cluster.owner_of(&keys::revoked_user(&prefix, *user))
        );
    }

    // Rate limits count on the cluster.
    let limiter = RedisRateLimiter::new(shared.clone(), prefix.clone(), TIMEOUT);
    let limit = RateLimit::new(2, Duration::from_secs(60));
    for subject in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        for _ in 0..2 {
            let decision = limiter.hit(Rule::LoginPerIp, subject, limit).await.unwrap();
            assert!(matches!(decision, RateDecision::Allowed { .. }));
        }
        let decision = limiter.hit(Rule::LoginPerIp, subject, limit).await.unwrap();
        assert!(
            matches!(decision, RateDecision::Limited { .. }),
            "{decision:?}"
        );
    }

    // The email stream: push, receive, claim, retry, dead letter, requeue.
    RedisEmailQueue::new(pool.clone(), prefix.clone(), TIMEOUT)
        .push(vec![common::job(1), common::job(2)])
        .await
        .unwrap();
    let mut stream_settings = EmailStreamSettings::new("worker-1");
    stream_settings.block = Duration::from_millis(200);
    stream_settings.command_timeout = TIMEOUT;
    let queue = RedisDeliveryQueue::new(pool.clone(), prefix.clone(), stream_settings);
    let deliveries = queue.receive(10).await.unwrap();
    assert_eq!(deliveries.len(), 2);
    let jobs: Vec<application::EmailJob> = deliveries
        .iter()
        .map(|delivery| application::EmailJob::from_json(&delivery.payload).unwrap())
        .collect();
    assert_eq!(
        queue
            .claim(jobs[0].id, &deliveries[0].receipt)
            .await
            .unwrap(),
        Claim::Acquired
    );
    queue
        .complete(&deliveries[0].receipt, jobs[0].id)
        .await
        .unwrap();
    assert_eq!(
        queue.claim(jobs[0].id, "0-1").await.unwrap(),
        Claim::AlreadyDelivered
    );
    let retry = Retry {
        job_id: jobs[1].id,
        payload: deliveries[1].payload.clone(),
        history: Vec::new(),
        due_at: Utc::now() - chrono::Duration::seconds(1),
    };
    queue
        .schedule_retry(&deliveries[1].receipt, retry)
        .await
        .unwrap();
    assert_eq!(queue.promote_due_retries(Utc::now(), 10).await.unwrap(), 1);
    let again = queue.receive(10).await.unwrap();
    assert_eq!(again.len(), 1);
    let letter = DeadLetter {
        id: jobs[1].id.to_string(),
        kind: Some("welcome".into()),
        payload: again[0].payload.clone(),
        reason: "permanent failure".into(),
        history: Vec::new(),
        dead_at: Utc::now(),
    };
    queue.dead_letter(&again[0].receipt, letter).await.unwrap();
    let depths = queue.depths().await.unwrap();
    assert_eq!((depths.stream, depths.retrying, depths.dead), (0, 0, 1));
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
    assert_eq!(queue.requeue_all_dead_letters().await.unwrap(), 1);
    assert_eq!(queue.receive(10).await.unwrap().len(), 1);
    assert!(queue.claim_abandoned(10).await.unwrap().is_empty());
    assert!(!queue.leave_group_if_idle().await.unwrap());
}

/// One tracking connection per master: a mark written through another
/// client is seen by the very next check, whichever shard holds the user.
#[tokio::test]
async fn the_revocation_cache_runs_on_every_shard() {
    let cluster = RedisCluster::start(3);
    let endpoint = endpoint(&cluster);
    let settings = RedisSettings::default();
    let prefix = redis_prefix();
    let store = |cache: bool| {
        let shared = connect_shared_endpoint(&endpoint, &settings).unwrap();
        let store = RedisTokenRevocations::new(shared, prefix.clone(), TIMEOUT);
        if !cache {
            return store;
        }
        let cache = redis_adapter::RevocationCacheSettings::new(
            std::num::NonZeroUsize::new(1024).unwrap(),
            &settings,
        );
        store.with_cache_on(&endpoint, cache).unwrap()
    };
    let (reader, writer) = (store(true), store(false));

    // Until the slot map and every shard's connection are up, checks read
    // Redis directly: wait for a hit on each shard.
    let users: Vec<i64> = (1..=60).collect();
    let mut warm: HashSet<u16> = HashSet::new();
    for _ in 0..300 {
        for user in &users {
            let before = reader.cache_stats().unwrap().hits;
            assert!(!reader.is_revoked(&claims(*user, "warm")).await.unwrap());
            if reader.cache_stats().unwrap().hits > before {
                warm.insert(cluster.owner_of(&keys::revoked_user(&prefix, UserId::new(*user))));
            }
        }
        if warm.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(warm.len(), 3, "a hit on every shard");

    let before = reader.cache_stats().unwrap();
    for user in &users {
        let token = claims(*user, &format!("s{user}"));
        assert!(!reader.is_revoked(&token).await.unwrap());
        assert!(!reader.is_revoked(&token).await.unwrap());
        let revocation = if user % 2 == 0 {
            Revocation::Session {
                id: token.session_id.clone(),
                user: token.user_id,
                ttl_secs: 60,
            }
        } else {
            Revocation::User {
                id: token.user_id,
                ttl_secs: 60,
            }
        };
        writer.revoke(vec![revocation]).await.unwrap();
        assert!(
            reader.is_revoked(&token).await.unwrap(),
            "user {user}: stale answer after the write"
        );
    }
    let after = reader.cache_stats().unwrap();
    assert!(after.hits - before.hits >= 60, "{after:?}");
    assert!(
        after.invalidations - before.invalidations >= 60,
        "{after:?}"
    );
}

/// A resharding moves a user's slot (and marks) to another master: once
/// the cache has read the slot map again (within its refresh interval),
/// the old master's cache is emptied and checks go to the new master,
/// after a MOVED answered through the cluster client (which follows it).
#[tokio::test]
async fn a_moved_slot_is_followed() {
    let cluster = RedisCluster::start(3);
    let endpoint = endpoint(&cluster);
    let settings = RedisSettings::default();
    let prefix = redis_prefix();
    let shared = connect_shared_endpoint(&endpoint, &settings).unwrap();
    let cache = redis_adapter::RevocationCacheSettings::new(
        std::num::NonZeroUsize::new(1024).unwrap(),
        &settings,
    );
    let reader = RedisTokenRevocations::new(shared.clone(), prefix.clone(), TIMEOUT)
        .with_cache_on(&endpoint, cache)
        .unwrap();
    let writer = RedisTokenRevocations::new(shared, prefix.clone(), TIMEOUT);
    let user = UserId::new(7);
    let revoked = claims(7, "old");
    writer
        .revoke(vec![Revocation::Session {
            id: revoked.session_id.clone(),
            user,
            ttl_secs: 60,
        }])
        .await
        .unwrap();
    let live = claims(7, "live");
    // Cached on the old master.
    for _ in 0..300 {
        assert!(reader.is_revoked(&revoked).await.unwrap());
        assert!(!reader.is_revoked(&live).await.unwrap());
        if reader.cache_stats().unwrap().hits >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let key = keys::revoked_user(&prefix, user);
    let from = cluster.owner_of(&key);
    let to = *cluster.ports.iter().find(|port| **port != from).unwrap();
    cluster.move_slot_of(&key, to);
    // The slot map is read again at least every second.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    for _ in 0..2 {
        assert!(reader.is_revoked(&revoked).await.unwrap());
        assert!(!reader.is_revoked(&live).await.unwrap());
        writer
            .revoke(vec![Revocation::Session {
                id: live.session_id.clone(),
                user,
                ttl_secs: 60,
            }])
            .await
            .unwrap();
        assert!(reader.is_revoked(&live).await.unwrap());
        // Undo, for the second round on the refreshed map.
        let mut connection = connect_endpoint(&endpoint, &settings)
            .unwrap()
            .get()
            .await
            .unwrap();
        let () = redis_adapter::redis::cmd("DEL")
            .arg(keys::revoked_session(&prefix, user, &live.session_id))
            .query_async(&mut connection)
            .await
            .unwrap();
        tokio::time::sleep(redis_adapter_refresh()).await;
    }
    let hits = reader.cache_stats().unwrap().hits;
    for _ in 0..2 {
        assert!(reader.is_revoked(&revoked).await.unwrap());
    }
    assert!(
        reader.cache_stats().unwrap().hits > hits,
        "the new master's connection serves the user"
    );
}

/// Longer than the slot map's read after a MOVED (100 ms).
fn redis_adapter_refresh() -> Duration {
    Duration::from_millis(500)
}

/// Readiness on a cluster: a master down (no replica) makes it not ready.
#[tokio::test]
async fn the_probe_needs_every_master() {
    let mut cluster = RedisCluster::start(3);
    let pool = connect_endpoint(&endpoint(&cluster), &RedisSettings::default()).unwrap();
    let probe = RedisProbe::new(pool, TIMEOUT);
    probe.ping().await.unwrap();
    cluster.kill(cluster.ports[1]);
    // The other masters mark it failed after their node timeout (2 s).
    let mut ready = true;
    for _ in 0..100 {
        ready = probe.ping().await.is_ok();
        if !ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!ready, "still ready with a master down");
}
