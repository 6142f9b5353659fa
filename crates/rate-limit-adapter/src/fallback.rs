//! The shared counters, or this instance's own while the shared store is
//! down: limits never switch off, and login stays protected.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use application::ErrorChain;
use application::ports::{AttemptDecision, Clock, RateDecision, RateLimitError, RateLimiter};
use application::rate_limits::{RateLimit, Rule, ThrottlePolicy, millis};

/// `next_probe_ms` while the shared store answers.
const HEALTHY: i64 = i64::MIN;

/// Uses `shared` while it answers. When it fails, the call is answered
/// by `local` and so is every call for `retry_interval`; then one call
/// (only one, so an outage costs one timeout per interval, not one per
/// request) tries `shared` again, and its success switches back.
pub struct FallbackRateLimiter {
    shared: Arc<dyn RateLimiter>,
    local: Arc<dyn RateLimiter>,
    clock: Arc<dyn Clock>,
    retry_interval_ms: i64,
    /// `HEALTHY`, or when the next call may try the shared store (ms).
    next_probe_ms: AtomicI64,
}

/// Where one call goes.
enum Route {
    Shared { probing: bool },
    Local,
}

impl FallbackRateLimiter {
    pub fn new(
        shared: Arc<dyn RateLimiter>,
        local: Arc<dyn RateLimiter>,
        clock: Arc<dyn Clock>,
        retry_interval: Duration,
    ) -> Self {
        Self {
            shared,
            local,
            clock,
            retry_interval_ms: millis(retry_interval).max(1),
            next_probe_ms: AtomicI64::new(HEALTHY),
        }
    }

    /// Whether the shared store is in use (it answered last time).
    pub fn is_shared(&self) -> bool {
        self.next_probe_ms.load(Ordering::Acquire) == HEALTHY
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    fn route(&self) -> Route {
        let next = self.next_probe_ms.load(Ordering::Acquire);
        if next == HEALTHY {
            return Route::Shared { probing: false };
        }
        let now = self.now();
        if now < next {
            return Route::Local;
        }
        // Elect one prober: whoever moves the next probe forward.
        let later = now.saturating_add(self.retry_interval_ms);
        match self
            .next_probe_ms
            .compare_exchange(next, later, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Route::Shared { probing: true },
            Err(_) => Route::Local,
        }
    }

    fn shared_failed(&self, error: &RateLimitError) {
        let later = self.now().saturating_add(self.retry_interval_ms);
        if self.next_probe_ms.swap(later, Ordering::AcqRel) == HEALTHY {
            tracing::warn!(
                error.chain = %ErrorChain(error),
                "rate limits: the shared store failed; this instance counts on its own until it answers"
            );
        }
    }

    /// Only the prober switches back: a call that started before the
    /// outage and succeeded late says nothing about now.
    fn shared_answered(&self, probing: bool) {
        if probing && self.next_probe_ms.swap(HEALTHY, Ordering::AcqRel) != HEALTHY {
            tracing::info!("rate limits: the shared store answers again; counting there");
        }
    }
}

/// Runs `$call` on the shared limiter when the route says so and it
/// answers, else on the local one.
macro_rules! shared_or_local {
    ($self:ident, $limiter:ident => $call:expr) => {{
        if let Route::Shared { probing } = $self.route() {
            let $limiter = &$self.shared;
            match $call.await {
                Ok(answer) => {
                    $self.shared_answered(probing);
                    return Ok(answer);
                }
                Err(error) => $self.shared_failed(&error),
            }
        }
        let $limiter = &$self.local;
        $call.await
    }};
}

#[async_trait]
impl RateLimiter for FallbackRateLimiter {
    async fn hit(
        &self,
        rule: Rule,
        subject: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError> {
        shared_or_local!(self, limiter => limiter.hit(rule, subject, limit))
    }

    async fn admit(
        &self,
        rule: Rule,
        subject: &str,
        item: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError> {
        shared_or_local!(self, limiter => limiter.admit(rule, subject, item, limit))
    }

    async fn begin_attempt(
        &self,
        account: &str,
        policy: ThrottlePolicy,
    ) -> Result<AttemptDecision, RateLimitError> {
        shared_or_local!(self, limiter => limiter.begin_attempt(account, policy))
    }

    async fn forgive_attempt(&self, account: &str) -> Result<(), RateLimitError> {
        shared_or_local!(self, limiter => limiter.forgive_attempt(account))
    }

    async fn clear_failures(&self, account: &str) -> Result<(), RateLimitError> {
        shared_or_local!(self, limiter => limiter.clear_failures(account))
    }
}

#[cfg(test)]
mod tests;
