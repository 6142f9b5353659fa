use std::time::Duration;

use super::*;
use test_support::ManualClock;

const T0: i64 = 1_800_000_000_000;

fn limiter(capacity: usize) -> (Arc<ManualClock>, InMemoryRateLimiter) {
    let clock = Arc::new(ManualClock::at(T0));
    let limiter = InMemoryRateLimiter::with_capacity(clock.clone(), capacity);
    (clock, limiter)
}

#[tokio::test]
async fn counts_each_rule_and_subject_apart() {
    let (clock, limiter) = limiter(100);
    let limit = RateLimit::per_secs(2, 60);
    for _ in 0..2 {
        let login = limiter
            .hit(Rule::LoginPerIp, "1.2.3.4", limit)
            .await
            .unwrap();
        assert!(login.is_allowed());
    }
    let third = limiter
        .hit(Rule::LoginPerIp, "1.2.3.4", limit)
        .await
        .unwrap();
    assert_eq!(
        third,
        RateDecision::Limited {
            retry_after: Duration::from_secs(60)
        }
    );
    // Another client, another rule: budgets of their own.
    assert!(
        limiter
            .hit(Rule::LoginPerIp, "5.6.7.8", limit)
            .await
            .unwrap()
            .is_allowed()
    );
    assert!(
        limiter
            .hit(Rule::RegisterPerIp, "1.2.3.4", limit)
            .await
            .unwrap()
            .is_allowed()
    );
    clock.advance_ms(60_000);
    assert!(
        limiter
            .hit(Rule::LoginPerIp, "1.2.3.4", limit)
            .await
            .unwrap()
            .is_allowed()
    );
}

#[tokio::test]
async fn throttles_an_account_and_forgets_it_after_success() {
    let (clock, limiter) = limiter(100);
    let policy = ThrottlePolicy::default();
    for _ in 0..5 {
        let decision = limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap();
        assert_eq!(decision, AttemptDecision::Allowed);
    }
    let throttled = limiter
        .begin_attempt("ada@example.io", policy)
        .await
        .unwrap();
    assert_eq!(
        throttled,
        AttemptDecision::Throttled {
            retry_after: Duration::from_secs(1)
        }
    );
    // Other accounts are not affected.
    let other = limiter
        .begin_attempt("bob@example.io", policy)
        .await
        .unwrap();
    assert_eq!(other, AttemptDecision::Allowed);

    clock.advance_ms(1000);
    assert_eq!(
        limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap(),
        AttemptDecision::Allowed
    );
    limiter.clear_failures("ada@example.io").await.unwrap();
    for _ in 0..5 {
        let decision = limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap();
        assert_eq!(decision, AttemptDecision::Allowed);
    }
}

#[tokio::test]
async fn a_forgiven_attempt_does_not_count() {
    let (_, limiter) = limiter(100);
    let policy = ThrottlePolicy::default();
    for _ in 0..10 {
        limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap();
        limiter.forgive_attempt("ada@example.io").await.unwrap();
    }
    assert_eq!(
        limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap(),
        AttemptDecision::Allowed
    );
}

#[tokio::test]
async fn failures_are_forgotten_a_window_after_the_wait() {
    let (clock, limiter) = limiter(100);
    let policy = ThrottlePolicy::default();
    for _ in 0..5 {
        limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap();
    }
    // The record lives 1 s (the wait) + 15 min (the window).
    clock.advance_ms(900_999);
    assert_eq!(
        limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap(),
        AttemptDecision::Allowed
    );
    // That made six failures: a 2 s wait from now.
    assert!(matches!(
        limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap(),
        AttemptDecision::Throttled { .. }
    ));
    clock.advance_ms(2000 + 900_000);
    // Forgotten: five more go ahead.
    for _ in 0..5 {
        let decision = limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap();
        assert_eq!(decision, AttemptDecision::Allowed);
    }
}

#[tokio::test]
async fn a_full_table_refuses_new_keys_until_old_ones_expire() {
    let (clock, limiter) = limiter(2);
    let limit = RateLimit::per_secs(5, 10);
    for ip in ["1.1.1.1", "2.2.2.2"] {
        assert!(
            limiter
                .hit(Rule::LoginPerIp, ip, limit)
                .await
                .unwrap()
                .is_allowed()
        );
    }
    let refused = limiter
        .hit(Rule::LoginPerIp, "3.3.3.3", limit)
        .await
        .unwrap();
    assert!(!refused.is_allowed());
    // Known keys still count as usual.
    assert!(
        limiter
            .hit(Rule::LoginPerIp, "1.1.1.1", limit)
            .await
            .unwrap()
            .is_allowed()
    );
    clock.advance_ms(10_000);
    assert!(
        limiter
            .hit(Rule::LoginPerIp, "3.3.3.3", limit)
            .await
            .unwrap()
            .is_allowed()
    );
}
