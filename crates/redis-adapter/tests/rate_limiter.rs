#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The Lua scripts against the real Redis at 127.0.0.1:6379 (each test
//! with its own prefix), on a hand-moved clock: they must agree with the
//! in-memory limiter (rate-limit-adapter) step for step, and stay exact under
//! parallel calls.

use std::sync::Arc;
use std::time::Duration;

use application::ports::{AttemptDecision, RateDecision, RateLimiter};
use application::rate_limits::{RateLimit, Rule, ThrottlePolicy};
use rate_limit_adapter::InMemoryRateLimiter;
use redis_adapter::{RedisRateLimiter, RedisSettings, connect_shared, keys, redis};
use test_support::{ManualClock, REDIS_URL, redis_prefix};

const T0: i64 = 1_800_000_000_000;

/// The Redis limiter and the in-memory one, on one hand-moved clock.
fn pair(prefix: &str) -> (Arc<ManualClock>, RedisRateLimiter, InMemoryRateLimiter) {
    let clock = Arc::new(ManualClock::at(T0));
    let shared = connect_shared(REDIS_URL, &RedisSettings::default()).unwrap();
    let redis =
        RedisRateLimiter::new(shared, prefix, Duration::from_secs(2)).with_clock(clock.clone());
    let memory = InMemoryRateLimiter::new(clock.clone());
    (clock, redis, memory)
}

async fn forget(prefix: &str) {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}

/// Steps (ms to wait before each request) with bursts and pauses.
fn irregular_steps() -> Vec<i64> {
    let mut state = 7_u64;
    (0..200)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            match (state >> 33) % 10 {
                0..=5 => 0,
                6 | 7 => 250,
                8 => 1900,
                _ => 4000,
            }
        })
        .collect()
}

#[tokio::test]
async fn the_sliding_log_script_matches_the_in_memory_arithmetic() {
    let prefix = redis_prefix();
    let (clock, redis, memory) = pair(&prefix);
    let limit = RateLimit::per_secs(5, 10);
    let mut limited = 0;
    for (i, wait) in irregular_steps().into_iter().enumerate() {
        clock.advance_ms(wait);
        let expected = memory
            .hit(Rule::LoginPerIp, "198.51.100.4", limit)
            .await
            .unwrap();
        let got = redis
            .hit(Rule::LoginPerIp, "198.51.100.4", limit)
            .await
            .unwrap();
        assert_eq!(got, expected, "step {i}");
        limited += usize::from(!got.is_allowed());
    }
    assert!(
        limited > 20,
        "the sequence must exercise the limit ({limited})"
    );
    forget(&prefix).await;
}

#[tokio::test]
async fn the_log_admits_an_item_once_like_the_in_memory_one() {
    let prefix = redis_prefix();
    let (clock, redis, memory) = pair(&prefix);
    let limit = RateLimit::per_secs(2, 3600);
    let rule = Rule::EmailsPerRecipient;
    for (wait, job) in [
        (0, "job-1"),
        (10, "job-2"),
        (10, "job-3"),
        (10, "job-1"),
        (3_599_990, "job-3"),
        (0, "job-2"),
    ] {
        clock.advance_ms(wait);
        let expected = memory
            .admit(rule, "ada@example.io", job, limit)
            .await
            .unwrap();
        let got = redis
            .admit(rule, "ada@example.io", job, limit)
            .await
            .unwrap();
        assert_eq!(got, expected, "{job} after {wait} ms");
    }
    forget(&prefix).await;
}

