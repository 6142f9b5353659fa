//! `LoginAttempts`' throttling rules (application's public API) on the
//! in-memory limiter (the same arithmetic the Redis one runs), on a clock
//! moved by hand.

use std::sync::Arc;
use std::time::Duration;

use application::ports::SessionEpoch;
use application::rate_limits::{RateLimit, Rule, ThrottlePolicy};
use application::{
    AttemptClient, AttemptOutcome, AttemptSubject, LoginAttempts, LoginThrottles, RateLimited,
};
use domain::{DeviceToken, OneTimeSecret};
use rate_limit_adapter::InMemoryRateLimiter;
use test_support::ManualClock;

const T0: i64 = 1_800_000_000_000;

/// The contract's per-client rule, and an account-wide budget of 8.
fn throttles() -> LoginThrottles {
    LoginThrottles {
        per_client: ThrottlePolicy::default(),
        per_account: ThrottlePolicy::budget(RateLimit::per_secs(8, 3600)),
    }
}

fn attempts() -> (Arc<ManualClock>, LoginAttempts) {
    let clock = Arc::new(ManualClock::at(T0));
    let limiter = InMemoryRateLimiter::new(clock.clone());
    (clock, LoginAttempts::new(Arc::new(limiter), throttles()))
}

fn from_network(network: &str) -> AttemptSubject {
    AttemptSubject::new(
        "ada@example.io",
        Some(SessionEpoch(0)),
        AttemptClient::Network(Some(network.to_owned())),
    )
}

fn device(seed: u8) -> DeviceToken {
    DeviceToken::from_secret(&OneTimeSecret::from_entropy([seed; 32], 0))
}

fn from_device(token: DeviceToken) -> AttemptSubject {
    AttemptSubject::new(
        "ada@example.io",
        Some(SessionEpoch(0)),
        AttemptClient::KnownDevice(token.digest()),
    )
}

/// Begins and records one attempt; the refusal, if it was refused.
async fn attempt(
    attempts: &LoginAttempts,
    subject: AttemptSubject,
    outcome: AttemptOutcome,
) -> Option<RateLimited> {
    match attempts.begin(subject).await {
        Ok(attempt) => {
            attempt.record(outcome).await;
            None
        }
        Err(refused) => Some(refused),
    }
}

async fn fail(attempts: &LoginAttempts, subject: AttemptSubject, times: usize) {
    for _ in 0..times {
        assert_eq!(
            attempt(attempts, subject.clone(), AttemptOutcome::Failed).await,
            None
        );
    }
}

#[tokio::test]
async fn failures_from_one_network_throttle_that_network_only() {
    let (_, attempts) = attempts();
    fail(&attempts, from_network("198.51.100.0/24"), 5).await;
    let refused = attempts.begin(from_network("198.51.100.0/24")).await.err();
    assert_eq!(
        refused,
        Some(RateLimited {
            rule: Rule::FailedLogins,
            quota: ThrottlePolicy::default().as_quota(),
            retry_after: Duration::from_secs(1),
        })
    );
    // The owner, elsewhere, is not locked out.
    let owner = attempt(
        &attempts,
        from_network("203.0.113.0/24"),
        AttemptOutcome::Succeeded,
    );
    assert_eq!(owner.await, None);
}

#[tokio::test]
async fn the_account_wide_budget_holds_clients_without_a_device_token_only() {
    let (_, attempts) = attempts();
    for network in 0..8 {
        fail(&attempts, from_network(&format!("10.0.{network}.0/24")), 1).await;
    }
    let refused = attempts
        .begin(from_network("10.0.99.0/24"))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.rule, Rule::FailedLoginsPerAccount);
    assert_eq!(refused.quota, RateLimit::per_secs(8, 3600));
    assert_eq!(refused.retry_after, Duration::from_secs(3600));
    // A client with a device token of the account is held to its own count.
    let owner = attempt(&attempts, from_device(device(1)), AttemptOutcome::Succeeded);
    assert_eq!(owner.await, None);
}

