use std::time::Duration;

use mockall::predicate::eq;

use super::*;
use crate::error::{Dependency, DependencyError};
use crate::ports::{MockRateLimiter, RateLimitError};

fn attempts(limiter: MockRateLimiter) -> LoginAttempts {
    LoginAttempts::new(Arc::new(limiter), ThrottlePolicy::default())
}

/// A limiter that lets the attempt for `account` go ahead, once.
fn allowing(account: &'static str) -> MockRateLimiter {
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_begin_attempt()
        .with(eq(account), eq(ThrottlePolicy::default()))
        .times(1)
        .returning(|_, _| Ok(AttemptDecision::Allowed));
    limiter
}

#[tokio::test]
async fn a_throttled_account_is_refused_before_any_password_check() {
    let mut limiter = MockRateLimiter::new();
    limiter.expect_begin_attempt().times(1).returning(|_, _| {
        Ok(AttemptDecision::Throttled {
            retry_after: Duration::from_secs(4),
        })
    });
    limiter.expect_clear_failures().never();
    let attempts = attempts(limiter);
    let refused = attempts.begin("ada@example.io").await.err().unwrap();
    assert_eq!(
        refused,
        RateLimited {
            rule: Rule::FailedLogins,
            quota: ThrottlePolicy::default().as_quota(),
            retry_after: Duration::from_secs(4),
        }
    );
}

#[tokio::test]
async fn the_account_is_the_normalised_address_as_typed() {
    // Existing or not, the same subject: throttling reveals nothing.
    let attempts = attempts(allowing("ada@example.io"));
    let attempt = attempts.begin("  Ada@Example.IO ").await.unwrap();
    attempt.record(AttemptOutcome::Failed).await;
}

#[tokio::test]
async fn text_that_is_no_address_is_counted_too() {
    let attempts = attempts(allowing("not an address"));
    let attempt = attempts.begin(" Not An Address ").await.unwrap();
    attempt.record(AttemptOutcome::Failed).await;
}

#[tokio::test]
async fn a_success_clears_the_failures() {
    let mut limiter = allowing("ada@example.io");
    limiter
        .expect_clear_failures()
        .with(eq("ada@example.io"))
        .times(1)
        .returning(|_| Ok(()));
    limiter.expect_forgive_attempt().never();
    let attempts = attempts(limiter);
    let attempt = attempts.begin("ada@example.io").await.unwrap();
    attempt.record(AttemptOutcome::Succeeded).await;
}

#[tokio::test]
async fn a_failure_stays_counted() {
    let mut limiter = allowing("ada@example.io");
    limiter.expect_clear_failures().never();
    limiter.expect_forgive_attempt().never();
    let attempts = attempts(limiter);
    let attempt = attempts.begin("ada@example.io").await.unwrap();
    attempt.record(AttemptOutcome::Failed).await;
}

#[tokio::test]
async fn an_inconclusive_check_is_taken_back() {
    let mut limiter = allowing("ada@example.io");
    limiter
        .expect_forgive_attempt()
        .with(eq("ada@example.io"))
        .times(1)
        .returning(|_| Ok(()));
    limiter.expect_clear_failures().never();
    let attempts = attempts(limiter);
    let attempt = attempts.begin("ada@example.io").await.unwrap();
    attempt.record(AttemptOutcome::Inconclusive).await;
}

#[tokio::test]
async fn off_asks_nothing() {
    let attempts = LoginAttempts::off();
    let attempt = attempts.begin("ada@example.io").await.unwrap();
    attempt.record(AttemptOutcome::Succeeded).await;
}

#[tokio::test]
async fn a_limiter_failure_lets_the_login_through_uncounted() {
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_begin_attempt()
        .returning(|_, _| Err(RateLimitError::Unavailable("down".into())));
    limiter.expect_clear_failures().never();
    let attempts = attempts(limiter);
    let attempt = attempts.begin("ada@example.io").await.unwrap();
    attempt.record(AttemptOutcome::Succeeded).await;
}

#[test]
fn login_results_map_to_outcomes() {
    let ok: Result<(), LoginError> = Ok(());
    assert_eq!(AttemptOutcome::of_login(&ok), AttemptOutcome::Succeeded);
    let wrong: Result<(), LoginError> = Err(LoginError::InvalidCredentials);
    assert_eq!(AttemptOutcome::of_login(&wrong), AttemptOutcome::Failed);
    let down: Result<(), LoginError> = Err(LoginError::Dependency(DependencyError::Unavailable(
        Dependency::PasswordHasher,
        "busy".into(),
    )));
    assert_eq!(
        AttemptOutcome::of_login(&down),
        AttemptOutcome::Inconclusive
    );
}
