#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Job claims, hand-out counts and dead-letter retention against the real
//! Redis at 127.0.0.1:6379; each test uses its own key prefix.

mod common;

use std::time::Duration;

use application::EmailJob;
use application::delivery::{Claim, DeadLetter, Delivery, DeliveryQueue, QueueAdmin, Retry};
use chrono::{DateTime, Utc};
use common::{consumer, job, pool, push, query, receive_n};
use redis_adapter::{EmailStreamSettings, RedisDeliveryQueue, RedisPool, keys, redis};
use test_support::redis_prefix;

fn letter(job: &EmailJob, delivery: &Delivery, dead_at: DateTime<Utc>) -> DeadLetter {
    DeadLetter {
        id: job.id.to_string(),
        kind: Some("welcome".into()),
        payload: delivery.payload.clone(),
        reason: "permanent failure: mailgun answered 400".into(),
        history: Vec::new(),
        dead_at,
    }
}

/// The same job pushed twice (the relay's XADD went through, its delete
/// did not), received as two entries.
async fn duplicated(
    pool: &RedisPool,
    prefix: &str,
) -> (EmailJob, RedisDeliveryQueue, Vec<Delivery>) {
    let job = job(1);
    push(pool, prefix, vec![job.clone()]).await;
    push(pool, prefix, vec![job.clone()]).await;
    let queue = consumer(pool, prefix, "w1");
    let deliveries = receive_n(&queue, 2).await;
    assert_eq!(deliveries.len(), 2);
    (job, queue, deliveries)
}

#[tokio::test]
async fn a_claimed_job_is_refused_to_its_duplicate_entry() {
    let (pool, prefix) = (pool(), redis_prefix());
    let (job, queue, deliveries) = duplicated(&pool, &prefix).await;
    let (first, second) = (&deliveries[0].receipt, &deliveries[1].receipt);

    assert_eq!(queue.claim(job.id, first).await.unwrap(), Claim::Acquired);
    assert_eq!(
        queue.claim(job.id, second).await.unwrap(),
        Claim::HeldElsewhere
    );
    // The holder itself (say, taken over from a dead worker) gets it again.
    assert_eq!(queue.claim(job.id, first).await.unwrap(), Claim::Acquired);
}

#[tokio::test]
async fn completing_a_job_releases_its_claim_and_marks_it_delivered() {
    let (pool, prefix) = (pool(), redis_prefix());
    let (job, queue, deliveries) = duplicated(&pool, &prefix).await;
    let (first, second) = (&deliveries[0].receipt, &deliveries[1].receipt);
    assert_eq!(queue.claim(job.id, first).await.unwrap(), Claim::Acquired);

    queue.complete(first, job.id).await.unwrap();
    let claim: Option<String> = query(
        &pool,
        redis::cmd("GET").arg(keys::email_claim(&prefix, job.id)),
    )
    .await;
    assert_eq!(claim, None);
    assert_eq!(
        queue.claim(job.id, second).await.unwrap(),
        Claim::AlreadyDelivered
    );
}

#[tokio::test]
async fn scheduling_a_retry_releases_the_claim() {
    let (pool, prefix) = (pool(), redis_prefix());
    let (job, queue, deliveries) = duplicated(&pool, &prefix).await;
    let (first, second) = (&deliveries[0], &deliveries[1].receipt);
    assert_eq!(
        queue.claim(job.id, &first.receipt).await.unwrap(),
        Claim::Acquired
    );

    let retry = Retry {
        job_id: job.id,
        payload: first.payload.clone(),
        history: Vec::new(),
        due_at: Utc::now() + chrono::Duration::seconds(60),
    };
    queue.schedule_retry(&first.receipt, retry).await.unwrap();
    assert_eq!(queue.claim(job.id, second).await.unwrap(), Claim::Acquired);
}

#[tokio::test]
async fn a_claim_lapses_after_the_visibility_timeout() {
    // A holder that died mid-send does not block the job forever.
    let (pool, prefix) = (pool(), redis_prefix());
    let (job, queue, deliveries) = duplicated(&pool, &prefix).await;
    assert_eq!(
        queue.claim(job.id, &deliveries[0].receipt).await.unwrap(),
        Claim::Acquired
    );
    let lease_ms: i64 = query(
        &pool,
        redis::cmd("PTTL").arg(keys::email_claim(&prefix, job.id)),
    )
    .await;
    assert!(lease_ms > 0 && lease_ms <= 300, "lease {lease_ms} ms");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        queue.claim(job.id, &deliveries[1].receipt).await.unwrap(),
        Claim::Acquired
    );
}

