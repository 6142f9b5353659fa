//! Wiring of the rate limits: Redis counters shared by every
//! instance, this instance's own in memory while Redis is down, every
//! refusal counted in metrics.

use std::sync::Arc;
use std::time::Duration;

use application::ports::{RateLimiter, SystemClock};
use application::rate_limits::RateLimit;
use application::{LoginAttempts, LoginThrottles, OutboxRelay, RequestLimits};
use rate_limit_adapter::{FallbackRateLimiter, InMemoryRateLimiter, MeteredRateLimiter};
use redis_adapter::{RedisRateLimiter, RedisSettings};

use crate::{Config, StartupError};

/// A limit check waits at most this for Redis before the instance counts
/// on its own: login must not hang on a dead Redis.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// While Redis is down, one request per interval tries it again.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// The use cases rate limits need, all off with `RATE_LIMITS=off` (then
/// nothing connects to Redis for them and no request pays anything).
pub(crate) struct RateLimiting {
    pub request_limits: RequestLimits,
    pub login_attempts: LoginAttempts,
    /// The limiter and the emails-per-recipient limit, for the relay.
    limiter: Option<(Arc<dyn RateLimiter>, RateLimit)>,
}

impl RateLimiting {
    pub(crate) fn build(config: &Config) -> Result<Self, StartupError> {
        let Some(limits) = config.rate_limits else {
            return Ok(Self {
                request_limits: RequestLimits::off(),
                login_attempts: LoginAttempts::off(),
                limiter: None,
            });
        };
        let settings = RedisSettings {
            connect_timeout: Duration::from_secs(1),
            command_timeout: COMMAND_TIMEOUT,
            ..RedisSettings::default()
        };
        // A connection of its own: its short timeout is for limits only.
        let connection = redis_adapter::connect_shared_endpoint(&config.redis, &settings)?;
        let shared =
            RedisRateLimiter::new(connection, config.redis_key_prefix.clone(), COMMAND_TIMEOUT);
        let clock = Arc::new(SystemClock);
        let limiter: Arc<dyn RateLimiter> =
            Arc::new(MeteredRateLimiter(Arc::new(FallbackRateLimiter::new(
                Arc::new(shared),
                Arc::new(InMemoryRateLimiter::new(clock.clone())),
                clock,
                RETRY_INTERVAL,
            ))));
        Ok(Self {
            request_limits: RequestLimits::new(limiter.clone(), limits),
            login_attempts: LoginAttempts::new(
                limiter.clone(),
                LoginThrottles {
                    per_client: limits.failed_logins,
                    per_account: limits.failed_logins_per_account,
                },
            ),
            limiter: Some((limiter, limits.emails_per_recipient)),
        })
    }

    /// The relay with the emails-per-recipient limit, when limits are on.
    pub(crate) fn limit_recipients(&self, relay: OutboxRelay) -> OutboxRelay {
        match &self.limiter {
            Some((limiter, limit)) => relay.with_recipient_limit(limiter.clone(), *limit),
            None => relay,
        }
    }
}
