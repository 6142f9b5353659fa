use async_trait::async_trait;

use super::BoxError;
// The decisions are values of the rate limit arithmetic; the port hands
// them on, and they stay reachable here, where callers meet them.
pub use crate::rate_limits::{AttemptDecision, RateDecision};
use crate::rate_limits::{RateLimit, Rule, ThrottlePolicy};

#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    #[error("the rate limit store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the rate limit store failed")]
    Unexpected(#[source] BoxError),
}

/// Counters shared by every instance of the service (one atomic step per
/// call, so parallel requests cannot slip past a limit), or this
/// instance's own when the shared store is down.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request of `subject` (a client IP group, say) against
    /// `limit`, unless it is over it.
    async fn hit(
        &self,
        rule: Rule,
        subject: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError>;

    /// Admits `item` (an email job id) for `subject` at most once: asked
    /// again about an item it already admitted, it answers `Allowed`
    /// without counting it twice, so a retried batch spends no budget.
    async fn admit(
        &self,
        rule: Rule,
        subject: &str,
        item: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError>;

    /// Before a password of `account` is checked: refuses while the
    /// account is throttled, else counts the attempt as a failure at once,
    /// so parallel guesses cannot all pass before the first one fails.
    async fn begin_attempt(
        &self,
        account: &str,
        policy: ThrottlePolicy,
    ) -> Result<AttemptDecision, RateLimitError>;

    /// Takes back the failure counted by `begin_attempt` when no password
    /// was actually judged (a dependency failed).
    async fn forgive_attempt(&self, account: &str) -> Result<(), RateLimitError>;

    /// Forgets every failure of `account` (the right password was given).
    async fn clear_failures(&self, account: &str) -> Result<(), RateLimitError>;
}
