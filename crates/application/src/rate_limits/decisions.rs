//! What a rate limiter answers: the values the arithmetic computes and
//! the `RateLimiter` port hands back.

use std::time::Duration;

/// The answer to one counted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Counted. `remaining` more are allowed right now; the whole quota is
    /// back after `reset`.
    Allowed { remaining: u32, reset: Duration },
    /// Over the limit, not counted; one more is allowed after `retry_after`.
    Limited { retry_after: Duration },
}

impl RateDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, RateDecision::Allowed { .. })
    }
}

/// The answer to a password check about to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptDecision {
    /// The attempt may go ahead; it already counts as a failure until
    /// [`RateLimiter::clear_failures`](crate::ports::RateLimiter::clear_failures)
    /// or [`RateLimiter::forgive_attempt`](crate::ports::RateLimiter::forgive_attempt).
    Allowed,
    /// The account is throttled: no password is checked before `retry_after`.
    Throttled { retry_after: Duration },
}
