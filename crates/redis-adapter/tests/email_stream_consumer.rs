#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The consumer side of the email stream against the real Redis at
//! 127.0.0.1:6379; each test uses its own key prefix.

mod common;

use application::EmailJob;
use application::delivery::{
    Claim, DeadLetter, DeliveryQueue, FailedAttempt, QueueAdmin, QueueDepths, Retry,
};
use chrono::Utc;
use common::{consumer, job, pending, pool, push, query, receive_n, stream_len};
use redis_adapter::{RedisSettings, connect, keys, redis};
use std::time::Duration;
use test_support::redis_prefix;

#[tokio::test]
async fn jobs_queued_before_any_worker_are_received_and_completed() {
    let pool = pool();
    let prefix = redis_prefix();
    let jobs = vec![job(1), job(2), job(3)];
    push(&pool, &prefix, jobs.clone()).await;
    let queue = consumer(&pool, &prefix, "w1");

    let deliveries = receive_n(&queue, 3).await;
    let payloads: Vec<EmailJob> = deliveries
        .iter()
        .map(|d| EmailJob::from_json(&d.payload).unwrap())
        .collect();
    assert_eq!(payloads, jobs);
    assert!(deliveries.iter().all(|d| d.history.is_empty()));
    assert_eq!(pending(&pool, &prefix).await, 3);
    assert!(queue.receive(10).await.unwrap().is_empty(), "nothing new");

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
    queue.ack(&deliveries[1].receipt).await.unwrap();

    assert_eq!(
        queue.claim(jobs[0].id, "9-9").await.unwrap(),
        Claim::AlreadyDelivered
    );
    let ttl: i64 = query(
        &pool,
        redis::cmd("TTL").arg(keys::email_delivered(&prefix, jobs[0].id)),
    )
    .await;
    assert!(ttl > 6 * 24 * 3600 && ttl <= 7 * 24 * 3600, "ttl {ttl}");
    assert_eq!(pending(&pool, &prefix).await, 1);
    assert_eq!(
        stream_len(&pool, &prefix).await,
        1,
        "finished entries are deleted"
    );
}

#[tokio::test]
async fn a_dead_consumers_job_is_taken_over_after_the_visibility_timeout() {
    let pool = pool();
    let prefix = redis_prefix();
    let job = job(7);
    push(&pool, &prefix, vec![job.clone()]).await;

    // This consumer takes the job and "dies" without an outcome.
    let dead = consumer(&pool, &prefix, "dead-worker");
    let taken = receive_n(&dead, 1).await;
    assert_eq!(taken.len(), 1);
    drop(dead);

    let alive = consumer(&pool, &prefix, "alive-worker");
    assert!(alive.receive(10).await.unwrap().is_empty());
    assert!(
        alive.claim_abandoned(10).await.unwrap().is_empty(),
        "not before the visibility timeout"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let claimed = alive.claim_abandoned(10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].receipt, taken[0].receipt);
    assert_eq!(EmailJob::from_json(&claimed[0].payload).unwrap(), job);

    // Now held by the live consumer: not claimable again right away.
    assert!(alive.claim_abandoned(10).await.unwrap().is_empty());
    alive.complete(&claimed[0].receipt, job.id).await.unwrap();
    assert_eq!(pending(&pool, &prefix).await, 0);
}

#[tokio::test]
async fn a_scheduled_retry_comes_back_with_its_history_when_due() {
    let pool = pool();
    let prefix = redis_prefix();
    let job = job(3);
    push(&pool, &prefix, vec![job.clone()]).await;
    let queue = consumer(&pool, &prefix, "w1");
    let first = receive_n(&queue, 1).await.remove(0);

    let now = Utc::now();
    let history = vec![FailedAttempt {
        attempt: 1,
        at: now,
        error: "mailgun answered 503".into(),
    }];
    let retry = Retry {
        job_id: job.id,
        payload: first.payload.clone(),
        history: history.clone(),
        due_at: now + chrono::Duration::seconds(60),
    };
    queue.schedule_retry(&first.receipt, retry).await.unwrap();
    assert_eq!(pending(&pool, &prefix).await, 0, "acked with the retry");
    assert_eq!(stream_len(&pool, &prefix).await, 0);
    assert_eq!(queue.retries_waiting().await.unwrap(), 1);

    assert_eq!(queue.promote_due_retries(now, 100).await.unwrap(), 0);
    assert!(queue.receive(10).await.unwrap().is_empty());

    let later = now + chrono::Duration::seconds(61);
    assert_eq!(queue.promote_due_retries(later, 100).await.unwrap(), 1);
    let zcard: usize = query(&pool, redis::cmd("ZCARD").arg(keys::email_retry(&prefix))).await;
    assert_eq!(zcard, 0);

    let again = receive_n(&queue, 1).await.remove(0);
    assert_eq!(again.payload, first.payload);
    assert_eq!(again.history, history);
    assert_ne!(again.receipt, first.receipt);
}