#[tokio::test]
async fn the_throttle_script_matches_the_in_memory_arithmetic() {
    let prefix = redis_prefix();
    let (clock, redis, memory) = pair(&prefix);
    let policy = ThrottlePolicy::default();
    let account = "ada@example.io";
    let mut throttled = 0;
    for (i, wait) in irregular_steps().into_iter().enumerate() {
        clock.advance_ms(wait * 3);
        let expected = memory.begin_attempt(account, policy).await.unwrap();
        let got = redis.begin_attempt(account, policy).await.unwrap();
        assert_eq!(got, expected, "step {i}");
        throttled += usize::from(got != AttemptDecision::Allowed);
        // Now and then a check that judged nothing is taken back.
        if i % 7 == 3 && got == AttemptDecision::Allowed {
            memory.forgive_attempt(account).await.unwrap();
            redis.forgive_attempt(account).await.unwrap();
        }
    }
    assert!(
        throttled > 20,
        "the sequence must exercise the throttle ({throttled})"
    );
    // A success forgets everything, in both.
    memory.clear_failures(account).await.unwrap();
    redis.clear_failures(account).await.unwrap();
    for _ in 0..6 {
        let expected = memory.begin_attempt(account, policy).await.unwrap();
        assert_eq!(
            redis.begin_attempt(account, policy).await.unwrap(),
            expected
        );
    }
    forget(&prefix).await;
}

#[tokio::test]
async fn the_throttle_reaches_its_maximum_and_the_record_expires() {
    let prefix = redis_prefix();
    let (clock, redis, _) = pair(&prefix);
    let policy = ThrottlePolicy::default();
    for _ in 0..4 {
        let decision = redis.begin_attempt("ada@example.io", policy).await.unwrap();
        assert_eq!(decision, AttemptDecision::Allowed);
    }
    // From the fifth failure on, each one makes the next wait longer.
    let mut waits = Vec::new();
    for _ in 0..13 {
        let decision = redis.begin_attempt("ada@example.io", policy).await.unwrap();
        assert_eq!(decision, AttemptDecision::Allowed, "after {waits:?}");
        match redis.begin_attempt("ada@example.io", policy).await.unwrap() {
            AttemptDecision::Throttled { retry_after } => {
                waits.push(retry_after.as_secs());
                clock.advance_ms(i64::try_from(retry_after.as_millis()).unwrap());
            }
            AttemptDecision::Allowed => panic!("not throttled after {waits:?}"),
        }
    }
    assert_eq!(
        waits,
        [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    );
    // Redis keeps the record the wait plus the window, no longer.
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(keys::failed_logins(&prefix, "ada@example.io"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl_ms > 1_700_000 && ttl_ms <= 1_800_000, "{ttl_ms}");
    forget(&prefix).await;
}

#[tokio::test]
async fn parallel_requests_never_pass_the_limit() {
    let prefix = redis_prefix();
    let shared = connect_shared(REDIS_URL, &RedisSettings::default()).unwrap();
    // The server's own clock, as in production.
    let redis = Arc::new(RedisRateLimiter::new(
        shared,
        prefix.as_str(),
        Duration::from_secs(2),
    ));
    let limit = RateLimit::per_secs(30, 60);
    let hits = (0..100).map(|_| {
        let redis = redis.clone();
        tokio::spawn(async move {
            redis
                .hit(Rule::LoginPerIp, "203.0.113.7", limit)
                .await
                .unwrap()
        })
    });
    let decisions = futures_join(hits).await;
    let allowed = decisions.iter().filter(|d| d.is_allowed()).count();
    assert_eq!(allowed, 30);
    let mut remaining: Vec<u32> = decisions
        .iter()
        .filter_map(|d| match d {
            RateDecision::Allowed { remaining, .. } => Some(*remaining),
            RateDecision::Limited { .. } => None,
        })
        .collect();
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (0..30).collect::<Vec<_>>(),
        "each slot handed out once"
    );

    let attempts = (0..50).map(|_| {
        let redis = redis.clone();
        tokio::spawn(async move {
            redis
                .begin_attempt("victim@example.io", ThrottlePolicy::default())
                .await
                .unwrap()
        })
    });
    let attempts = futures_join(attempts).await;
    let allowed = attempts
        .iter()
        .filter(|d| **d == AttemptDecision::Allowed)
        .count();
    assert_eq!(allowed, 5, "five guesses, then the account waits");
    forget(&prefix).await;
}

async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        results.push(task.await.unwrap());
    }
    results
}
