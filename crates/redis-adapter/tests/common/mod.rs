//! Helpers shared by the email stream tests (real Redis at 127.0.0.1:6379;
//! each test uses its own key prefix).
#![allow(dead_code)] // Each test file uses a different subset.

use std::time::Duration;

use application::delivery::{Delivery, DeliveryQueue};
use application::ports::EmailQueue;
use application::{Email, EmailJob};
use chrono::{TimeZone, Utc};
use redis_adapter::{
    EmailStreamSettings, RedisDeliveryQueue, RedisEmailQueue, RedisPool, RedisSettings, connect,
    keys, redis,
};
use test_support::REDIS_URL;
pub fn pool() -> RedisPool {
    connect(REDIS_URL, &RedisSettings::default()).unwrap()
}

pub fn consumer(pool: &RedisPool, prefix: &str, name: &str) -> RedisDeliveryQueue {
    let mut settings = EmailStreamSettings::new(name);
    settings.visibility_timeout = Duration::from_millis(300);
    settings.block = Duration::from_millis(100);
    RedisDeliveryQueue::new(pool.clone(), prefix, settings)
}

pub fn job(n: u8) -> EmailJob {
    EmailJob::new(
        Email::Welcome {
            to: format!("user{n}@example.io"),
            verification_link: String::new(),
            code: String::new(),
        },
        Utc.timestamp_opt(1_700_000_000 + i64::from(n), 0).unwrap(),
    )
}

pub async fn push(pool: &RedisPool, prefix: &str, jobs: Vec<EmailJob>) {
    RedisEmailQueue::new(pool.clone(), prefix, Duration::from_secs(2))
        .push(jobs)
        .await
        .unwrap();
}

pub async fn query<T: redis::FromRedisValue>(pool: &RedisPool, cmd: &redis::Cmd) -> T {
    let mut connection = pool.get().await.unwrap();
    cmd.query_async(&mut connection).await.unwrap()
}

pub async fn stream_len(pool: &RedisPool, prefix: &str) -> usize {
    query(pool, redis::cmd("XLEN").arg(keys::email_stream(prefix))).await
}

pub async fn pending(pool: &RedisPool, prefix: &str) -> usize {
    let summary: redis::Value = query(
        pool,
        redis::cmd("XPENDING")
            .arg(keys::email_stream(prefix))
            .arg("email-workers"),
    )
    .await;
    match summary {
        redis::Value::Array(items) => match &items[0] {
            redis::Value::Int(n) => usize::try_from(*n).unwrap(),
            other => panic!("unexpected XPENDING count {other:?}"),
        },
        other => panic!("unexpected XPENDING reply {other:?}"),
    }
}

/// Receives until `n` deliveries arrived (reads are bounded, so a few rounds).
pub async fn receive_n(queue: &RedisDeliveryQueue, n: usize) -> Vec<Delivery> {
    let mut got = Vec::new();
    for _ in 0..20 {
        got.extend(queue.receive(n - got.len()).await.unwrap());
        if got.len() >= n {
            break;
        }
    }
    got
}