#[tokio::test]
async fn dead_letters_are_listed_and_requeued_as_fresh_jobs() {
    let pool = pool();
    let prefix = redis_prefix();
    let (a, b) = (job(1), job(2));
    push(&pool, &prefix, vec![a.clone(), b.clone()]).await;
    let queue = consumer(&pool, &prefix, "w1");
    let deliveries = receive_n(&queue, 2).await;

    for (delivery, job) in deliveries.iter().zip([&a, &b]) {
        let letter = DeadLetter {
            id: job.id.to_string(),
            kind: Some("welcome".into()),
            payload: delivery.payload.clone(),
            reason: "mailgun answered 400: bad address".into(),
            history: vec![FailedAttempt {
                attempt: 1,
                at: Utc::now(),
                error: "mailgun answered 400: bad address".into(),
            }],
            dead_at: Utc::now(),
        };
        queue.dead_letter(&delivery.receipt, letter).await.unwrap();
    }
    assert_eq!(pending(&pool, &prefix).await, 0);
    let letters = queue.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 2);
    assert!(letters.iter().any(|l| l.id == a.id.to_string()));
    assert_eq!(letters[0].history.len(), 1);

    assert!(!queue.requeue_dead_letter("no-such-id").await.unwrap());
    assert!(queue.requeue_dead_letter(&a.id.to_string()).await.unwrap());
    let back = receive_n(&queue, 1).await.remove(0);
    assert_eq!(EmailJob::from_json(&back.payload).unwrap(), a);
    assert!(back.history.is_empty(), "a requeued job starts afresh");
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);

    assert_eq!(queue.requeue_all_dead_letters().await.unwrap(), 1);
    let back = receive_n(&queue, 1).await.remove(0);
    assert_eq!(EmailJob::from_json(&back.payload).unwrap(), b);
    assert!(queue.dead_letters().await.unwrap().is_empty());
}

#[tokio::test]
async fn unreadable_entries_are_handed_out_raw() {
    let pool = pool();
    let prefix = redis_prefix();
    let stream = keys::email_stream(&prefix);
    let _: String = query(
        &pool,
        redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("job")
            .arg("{garbage"),
    )
    .await;
    let _: String = query(
        &pool,
        redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("envelope")
            .arg("[1,2]"),
    )
    .await;
    let _: String = query(
        &pool,
        redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("other")
            .arg("x"),
    )
    .await;
    let queue = consumer(&pool, &prefix, "w1");

    let payloads: Vec<String> = receive_n(&queue, 3)
        .await
        .into_iter()
        .map(|d| d.payload)
        .collect();
    assert_eq!(payloads, ["{garbage", "[1,2]", ""]);
}

#[tokio::test]
async fn the_group_comes_back_when_the_stream_is_lost() {
    let pool = pool();
    let prefix = redis_prefix();
    let queue = consumer(&pool, &prefix, "w1");
    assert!(queue.receive(1).await.unwrap().is_empty());

    // As after a Redis restart without persistence.
    let _: i64 = query(&pool, redis::cmd("DEL").arg(keys::email_stream(&prefix))).await;
    assert!(queue.receive(1).await.is_err(), "NOGROUP surfaces once");
    push(&pool, &prefix, vec![job(1)]).await;
    assert_eq!(receive_n(&queue, 1).await.len(), 1);
}

#[tokio::test]
async fn a_clean_consumer_leaves_the_group_but_not_with_pending_jobs() {
    let pool = pool();
    let prefix = redis_prefix();
    push(&pool, &prefix, vec![job(1)]).await;
    let queue = consumer(&pool, &prefix, "w1");
    let delivery = receive_n(&queue, 1).await.remove(0);
    assert!(!queue.leave_group_if_idle().await.unwrap());
    queue.ack(&delivery.receipt).await.unwrap();
    assert!(queue.leave_group_if_idle().await.unwrap());
}

#[tokio::test]
async fn redis_down_is_reported_as_unavailable() {
    // Nothing listens on port 1.
    let pool = connect("redis://127.0.0.1:1", &RedisSettings::default()).unwrap();
    let queue = consumer(&pool, &redis_prefix(), "w1");
    let error = queue.receive(1).await.unwrap_err();
    assert!(
        matches!(
            error,
            application::delivery::DeliveryQueueError::Unavailable(_)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn depths_count_each_part_of_the_queue() {
    let pool = pool();
    let prefix = redis_prefix();
    let queue = consumer(&pool, &prefix, "w1");
    assert_eq!(queue.depths().await.unwrap(), QueueDepths::default());

    let (a, b, c) = (job(1), job(2), job(3));
    push(&pool, &prefix, vec![a.clone(), b.clone(), c]).await;
    let deliveries = receive_n(&queue, 2).await;
    let now = Utc::now();
    let retry = Retry {
        job_id: a.id,
        payload: deliveries[0].payload.clone(),
        history: Vec::new(),
        due_at: now + chrono::Duration::seconds(60),
    };
    queue
        .schedule_retry(&deliveries[0].receipt, retry)
        .await
        .unwrap();
    let letter = DeadLetter {
        id: b.id.to_string(),
        kind: Some("welcome".into()),
        payload: deliveries[1].payload.clone(),
        reason: "mailgun answered 400".into(),
        history: Vec::new(),
        dead_at: now,
    };
    queue
        .dead_letter(&deliveries[1].receipt, letter)
        .await
        .unwrap();

    assert_eq!(
        queue.depths().await.unwrap(),
        QueueDepths {
            stream: 1,
            retrying: 1,
            dead: 1,
        }
    );
}