#[tokio::test]
async fn a_device_token_is_throttled_on_its_own_failures() {
    let (_, attempts) = attempts();
    fail(&attempts, from_device(device(1)), 5).await;
    let refused = attempts.begin(from_device(device(1))).await.err().unwrap();
    assert_eq!(refused.rule, Rule::FailedLogins);
    // Another device of the account, and the networks, are untouched.
    assert_eq!(
        attempt(&attempts, from_device(device(2)), AttemptOutcome::Succeeded).await,
        None
    );
    assert_eq!(
        attempt(
            &attempts,
            from_network("203.0.113.0/24"),
            AttemptOutcome::Succeeded
        )
        .await,
        None
    );
}

#[tokio::test]
async fn a_success_clears_its_client_and_spends_no_account_budget() {
    let (_, attempts) = attempts();
    fail(&attempts, from_network("198.51.100.0/24"), 4).await;
    let right = attempt(
        &attempts,
        from_network("198.51.100.0/24"),
        AttemptOutcome::Succeeded,
    );
    assert_eq!(right.await, None);
    // Cleared: four more failures are tolerated again (seven on the
    // account)...
    fail(&attempts, from_network("198.51.100.0/24"), 3).await;
    // ...and only failures count on the account: successes from many
    // networks spend nothing, so the eighth failure is still allowed.
    for network in 0..20 {
        let subject = from_network(&format!("10.1.{network}.0/24"));
        assert_eq!(
            attempt(&attempts, subject, AttemptOutcome::Succeeded).await,
            None
        );
    }
    fail(&attempts, from_network("10.2.0.0/24"), 1).await;
    let refused = attempts
        .begin(from_network("10.3.0.0/24"))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.rule, Rule::FailedLoginsPerAccount);
}

#[tokio::test]
async fn an_inconclusive_check_counts_nowhere() {
    let (_, attempts) = attempts();
    for _ in 0..20 {
        let subject = from_network("198.51.100.0/24");
        assert_eq!(
            attempt(&attempts, subject, AttemptOutcome::Inconclusive).await,
            None
        );
    }
}

#[tokio::test]
async fn a_refusal_by_the_client_throttle_spends_no_account_budget() {
    let (_, attempts) = attempts();
    fail(&attempts, from_network("198.51.100.0/24"), 5).await;
    for _ in 0..20 {
        assert!(
            attempts
                .begin(from_network("198.51.100.0/24"))
                .await
                .is_err()
        );
    }
    // 5 failures counted on the account, not 25: three more networks may
    // still fail once each.
    for network in 0..3 {
        fail(&attempts, from_network(&format!("10.0.{network}.0/24")), 1).await;
    }
    assert!(attempts.begin(from_network("10.0.9.0/24")).await.is_err());
}

#[tokio::test]
async fn a_new_epoch_starts_every_count_afresh() {
    let (_, attempts) = attempts();
    fail(&attempts, from_network("198.51.100.0/24"), 5).await;
    for network in 0..3 {
        fail(&attempts, from_network(&format!("10.0.{network}.0/24")), 1).await;
    }
    assert!(
        attempts
            .begin(from_network("198.51.100.0/24"))
            .await
            .is_err()
    );
    assert!(attempts.begin(from_network("10.9.0.0/24")).await.is_err());
    // A password reset moved the account's epoch on.
    let after_reset = AttemptSubject::new(
        "ada@example.io",
        Some(SessionEpoch(1)),
        AttemptClient::Network(Some("198.51.100.0/24".into())),
    );
    assert_eq!(
        attempt(&attempts, after_reset, AttemptOutcome::Succeeded).await,
        None
    );
}

#[tokio::test]
async fn throttling_wears_off() {
    let (clock, attempts) = attempts();
    fail(&attempts, from_network("198.51.100.0/24"), 5).await;
    assert!(
        attempts
            .begin(from_network("198.51.100.0/24"))
            .await
            .is_err()
    );
    clock.advance_ms(1_000);
    let after_wait = attempt(
        &attempts,
        from_network("198.51.100.0/24"),
        AttemptOutcome::Failed,
    );
    assert_eq!(after_wait.await, None);
}
