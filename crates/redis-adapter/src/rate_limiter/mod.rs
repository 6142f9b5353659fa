//! Rate limit counters shared by every API instance: each step is one Lua
//! script (`EVALSHA`, one round trip), so parallel requests on several
//! instances cannot slip past a limit between a read and a write.

mod scripts;

use std::sync::Arc;
use std::time::Duration;

use application::ports::{AttemptDecision, Clock, RateDecision, RateLimitError, RateLimiter};
use application::rate_limits::{RateLimit, Rule, SlidingLog, ThrottlePolicy, millis};
use async_trait::async_trait;
use deadpool_redis::redis;
use uuid::Uuid;

use crate::error::CommandError;
use crate::keys;
use crate::pool::{SharedConnection, query_shared, script_shared};
use scripts::{BEGIN_ATTEMPT, FORGIVE_ATTEMPT, SLIDING_LOG};

pub struct RedisRateLimiter {
    connection: SharedConnection,
    prefix: String,
    command_timeout: Duration,
    /// `None`: Redis's own clock, the one every instance shares. Tests
    /// set one to move time by hand.
    clock: Option<Arc<dyn Clock>>,
}

impl RedisRateLimiter {
    pub fn new(
        connection: SharedConnection,
        prefix: impl Into<String>,
        command_timeout: Duration,
    ) -> Self {
        Self {
            connection,
            prefix: prefix.into(),
            command_timeout,
            clock: None,
        }
    }

    /// Uses `clock` instead of the server's time (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    fn now_arg(&self) -> String {
        self.clock
            .as_ref()
            .map(|clock| clock.now().timestamp_millis().to_string())
            .unwrap_or_default()
    }

    async fn record(
        &self,
        rule: Rule,
        subject: &str,
        event: Event<'_>,
        limit: RateLimit,
    ) -> Result<RateDecision, CommandError> {
        let log = SlidingLog::new(limit);
        let key = keys::rate_limit(&self.prefix, rule.name(), subject);
        let (id, once) = match event {
            // Any unique member: the log only counts it.
            Event::Request => (Uuid::new_v4().simple().to_string(), "0"),
            Event::Item(item) => (item.to_owned(), "1"),
        };
        let args = [
            self.now_arg(),
            log.window_ms.to_string(),
            log.limit.to_string(),
            id,
            once.to_owned(),
        ];
        let (allowed, remaining, wait): (i64, i64, i64) = script_shared(
            &self.connection,
            self.command_timeout,
            SLIDING_LOG.key(&key).arg(&args[..]),
        )
        .await?;
        let wait = duration(wait);
        Ok(if allowed == 1 {
            RateDecision::Allowed {
                remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
                reset: wait,
            }
        } else {
            RateDecision::Limited { retry_after: wait }
        })
    }
}

enum Event<'a> {
    Request,
    Item(&'a str),
}

fn duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    #[tracing::instrument(level = "debug", name = "redis.rate_limit", skip_all, fields(%rule))]
    async fn hit(
        &self,
        rule: Rule,
        subject: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError> {
        Ok(self.record(rule, subject, Event::Request, limit).await?)
    }

    #[tracing::instrument(level = "debug", name = "redis.rate_limit_admit", skip_all, fields(%rule))]
    async fn admit(
        &self,
        rule: Rule,
        subject: &str,
        item: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError> {
        Ok(self.record(rule, subject, Event::Item(item), limit).await?)
    }

    #[tracing::instrument(level = "debug", name = "redis.begin_attempt", skip_all)]
    async fn begin_attempt(
        &self,
        account: &str,
        policy: ThrottlePolicy,
    ) -> Result<AttemptDecision, RateLimitError> {
        let key = keys::failed_logins(&self.prefix, account);
        let args = [
            self.now_arg(),
            policy.threshold.max(1).to_string(),
            millis(policy.window).max(1).to_string(),
            millis(policy.base).to_string(),
            millis(policy.max).to_string(),
        ];
        let (allowed, wait): (i64, i64) = script_shared(
            &self.connection,
            self.command_timeout,
            BEGIN_ATTEMPT.key(&key).arg(&args[..]),
        )
        .await?;
        Ok(if allowed == 1 {
            AttemptDecision::Allowed
        } else {
            AttemptDecision::Throttled {
                retry_after: duration(wait),
            }
        })
    }

    #[tracing::instrument(level = "debug", name = "redis.forgive_attempt", skip_all)]
    async fn forgive_attempt(&self, account: &str) -> Result<(), RateLimitError> {
        let key = keys::failed_logins(&self.prefix, account);
        let _: i64 = script_shared(
            &self.connection,
            self.command_timeout,
            &FORGIVE_ATTEMPT.key(&key),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "redis.clear_failures", skip_all)]
    async fn clear_failures(&self, account: &str) -> Result<(), RateLimitError> {
        let mut del = redis::cmd("DEL");
        del.arg(keys::failed_logins(&self.prefix, account));
        let _: i64 = query_shared(&self.connection, self.command_timeout, &del).await?;
        Ok(())
    }
}
