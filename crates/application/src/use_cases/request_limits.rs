//! Limits on how often one client may call a route (per client IP group).

use std::sync::Arc;
use std::time::Duration;

use crate::error_chain::ErrorChain;
use crate::ports::{RateDecision, RateLimiter};
use crate::rate_limits::{RateLimit, RateLimitConfig, RateLimited, Rule};

/// Counts requests per client against the rules of `docs/http-api.md#rate-limit-rules`.
#[derive(Clone)]
pub struct RequestLimits {
    /// `None`: rate limits are off.
    limits: Option<(Arc<dyn RateLimiter>, RateLimitConfig)>,
}

/// A counted request, for the `RateLimit` headers of its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub rule: Rule,
    pub quota: RateLimit,
    pub remaining: u32,
    /// When the next slot frees up.
    pub reset: Duration,
}

impl RequestLimits {
    pub fn new(limiter: Arc<dyn RateLimiter>, config: RateLimitConfig) -> Self {
        Self {
            limits: Some((limiter, config)),
        }
    }

    /// No limits at all (`RATE_LIMITS=off`).
    pub fn off() -> Self {
        Self { limits: None }
    }

    /// Counts one request of `client` (its IP group) under `rule`.
    /// `Ok(None)`: nothing was counted (limits are off).
    #[tracing::instrument(level = "debug", name = "request_limits.check", skip(self, client))]
    pub async fn check(&self, rule: Rule, client: &str) -> Result<Option<Allowance>, RateLimited> {
        let Some((limiter, config)) = &self.limits else {
            return Ok(None);
        };
        let quota = config.quota(rule);
        match limiter.hit(rule, client, quota).await {
            Ok(RateDecision::Allowed { remaining, reset }) => Ok(Some(Allowance {
                rule,
                quota,
                remaining,
                reset,
            })),
            Ok(RateDecision::Limited { retry_after }) => Err(RateLimited {
                rule,
                quota,
                retry_after,
            }),
            // Only a limiter without a fallback gets here: let it pass.
            Err(error) => {
                tracing::error!(
                    error.chain = %ErrorChain(&error),
                    %rule,
                    "a request could not be counted"
                );
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::MockRateLimiter;

    #[tokio::test]
    async fn counts_the_client_under_the_rule_with_its_configured_quota() {
        let config = RateLimitConfig::default();
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_hit()
            .with(
                eq(Rule::RegisterPerIp),
                eq("203.0.113.9"),
                eq(config.register_per_ip),
            )
            .times(1)
            .returning(|_, _, _| {
                Ok(RateDecision::Allowed {
                    remaining: 9,
                    reset: Duration::from_secs(60),
                })
            });
        let limits = RequestLimits::new(Arc::new(limiter), config);
        let allowance = limits
            .check(Rule::RegisterPerIp, "203.0.113.9")
            .await
            .unwrap();
        assert_eq!(
            allowance,
            Some(Allowance {
                rule: Rule::RegisterPerIp,
                quota: config.register_per_ip,
                remaining: 9,
                reset: Duration::from_secs(60),
            })
        );
    }

    #[tokio::test]
    async fn over_the_limit_is_refused_with_the_wait() {
        let mut limiter = MockRateLimiter::new();
        limiter.expect_hit().returning(|_, _, _| {
            Ok(RateDecision::Limited {
                retry_after: Duration::from_secs(12),
            })
        });
        let limits = RequestLimits::new(Arc::new(limiter), RateLimitConfig::default());
        let refused = limits.check(Rule::LoginPerIp, "::/64").await.unwrap_err();
        assert_eq!(refused.rule, Rule::LoginPerIp);
        assert_eq!(refused.quota, RateLimit::per_secs(30, 60));
        assert_eq!(refused.retry_after, Duration::from_secs(12));
    }

    #[tokio::test]
    async fn off_counts_nothing() {
        let limits = RequestLimits::off();
        assert_eq!(limits.check(Rule::LoginPerIp, "1.2.3.4").await, Ok(None));
    }
}
