//! Brute-force protection of accounts: after repeated failed logins an
//! account is throttled (exponentially, never locked for good), whatever
//! the password and whether or not the account exists.
//!
//! Around every password check:
//!
//! ```ignore
//! let attempt = login_attempts.begin(&email).await?;      // 429 while throttled
//! let result = authentication.login(&email, password).await;
//! attempt.record(AttemptOutcome::of_login(&result)).await;
//! ```
//!
//! `POST /users/me/password` does the same with the user's own address
//! around its check of the current password, recording
//! [`AttemptOutcome::Failed`] for a wrong one and
//! [`AttemptOutcome::Succeeded`] for the right one: a wrong current
//! password counts as a failed login.

use std::sync::Arc;

use crate::error::LoginError;
use crate::ports::{AttemptDecision, RateLimiter};
use crate::rate_limits::{RateLimited, Rule, ThrottlePolicy, email_subject};

/// Throttles accounts after failed password checks.
#[derive(Clone)]
pub struct LoginAttempts {
    /// `None`: rate limits are off.
    guard: Option<(Arc<dyn RateLimiter>, ThrottlePolicy)>,
}

/// How a password check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The password was right: the account's failures are forgotten.
    Succeeded,
    /// The password was wrong (or the account unknown): one failure.
    Failed,
    /// No password was judged (a dependency failed): not counted.
    Inconclusive,
}

impl AttemptOutcome {
    /// What a login's result says about the password.
    pub fn of_login<T>(result: &Result<T, LoginError>) -> Self {
        match result {
            // An unverified account's right password is still right.
            Ok(_) | Err(LoginError::EmailNotVerified) => AttemptOutcome::Succeeded,
            Err(LoginError::InvalidCredentials) => AttemptOutcome::Failed,
            Err(LoginError::Dependency(_)) => AttemptOutcome::Inconclusive,
        }
    }
}

/// A password check under way. It counts as a failure from the start (so
/// parallel guesses cannot all pass before the first one fails) until
/// [`Attempt::record`] says otherwise; dropped unrecorded, it stays one.
#[must_use = "record the outcome, or the attempt counts as a failure"]
pub struct Attempt<'a> {
    attempts: &'a LoginAttempts,
    /// The account's subject, when the attempt was counted.
    counted: Option<String>,
}

impl LoginAttempts {
    pub fn new(limiter: Arc<dyn RateLimiter>, policy: ThrottlePolicy) -> Self {
        Self {
            guard: Some((limiter, policy)),
        }
    }

    /// No throttling at all (`RATE_LIMITS=off`).
    pub fn off() -> Self {
        Self { guard: None }
    }

    /// Before checking a password for the account of `email` (as typed):
    /// refused while the account is throttled, else counted.
    #[tracing::instrument(level = "debug", name = "login_attempts.begin", skip_all)]
    pub async fn begin(&self, email: &str) -> Result<Attempt<'_>, RateLimited> {
        let Some((limiter, policy)) = &self.guard else {
            return Ok(self.uncounted());
        };
        let account = email_subject(email);
        match limiter.begin_attempt(&account, *policy).await {
            Ok(AttemptDecision::Allowed) => Ok(Attempt {
                attempts: self,
                counted: Some(account),
            }),
            Ok(AttemptDecision::Throttled { retry_after }) => Err(RateLimited {
                rule: Rule::FailedLogins,
                quota: policy.as_quota(),
                retry_after,
            }),
            // Only a limiter without a fallback gets here; a login that
            // nothing could count is let through rather than refused.
            Err(error) => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "failed logins cannot be counted"
                );
                Ok(self.uncounted())
            }
        }
    }

    fn uncounted(&self) -> Attempt<'_> {
        Attempt {
            attempts: self,
            counted: None,
        }
    }
}

impl Attempt<'_> {
    /// Settles the attempt: a success clears the account's failures, an
    /// inconclusive check takes its failure back.
    #[tracing::instrument(level = "debug", name = "login_attempts.record", skip(self))]
    pub async fn record(self, outcome: AttemptOutcome) {
        let (Some(account), Some((limiter, _))) = (self.counted, &self.attempts.guard) else {
            return;
        };
        let settled = match outcome {
            AttemptOutcome::Failed => return,
            AttemptOutcome::Succeeded => limiter.clear_failures(&account).await,
            AttemptOutcome::Inconclusive => limiter.forgive_attempt(&account).await,
        };
        if let Err(error) = settled {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                ?outcome,
                "could not settle a login attempt"
            );
        }
    }
}

#[cfg(test)]
mod tests;