#[tokio::test]
async fn each_takeover_of_an_entry_counts_as_one_more_hand_out() {
    let (pool, prefix) = (pool(), redis_prefix());
    push(&pool, &prefix, vec![job(4)]).await;
    let queue = consumer(&pool, &prefix, "w1");
    let first = receive_n(&queue, 1).await.remove(0);
    assert_eq!(first.handed_out, 1);

    // Never finished (as if handling panicked): taken over twice.
    for expected in [2, 3] {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let again = queue.claim_abandoned(10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].receipt, first.receipt);
        assert_eq!(again[0].handed_out, expected);
    }
}

fn queue_keeping(pool: &RedisPool, prefix: &str, max: usize) -> RedisDeliveryQueue {
    let mut settings = EmailStreamSettings::new("w1");
    settings.block = Duration::from_millis(100);
    settings.dead_letter_retention = Duration::from_secs(30 * 24 * 3600);
    settings.dead_letter_max = max;
    RedisDeliveryQueue::new(pool.clone(), prefix, settings)
}

#[tokio::test]
async fn dead_letters_past_their_retention_are_dropped_when_another_is_written() {
    let (pool, prefix) = (pool(), redis_prefix());
    let (old, new) = (job(1), job(2));
    push(&pool, &prefix, vec![old.clone(), new.clone()]).await;
    let queue = queue_keeping(&pool, &prefix, 100);
    let deliveries = receive_n(&queue, 2).await;
    let now = Utc::now();

    let long_ago = now - chrono::Duration::days(31);
    let first = letter(&old, &deliveries[0], long_ago);
    queue
        .dead_letter(&deliveries[0].receipt, first)
        .await
        .unwrap();
    let second = letter(&new, &deliveries[1], now);
    queue
        .dead_letter(&deliveries[1].receipt, second)
        .await
        .unwrap();

    let ids: Vec<String> = queue
        .dead_letters()
        .await
        .unwrap()
        .into_iter()
        .map(|letter| letter.id)
        .collect();
    assert_eq!(ids, [new.id.to_string()]);
    let indexed: usize = query(
        &pool,
        redis::cmd("ZCARD").arg(keys::email_dead_by_time(&prefix)),
    )
    .await;
    assert_eq!(indexed, 1);
}

#[tokio::test]
async fn beyond_the_cap_the_oldest_dead_letters_go_first() {
    let (pool, prefix) = (pool(), redis_prefix());
    let jobs = vec![job(1), job(2), job(3)];
    push(&pool, &prefix, jobs.clone()).await;
    let queue = queue_keeping(&pool, &prefix, 2);
    let deliveries = receive_n(&queue, 3).await;
    let now = Utc::now();
    for (n, (job, delivery)) in jobs.iter().zip(&deliveries).enumerate() {
        let dead_at = now + chrono::Duration::seconds(i64::try_from(n).unwrap());
        let letter = letter(job, delivery, dead_at);
        queue.dead_letter(&delivery.receipt, letter).await.unwrap();
    }

    let ids: Vec<String> = queue
        .dead_letters()
        .await
        .unwrap()
        .into_iter()
        .map(|letter| letter.id)
        .collect();
    assert_eq!(ids, [jobs[1].id.to_string(), jobs[2].id.to_string()]);
}

#[tokio::test]
async fn dead_letters_from_before_the_time_index_are_kept_and_indexed() {
    let (pool, prefix) = (pool(), redis_prefix());
    let legacy = job(5);
    let json = serde_json::json!({
        "id": legacy.id.to_string(), "kind": "welcome", "payload": legacy.to_json(),
        "reason": "old", "history": [], "dead_at": "2020-01-01T00:00:00Z",
    });
    let _: i64 = query(
        &pool,
        redis::cmd("HSET")
            .arg(keys::email_dead(&prefix))
            .arg(legacy.id.to_string())
            .arg(json.to_string()),
    )
    .await;
    let queue = queue_keeping(&pool, &prefix, 100);

    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
    let indexed: usize = query(
        &pool,
        redis::cmd("ZCARD").arg(keys::email_dead_by_time(&prefix)),
    )
    .await;
    assert_eq!(indexed, 1);
}
