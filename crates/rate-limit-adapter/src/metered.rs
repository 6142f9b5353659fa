//! A decorator that counts every refusal in metrics, whatever store
//! answered: the HTTP limits, the login throttle and the outbox relay's
//! per-recipient limit all go through it.

use std::sync::Arc;

use application::ports::{AttemptDecision, RateDecision, RateLimitError, RateLimiter};
use application::rate_limits::{RATE_LIMITED_TOTAL, RateLimit, Rule, ThrottlePolicy};
use async_trait::async_trait;

/// Counts every refusal of the limiter it wraps in
/// `rate_limited_total{rule}`: requests over a limit, throttled logins,
/// dropped emails.
pub struct MeteredRateLimiter(pub Arc<dyn RateLimiter>);

fn count_if_limited(rule: Rule, decision: &Result<RateDecision, RateLimitError>) {
    if let Ok(RateDecision::Limited { .. }) = decision {
        metrics::counter!(RATE_LIMITED_TOTAL, "rule" => rule.name()).increment(1);
    }
}

#[async_trait]
impl RateLimiter for MeteredRateLimiter {
    async fn hit(
        &self,
        rule: Rule,
        subject: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError> {
        let decision = self.0.hit(rule, subject, limit).await;
        count_if_limited(rule, &decision);
        decision
    }

    async fn admit(
        &self,
        rule: Rule,
        subject: &str,
        item: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError> {
        let decision = self.0.admit(rule, subject, item, limit).await;
        count_if_limited(rule, &decision);
        decision
    }

    async fn begin_attempt(
        &self,
        account: &str,
        policy: ThrottlePolicy,
    ) -> Result<AttemptDecision, RateLimitError> {
        let decision = self.0.begin_attempt(account, policy).await;
        if let Ok(AttemptDecision::Throttled { .. }) = decision {
            let rule = Rule::FailedLogins.name();
            metrics::counter!(RATE_LIMITED_TOTAL, "rule" => rule).increment(1);
        }
        decision
    }

    async fn forgive_attempt(&self, account: &str) -> Result<(), RateLimitError> {
        self.0.forgive_attempt(account).await
    }

    async fn clear_failures(&self, account: &str) -> Result<(), RateLimitError> {
        self.0.clear_failures(account).await
    }
}

#[cfg(test)]
mod tests;
